/**
 * What the gateway does about the memory a burst of WebSocket upgrades leaves (websocket/heap-settle).
 *
 * By default, the nudge: once no upgrade has come for a moment, scavenges at intervals so that V8's memory reducer
 * sees the quiet; a series ends at the first mark-compact of V8's own, or, when there was none and the process
 * stayed quiet, with one ordinary mark-compact and one more series. With `postern.websocket.compact.after.burst`,
 * one memory-reducing collection at once. Counted by the module and seen as Node's `gc` performance entries (the
 * "last resort" collection is at least two mark-compacts; its entries carry no flag of their own). The connections
 * they run under keep relaying. The nudge series are shortened here (`setNudgeTiming`).
 */
import assert from 'node:assert/strict';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { type RunningBackend, startWsEcho } from '../../src/demo/index.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { MIN_UPGRADES, QUIET_MS, setNudgeTiming, settleCounts } from '../../src/websocket/heap-settle.ts';
import { v8Gc } from '../helpers/gc.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits up to 10 s for `ok` (a compaction due may be put off after a long one on a loaded machine). */
async function until(ok: () => boolean): Promise<void> {
  for (let waited = 0; !ok(); waited += 100) {
    assert.ok(waited < 10_000, 'timed out');
    await sleep(100);
  }
}

const compactions = () => settleCounts().compactions;

/** Mark-compacts seen so far in this process (Node's `gc` performance entries). */
let majors = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
});
observer.observe({ entryTypes: ['gc'] });
after(() => observer.disconnect());

/** Upgrades that make the next burst: at least 100, and a quarter of those open the last time. */
const burst = () => Math.max(MIN_UPGRADES, Math.ceil(settleCounts().openAtLast / 4));

/** Sends one message on each socket and resolves with the echoes. */
function echoAll(sockets: WebSocket[], tag: string): Promise<string[]> {
  return Promise.all(
    sockets.map(
      (ws, i) =>
        new Promise<string>((resolve, reject) => {
          ws.once('message', (d) => resolve(String(d)));
          ws.once('close', (code) => reject(new Error(`closed with ${code}`)));
          ws.send(`${tag} ${i}`);
        }),
    ),
  );
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

describe('with postern.websocket.compact.after.burst: the compaction at once', () => {
  let home: TestHome;
  let gateway: Gateway;
  let echo: RunningBackend;
  const sockets: WebSocket[] = [];

  before(async () => {
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
    const echoes = await echoAll(sockets, 'after');
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

describe('by default: the nudge', () => {
  let home: TestHome;
  let gateway: Gateway;
  let echo: RunningBackend;
  const sockets: WebSocket[] = [];
  const INTERVAL_MS = 150;
  const NUDGES = 4;
  /** A series and its margin on a loaded machine. */
  const SERIES_MS = (NUDGES + 1) * INTERVAL_MS + 1000;

  before(async () => {
    setNudgeTiming(INTERVAL_MS, NUDGES);
    echo = await startWsEcho({ port: 0 });
    home = makeHome({
      'gateway.websocket.feature.enabled': true,
      'postern.connections.max.per.address': 0,
    });
    home.write('conf/topologies/w.xml', topologyXml({ services: [{ role: 'ECHOWS', urls: [echo.url] }] }));
    gateway = await startGateway(home);
  });

  after(async () => {
    setNudgeTiming();
    for (const ws of sockets) ws.terminate();
    await gateway?.close();
    await echo?.close();
    home?.remove();
  });

  it('nudges once a burst has settled, never compacts at once, and every connection still relays', async () => {
    await until(() => !settleCounts().nudging);
    const before = settleCounts();
    sockets.push(...(await openThrough(gateway, burst())));
    // Not while upgrades may still come: only once none has come for QUIET_MS.
    assert.equal(settleCounts().nudges, before.nudges);
    await until(() => settleCounts().nudges > before.nudges);
    assert.deepEqual(
      await echoAll(sockets, 'nudged'),
      sockets.map((_, i) => `nudged ${i}`),
    );
    // The series ends (with V8's own mark-compact, with one ordinary one and a last series when quiet, or just
    // ends: the echoes above are traffic).
    await until(() => !settleCounts().nudging);
    const now = settleCounts();
    assert.equal(now.compactions, before.compactions, 'no memory-reducing collection at once');
    assert.ok(now.collections - before.collections <= 1, 'at most one ordinary mark-compact per burst');
    assert.ok(now.nudges - before.nudges <= 2 * NUDGES, `${now.nudges - before.nudges} nudges`);
    assert.deepEqual(
      await echoAll(sockets, 'after'),
      sockets.map((_, i) => `after ${i}`),
    );
  });

  it('runs the ordinary mark-compact itself (seen as one) when V8 ran none in a quiet series', async () => {
    // When V8's reducer happened to run in the short series (or a collection of V8's made it look busy), there is
    // none of the module's to see, and the burst is repeated (at most three times).
    for (let attempt = 0; attempt < 3; attempt++) {
      await until(() => !settleCounts().nudging);
      const before = settleCounts();
      const majorsBefore = majors;
      sockets.push(...(await openThrough(gateway, burst())));
      await until(() => settleCounts().nudges > before.nudges);
      await until(() => settleCounts().collections > before.collections || !settleCounts().nudging);
      await sleep(100);
      if (settleCounts().collections > before.collections) {
        assert.ok(majors > majorsBefore, 'a mark-compact was seen');
        return;
      }
    }
    assert.fail('three series in a row ended without an ordinary mark-compact');
  });

  it("ends a series at a mark-compact of V8's own, without one of its own", async () => {
    await until(() => !settleCounts().nudging);
    const before = settleCounts();
    sockets.push(...(await openThrough(gateway, burst())));
    await until(() => settleCounts().nudges > before.nudges);
    // The stand-in for V8's memory reducer: a mark-compact the module did not run.
    v8Gc()({ type: 'major', execution: 'sync' });
    await until(() => settleCounts().reducerSeen > before.reducerSeen);
    const nudges = settleCounts().nudges;
    await sleep(SERIES_MS);
    assert.equal(settleCounts().nudges, nudges, 'no nudge after it');
    assert.equal(settleCounts().collections, before.collections);
  });

  it('leaves a busy process to V8: no ordinary mark-compact while it allocates', async () => {
    await until(() => !settleCounts().nudging);
    const before = settleCounts();
    sockets.push(...(await openThrough(gateway, burst())));
    // Traffic's stand-in: ~40 MB/s of short-lived objects, so V8 scavenges on its own between the nudges.
    let junk: unknown[] = [];
    const busy = setInterval(() => {
      junk = Array.from({ length: 20_000 }, (_, i) => ({ i }));
    }, 10);
    try {
      await until(() => settleCounts().nudges > before.nudges);
      await sleep(SERIES_MS);
    } finally {
      clearInterval(busy);
      junk = [];
    }
    assert.equal(settleCounts().collections, before.collections);
    assert.equal(junk.length, 0);
  });
});
