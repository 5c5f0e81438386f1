/**
 * Stalled and trickled uploads (dispatch/request-body): clients that announce a body and send a byte block no
 * one else — they hold no backend pool connection — and get 408 at `postern.request.body.idle.timeout`; a client
 * that sends a byte just often enough is cut by `postern.request.body.min.rate`; a fast client whose backend reads
 * slowly is not blamed for the backend's pace. The pool is 2 connections, so 3 stalled uploads would take it all.
 * The guard itself settles its `ready` once, whatever the number of chunks and however the body ends.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { GuardedBody } from '../../src/dispatch/request-body.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { agentFrom } from '../providers/security-helpers.ts';

const BOUND = 15_000;

/** A raw POST announcing `length` bytes from `localAddress`; `send` drives the body. Resolves with the status. */
function upload(
  port: number,
  localAddress: string,
  length: number,
  send: (socket: net.Socket) => void,
): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => {
      socket.write(`POST /gateway/t/http/up HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`);
      send(socket);
    });
    const bound = setTimeout(() => socket.destroy(), BOUND);
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      got += c;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(bound);
      resolve(got === '' ? 'no answer' : got.split('\r\n', 1)[0]);
    });
  });
}

describe('request bodies that stall', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let port: number;
  let slowReader = false;

  before(async () => {
    backend = await startBackend((req, res) => {
      let n = 0;
      const read = () => {
        req.on('data', (c: Buffer) => {
          n += c.length;
        });
        req.on('end', () => res.end(String(n)));
        req.resume();
      };
      if (slowReader && req.url?.startsWith('/up')) {
        // Reads nothing for longer than the idle timeout: the gateway is held back, not the client.
        req.pause();
        setTimeout(read, 2500);
      } else read();
    });
    home = makeHome({
      'gateway.httpclient.maxConnections': 2,
      'postern.request.body.idle.timeout': '1000',
      'postern.request.body.min.rate': 1000,
    });
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    gateway = await startGateway(home);
    port = Number(new URL(gateway.url).port);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('hold no backend connection: others are served, and the stalled clients get 408', async () => {
    const stalled = Array.from({ length: 3 }, () => upload(port, '127.0.0.2', 100_000, (s) => s.write('x')));
    const other = agentFrom('127.0.0.3');
    try {
      const get = await request(`${gateway.url}/t/http/get`, {
        dispatcher: other,
        signal: AbortSignal.timeout(BOUND),
      });
      assert.equal(get.statusCode, 200);
      await get.body.text();
      const post = await request(`${gateway.url}/t/http/post`, {
        method: 'POST',
        body: 'y'.repeat(50_000),
        dispatcher: other,
        signal: AbortSignal.timeout(BOUND),
      });
      assert.equal(post.statusCode, 200);
      assert.equal(await post.body.text(), '50000');
    } finally {
      await other.close();
    }
    assert.deepEqual(await Promise.all(stalled), Array(3).fill('HTTP/1.1 408 Request Timeout'));
  });

  it('a body that trickles below the minimum rate gets 408', async () => {
    let timer: NodeJS.Timeout | undefined;
    const status = await upload(port, '127.0.0.4', 100_000, (s) => {
      timer = setInterval(() => s.writable && s.write('z'), 100);
      s.once('close', () => clearInterval(timer));
    });
    clearInterval(timer);
    assert.equal(status, 'HTTP/1.1 408 Request Timeout');
  });

  it('a fast body to a backend that reads slowly is not cut', async () => {
    slowReader = true;
    try {
      const size = 32 * 1024 * 1024;
      const res = await request(`${gateway.url}/t/http/up`, {
        method: 'POST',
        body: Buffer.alloc(size, 'b'),
        dispatcher: agentFrom('127.0.0.5'),
        signal: AbortSignal.timeout(30_000),
      });
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), String(size));
    } finally {
      slowReader = false;
    }
  });
});

describe('GuardedBody: its ready promise', () => {
  /**
   * Every settling call of `ready` after the first, seen through Node's (deprecated) `multipleResolves` event: V8
   * takes each such call to its runtime, which cost ~3 % of an upload's CPU when it happened per chunk.
   */
  async function extraSettles(
    drive: (source: Readable, body: GuardedBody) => Promise<void>,
  ): Promise<number> {
    const source = new Readable({ read() {} });
    const body = new GuardedBody(source as unknown as IncomingMessage, {
      idleTimeoutMs: 60_000,
      minRate: 0,
      prefetch: 16 * 1024,
    });
    let extra = 0;
    const onMultiple = (_type: string, promise: Promise<unknown>) => {
      if (promise === body.ready) extra++;
    };
    const quiet = process.noDeprecation;
    process.noDeprecation = true;
    process.on('multipleResolves', onMultiple);
    try {
      await drive(source, body);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('multipleResolves', onMultiple);
      process.noDeprecation = quiet;
      body.destroy();
    }
    return extra;
  }

  it('is settled once over a body of many chunks past the prefetch, read to its end', async () => {
    const extra = await extraSettles(async (source, body) => {
      let bytes = 0;
      const ended = new Promise<void>((r) => body.once('end', r));
      body.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      for (let i = 0; i < 200; i++) {
        source.push(Buffer.alloc(8 * 1024, i));
        if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      }
      source.push(null);
      await body.ready;
      await ended;
      assert.equal(bytes, 200 * 8 * 1024);
    });
    assert.equal(extra, 0);
  });

  it('is settled once when the body fails after it was ready', async () => {
    const extra = await extraSettles(async (source, body) => {
      body.resume();
      source.push(Buffer.alloc(32 * 1024));
      await body.ready;
      const closed = new Promise<void>((r) => body.once('close', r));
      source.destroy(new Error('the client went away'));
      await closed;
    });
    assert.equal(extra, 0);
  });
});
