/**
 * The console in real headless Chromium at 1280 × 800, screenshots in test-artifacts/console-pages/ (or
 * $POSTERN_TEST_ARTIFACTS/console-pages/):
 * - editing a shared provider configuration and simple descriptors: a broken provider refused by the check with
 *   its line shown against the text, a change checked and shown as a diff, applied (the topologies it feeds
 *   listed as redeployed), undone from the kept version; a descriptor naming a provider configuration that does
 *   not exist refused; a new descriptor created, then deleted after a confirmation;
 * - the live feed without WebSockets: with the gateway's WebSocket support off it says so and polls; with a
 *   proxy in front that does not pass WebSockets it says the socket could not open and polls; in both a redeploy
 *   shows up;
 * - sign-out ending the session on the server, without Playwright's credential cache: the browser context has no
 *   httpCredentials; the first page load carries an Authorization header set by the test, removed at once, so
 *   the session cookie alone signs the console in; after sign-out that very cookie, put back into the browser,
 *   is refused (401).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type Gateway, REPO_ROOT } from '../../../src/gateway/gateway.ts';
import { writeAdminHome } from '../../helpers/admin-home.ts';
import { launchChromium } from '../../helpers/browser.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';

const ARTIFACTS = join(
  process.env.POSTERN_TEST_ARTIFACTS ?? join(REPO_ROOT, 'test-artifacts'),
  'console-pages',
);
const VIEWPORT = { width: 1280, height: 800 };
const ADMIN_AUTH = `Basic ${Buffer.from('admin:admin-password').toString('base64')}`;

const PROVIDERS = `{
  "providers": [
    { "role": "authentication", "name": "Anonymous", "enabled": "true" },
    { "role": "identity-assertion", "name": "Default", "enabled": "true" }
  ]
}
`;
const descriptor = (url: string, ref = 'default-providers') => `{
  "provider-config-ref": "${ref}",
  "services": [
    { "name": "HTTP", "urls": ["${url}"] }
  ]
}
`;

async function adminHome(site: Record<string, string | number | boolean>): Promise<TestHome> {
  const home = makeHome(site);
  await writeAdminHome(home, { admin: ['admin'] });
  return home;
}

describe('the console: descriptors, the feed without WebSockets, sign-out (Chromium, 1280 × 800)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let browser: Browser;
  let backend: Server;
  let backendUrl: string;
  let admin: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  const shot = async (p: Page, name: string, t: { diagnostic(m: string): void }) => {
    const path = join(ARTIFACTS, name);
    await p.screenshot({ path });
    t.diagnostic(`screenshot: ${path}`);
  };
  const watchErrors = (p: Page) => {
    p.on('pageerror', (err) => pageErrors.push(err.message));
    p.on('console', (m) => {
      // Refused checks and the sign-out are 4xx answers on purpose; so is the feed's WebSocket (404) with
      // WebSocket support off.
      const url = m.location().url ?? '';
      if (m.type() !== 'error' || /\b40[019]\b/.test(m.text())) return;
      if (url.includes('/api/v1/events') || m.text().includes('/api/v1/events/')) return;
      pageErrors.push(m.text());
    });
  };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    backend = createServer((req, res) => res.end(`backend saw ${req.url}`));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    // WebSocket support off: gateway-site's default.
    home = await adminHome({ 'ssl.enabled': true });
    home.write('conf/shared-providers/default-providers.json', PROVIDERS);
    home.write('conf/descriptors/sandbox.json', descriptor(backendUrl));
    home.write('conf/descriptors/sandbox2.json', descriptor(backendUrl));
    gateway = await startGateway(home);
    browser = await launchChromium();
    admin = await browser.newContext({
      ignoreHTTPSErrors: true,
      httpCredentials: { username: 'admin', password: 'admin-password' },
      viewport: VIEWPORT,
    });
    page = await admin.newPage();
    watchErrors(page);
  });

  after(async () => {
    await admin?.close();
    await browser?.close();
    await gateway?.close();
    backend?.close();
    home?.remove();
  });

  it('edits a shared provider configuration: a broken provider refused, a change applied and redeployed, then undone', async (t) => {
    const file = join(home.dir, 'conf/shared-providers/default-providers.json');
    await page.goto(`${gateway.url}/admin/console/#config`);
    const row = page.locator('#config-files tr[data-kind="shared-providers"][data-name="default-providers"]');
    await row.waitFor({ timeout: 10_000 });
    assert.match(
      (await row.textContent()) ?? '',
      /used by sandbox, sandbox2.*sandbox \(deployed\).*sandbox2 \(deployed\)/s,
    );
    await page.selectOption('#config-kind', 'shared-providers');
    await page
      .locator('#config-state', { hasText: 'conf/shared-providers/default-providers.json loaded' })
      .waitFor({ timeout: 10_000 });
    assert.equal(await page.inputValue('#config-source'), PROVIDERS);

    // An unknown provider: the check says where, against the text, and nothing can be applied.
    await page.fill('#config-source', PROVIDERS.replace('"Anonymous"', '"NoSuchProvider"'));
    await page.click('#config-check');
    await page.locator('#config-state', { hasText: 'the check found errors' }).waitFor({ timeout: 10_000 });
    const error = page.locator('#config-diagnostics li.bad', { hasText: 'NoSuchProvider' });
    assert.match((await error.textContent()) ?? '', /conf\/shared-providers\/default-providers\.json:3:\d+/);
    assert.match((await error.locator('pre.excerpt').textContent()) ?? '', /^3 \| .*"NoSuchProvider"/);
    assert.equal(await page.isDisabled('#config-apply'), true);
    assert.deepEqual(await page.locator('#config-topologies li').allTextContents(), ['sandbox', 'sandbox2']);
    await shot(page, '9-provider-config-check.png', t);
    assert.equal(readFileSync(file, 'utf8'), PROVIDERS);

    const changed = PROVIDERS.replace(
      '"name": "Default", "enabled": "true" }',
      '"name": "Default", "enabled": "true", "params": { "principal.mapping": "anonymous=guest" } }',
    );
    await page.fill('#config-source', changed);
    await page.click('#config-check');
    await page.locator('#config-state', { hasText: 'review the diff' }).waitFor({ timeout: 10_000 });
    assert.equal((await page.locator('#config-diff .add').allTextContents()).length, 1);
    assert.equal((await page.locator('#config-diff .del').allTextContents()).length, 1);
    await shot(page, '10-provider-config-diff.png', t);
    await page.click('#config-apply');
    await page
      .locator('#config-state', { hasText: /applied: written .*redeployed sandbox, sandbox2/ })
      .waitFor({
        timeout: 10_000,
      });
    assert.equal(readFileSync(file, 'utf8'), changed);
    assert.deepEqual(
      (await page.locator('#config-topologies li').allTextContents()).map((x) => x.replace(/ at .*/, '')),
      ['sandbox: deployed, redeployed', 'sandbox2: deployed, redeployed'],
    );
    await shot(page, '11-provider-config-applied.png', t);

    // Undo from the kept version.
    await page.locator('#config-history button').first().click();
    await page.locator('#config-state', { hasText: 'review the diff' }).waitFor({ timeout: 10_000 });
    await page.click('#config-apply');
    await page.locator('#config-state', { hasText: /applied: written/ }).waitFor({ timeout: 10_000 });
    assert.equal(readFileSync(file, 'utf8'), PROVIDERS);
  });

  it('refuses a descriptor naming a missing provider configuration, creates one, and deletes it after confirming', async (t) => {
    await page.selectOption('#config-kind', 'descriptors');
    await page.selectOption('#config-name', 'sandbox');
    await page
      .locator('#config-state', { hasText: 'conf/descriptors/sandbox.json loaded' })
      .waitFor({ timeout: 10_000 });
    await page.fill('#config-source', descriptor(backendUrl, 'no-such-providers'));
    await page.click('#config-check');
    await page.locator('#config-state', { hasText: 'the check found errors' }).waitFor({ timeout: 10_000 });
    assert.match(
      (await page.locator('#config-diagnostics li.bad').first().textContent()) ?? '',
      /conf\/descriptors\/sandbox\.json:2:26 provider configuration "no-such-providers" not found/,
    );

    await page.fill('#config-new-name', 'fresh');
    await page.selectOption('#config-new-format', 'yaml');
    await page.click('#config-new');
    await page.locator('#config-state', { hasText: 'new descriptor fresh' }).waitFor();
    await page.fill(
      '#config-source',
      `provider-config-ref: default-providers\nservices:\n  - name: HTTP\n    urls: ["${backendUrl}"]\n`,
    );
    await page.click('#config-check');
    await page.locator('#config-state', { hasText: 'review the diff' }).waitFor({ timeout: 10_000 });
    await page.click('#config-apply');
    await page
      .locator('#config-state', {
        hasText: /applied: created conf\/descriptors\/fresh\.yml; redeployed fresh/,
      })
      .waitFor({ timeout: 10_000 });
    await page
      .locator('#config-files tr[data-kind="descriptors"][data-name="fresh"]', {
        hasText: 'fresh (deployed)',
      })
      .waitFor({ timeout: 10_000 });
    const served = await page.request.get(`${gateway.url}/fresh/http/x`);
    assert.equal(served.status(), 200);

    await page.click('#config-delete');
    await page.locator('#config-confirm-text', { hasText: 'Delete descriptor fresh' }).waitFor();
    await shot(page, '12-descriptor-delete-confirm.png', t);
    // Cancel leaves it; confirming deletes it.
    await page.click('#config-confirm-no');
    assert.equal(await page.isHidden('#config-confirm'), true);
    assert.equal((await page.request.get(`${gateway.url}/fresh/http/x`)).status(), 200);
    await page.click('#config-delete');
    await page.click('#config-confirm-yes');
    await page
      .locator('#config-state', { hasText: 'deleted conf/descriptors/fresh.yml; topology fresh undeployed' })
      .waitFor({ timeout: 10_000 });
    assert.equal((await page.request.get(`${gateway.url}/fresh/http/x`)).status(), 404);
    await page.locator('#config-name option', { hasText: 'fresh (deleted)' }).waitFor({ state: 'attached' });
    await shot(page, '13-descriptor-deleted.png', t);
  });

  it('says WebSockets are off and polls the feed instead, showing a redeploy', async (t) => {
    await page.click('#nav a[data-page="overview"]');
    await page.locator('#feed-state', { hasText: 'feed: polling' }).waitFor({ timeout: 15_000 });
    assert.match(
      (await page.locator('#feed-note').textContent()) ?? '',
      /WebSocket support is disabled on this gateway \(gateway-site gateway\.websocket\.feature\.enabled is false\)\. The feed polls every 3 s instead\./,
    );
    home.write(
      'conf/topologies/polled.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [backendUrl] }] }),
    );
    await gateway.rescan();
    await page.locator('#feed li', { hasText: 'topology polled deployed' }).waitFor({ timeout: 15_000 });
    await shot(page, '14-feed-polling.png', t);
    assert.deepEqual(pageErrors, []);
  });

  it('ends the session on the server at sign-out: the old cookie, put back, is refused', async (t) => {
    // No httpCredentials: nothing in the browser can answer a challenge.
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: VIEWPORT });
    try {
      const p = await context.newPage();
      watchErrors(p);
      await p.setExtraHTTPHeaders({ authorization: ADMIN_AUTH });
      const first = await p.goto(`${gateway.url}/admin/console/`);
      assert.equal(first?.status(), 200);
      const session = (await context.cookies()).find((c) => c.name === 'KNOXSESSIONID');
      assert.ok(session, 'the Basic login set the session cookie');
      assert.equal(session.path, '/gateway/admin');
      assert.equal(session.httpOnly, true);

      // From now on only the cookie signs the console in.
      await p.setExtraHTTPHeaders({});
      const sent: Promise<string | undefined>[] = [];
      p.on('request', (r) => {
        sent.push(r.allHeaders().then((h) => (h.authorization === undefined ? undefined : r.url())));
      });
      const withAuthorization = async () => (await Promise.all(sent)).filter((u) => u !== undefined);
      const reloaded = await p.reload();
      assert.equal(reloaded?.status(), 200);
      await p.locator('#whoami', { hasText: 'signed in as admin' }).waitFor({ timeout: 10_000 });
      assert.deepEqual(await withAuthorization(), []);

      await p.click('#logout');
      await p
        .locator('h1', { hasText: '401 Signed out' })
        .waitFor({ timeout: 10_000 })
        .catch(async (err) => {
          throw new Error(`${err.message}\n${p.url()}\n${await p.content()}`);
        });
      assert.equal(
        (await context.cookies()).some((c) => c.name === 'KNOXSESSIONID'),
        false,
        'the sign-out answer cleared the cookie',
      );
      await shot(p, '15-signed-out-session-ended.png', t);

      // The very cookie of the ended session, put back: the server refuses it. Shiro's 401 carries a Basic
      // challenge, which this browser has no credentials to answer, so Chromium shows its own error page instead
      // of the body: the refusal is read from the response the browser received.
      await context.addCookies([session]);
      const sentCookie: Promise<string>[] = [];
      p.on('request', (r) => {
        // allHeaders(): the headers as sent, the cookie included.
        if (r.url().endsWith('/admin/console/')) sentCookie.push(r.allHeaders().then((h) => h.cookie ?? ''));
      });
      const refused = p.waitForResponse((r) => r.url() === `${gateway.url}/admin/console/`);
      await p.goto(`${gateway.url}/admin/console/`).catch(() => undefined);
      assert.equal((await refused).status(), 401);
      assert.deepEqual(await Promise.all(sentCookie), [`KNOXSESSIONID=${session.value}`]);
      assert.deepEqual(await withAuthorization(), []);
    } finally {
      await context.close();
    }
  });
});

