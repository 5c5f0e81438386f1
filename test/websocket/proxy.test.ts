/**
 * WebSocket upgrades through a topology, end to end over wss: the route's chain runs on the upgrade (the
 * asserted user reaches the backend), text and binary frames both ways, the subprotocol the backend picks, close
 * codes relayed, and clean HTTP refusals (502 when the backend is down, 404 when nothing matches or the feature
 * is off) instead of a 101 followed by a close.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { type RunningBackend, startWsEcho } from '../../src/demo/index.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { closedPort } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

interface Opened {
  ws: WebSocket;
  upgrade: IncomingMessage;
}

function open(url: string, protocols: string[] = []): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { rejectUnauthorized: false });
    ws.once('upgrade', (upgrade) => ws.once('open', () => resolve({ ws, upgrade })));
    ws.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error('refused'), { status: res.statusCode })),
    );
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) =>
    ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary })),
  );
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}

describe('WebSocket proxying', () => {
  let home: TestHome;
  let off: TestHome;
  let gateway: Gateway;
  let disabled: Gateway;
  let echo: RunningBackend;
  let wss: string;

  before(async () => {
    echo = await startWsEcho({ port: 0 });
    const dead = await closedPort();
    home = makeHome({ 'ssl.enabled': true, 'gateway.websocket.feature.enabled': true });
    home.write('conf/topologies/ws.xml', topologyXml({ services: [{ role: 'ECHOWS', urls: [echo.url] }] }));
    home.write(
      'conf/topologies/down.xml',
      topologyXml({ services: [{ role: 'ECHOWS', urls: [`ws://127.0.0.1:${dead}`] }] }),
    );
    home.write(
      'conf/topologies/limited.xml',
      topologyXml({
        services: [
          {
            role: 'ECHOWS',
            urls: [echo.url],
            params: { 'gateway.websocket.max.text.size': '16', 'gateway.websocket.idle.timeout': '400' },
          },
        ],
      }),
    );
    home.write(
      'conf/topologies/single.xml',
      topologyXml({
        services: [
          { role: 'ECHOWS', urls: [echo.url], params: { 'postern.websocket.max.connections': '1' } },
        ],
      }),
    );
    gateway = await startGateway(home);
    wss = gateway.url.replace(/^https/, 'wss');
    off = makeHome({ 'gateway.websocket.feature.enabled': false });
    off.write('conf/topologies/ws.xml', topologyXml({ services: [{ role: 'ECHOWS', urls: [echo.url] }] }));
    disabled = await startGateway(off);
  });

  after(async () => {
    await gateway?.close();
    await disabled?.close();
    await echo?.close();
    home?.remove();
    off?.remove();
  });

  it('relays text and binary frames over wss, after the chain asserted the user', async () => {
    const { ws, upgrade } = await open(`${wss}/ws/echo/ws/room?x=1`);
    assert.equal(upgrade.headers['x-echo-path'], '/room?x=1&user.name=anonymous');
    ws.send('hello');
    const text = await nextMessage(ws);
    assert.equal(text.data.toString(), 'hello');
    assert.equal(text.binary, false);
    const bytes = Buffer.from([0, 1, 2, 255, 254]);
    ws.send(bytes);
    const bin = await nextMessage(ws);
    assert.equal(bin.binary, true);
    assert.deepEqual(bin.data, bytes);
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    ws.send(big);
    assert.deepEqual((await nextMessage(ws)).data, big);
    const done = closed(ws);
    ws.close(4001, 'client done');
    assert.deepEqual(await done, { code: 4001, reason: 'client done' });
  });

  it('gives the client the subprotocol the backend chose', async () => {
    const { ws } = await open(`${wss}/ws/echo/ws`, ['chat.v2', 'chat.v1']);
    assert.equal(ws.protocol, 'chat.v2');
    ws.close();
  });

  it("relays the backend's close code and reason", async () => {
    const { ws } = await open(`${wss}/ws/echo/ws?closeAfter=1&closeCode=4321&closeReason=bye`);
    const done = closed(ws);
    ws.send('last');
    assert.deepEqual(await done, { code: 4321, reason: 'bye' });
  });

  it('answers 502 when the backend cannot be reached, 404 when nothing matches', async () => {
    await assert.rejects(open(`${wss}/down/echo/ws`), { status: 502 });
    await assert.rejects(open(`${wss}/ws/nothing/here`), { status: 404 });
    await assert.rejects(open(`${wss}/nosuch/echo/ws`), { status: 404 });
  });

  it('closes with 1009 when a text message is over the service’s limit; binary has its own', async () => {
    const { ws } = await open(`${wss}/limited/echo/ws`);
    ws.send(Buffer.alloc(100, 1));
    assert.equal((await nextMessage(ws)).data.length, 100);
    const done = closed(ws);
    ws.send('this text is longer than sixteen bytes');
    assert.equal((await done).code, 1009);
  });

  it('closes an idle WebSocket with 1001 after the service’s idle timeout', async () => {
    const { ws } = await open(`${wss}/limited/echo/ws`);
    ws.send('short');
    await nextMessage(ws);
    const started = Date.now();
    const done = await closed(ws);
    assert.equal(done.code, 1001);
    assert.ok(Date.now() - started >= 300, 'not before the timeout');
  });

  it('refuses a WebSocket over the topology’s maximum with 503, before the backend is contacted', async () => {
    const first = await open(`${wss}/single/echo/ws`);
    await assert.rejects(open(`${wss}/single/echo/ws`), { status: 503 });
    const done = closed(first.ws);
    first.ws.close();
    await done;
    for (let i = 0; i < 50; i++) {
      try {
        const again = await open(`${wss}/single/echo/ws`);
        again.ws.close();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.fail('the slot was not given back after the first socket closed');
  });

  it('answers 404 to upgrades when gateway.websocket.feature.enabled is false', async () => {
    await assert.rejects(open(`${disabled.url.replace(/^http/, 'ws')}/ws/echo/ws`), { status: 404 });
  });
});
