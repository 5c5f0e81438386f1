/**
 * 10,000 failing and aborted requests through the gateway leave open sockets, file descriptors and heap where
 * they were: refused backends (502), backend timeouts (504), and clients that go away mid-response (the
 * backend request is cancelled).
 */
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, closedPort, startBackend } from '../helpers/backend.ts';
import { v8Gc } from '../helpers/gc.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const gc = v8Gc();

function fds(): { total: number; sockets: number } {
  let sockets = 0;
  const list = readdirSync('/proc/self/fd');
  for (const fd of list) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // closed while listing
    }
  }
  return { total: list.length, sockets };
}

/**
 * Lets closing sockets finish closing (on a loaded machine a peer's FIN can take a moment to be read), then
 * measures. Waits at most 5 s for the socket count to come down to `target`.
 */
async function settle(target = 0): Promise<{ total: number; sockets: number; heap: number }> {
  const deadline = Date.now() + 5000;
  do {
    await new Promise((r) => setTimeout(r, 100));
  } while (fds().sockets > target && Date.now() < deadline);
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return { ...fds(), heap: process.memoryUsage().heapUsed };
}

describe('faults do not leak', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let backendOpen = 0;

  before(async () => {
    backend = await startBackend((req, res) => {
      backendOpen++;
      req.on('close', () => backendOpen--);
      if (req.url?.startsWith('/hang')) {
        res.writeHead(200);
        res.write('x');
        return;
      }
      if (req.url?.startsWith('/silent')) return;
      res.end('ok');
    });
    const dead = await closedPort();
    home = makeHome({ 'gateway.httpclient.socketTimeout': '200ms' });
    home.write(
      'conf/topologies/live.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }),
    );
    home.write(
      'conf/topologies/dead.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [`http://127.0.0.1:${dead}`] }] }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  /** One request; `abort` closes the connection after the first response byte. No keep-alive: nothing pools. */
  function one(path: string, abort: boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: gateway.port, path, agent: false }, (res) => {
        if (abort) {
          res.once('data', () => {
            req.destroy();
            resolve(-1);
          });
          return;
        }
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', (err) => (abort && req.destroyed ? resolve(-1) : reject(err)));
    });
  }

  async function run(total: number, concurrency: number, counts: Map<number, number>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const kind = i % 10;
        // 6 in 10 refused (502), 3 in 10 aborted by the client mid-response, 1 in 10 backend timeout (504).
        const status =
          kind < 6
            ? await one('/gateway/dead/http/x', false)
            : kind < 9
              ? await one(`/gateway/live/http/hang?i=${i}`, true)
              : await one(`/gateway/live/http/silent?i=${i}`, false);
        counts.set(status, (counts.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  it('10,000 failing and aborted requests: sockets, fds and heap stay flat', {
    timeout: 300_000,
  }, async () => {
    const warm = new Map<number, number>();
    await run(1000, 50, warm);
    const baseline = await settle();
    const counts = new Map<number, number>();
    await run(10_000, 50, counts);
    for (let i = 0; i < 50 && backendOpen > 0; i++) await new Promise((r) => setTimeout(r, 20));
    const end = await settle(baseline.sockets);

    assert.equal(counts.get(502), 6000);
    assert.equal(counts.get(-1), 3000);
    assert.equal(counts.get(504), 1000);
    assert.equal(backendOpen, 0, 'every backend request was cancelled or finished');
    assert.ok(end.sockets - baseline.sockets <= 2, `sockets ${baseline.sockets} → ${end.sockets}`);
    assert.ok(end.total - baseline.total <= 2, `fds ${baseline.total} → ${end.total}`);
    const growth = end.heap - baseline.heap;
    assert.ok(growth < 8 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(1)} MiB`);
  });
});
