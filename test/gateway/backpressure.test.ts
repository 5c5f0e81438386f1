/**
 * Large bodies in flat memory: a client that stops reading a download, and a backend that stops reading an upload,
 * hold the other side back through the gateway instead of filling the gateway's memory. Bodies are generated
 * streams of 512 MiB, far more than any buffer on the way (kernel socket buffers included); what crosses while
 * the slow side reads nothing is bounded, and so is the growth of this process's RSS (the gateway runs in it).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { settle } from '../helpers/settle.ts';

const MiB = 1024 * 1024;
const BODY = 512 * MiB;
/** What may cross while the slow side reads nothing: the socket buffers of two loopback hops and the gateway's. */
const IN_FLIGHT_BOUND = 48 * MiB;
/** RSS growth allowed to this process (test runner + gateway) during a stalled transfer. */
const RSS_BOUND = 96 * MiB;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

describe('backpressure through the gateway', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let sent = 0;
  let uploadReceived = 0;

  before(async () => {
    backend = await startBackend((req, res) => {
      if (req.url?.startsWith('/download')) {
        // A generated 512 MiB body, written only as fast as the connection takes it.
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BODY) });
        const pump = () => {
          while (sent < BODY) {
            sent += CHUNK.length;
            if (!res.write(CHUNK)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => res.removeAllListeners('drain'));
        pump();
        return;
      }
      // Upload: read 1 MiB, then stop reading (a backend that is slower than the client, stalled).
      req.on('data', (c: Buffer) => {
        uploadReceived += c.length;
        if (uploadReceived >= MiB) req.pause();
      });
    });
    home = makeHome();
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    gateway = await startGateway(home);
  });

  after(async () => {
    // The backend first: a client gone while the gateway was not reading its body (backpressure) is only seen
    // once that body is read again (TCP queues the close behind the data), so the stalled upload ends when its
    // backend connection does (or at gateway.httpclient.socketTimeout).
    await backend?.close();
    await gateway?.close();
    home?.remove();
  });

  it('a client that stops reading a download stops the backend, and the gateway holds little', async () => {
    const rss0 = process.memoryUsage().rss;
    const url = new URL(gateway.url);
    const socket = net.connect(Number(url.port), url.hostname);
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET ${url.pathname}/t/http/download HTTP/1.1\r\nhost: ${url.host}\r\n\r\n`);
    let read = 0;
    await new Promise<void>((resolve) => {
      socket.on('data', (c: Buffer) => {
        read += c.length;
        if (read >= MiB) {
          socket.pause();
          resolve();
        }
      });
    });
    const stalledAt = await settle(() => sent, 300, 5000);
    const rss = process.memoryUsage().rss - rss0;
    socket.destroy();
    assert.ok(
      stalledAt < IN_FLIGHT_BOUND,
      `backend sent ${(stalledAt / MiB).toFixed(1)} MiB to a stalled reader`,
    );
    assert.ok(rss < RSS_BOUND, `RSS grew ${(rss / MiB).toFixed(1)} MiB`);
    // And it was backpressure, not an early end: the backend is stopped well short of the body.
    assert.ok(stalledAt < BODY);
  });

  it('a backend that stops reading an upload stops the client, and the gateway holds little', async () => {
    const rss0 = process.memoryUsage().rss;
    const url = new URL(gateway.url);
    const socket = net.connect(Number(url.port), url.hostname);
    await new Promise((r) => socket.once('connect', r));
    socket.on('data', () => {});
    socket.write(
      `PUT ${url.pathname}/t/http/upload HTTP/1.1\r\nhost: ${url.host}\r\ncontent-length: ${BODY}\r\n\r\n`,
    );
    let written = 0;
    let stopped = false;
    const pump = () => {
      while (!stopped && written < BODY) {
        written += CHUNK.length;
        if (!socket.write(CHUNK)) return void socket.once('drain', pump);
      }
    };
    pump();
    const stalledAt = await settle(() => written, 300, 5000);
    stopped = true;
    const rss = process.memoryUsage().rss - rss0;
    socket.destroy();
    assert.ok(uploadReceived >= MiB, 'the backend got the start of the body');
    assert.ok(
      stalledAt < IN_FLIGHT_BOUND,
      `the client got ${(stalledAt / MiB).toFixed(1)} MiB off to a stalled backend`,
    );
    assert.ok(rss < RSS_BOUND, `RSS grew ${(rss / MiB).toFixed(1)} MiB`);
  });
});
