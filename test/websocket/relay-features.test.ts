/**
 * What a proxied WebSocket carries besides messages, and when the gateway ends one: pings and pongs relayed
 * both ways, permessage-deflate negotiated end to end, a handshake that never completes (504), a credential that
 * expires (1008), a client that stops reading (async write timeout), and the open/close events published on
 * `node:diagnostics_channel` for exporters.
 */
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { Gateway } from '../../src/gateway/gateway.ts';
import type { WebSocketEvent } from '../../src/observability/events.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

/** A test plugin: the user comes from `x-test-user`, and the credential expires after `x-expires-in` ms. */
const PLUGIN = `
export function register(registry) {
  registry.provider({
    role: 'authentication',
    name: 'ExpiringUser',
    create() {
      return (ex, next) => {
        const name = ex.req.headers['x-test-user'];
        if (typeof name !== 'string') return Promise.reject(Object.assign(new Error('no user'), { status: 401 }));
        ex.user = { name, groups: [] };
        ex.authMethod = 'jwt';
        const ttl = Number(ex.req.headers['x-expires-in']);
        if (ttl > 0) ex.credentialExpiresAt = Date.now() + ttl;
        return next();
      };
    },
  });
}
`;

function listen(server: WebSocketServer): Promise<string> {
  return new Promise((resolve) =>
    server.once('listening', () => resolve(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

function open(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
}

describe('WebSocket relay: control frames, compression, timeouts, events', () => {
  let home: TestHome;
  let gateway: Gateway;
  let echo: WebSocketServer;
  let deflateEcho: WebSocketServer;
  let flood: WebSocketServer;
  let silent: Server;
  const silentSockets = new Set<Socket>();
  let backendSide: WebSocket | undefined;
  let lastOfferedExtensions: string | undefined;
  let floodClose: Promise<number> | undefined;
  let deflateBackendClose: Promise<number> | undefined;
  let base: string;

  before(async () => {
    // ws answers pings itself (autoPong) unless told otherwise; the tests see what reaches each end.
    echo = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    echo.on('connection', (ws, req) => {
      backendSide = ws;
      lastOfferedExtensions = req.headers['sec-websocket-extensions'];
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    deflateEcho = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    deflateEcho.on('connection', (ws, req) => {
      lastOfferedExtensions = req.headers['sec-websocket-extensions'];
      deflateBackendClose = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    flood = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    flood.on('connection', (ws) => {
      floodClose = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
      const chunk = Buffer.alloc(256 * 1024, 7);
      const pump = () => {
        if (ws.readyState !== ws.OPEN) return;
        while (ws.bufferedAmount < 2 * 1024 * 1024) ws.send(chunk);
        setTimeout(pump, 5);
      };
      pump();
    });
    const listening = Promise.all([listen(echo), listen(deflateEcho), listen(flood)]);
    // A backend that accepts the TCP connection and never answers the handshake.
    silent = createServer((socket) => {
      silentSockets.add(socket);
      socket.on('close', () => silentSockets.delete(socket));
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const [echoUrl, deflateUrl, floodUrl] = await listening;

    home = makeHome({
      'gateway.websocket.feature.enabled': true,
      'postern.plugins': './plugins/expiring.mjs',
    });
    home.write('plugins/expiring.mjs', PLUGIN);
    const providers = [
      { role: 'authentication', name: 'ExpiringUser' },
      { role: 'identity-assertion', name: 'Default' },
    ];
    home.write(
      'conf/topologies/echo.xml',
      topologyXml({ providers, services: [{ role: 'ECHOWS', urls: [echoUrl] }] }),
    );
    home.write(
      'conf/topologies/deflate.xml',
      topologyXml({ providers, services: [{ role: 'ECHOWS', urls: [deflateUrl] }] }),
    );
    home.write(
      'conf/topologies/nodeflate.xml',
      topologyXml({
        providers,
        services: [
          { role: 'ECHOWS', urls: [deflateUrl], params: { 'postern.websocket.permessage-deflate': 'false' } },
        ],
      }),
    );
    home.write(
      'conf/topologies/flood.xml',
      topologyXml({
        providers,
        services: [
          { role: 'ECHOWS', urls: [floodUrl], params: { 'gateway.websocket.async.write.timeout': '400' } },
        ],
      }),
    );
    home.write(
      'conf/topologies/silent.xml',
      topologyXml({
        providers,
        services: [
          {
            role: 'ECHOWS',
            urls: [`ws://127.0.0.1:${(silent.address() as AddressInfo).port}`],
            params: { 'postern.websocket.handshake.timeout': '300' },
          },
        ],
      }),
    );
    gateway = await startGateway(home);
    base = gateway.url.replace(/^http/, 'ws');
  });

  after(async () => {
    await gateway?.close();
    for (const server of [echo, deflateEcho, flood]) {
      for (const c of server?.clients ?? []) c.terminate();
      server?.close();
    }
    for (const s of silentSockets) s.destroy();
    silent?.close();
    home?.remove();
  });

  const user = { 'x-test-user': 'alice' };

  it('relays a client ping to the backend and the backend’s pong back, payload intact', async () => {
    const ws = await open(`${base}/echo/echo/ws`, { headers: user });
    const pong = new Promise<string>((resolve) => ws.once('pong', (data) => resolve(String(data))));
    const backendPing = new Promise<string>((resolve) =>
      backendSide!.once('ping', (d) => resolve(String(d))),
    );
    ws.ping('are-you-there');
    assert.equal(await backendPing, 'are-you-there');
    assert.equal(await pong, 'are-you-there');
    ws.close();
  });

  it('relays a backend ping to the client, whose pong reaches the backend', async () => {
    const ws = await open(`${base}/echo/echo/ws`, { headers: user });
    await new Promise((r) => setTimeout(r, 20));
    const clientPing = new Promise<string>((resolve) => ws.once('ping', (d) => resolve(String(d))));
    const backendPong = new Promise<string>((resolve) =>
      backendSide!.once('pong', (d) => resolve(String(d))),
    );
    backendSide!.ping('heartbeat-7');
    assert.equal(await clientPing, 'heartbeat-7');
    assert.equal(await backendPong, 'heartbeat-7');
    ws.close();
  });

  it('relays a fragmented message whole, both ways', async () => {
    const ws = await open(`${base}/echo/echo/ws`, { headers: user });
    const backend = backendSide!;
    const atBackend = new Promise<string>((resolve) => backend.once('message', (d) => resolve(String(d))));
    const back = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    // Three frames of one text message: FIN clear on the first two.
    ws.send('frag', { fin: false });
    ws.send('ment', { fin: false });
    ws.send('ed', { fin: true });
    assert.equal(await atBackend, 'fragmented');
    assert.equal(await back, 'fragmented');
    const fromBackend = new Promise<Buffer>((resolve) => ws.once('message', (d) => resolve(d as Buffer)));
    backend.send(Buffer.from([1, 2]), { binary: true, fin: false });
    backend.send(Buffer.from([3, 4]), { binary: true, fin: true });
    assert.deepEqual([...(await fromBackend)], [1, 2, 3, 4]);
    ws.close();
  });

  it('tells the client 1011 when the backend’s connection breaks mid-stream', async () => {
    const ws = await open(`${base}/echo/echo/ws`, { headers: user });
    const done = closed(ws);
    // No close frame: the backend's TCP connection just goes away.
    (backendSide as unknown as { _socket: { destroy(): void } })._socket.destroy();
    assert.equal((await done).code, 1011);
  });

  it('closes the backend leg with 1011 when the client’s connection breaks mid-stream', async () => {
    const ws = await open(`${base}/echo/echo/ws`, { headers: user });
    await new Promise((r) => setTimeout(r, 20));
    const backendClosed = closed(backendSide!);
    (ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
    assert.equal((await backendClosed).code, 1011);
  });

  it('negotiates permessage-deflate end to end when both ends take it', async () => {
    const ws = await open(`${base}/deflate/echo/ws`, { headers: user, perMessageDeflate: true });
    assert.match(lastOfferedExtensions ?? '', /permessage-deflate/);
    assert.match(ws.extensions, /permessage-deflate/);
    const big = 'compressible '.repeat(20_000);
    const back = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send(big);
    assert.equal(await back, big);
    ws.close();
  });

  it('passes a close without a code on without one over permessage-deflate too (1005 at both ends)', async () => {
    const ws = await open(`${base}/deflate/echo/ws`, { headers: user, perMessageDeflate: true });
    assert.match(ws.extensions, /permessage-deflate/);
    const clientClosed = closed(ws);
    ws.close();
    assert.equal(await deflateBackendClose, 1005, 'the backend gets an empty close');
    assert.equal((await clientClosed).code, 1005, 'and the client the backend’s empty answer');
  });

  it('does not accept permessage-deflate from the client when the backend declined it', async () => {
    const ws = await open(`${base}/echo/echo/ws`, { headers: user, perMessageDeflate: true });
    assert.match(lastOfferedExtensions ?? '', /permessage-deflate/);
    assert.equal(ws.extensions, '');
    const back = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send('plain');
    assert.equal(await back, 'plain');
    ws.close();
  });

  it('offers no compression to the backend when the client offered none, or the service turns it off', async () => {
    const a = await open(`${base}/deflate/echo/ws`, { headers: user, perMessageDeflate: false });
    assert.equal(lastOfferedExtensions, undefined);
    assert.equal(a.extensions, '');
    a.close();
    const b = await open(`${base}/nodeflate/echo/ws`, { headers: user, perMessageDeflate: true });
    assert.equal(lastOfferedExtensions, undefined);
    assert.equal(b.extensions, '');
    b.close();
  });

  it('answers 504 when the backend accepts TCP but never completes the handshake', async () => {
    const began = Date.now();
    await assert.rejects(open(`${base}/silent/echo/ws`, { headers: user }), /status 504/);
    // Bounded by the service's handshake timeout (300 ms), not by the client's patience.
    assert.ok(Date.now() - began < 5_000);
  });

  it('closes the client with 1008 and the backend with 1001 when the credential expires', async () => {
    const ws = await open(`${base}/echo/echo/ws`, { headers: { ...user, 'x-expires-in': '400' } });
    const backend = backendSide!;
    const backendClosed = closed(backend);
    const back = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send('still valid');
    assert.equal(await back, 'still valid');
    const { code, reason } = await closed(ws);
    assert.equal(code, 1008);
    assert.equal(reason, 'credential expired');
    assert.equal((await backendClosed).code, 1001);
  });

  it('cuts a client that stops reading once writes stall for the async write timeout, and tells the backend 1011', async () => {
    const ws = new WebSocket(`${base}/flood/echo/ws`, { headers: user });
    await new Promise((resolve, reject) => {
      ws.once('upgrade', (res) => {
        // Stop reading at once: the gateway's writes to this client pile up and then stop progressing.
        res.socket.pause();
        resolve(undefined);
      });
      ws.once('error', reject);
    });
    while (!floodClose) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await floodClose, 1011);
    ws.terminate();
  });

  it('publishes open and close on diagnostics_channel with topology, service, bytes and close code', async () => {
    const events: WebSocketEvent[] = [];
    const listener = (message: unknown) => events.push(message as WebSocketEvent);
    diagnostics_channel.subscribe('postern:websocket', listener);
    try {
      const ws = await open(`${base}/echo/echo/ws`, { headers: user });
      const back = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
      ws.send('12345');
      await back;
      ws.close(4001, 'done');
      await closed(ws);
      while (events.length < 2) await new Promise((r) => setTimeout(r, 10));
      const [opened, closedEvent] = events;
      assert.deepEqual(
        { event: opened.event, topology: opened.topology, service: opened.service },
        { event: 'open', topology: 'echo', service: 'ECHOWS' },
      );
      assert.equal(closedEvent.event, 'close');
      assert.equal(closedEvent.reqId, opened.reqId);
      assert.equal(closedEvent.closeCode, 4001);
      assert.equal(closedEvent.closedBy, 'client');
      assert.equal(closedEvent.bytesIn, 5);
      assert.equal(closedEvent.bytesOut, 5);
    } finally {
      diagnostics_channel.unsubscribe('postern:websocket', listener);
    }
  });
});
