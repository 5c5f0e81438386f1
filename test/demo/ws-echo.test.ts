/**
 * @module test/demo/ws-echo
 * The WebSocket echo backend: text and binary echo, close-code echo, subprotocols, the `X-Echo-Path` header and
 * backend-initiated close, with a real `ws` client on port 0.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { RunningBackend } from '../../src/demo/rest-api.ts';
import { startWsEcho } from '../../src/demo/ws-echo.ts';

let echo: RunningBackend;

before(async () => {
  echo = await startWsEcho({ port: 0 });
});
after(async () => {
  await echo.close();
});

async function connect(
  path = '/',
  protocols?: string[],
): Promise<{ ws: WebSocket; headers: Record<string, unknown> }> {
  const ws = new WebSocket(`${echo.url}${path}`, protocols);
  // 'open' follows 'upgrade' in the same tick, so both listeners must be in place before the first await.
  const upgraded = once(ws, 'upgrade') as Promise<[{ headers: Record<string, unknown> }]>;
  const opened = once(ws, 'open');
  const [[res]] = await Promise.all([upgraded, opened]);
  return { ws, headers: res.headers };
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) =>
    ws.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })),
  );
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}

describe('demo WebSocket echo', () => {
  it('reports a ws:// URL', () => {
    assert.match(echo.url, /^ws:\/\/127\.0\.0\.1:\d+$/);
  });

  it('echoes text frames as text', async () => {
    const { ws } = await connect();
    ws.send('hello, postern ✓');
    const msg = await nextMessage(ws);
    assert.equal(msg.isBinary, false);
    assert.equal(msg.data.toString('utf8'), 'hello, postern ✓');
    ws.close();
    await closed(ws);
  });

  it('echoes binary frames as binary, byte for byte, including large ones', async () => {
    const { ws } = await connect();
    const payload = Buffer.from(Array.from({ length: 1_000_000 }, (_, i) => (i * 7) % 256));
    ws.send(payload);
    const msg = await nextMessage(ws);
    assert.equal(msg.isBinary, true);
    assert.ok(msg.data.equals(payload));
    ws.close();
    await closed(ws);
  });

  it('keeps message order over many messages', async () => {
    const { ws } = await connect();
    const received: string[] = [];
    const all = new Promise<void>((resolve) =>
      ws.on('message', (d) => {
        received.push(d.toString());
        if (received.length === 200) resolve();
      }),
    );
    for (let i = 0; i < 200; i++) ws.send(`m${i}`);
    await all;
    assert.deepEqual(
      received,
      Array.from({ length: 200 }, (_, i) => `m${i}`),
    );
    ws.close();
    await closed(ws);
  });

  it('closes with the client close code and reason', async () => {
    const { ws } = await connect();
    const done = closed(ws);
    ws.close(4123, 'bye from client');
    assert.deepEqual(await done, { code: 4123, reason: 'bye from client' });
  });

  it('answers a close without a code with an empty close (1005 on the client)', async () => {
    const { ws } = await connect();
    const done = closed(ws);
    ws.close();
    assert.equal((await done).code, 1005);
  });

  it('accepts the first offered subprotocol', async () => {
    const { ws, headers } = await connect('/', ['chat.v2', 'chat.v1']);
    assert.equal(ws.protocol, 'chat.v2');
    assert.equal(headers['sec-websocket-protocol'], 'chat.v2');
    ws.close();
    await closed(ws);
  });

  it('tells the client the path and query it was reached at in X-Echo-Path', async () => {
    const { ws, headers } = await connect('/some/rewritten/path?x=1&y=two');
    assert.equal(headers['x-echo-path'], '/some/rewritten/path?x=1&y=two');
    ws.close();
    await closed(ws);
  });

  it('closes itself after closeAfter messages, with the requested code and reason', async () => {
    const { ws } = await connect('/?closeAfter=2&closeCode=4001&closeReason=enough');
    const done = closed(ws);
    const got: string[] = [];
    ws.on('message', (d) => got.push(d.toString()));
    ws.send('one');
    ws.send('two');
    assert.deepEqual(await done, { code: 4001, reason: 'enough' });
    assert.deepEqual(got, ['one', 'two']);
  });

  it('closeAfter=0 closes right after the handshake; an unsendable code falls back to 1000', async () => {
    const ws = new WebSocket(`${echo.url}/?closeAfter=0&closeCode=1006`);
    const done = closed(ws);
    assert.equal((await done).code, 1000);
  });

  it('a plain HTTP request gets 426 Upgrade Required', async () => {
    const res = await fetch(echo.url.replace(/^ws:/, 'http:'));
    assert.equal(res.status, 426);
    assert.equal(res.headers.get('upgrade'), 'websocket');
    await res.text();
  });

  it('close() ends open connections', async () => {
    const other = await startWsEcho({ port: 0 });
    const ws = new WebSocket(other.url);
    await once(ws, 'open');
    const done = closed(ws);
    await other.close();
    assert.equal((await done).code, 1006);
  });
});
