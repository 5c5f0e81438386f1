/**
 * What a client cannot hand a backend or a backend cannot hand a browser, through a real gateway on loopback:
 * pre-authenticated identity headers (SM_USER and its family, in both spellings) never reach a backend from a
 * client, on plain requests and on WebSocket handshakes; Knox's auth cookies in a backend's 101 answer never reach
 * the browser (the same block list as any other response).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const IDENTITY = {
  SM_USER: 'admin',
  'SM-USER': 'admin',
  'Remote-User': 'admin',
  'X-Remote-User': 'admin',
  'X-Forwarded-User': 'admin',
  'X-Authenticated-User': 'admin',
  'X-Auth-Request-User': 'admin',
};

describe('identity headers and auth cookies across the gateway', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let wsServer: ReturnType<typeof createServer>;
  let wss: WebSocketServer;
  let wsUrl: string;
  const wsHandshakes: IncomingHttpHeaders[] = [];

  before(async () => {
    backend = await startBackend((req, res) => {
      req.resume();
      res.end('ok');
    });
    wsServer = createServer();
    wss = new WebSocketServer({ server: wsServer });
    // The backend plants Knox's auth cookie and one of its own in its 101 answer.
    wss.on('headers', (headers, req) => {
      wsHandshakes.push(req.headers);
      headers.push(
        'Set-Cookie: hadoop.auth="u=admin&t=kerberos"; Path=/',
        'Set-Cookie: app-pref=dark; Path=/',
      );
    });
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
    await new Promise<void>((resolve) => wsServer.listen(0, '127.0.0.1', resolve));
    wsUrl = `ws://127.0.0.1:${(wsServer.address() as AddressInfo).port}`;
    home = makeHome({ 'gateway.websocket.feature.enabled': true });
    home.write(
      'conf/topologies/plain.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [backend.url] },
          { role: 'ECHOWS', urls: [wsUrl] },
        ],
      }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    for (const c of wss?.clients ?? []) c.terminate();
    wss?.close();
    wsServer?.closeAllConnections();
    await new Promise<void>((resolve) => wsServer?.close(() => resolve()));
    home?.remove();
  });

  it('drops SM_USER and the other pre-authenticated identity headers a client sends', async () => {
    const res = await fetch(`${gateway.url}/plain/http/items`, {
      headers: { ...IDENTITY, 'X-Custom': 'kept' },
    });
    assert.equal(res.status, 200);
    await res.text();
    const seen = backend.requests.at(-1)!.headers;
    assert.equal(seen['x-custom'], 'kept');
    for (const name of Object.keys(IDENTITY)) assert.equal(seen[name.toLowerCase()], undefined, name);
    assert.match(backend.requests.at(-1)!.url, /user\.name=anonymous/);
  });

  it('drops them from a WebSocket handshake too, and keeps Knox auth cookies of a 101 from the browser', async () => {
    const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/plain/echo/ws`, { headers: IDENTITY });
    const opened = new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const cookies = new Promise<string[]>((resolve) =>
      ws.once('upgrade', (res) => resolve([res.headers['set-cookie'] ?? []].flat())),
    );
    await opened;
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.close();
    await closed;
    assert.deepEqual(await cookies, ['app-pref=dark; Path=/']);
    const handshake = wsHandshakes.at(-1)!;
    for (const name of Object.keys(IDENTITY)) assert.equal(handshake[name.toLowerCase()], undefined, name);
  });
});
