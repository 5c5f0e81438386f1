/**
 * A Zeppelin-style service end to end on one topology, with postern's bundled `zeppelinui` and `zeppelinws`
 * definitions: the page (its `<base href>` rewritten so the UI's relative URLs come back through the gateway),
 * the REST API, a redirect, and the notebook WebSocket at `.../zeppelin/ws` carrying Zeppelin's JSON operations.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const INDEX = `<!DOCTYPE html>
<html ng-app="zeppelinWebApp">
<head>
  <base href="/">
  <title>Zeppelin</title>
  <link rel="stylesheet" href="styles/main.css">
</head>
<body>
  <div id="main"></div>
  <script src="scripts/vendor.js"></script>
  <script src="app.js"></script>
</body>
</html>`;

describe('a Zeppelin-style service (UI, REST and notebook WebSocket on one topology)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let server: http.Server;
  let notebook: WebSocketServer;
  const seen: string[] = [];
  const wsPaths: string[] = [];

  before(async () => {
    // Zeppelin serves its UI at /, its REST API under /api and its notebook socket at /ws, all on one port.
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const path = (req.url ?? '').split('?')[0];
      if (path === '/' || path === '/index.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(INDEX);
      } else if (path === '/api/notebook') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'OK', body: [{ id: '2A94M5J1Z', path: '/Zeppelin Tutorial' }] }));
      } else if (path === '/api/login/logout' && req.method === 'POST') {
        res.writeHead(302, { location: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` });
        res.end();
      } else if (path === '/api/login/logout') {
        res.writeHead(302, {
          location: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/notebook/2A94M5J1Z`,
        });
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    notebook = new WebSocketServer({ server });
    notebook.on('connection', (ws, req) => {
      wsPaths.push(req.url ?? '');
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { op: string; principal?: string; ticket?: string };
        if (message.op === 'LIST_NOTES') {
          ws.send(
            JSON.stringify({
              op: 'NOTES_INFO',
              data: { notes: [{ id: '2A94M5J1Z', path: '/Zeppelin Tutorial' }] },
            }),
          );
        } else if (message.op === 'PING') {
          ws.send(JSON.stringify({ op: 'PONG' }));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    home = makeHome({ 'gateway.websocket.feature.enabled': true });
    home.write(
      'conf/topologies/zep.xml',
      topologyXml({
        services: [
          { role: 'ZEPPELINUI', urls: [`http://127.0.0.1:${port}`] },
          { role: 'ZEPPELINWS', urls: [`ws://127.0.0.1:${port}`] },
        ],
      }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    for (const c of notebook?.clients ?? []) c.terminate();
    notebook?.close();
    server?.closeAllConnections();
    server?.close();
    home?.remove();
  });

  it('serves the page with its base href pointing back through the gateway', async () => {
    const res = await request(`${gateway.url}/zep/zeppelin/`);
    assert.equal(res.statusCode, 200);
    const html = await res.body.text();
    assert.match(html, /<base href="\/gateway\/zep\/zeppelin\/">/);
    // Relative URLs are left as they are: the browser resolves them against the rewritten base.
    assert.match(html, /<script src="app.js"><\/script>/);
    assert.match(html, /<link rel="stylesheet" href="styles\/main.css">/);
    assert.ok(
      seen.some((r) => r === 'GET /?user.name=anonymous'),
      seen.join(', '),
    );
  });

  it('proxies the REST API and brings the backend’s redirects back through the gateway', async () => {
    const notes = await request(`${gateway.url}/zep/zeppelin/api/notebook`);
    assert.equal(notes.statusCode, 200);
    assert.deepEqual(((await notes.body.json()) as { body: unknown[] }).body.length, 1);
    const logout = await request(`${gateway.url}/zep/zeppelin/api/login/logout`);
    await logout.body.text();
    assert.equal(logout.statusCode, 302);
    assert.match(String(logout.headers.location), /\/gateway\/zep\/zeppelin\/api\/notebook\/2A94M5J1Z$/);
    const toRoot = await request(`${gateway.url}/zep/zeppelin/api/login/logout`, { method: 'POST' });
    await toRoot.body.text();
    assert.equal(toRoot.statusCode, 302);
    assert.equal(toRoot.headers.location, `${gateway.url}/zep/zeppelin/`);
  });

  it('carries the notebook WebSocket to the server’s /ws with the user asserted', async () => {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/zep/zeppelin/ws`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const reply = (op: string) =>
      new Promise<{ op: string; data?: { notes: unknown[] } }>((resolve) => {
        ws.once('message', (d) => resolve(JSON.parse(String(d))));
        ws.send(JSON.stringify({ op, principal: 'anonymous', ticket: 'anonymous', roles: '[]' }));
      });
    assert.equal((await reply('PING')).op, 'PONG');
    const info = await reply('LIST_NOTES');
    assert.equal(info.op, 'NOTES_INFO');
    assert.equal(info.data?.notes.length, 1);
    assert.match(wsPaths.at(-1) ?? '', /^\/ws(\?|$)/);
    assert.match(wsPaths.at(-1) ?? '', /user\.name=anonymous/);
    ws.close();
  });
});
