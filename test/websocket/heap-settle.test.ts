/**
 * After a burst of WebSocket upgrades the gateway runs one memory-reducing collection once no upgrade has come for
 * a moment (websocket/heap-settle): counted by the module, and seen as Node's `gc` performance entries (the
 * "last resort" collection is at least two mark-compacts; its entries carry no flag of their own). The
 * connections it runs under keep relaying. Only with `postern.websocket.compact.after.burst`: by default, never.
 */
import assert from 'node:assert/strict';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { type RunningBackend, startWsEcho } from '../../src/demo/index.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { compactions, MIN_UPGRADES, QUIET_MS } from '../../src/websocket/heap-settle.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits up to 10 s for `ok` (a compaction due may be put off after a long one on a loaded machine). */
async function until(ok: () => boolean): Promise<void> {
  for (let waited = 0; !ok(); waited += 100) {
    assert.ok(waited < 10_000, 'timed out');
    await sleep(100);
  }
}

/** Opens `n` WebSockets through `gateway` to its `w` topology's echo. */
async function openThrough(gateway: Gateway, n: number): Promise<WebSocket[]> {
  const url = `${gateway.url.replace('http', 'ws')}/w/echo/ws`;
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        }),
    ),
  );
}

describe('without postern.websocket.compact.after.burst (the default)', () => {
  it('never runs, whatever the burst', async () => {
    const echo = await startWsEcho({ port: 0 });
    const home = makeHome({
      'gateway.websocket.feature.enabled': true,
      'postern.connections.max.per.address': 0,
    });
    home.write('conf/topologies/w.xml', topologyXml({ services: [{ role: 'ECHOWS', urls: [echo.url] }] }));
    const gateway = await startGateway(home);
    try {
      const before = compactions();
      const sockets = await openThrough(gateway, 2 * MIN_UPGRADES);
      await sleep(QUIET_MS + 1000);
      assert.equal(compactions(), before);
      for (const ws of sockets) ws.terminate();
    } finally {
      await gateway.close();
      await echo.close();
      home.remove();
    }
  });
});

describe('the compaction after a burst of upgrades', () => {
  let home: TestHome;
  let gateway: Gateway;
  let echo: RunningBackend;
  const sockets: WebSocket[] = [];
  /** Mark-compacts seen so far. */
  let majors = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
        majors++;
  });

  before(async () => {
    observer.observe({ entryTypes: ['gc'] });
    echo = await startWsEcho({ port: 0 });
    home = makeHome({
      'gateway.websocket.feature.enabled': true,
      'postern.connections.max.per.address': 0,
      'postern.websocket.compact.after.burst': true,
    });
    home.write('conf/topologies/w.xml', topologyXml({ services: [{ role: 'ECHOWS', urls: [echo.url] }] }));
    gateway = await startGateway(home);
  });

  after(async () => {
    observer.disconnect();
    for (const ws of sockets) ws.terminate();
    await gateway?.close();
    await echo?.close();
    home?.remove();
  });

  const open = async (n: number) => {
    sockets.push(...(await openThrough(gateway, n)));
  };

  it('does not run below its number of upgrades', async () => {
    const before = compactions();
    await open(MIN_UPGRADES - 1);
    await sleep(QUIET_MS + 500);
    assert.equal(compactions(), before);
  });

  it('runs once after the burst that reaches it, and every connection still relays', async () => {
    const before = compactions();
    await open(1);
    // Not while upgrades keep coming: only once none has come for QUIET_MS.
    assert.equal(compactions(), before);
    const majorsBefore = majors;
    await until(() => compactions() === before + 1);
    await sleep(100);
    assert.ok(majors >= majorsBefore + 2, `${majors - majorsBefore} mark-compacts`);
    const echoes = await Promise.all(
      sockets.map(
        (ws, i) =>
          new Promise<string>((resolve, reject) => {
            ws.once('message', (d) => resolve(String(d)));
            ws.once('close', (code) => reject(new Error(`closed with ${code}`)));
            ws.send(`after ${i}`);
          }),
      ),
    );
    assert.deepEqual(
      echoes,
      sockets.map((_, i) => `after ${i}`),
    );
    // Idle again, with no new upgrade: nothing more runs.
    await sleep(QUIET_MS + 500);
    assert.equal(compactions(), before + 1);
  });

  it('next waits for a quarter as many new upgrades as connections were open after it (its cost grows with them)', async () => {
    const before = compactions();
    // 100 open after the last one: 400 new upgrades make one (at least 100 are needed); 500 open after it.
    await open(4 * MIN_UPGRADES);
    await until(() => compactions() === before + 1);
    // A quarter of 500: 100 new upgrades are not enough, 125 are.
    await open(MIN_UPGRADES);
    await sleep(QUIET_MS + 500);
    assert.equal(compactions(), before + 1);
    await open(25);
    await until(() => compactions() === before + 2);
  });
});
