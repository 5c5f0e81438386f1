/**
 * A real browser through the gateway: headless Chromium logs in to a TLS topology with Basic credentials
 * (ShiroProvider, file realm), loads a page served by a backend through the gateway, and that page opens
 * `wss://` to the same topology — authenticated by the session cookie the login left — exchanges text and
 * binary messages with a WebSocket backend and sees the backend's close code and reason relayed.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { WebSocket, WebSocketServer } from 'ws';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { hashPassword } from '../../src/providers/authentication/shiro/password-hash.ts';
import { launchChromium } from '../helpers/browser.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const PAGE = `<!doctype html>
<html><head><title>ws page</title></head>
<body>
<pre id="log"></pre>
<script>
  window.result = new Promise((resolve) => {
    const seen = { messages: [] };
    // A URL relative to the page: the page lives at /gateway/ui/http/index.html.
    const url = new URL('../echo/ws', location.href);
    url.protocol = 'wss:';
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      seen.opened = true;
      ws.send('hello from chromium');
      ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]));
    };
    ws.onmessage = (e) => {
      seen.messages.push(typeof e.data === 'string' ? e.data : Array.from(new Uint8Array(e.data)));
      if (seen.messages.length === 2) ws.send('please close');
    };
    ws.onerror = () => { seen.error = true; };
    ws.onclose = (e) => { seen.code = e.code; seen.reason = e.reason; resolve(seen); };
  });
</script>
</body></html>`;

describe('a browser through the gateway (Chromium, wss, Basic login, session cookie)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let browser: Browser;
  let pages: Server;
  let wsBackend: WebSocketServer;
  const upgrades: { cookie?: string; authorization?: string; url?: string }[] = [];

  before(async () => {
    pages = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(req.url?.startsWith('/index.html') ? PAGE : '<p>other</p>');
    });
    await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
    wsBackend = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wsBackend.on('connection', (ws, req) => {
      upgrades.push({ cookie: req.headers.cookie, authorization: req.headers.authorization, url: req.url });
      ws.on('message', (data, isBinary) => {
        if (!isBinary && String(data) === 'please close') ws.close(4321, 'backend says bye');
        else ws.send(data, { binary: isBinary });
      });
    });
    await new Promise((r) => wsBackend.once('listening', r));

    home = makeHome({ 'ssl.enabled': true, 'gateway.websocket.feature.enabled': true });
    home.write(
      'conf/users.yaml',
      `users:\n  alice:\n    password: "${await hashPassword('alice-secret', { ln: 10, r: 8, p: 1 })}"\n    groups: [analyst]\n`,
    );
    home.write(
      'conf/topologies/ui.xml',
      topologyXml({
        providers: [
          {
            role: 'authentication',
            name: 'ShiroProvider',
            params: {
              'main.fileRealm': 'postern.FileRealm',
              'main.fileRealm.usersFile': 'conf/users.yaml',
              'main.securityManager.realms': '$fileRealm',
              sessionTimeout: '30',
              'urls./**': 'authcBasic',
            },
          },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [
          { role: 'HTTP', urls: [`http://127.0.0.1:${(pages.address() as AddressInfo).port}`] },
          { role: 'ECHOWS', urls: [`ws://127.0.0.1:${(wsBackend.address() as AddressInfo).port}`] },
        ],
      }),
    );
    gateway = await startGateway(home);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
    for (const c of wsBackend?.clients ?? []) c.terminate();
    wsBackend?.close();
    pages?.close();
    home?.remove();
  });

  it('logs in, opens wss:// from the page, exchanges text and binary, and sees the backend close code', async () => {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      httpCredentials: { username: 'alice', password: 'alice-secret' },
    });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${gateway.url}/ui/http/index.html`);
      assert.equal(response?.status(), 200);
      const result = (await page.evaluate('window.result')) as {
        opened?: boolean;
        error?: boolean;
        messages: (string | number[])[];
        code: number;
        reason: string;
      };
      assert.equal(result.opened, true);
      assert.deepEqual(result.messages, ['hello from chromium', [0, 1, 2, 253, 254, 255]]);
      assert.equal(result.code, 4321);
      assert.equal(result.reason, 'backend says bye');
      // The backend learnt the user from identity assertion, and never saw the browser's credentials.
      const seen = upgrades.at(-1)!;
      assert.match(seen.url ?? '', /[?&]user\.name=alice(&|$)/);
      assert.equal(seen.authorization, undefined);
      assert.doesNotMatch(seen.cookie ?? '', /KNOXSESSIONID/);
      const cookies = await context.cookies();
      assert.ok(cookies.some((c) => c.name === 'KNOXSESSIONID' && c.httpOnly && c.secure));
    } finally {
      await context.close();
    }
  });

  it('refuses the upgrade with 401 before any 101 when the browser has no credentials', async () => {
    const before = upgrades.length;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${gateway.url.replace(/^https/, 'wss')}/ui/echo/ws`, {
        rejectUnauthorized: false,
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('opened without credentials')));
      ws.once('error', reject);
    });
    assert.equal(status, 401);
    assert.equal(upgrades.length, before, 'the backend was never contacted');
  });
});
