/**
 * The console's pages in real headless Chromium at 1280 × 800, with screenshots kept in
 * test-artifacts/console-pages/ (or $POSTERN_TEST_ARTIFACTS/console-pages/): live traffic with its sparklines,
 * backends (one up, one refusing connections) and TLS certificates, the paginated route table fitting the
 * width, a topology edit checked and shown as a diff before it is applied and then undone from the kept
 * version, token management through a topology's KNOXTOKEN API (the admin sees every user's tokens, disables
 * and revokes them), signing out, and the HTML 403 page a non-admin gets.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Agent } from 'undici';
import { type Gateway, REPO_ROOT } from '../../../src/gateway/gateway.ts';
import { writeAdminHome } from '../../helpers/admin-home.ts';
import { launchChromium } from '../../helpers/browser.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';

const ARTIFACTS = join(
  process.env.POSTERN_TEST_ARTIFACTS ?? join(REPO_ROOT, 'test-artifacts'),
  'console-pages',
);
const VIEWPORT = { width: 1280, height: 800 };
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

describe('the console pages (Chromium, 1280 × 800)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let browser: Browser;
  let backend: Server;
  let backendUrl: string;
  let deadUrl: string;
  let admin: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  const fetchGw = (path: string, init: RequestInit = {}) =>
    fetch(`${gateway.url}${path}`, { ...init, dispatcher: insecure } as RequestInit);
  const issueToken = async (user: string, password: string, comment: string) => {
    const res = await fetchGw(`/tokens/knoxtoken/api/v1/token?comment=${comment}`, {
      headers: { authorization: basic(user, password) },
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { token_id: string }).token_id;
  };
  const shot = async (name: string, t: { diagnostic(m: string): void }) => {
    const path = join(ARTIFACTS, name);
    await page.screenshot({ path });
    t.diagnostic(`screenshot: ${path}`);
  };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    backend = createServer((req, res) => {
      const body = `backend saw ${req.url}`;
      res.writeHead(req.url?.includes('fail') ? 503 : 200, { 'content-length': Buffer.byteLength(body) });
      // A little latency so the percentiles are not all the same.
      setTimeout(() => res.end(body), Math.floor(Math.random() * 20));
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    deadUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((r) => probe.close(() => r()));

    home = makeHome({
      'ssl.enabled': true,
      'gateway.websocket.feature.enabled': true,
      'gateway.knox.token.management.users.can.see.all.tokens': 'admin',
    });
    await writeAdminHome(home, { admin: ['admin'], guest: ['users'] });
    home.write(
      'conf/topologies/apps.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [backendUrl] },
          { role: 'WEBHDFS', urls: [`${deadUrl}/webhdfs`] },
        ],
      }),
    );
    home.write(
      'conf/topologies/tokens.xml',
      topologyXml({
        providers: [
          {
            role: 'authentication',
            name: 'ShiroProvider',
            params: {
              'main.fileRealm': 'postern.FileRealm',
              'main.fileRealm.usersFile': 'conf/users.yaml',
              'main.securityManager.realms': '$fileRealm',
              'urls./**': 'authcBasic',
            },
          },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [
          {
            role: 'KNOXTOKEN',
            urls: [],
            params: {
              'knox.token.ttl': '3600000',
              'knox.token.exp.server-managed': 'true',
              // KNOXTOKEN lets a token's owner or a renewer revoke it (Knox's rule): the admin is a renewer.
              'knox.token.renewer.whitelist': 'admin',
            },
          },
        ],
      }),
    );
    gateway = await startGateway(home);
    browser = await launchChromium();
    admin = await browser.newContext({
      ignoreHTTPSErrors: true,
      httpCredentials: { username: 'admin', password: 'admin-password' },
      viewport: VIEWPORT,
    });
    page = await admin.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      // The sign-out answer is a 401 on purpose.
      if (m.type() === 'error' && !m.text().includes('401')) pageErrors.push(m.text());
    });
  });

  after(async () => {
    await admin?.close();
    await browser?.close();
    await gateway?.close();
    backend?.close();
    home?.remove();
    await insecure.close();
  });

  it('shows live traffic per topology and service with sparklines', async (t) => {
    // Traffic over a few seconds: successes, and some 503s from the backend.
    for (let s = 0; s < 3; s++) {
      await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const r = await fetchGw(`/apps/http/${i % 6 === 0 ? 'fail' : 'items'}/${i}`);
          await r.arrayBuffer();
        }),
      );
      await new Promise((r) => setTimeout(r, 700));
    }
    await page.goto(`${gateway.url}/admin/console/#traffic`);
    const row = page.locator('#traffic tr[data-series="apps/HTTP"]');
    await row.waitFor({ timeout: 10_000 });
    const cells = await row.locator('td').allTextContents();
    assert.ok(Number(cells[1]) > 0, `req/s ${cells[1]}`);
    assert.match(cells[3], /^\d+(\.\d+)? %$/);
    assert.notEqual(cells[3], '0.0 %', 'the 503s count as errors');
    assert.match(cells[4], /ms$/);
    assert.match(cells[7], /2xx \d+ · 5xx \d+/);
    // The sparkline: an SVG with the requests line and, as there were 5xx answers, the errors line.
    assert.equal(await row.locator('svg.spark polyline.requests').count(), 1);
    assert.equal(await row.locator('svg.spark polyline.errors').count(), 1);
    await page.locator('#whoami', { hasText: 'signed in as admin' }).waitFor();
    await shot('1-traffic.png', t);
    // The overview carries each topology's rate too.
    await page.click('#nav a[data-page="overview"]');
    await page.locator('#topologies tr[data-topology="apps"] svg.spark').waitFor({ timeout: 10_000 });
    await shot('0-overview.png', t);
  });

  it('lists every backend with its state and last error, and the TLS certificates', async (t) => {
    await page.click('#nav a[data-page="backends"]');
    const down = page.locator(`#backends tr[data-backend="${deadUrl}/webhdfs"]`);
    await down.waitFor({ timeout: 10_000 });
    assert.match((await down.textContent()) ?? '', /down.*ECONNREFUSED/s);
    const up = page.locator(`#backends tr[data-backend="${backendUrl}"]`);
    assert.equal(await up.locator('td').nth(3).textContent(), 'up');
    const upText = (await up.textContent()) ?? '';
    // The service's last 5xx answer (the backend's 503s) is its last error.
    assert.match(upText, /answered 503/);
    const tls = page.locator('#tls tr', { hasText: 'listener certificate' });
    await tls.waitFor({ timeout: 10_000 });
    assert.match((await tls.textContent()) ?? '', /CN=/);
    await shot('2-backends-tls.png', t);
  });

  it('paginates the route table and keeps every page within 1280 px', async (t) => {
    await page.click('#nav a[data-page="routes"]');
    await page.locator('#route-page', { hasText: /page 1 of [2-9]/ }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#routes tbody tr').count(), 15);
    await page.click('#route-next');
    await page.locator('#route-page', { hasText: /page 2 of/ }).waitFor();
    for (const name of ['routes', 'traffic', 'backends', 'overview']) {
      await page.click(`#nav a[data-page="${name}"]`);
      await page.waitForTimeout(300);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= VIEWPORT.width, `${name} is ${width} px wide`);
    }
    await page.click('#nav a[data-page="routes"]');
    await shot('3-routes.png', t);
  });

  it('edits a topology: check, diff, apply, then undo from the kept version', async (t) => {
    const file = join(home.dir, 'conf/topologies/apps.xml');
    const original = readFileSync(file, 'utf8');
    await page.click('#nav a[data-page="edit"]');
    await page.selectOption('#edit-topology', 'apps');
    await page
      .locator('#edit-state', { hasText: 'conf/topologies/apps.xml loaded' })
      .waitFor({ timeout: 10_000 });
    assert.equal(await page.inputValue('#edit-source'), original);

    // A broken edit: the check says why, and nothing can be applied.
    await page.fill('#edit-source', original.replace('<role>WEBHDFS</role>', '<role>NO-SUCH-ROLE</role>'));
    await page.click('#edit-check');
    await page.locator('#edit-state', { hasText: 'the check found errors' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.isDisabled('#edit-apply'), true);

    const edited = original.replace(
      '<role>HTTP</role>',
      '<role>HTTP</role>\n    <param><name>replayBufferSize</name><value>8</value></param>',
    );
    await page.fill('#edit-source', edited);
    await page.click('#edit-check');
    await page.locator('#edit-state', { hasText: 'review the diff' }).waitFor({ timeout: 10_000 });
    const added = await page.locator('#edit-diff .add').allTextContents();
    assert.deepEqual(added, ['+     <param><name>replayBufferSize</name><value>8</value></param>\n']);
    assert.equal(await page.isDisabled('#edit-apply'), false);
    await shot('4-edit-diff.png', t);

    await page.click('#edit-apply');
    await page.locator('#edit-state', { hasText: /applied: deployed \(previous version kept/ }).waitFor({
      timeout: 10_000,
    });
    assert.equal(readFileSync(file, 'utf8'), edited);

    // Undo: the kept version back in the editor, checked, its diff shown, then applied.
    await page.locator('#edit-history button').first().click();
    await page.locator('#edit-state', { hasText: 'review the diff' }).waitFor({ timeout: 10_000 });
    assert.equal((await page.locator('#edit-diff .del').allTextContents()).length, 1);
    await shot('5-edit-undo.png', t);
    await page.click('#edit-apply');
    await page.locator('#edit-state', { hasText: /applied: deployed/ }).waitFor({ timeout: 10_000 });
    assert.equal(readFileSync(file, 'utf8'), original);
  });

  it("lets the admin see every user's tokens and disable, enable and revoke them", async (t) => {
    const guestFirst = await issueToken('guest', 'guest-password', 'notebook');
    const guestSecond = await issueToken('guest', 'guest-password', 'ci-job');
    const mine = await issueToken('admin', 'admin-password', 'admin-cli');
    await page.click('#nav a[data-page="tokens"]');
    await page
      .locator(`#tokens tr[data-token="${mine}"]`)
      .waitFor({ timeout: 10_000 })
      .catch(async (err) => {
        throw new Error(`${err.message}\npage: ${await page.locator('#tokens-section').textContent()}`);
      });
    assert.equal(await page.inputValue('#token-host'), 'tokens');
    assert.equal(await page.locator('#tokens tbody tr').count(), 3);
    const first = page.locator(`#tokens tr[data-token="${guestFirst}"]`);
    assert.match((await first.textContent()) ?? '', /guest.*notebook.*enabled/s);

    await first.locator('button[data-op="disable"]').click();
    await first.locator('td', { hasText: /^disabled$/ }).waitFor({ timeout: 10_000 });
    await page.locator(`#tokens tr[data-token="${guestSecond}"] button[data-op="revoke"]`).click();
    await page
      .locator(`#tokens tr[data-token="${guestSecond}"]`)
      .waitFor({ state: 'detached', timeout: 10_000 })
      .catch(async (err) => {
        throw new Error(`${err.message}\nstate: ${await page.locator('#token-state').textContent()}`);
      });
    await shot('6-tokens.png', t);

    // What the guest sees through the KNOXTOKEN API: one token left, disabled.
    const res = await fetchGw('/tokens/knoxtoken/api/v1/token/getUserTokens', {
      headers: { authorization: basic('guest', 'guest-password') },
    });
    const { tokens } = (await res.json()) as {
      tokens: { tokenId: string; metadata: { enabled: boolean } }[];
    };
    assert.deepEqual(
      tokens.map((x) => [x.tokenId, x.metadata.enabled]),
      [[guestFirst, false]],
    );
    await first.locator('button[data-op="enable"]').click();
    await first.locator('td', { hasText: /^enabled$/ }).waitFor({ timeout: 10_000 });
    // Only one's own: the admin's list without "all users".
    await page.uncheck('#token-all');
    await page.locator('#tokens tbody tr').first().waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#tokens tbody tr').length === 1);
    assert.equal(await page.locator(`#tokens tr[data-token="${mine}"]`).count(), 1);
    assert.deepEqual(pageErrors, []);
  });

  it('signs out, and shows a non-admin an HTML 403 page', async (t) => {
    await page.click('#logout');
    await page.locator('h1', { hasText: '401 Signed out' }).waitFor({ timeout: 10_000 });
    await shot('7-signed-out.png', t);

    const guest = await browser.newContext({
      ignoreHTTPSErrors: true,
      httpCredentials: { username: 'guest', password: 'guest-password' },
      viewport: VIEWPORT,
    });
    try {
      const guestPage = await guest.newPage();
      const response = await guestPage.goto(`${gateway.url}/admin/console/`);
      assert.equal(response?.status(), 403);
      assert.match(response?.headers()['content-type'] ?? '', /^text\/html/);
      await guestPage.locator('h1', { hasText: '403 Not allowed' }).waitFor();
      const path = join(ARTIFACTS, '8-forbidden.png');
      await guestPage.screenshot({ path });
      t.diagnostic(`screenshot: ${path}`);
    } finally {
      await guest.close();
    }
  });
});
