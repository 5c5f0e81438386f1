/**
 * @module test/demo/index
 * startDemoBackends: both backends up on the requested ports, one close for both, and no half-started state.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { DEMO_REST_PORT, DEMO_WS_PORT, startDemoBackends } from '../../src/demo/index.ts';

describe('startDemoBackends', () => {
  it('defaults to the ports the sandbox topology names', () => {
    assert.equal(DEMO_REST_PORT, 18080);
    assert.equal(DEMO_WS_PORT, 18081);
  });

  it('starts the REST API and the WebSocket echo, and close() stops both', async () => {
    const demo = await startDemoBackends({ restPort: 0, wsPort: 0 });
    assert.match(demo.restUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(demo.wsUrl, /^ws:\/\/127\.0\.0\.1:\d+$/);

    const res = await fetch(`${demo.restUrl}/items/1`);
    assert.equal(((await res.json()) as { name: string }).name, 'alpha');

    const ws = new WebSocket(`${demo.wsUrl}/echo/ws`);
    await once(ws, 'open');
    ws.send('ping?');
    const [data] = await once(ws, 'message');
    assert.equal(String(data), 'ping?');
    ws.close(1000);
    await once(ws, 'close');

    await demo.close();
    await assert.rejects(fetch(`${demo.restUrl}/`));
  });

  it('stops the REST API again when the WebSocket port is taken', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const taken = (blocker.address() as { port: number }).port;

    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const restPort = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));

    await assert.rejects(startDemoBackends({ restPort, wsPort: taken }), { code: 'EADDRINUSE' });
    // The REST port is free again: nothing was left listening.
    const again = createServer();
    again.listen(restPort, '127.0.0.1');
    await once(again, 'listening');
    await new Promise((r) => again.close(r));
    await new Promise((r) => blocker.close(r));
  });
});
