/**
 * HTTP/2 in a real browser: headless Chromium loads a proxied UI page with 100 assets through the TLS gateway;
 * the page and every asset come over h2 (the Resource Timing API's `nextHopProtocol`), all on the gateway's
 * answers, and the page's own script sees every asset loaded. A page's WebSocket opens over HTTP/1.1 beside
 * its h2 connection (postern does not advertise RFC 8441's SETTINGS_ENABLE_CONNECT_PROTOCOL), and cookies
 * above the header limit get a 431 page over h2, not a protocol error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import type { Browser } from 'playwright-core';
import { type RunningBackend, startWsEcho } from '../../src/demo/index.ts';
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
  let echo: RunningBackend;
  /** ALPN of each TLS connection the gateway accepted, and the upgrades it saw. */
  const protocols: (string | false)[] = [];
  let upgrades = 0;

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
    echo = await startWsEcho({ port: 0 });
    home = makeHome({ 'ssl.enabled': true, 'gateway.websocket.feature.enabled': true });
    home.write(
      'conf/topologies/t.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [`${backend.url}/ui`] },
          { role: 'ECHOWS', urls: [echo.url] },
        ],
      }),
    );
    gateway = await startGateway(home);
    const server = gateway.server.server;
    server.on('secureConnection', (socket: TLSSocket) => protocols.push(socket.alpnProtocol ?? false));
    server.on('upgrade', () => upgrades++);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
    await backend?.close();
    await echo?.close();
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

  it('opens a page’s WebSocket over HTTP/1.1 beside its h2 connection (no RFC 8441 advertised)', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      protocols.length = 0;
      upgrades = 0;
      const response = await page.goto(`${gateway.url}/t/http/index.html`);
      assert.equal(response?.status(), 200);
      const result = await page.evaluate(
        async (url) => {
          const navigation = (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming)
            .nextHopProtocol;
          const ws = new WebSocket(url);
          const echoed = await new Promise<string>((resolve, reject) => {
            ws.onopen = () => ws.send('over h1');
            ws.onmessage = (e) => resolve(String(e.data));
            ws.onerror = () => reject(new Error('WebSocket failed'));
          });
          ws.close();
          return { navigation, echoed };
        },
        `${gateway.url.replace('https:', 'wss:')}/t/echo/ws`,
      );
      assert.deepEqual(result, { navigation: 'h2', echoed: 'over h1' });
      assert.equal(upgrades, 1);
      assert.ok(protocols.includes('h2'), String(protocols));
      assert.ok(protocols.includes('http/1.1'), String(protocols));
    } finally {
      await context.close();
    }
  });

  it('answers cookies above the header limit with a 431 page over h2', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const url = new URL(gateway.url);
      await context.addCookies(
        Array.from({ length: 3 }, (_, i) => ({
          name: `crumb${i}`,
          value: 'c'.repeat(3500),
          domain: url.hostname,
          path: '/',
          secure: true,
        })),
      );
      const page = await context.newPage();
      const response = await page.goto(`${gateway.url}/t/http/index.html`);
      assert.equal(response?.status(), 431);
      assert.match(await response.text(), /POSTERN_ERR_HEADER_FIELDS_TOO_LARGE/);
      const protocol = await page.evaluate(
        () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
      );
      assert.equal(protocol, 'h2');
    } finally {
      await context.close();
    }
  });
});
