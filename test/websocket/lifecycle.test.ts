/**
 * WebSockets across deployments and under a slow consumer: a redeploy leaves open sockets up on the deployment
 * they started on, an undeploy closes them with 1001, and a fast backend facing a client that stops reading is
 * held back (backpressure) instead of filling the gateway's memory.
 */
import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { type RunningBackend, startWsEcho } from '../../src/demo/index.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.send(text);
  });
}

describe('WebSocket lifecycle and backpressure', () => {
  let home: TestHome;
  let gateway: Gateway;
  let echoOne: RunningBackend;
  let echoTwo: WebSocketServer;
  let echoTwoUrl: string;
  let flood: WebSocketServer;
  let floodSent = 0;
  const CHUNK = Buffer.alloc(64 * 1024, 1);

  before(async () => {
    echoOne = await startWsEcho({ port: 0 });
    // A second backend that says who it is, to tell the deployments apart.
    echoTwo = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    echoTwo.on('connection', (ws) => ws.on('message', (data) => ws.send(`two:${data}`)));
    await new Promise((r) => echoTwo.once('listening', r));
    echoTwoUrl = `ws://127.0.0.1:${(echoTwo.address() as AddressInfo).port}`;
    // A backend that sends 64 KiB frames as fast as its own send buffer lets it.
    flood = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    flood.on('connection', (ws) => {
      const pump = () => {
        if (ws.readyState !== ws.OPEN) return;
        while (ws.bufferedAmount < 4 * 1024 * 1024) {
          ws.send(CHUNK);
          floodSent += CHUNK.length;
        }
        setTimeout(pump, 5);
      };
      pump();
    });
    await new Promise((r) => flood.once('listening', r));
    const floodUrl = `ws://127.0.0.1:${(flood.address() as AddressInfo).port}`;
    home = makeHome({ 'gateway.websocket.feature.enabled': true });
    home.write(
      'conf/topologies/live.xml',
      topologyXml({ services: [{ role: 'ECHOWS', urls: [echoOne.url] }] }),
    );
    home.write(
      'conf/topologies/flood.xml',
      topologyXml({ services: [{ role: 'ECHOWS', urls: [floodUrl] }] }),
    );
    gateway = await startGateway(home, { watch: true });
  });

  after(async () => {
    await gateway?.close();
    await echoOne?.close();
    for (const c of echoTwo?.clients ?? []) c.terminate();
    echoTwo?.close();
    for (const c of flood?.clients ?? []) c.terminate();
    flood?.close();
    home?.remove();
  });

  const base = () => gateway.url.replace(/^http/, 'ws');

  it('keeps an open socket on its deployment across a redeploy, and new sockets use the new one', async () => {
    const old = await open(`${base()}/live/echo/ws`);
    assert.equal(await echo(old, 'before'), 'before');
    home.write(
      'conf/topologies/live.xml',
      topologyXml({ services: [{ role: 'ECHOWS', urls: [echoTwoUrl] }] }),
    );
    await gateway.rescan();
    assert.equal(await echo(old, 'after redeploy'), 'after redeploy', 'still the first backend');
    const fresh = await open(`${base()}/live/echo/ws`);
    assert.equal(await echo(fresh, 'new'), 'two:new', 'the redeployed topology');
    old.close();
    fresh.close();
  });

  it('counts a topology’s open sockets against its maximum across redeploys', async () => {
    const limited = (url: string) =>
      topologyXml({
        services: [{ role: 'ECHOWS', urls: [url], params: { 'postern.websocket.max.connections': '1' } }],
      });
    home.write('conf/topologies/limited.xml', limited(echoOne.url));
    await gateway.rescan();
    const first = await open(`${base()}/limited/echo/ws`);
    home.write('conf/topologies/limited.xml', limited(echoTwoUrl));
    await gateway.rescan();
    // The first socket stays on the old deployment, and still counts.
    await assert.rejects(open(`${base()}/limited/echo/ws`), /503/);
    const closed = new Promise((resolve) => first.once('close', resolve));
    first.close();
    await closed;
    await new Promise((r) => setTimeout(r, 50));
    const second = await open(`${base()}/limited/echo/ws`);
    assert.equal(await echo(second, 'x'), 'two:x');
    second.close();
  });

  it('lets one of many concurrent handshakes take a topology’s last place, and gives refused places back', async () => {
    // A backend that takes 200 ms to answer each handshake: every handshake through the gateway is checked
    // against the limit while the others are still connecting.
    const slow = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      verifyClient: (_info, done) => setTimeout(() => done(true), 200),
    });
    slow.on('connection', (ws) => ws.on('message', (data) => ws.send(`slow:${data}`)));
    await new Promise((r) => slow.once('listening', r));
    try {
      const url = `ws://127.0.0.1:${(slow.address() as AddressInfo).port}`;
      home.write(
        'conf/topologies/one-place.xml',
        topologyXml({
          services: [{ role: 'ECHOWS', urls: [url], params: { 'postern.websocket.max.connections': '1' } }],
        }),
      );
      await gateway.rescan();
      const tries = await Promise.allSettled(
        Array.from({ length: 5 }, () => open(`${base()}/one-place/echo/ws`)),
      );
      const opened = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
      assert.equal(opened.length, 1, 'exactly one handshake gets the one place');
      for (const t of tries) if (t.status === 'rejected') assert.match(String(t.reason), /503/);
      const closed = new Promise((resolve) => opened[0].once('close', resolve));
      opened[0].close();
      await closed;
      await new Promise((r) => setTimeout(r, 50));
      // The refused handshakes gave their places back: the place is free again.
      const again = await open(`${base()}/one-place/echo/ws`);
      assert.equal(await echo(again, 'x'), 'slow:x');
      again.close();
    } finally {
      slow.close();
    }
  });

  it('closes open sockets with 1001 when their topology is undeployed', async () => {
    home.write(
      'conf/topologies/gone.xml',
      topologyXml({ services: [{ role: 'ECHOWS', urls: [echoOne.url] }] }),
    );
    await gateway.rescan();
    const ws = await open(`${base()}/gone/echo/ws`);
    assert.equal(await echo(ws, 'hi'), 'hi');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    unlinkSync(`${home.dir}/conf/topologies/gone.xml`);
    await gateway.rescan();
    assert.equal(await closed, 1001);
  });

  it('holds a fast backend back while the client does not read', async () => {
    const ws = await open(`${base()}/flood/echo/ws`);
    let received = 0;
    ws.on('message', (data) => {
      received += (data as Buffer).length;
    });
    await new Promise((r) => setTimeout(r, 200));
    ws.pause();
    const pausedAt = floodSent;
    const memoryBefore = process.memoryUsage().arrayBuffers;
    await new Promise((r) => setTimeout(r, 1500));
    const sentWhilePaused = floodSent - pausedAt;
    const memoryGrowth = process.memoryUsage().arrayBuffers - memoryBefore;
    // Unchecked, loopback moves hundreds of MiB in 1.5 s; with backpressure the backend stalls once the
    // buffers between it and the paused client are full (a few MiB of kernel buffers and high-water marks).
    assert.ok(sentWhilePaused < 48 * 1024 * 1024, `backend sent ${sentWhilePaused} bytes to a paused client`);
    assert.ok(memoryGrowth < 48 * 1024 * 1024, `buffers grew by ${memoryGrowth} bytes`);
    ws.resume();
    const target = floodSent - 8 * 1024 * 1024;
    for (let i = 0; i < 200 && received < target; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(received >= target, `client received ${received} of ${floodSent} bytes after resuming`);
    ws.terminate();
  });
});