describe('the console behind a proxy that does not pass WebSockets (Chromium)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let proxy: Server;
  let proxyUrl: string;
  let browser: Browser;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    home = await adminHome({ 'ssl.enabled': false, 'gateway.websocket.feature.enabled': true });
    gateway = await startGateway(home);
    const target = new URL(gateway.url);
    // A real HTTP proxy in front of the gateway that forwards requests and answers every upgrade 502.
    proxy = createServer((req, res) => {
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    proxy.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    proxy?.closeAllConnections();
    proxy?.close();
    await gateway?.close();
    home?.remove();
  });

  it('says the WebSocket could not open, polls the feed through the proxy, and shows a redeploy', async (t) => {
    const context = await browser.newContext({
      httpCredentials: { username: 'admin', password: 'admin-password' },
      viewport: VIEWPORT,
    });
    try {
      const p = await context.newPage();
      const errors: string[] = [];
      p.on('pageerror', (err) => errors.push(err.message));
      const response = await p.goto(`${proxyUrl}${new URL(gateway.url).pathname}/admin/console/`);
      assert.equal(response?.status(), 200);
      await p.locator('#feed-state', { hasText: 'feed: polling' }).waitFor({ timeout: 15_000 });
      assert.match(
        (await p.locator('#feed-note').textContent()) ?? '',
        /WebSocket could not be opened \(a proxy between the browser and the gateway may not pass WebSockets\)\. The feed polls every 3 s instead and retries the WebSocket\./,
      );
      home.write(
        'conf/topologies/behind.xml',
        readFileSync(join(REPO_ROOT, 'conf/topologies/admin.xml'), 'utf8'),
      );
      await gateway.rescan();
      await p.locator('#feed li', { hasText: 'topology behind deployed' }).waitFor({ timeout: 15_000 });
      const path = join(ARTIFACTS, '16-feed-polling-behind-proxy.png');
      await p.screenshot({ path });
      t.diagnostic(`screenshot: ${path}`);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
