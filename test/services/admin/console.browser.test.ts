/**
 * The admin console in real headless Chromium (Debian chromium + playwright-core): an admin logs in with Basic
 * (ShiroProvider file realm of the sample admin topology), finds a topology, searches the route table, runs
 * explain, and sees a redeploy — triggered by writing the topology file — appear live in the feed (the console's
 * WebSocket relaying postern's own events). Screenshots are kept in test-artifacts/console/ (or
 * $POSTERN_TEST_ARTIFACTS/console/).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { type Gateway, REPO_ROOT } from '../../../src/gateway/gateway.ts';
import { writeAdminHome } from '../../helpers/admin-home.ts';
import { launchChromium } from '../../helpers/browser.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';

const ARTIFACTS = join(process.env.POSTERN_TEST_ARTIFACTS ?? join(REPO_ROOT, 'test-artifacts'), 'console');

describe('the admin console (Chromium)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let browser: Browser;
  let backend: Server;
  let backendUrl: string;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    backend = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    home = makeHome({ 'ssl.enabled': true, 'gateway.websocket.feature.enabled': true });
    await writeAdminHome(home, { admin: ['admin'] });
    // With a service that cannot deploy: the topology serves the other, and the console lists it as failed.
    home.write(
      'conf/topologies/apps.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [backendUrl] },
          { role: 'NO-SUCH-ROLE', urls: [backendUrl] },
        ],
      }),
    );
    gateway = await startGateway(home);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
    backend?.close();
    home?.remove();
  });

  it('logs in, finds a topology, runs explain, and sees a redeploy live', async () => {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      httpCredentials: { username: 'admin', password: 'admin-password' },
      viewport: { width: 1400, height: 1000 },
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      const response = await page.goto(`${gateway.url}/admin/console/`);
      assert.equal(response?.status(), 200);

      // The topology, deployed and serving.
      const row = page.locator('#topologies tr[data-topology="apps"]');
      await row.waitFor({ timeout: 10_000 });
      assert.match((await row.textContent()) ?? '', /deployed\s*yes/);
      assert.match((await row.textContent()) ?? '', /NO-SUCH-ROLE \(failed\)/);
      assert.equal(
        await row.locator('span.bad', { hasText: 'NO-SUCH-ROLE (failed)' }).getAttribute('title'),
        'did not deploy: POSTERN_ERR_SERVICE_NO_DEFINITION',
      );
      await page.locator('#feed-state', { hasText: 'feed: live' }).waitFor({ timeout: 10_000 });

      // The route table (its own page), searched.
      await page.click('#nav a[data-page="routes"]');
      await page.fill('#route-search', 'apps/http');
      const routeRows = page.locator('#routes tbody tr');
      await page.locator('#route-count', { hasText: '4 route(s)' }).waitFor({ timeout: 10_000 });
      const texts = await routeRows.allTextContents();
      assert.equal(texts.length, 4);
      for (const t of texts) assert.match(t, /\/gateway\/apps\/http/);
      await page.screenshot({ path: join(ARTIFACTS, '1-topologies-and-routes.png'), fullPage: true });

      // Explain.
      await page.click('#nav a[data-page="explain"]');
      await page.fill('#explain-url', '/gateway/apps/http/items?id=7');
      await page.click('#explain-form button[type=submit]');
      await page.locator('#explain-summary', { hasText: 'proxied' }).waitFor({ timeout: 10_000 });
      const facts = (await page.locator('#explain-facts').textContent()) ?? '';
      assert.match(facts, new RegExp(`GET ${backendUrl.replace(/[.]/g, '\\.')}/items\\?id=7`));
      await page.screenshot({ path: join(ARTIFACTS, '2-explain.png'), fullPage: true });

      // A redeploy, by writing the topology file, appears in the feed.
      home.write(
        'conf/topologies/apps.xml',
        topologyXml({ services: [{ role: 'HTTP', urls: [backendUrl], params: { note: 'changed' } }] }),
      );
      await gateway.rescan();
      await page.click('#nav a[data-page="overview"]');
      const item = page.locator('#feed li', { hasText: 'topology apps redeployed' });
      await item.waitFor({ timeout: 10_000 });
      await page.screenshot({ path: join(ARTIFACTS, '3-live-redeploy.png'), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
