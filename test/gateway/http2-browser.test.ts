/**
 * HTTP/2 in a real browser: headless Chromium loads a proxied UI page with 100 assets through the TLS gateway;
 * the page and every asset come over h2 (the Resource Timing API's `nextHopProtocol`), all on the gateway's
 * answers, and the page's own script sees every asset loaded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { launchChromium } from '../helpers/browser.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const ASSETS = 100;

describe('HTTP/2 in Chromium', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let browser: Browser;

  before(async () => {
    backend = await startBackend((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/ui/index.html') {
        const scripts = Array.from({ length: ASSETS }, (_, i) => `<script src="js/a${i}.js"></script>`);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          `<!doctype html><html><head><title>ui</title><script>window.loaded = 0;</script>${scripts.join('')}</head><body>ui</body></html>`,
        );
        return;
      }
      const asset = /^\/ui\/js\/a(\d+)\.js$/.exec(path);
      if (asset) {
        res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' });
        res.end(`window.loaded++; /* ${asset[1]} ${'x'.repeat(2048)} */`);
        return;
      }
      res.writeHead(404);
      res.end();
    });
    home = makeHome({ 'ssl.enabled': true });
    home.write(
      'conf/topologies/t.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [`${backend.url}/ui`] }] }),
    );
    gateway = await startGateway(home);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('loads a page with 100 assets over h2', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${gateway.url}/t/http/index.html`);
      assert.equal(response?.status(), 200);
      await page.waitForFunction((n) => (window as unknown as { loaded: number }).loaded === n, ASSETS);
      const protocols = await page.evaluate(() => ({
        navigation: (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming)
          .nextHopProtocol,
        resources: (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
          .filter((e) => e.name.includes('/js/a'))
          .map((e) => e.nextHopProtocol),
      }));
      assert.equal(protocols.navigation, 'h2');
      assert.equal(protocols.resources.length, ASSETS);
      assert.deepEqual(new Set(protocols.resources), new Set(['h2']));
      // Every asset reached the backend through the gateway (none answered from a cache).
      assert.equal(backend.requests.filter((r) => r.url.includes('/ui/js/')).length, ASSETS);
    } finally {
      await context.close();
    }
  });
});
