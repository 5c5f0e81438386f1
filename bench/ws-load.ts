/**
 * @module bench/ws-load
 * The WebSocket load generator of `npm run bench` (run on core 0 by bench/run.ts), a `ws` client
 * (perMessageDeflate off). Two modes, each printing one `WSLOAD_JSON {…}` line on stdout:
 *
 * - `echo`: opens `--connections` connections (200 at a time), then each one sends a message of `--size` bytes
 *   (text, or binary with `--binary`), waits for its echo, checks its length and sends again — a closed loop —
 *   for `--warmup` s unmeasured, then `--duration` s measured. Reports round trips/s, MiB/s of payload echoed
 *   (one direction: round trips × size), the round-trip time p50/p99, and every error, unexpected close and
 *   wrong-sized echo; with `--pid` (and `--backend-pid`), that process's CPU time (user + system, from /proc) per
 *   round trip over the measured phase.
 * - `idle`: opens and closes `--batch` connections once (so lazily made code paths and pools exist), waits 1 s,
 *   reads VmRSS of `--pid` (and of `--backend-pid`) from /proc, opens `--connections` connections in batches of
 *   `--batch`, leaves them idle `--settle` s, reads VmRSS again and counts how many are still open, then closes
 *   them all. Reports (after − before) / connections in KiB. `--settle 2,30` reads it after 2 s and again after
 *   30 s (`later`): the gateway returns a burst's garbage within ~10–20 s once it is quiet (websocket/heap-settle).
 *
 *   node bench/ws-load.ts --url ws://127.0.0.1:PORT/path --mode echo --connections 100 --size 64
 *                         [--binary] [--duration 10] [--warmup 2] [--pid PID] [--backend-pid PID] [--rate N]
 *
 * `--rate N` paces the echo loop to N round trips per second in all (each connection sends once per
 * connections/N s at most): CPU per round trip compared at one rate, below what a loaded machine saturates at,
 * depends less on how many events each turn of the proxy's event loop happens to batch.
 *   node bench/ws-load.ts --url ws://… --mode idle --connections 8000 --batch 200 --pid PID [--backend-pid PID]
 *                         [--settle 2[,30…]]
 *
 * 8,000 connections need `ulimit -n` above 8,000 in this process (run.ts starts it under `ulimit -n 20000`).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { cpuTimes } from './proc.ts';

export interface EchoResult {
  mode: 'echo';
  connections: number;
  opened: number;
  size: number;
  binary: boolean;
  durationS: number;
  roundTrips: number;
  roundTripsPerS: number;
  mibPerS: number;
  p50us: number;
  p99us: number;
  maxUs: number;
  errors: number;
  unexpectedCloses: number;
  badEchoes: number;
  /** CPU (user + system) of `--pid` during the measured phase, µs per round trip (one message each way). */
  cpuUsPerRoundTrip?: number;
  /** The system (kernel) part of it. */
  sysUsPerRoundTrip?: number;
  /** The same for `--backend-pid` (the echo backend). */
  backendCpuUsPerRoundTrip?: number;
  /** VmRSS of `--pid` at the end of the measured phase. */
  rssEndKiB?: number;
  firstError?: string;
}

export interface IdleResult {
  mode: 'idle';
  connections: number;
  opened: number;
  openAfterSettle: number;
  failed: number;
  openMs: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  kibPerConnection: number;
  /** Readings after the first `--settle`, at each later one (seconds since the connections were open). */
  later: { afterS: number; rssKiB: number; kibPerConnection: number }[];
  backendRssBeforeKiB?: number;
  backendRssAfterKiB?: number;
  backendKibPerConnection?: number;
  firstError?: string;
}

/** VmRSS of a process in KiB, from /proc/PID/status. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/** CPU time (user + system, all threads) a process has used so far, in µs (throws once it is gone). */
function cpuUs(pid: number): number {
  const t = cpuTimes(pid)!;
  return t.user + t.sys;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Opened {
  sockets: WebSocket[];
  failed: number;
  firstError?: string;
}

/** Opens `n` connections, `batch` handshakes at a time. */
async function openMany(url: string, n: number, batch: number): Promise<Opened> {
  const sockets: WebSocket[] = [];
  let failed = 0;
  let firstError: string | undefined;
  for (let i = 0; i < n; i += batch) {
    const k = Math.min(batch, n - i);
    const results = await Promise.all(
      Array.from(
        { length: k },
        () =>
          new Promise<WebSocket | undefined>((resolve) => {
            const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 10_000 });
            ws.once('open', () => resolve(ws));
            ws.once('error', (err) => {
              firstError ??= err.message;
              resolve(undefined);
            });
          }),
      ),
    );
    for (const ws of results) {
      if (ws) sockets.push(ws);
      else failed++;
    }
  }
  return { sockets, failed, firstError };
}

export async function echo(opts: {
  url: string;
  connections: number;
  size: number;
  binary: boolean;
  durationS: number;
  warmupS: number;
  pid?: number;
  backendPid?: number;
  /** Round trips per second over all connections at most (0: as fast as the echoes come back). */
  rate?: number;
}): Promise<EchoResult> {
  const { sockets, failed, firstError: openError } = await openMany(opts.url, opts.connections, 200);
  const payload = opts.binary ? Buffer.alloc(opts.size, 0x61) : 'x'.repeat(opts.size);
  let phase: 'warmup' | 'measure' | 'stop' = 'warmup';
  const samples: number[] = [];
  let errors = failed;
  let unexpectedCloses = 0;
  let badEchoes = 0;
  let firstError = openError;
  let inFlight = 0;
  // With a rate, each connection sends at most once per `period` ms (its next send due one period after the last).
  const period = opts.rate ? (sockets.length * 1000) / opts.rate : 0;
  for (const [n, ws] of sockets.entries()) {
    let sentAt = 0;
    let due = performance.now() + (period * n) / Math.max(1, sockets.length);
    const sendNow = () => {
      sentAt = performance.now();
      inFlight++;
      ws.send(payload, { binary: opts.binary });
    };
    const send = () => {
      if (period === 0) return sendNow();
      const wait = due - performance.now();
      due = Math.max(due, performance.now() - period) + period;
      if (wait <= 0) sendNow();
      else setTimeout(sendNow, wait);
    };
    ws.on('message', (data: Buffer, isBinary) => {
      inFlight--;
      const rtt = performance.now() - sentAt;
      if (data.length !== opts.size || isBinary !== opts.binary) badEchoes++;
      if (phase === 'measure') samples.push(rtt);
      if (phase !== 'stop') send();
    });
    ws.on('error', (err) => {
      errors++;
      firstError ??= err.message;
    });
    ws.on('close', (code) => {
      if (phase !== 'stop') {
        unexpectedCloses++;
        firstError ??= `closed with ${code} during the run`;
      }
    });
    send();
  }
  await sleep(opts.warmupS * 1000);
  phase = 'measure';
  const cpu0 = opts.pid ? cpuTimes(opts.pid)! : undefined;
  const backendCpu0 = opts.backendPid ? cpuUs(opts.backendPid) : undefined;
  const t0 = performance.now();
  await sleep(opts.durationS * 1000);
  phase = 'stop';
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu1 = opts.pid ? cpuTimes(opts.pid)! : undefined;
  const backendCpu1 = opts.backendPid ? cpuUs(opts.backendPid) : undefined;
  const rssEndKiB = opts.pid ? rssKiB(opts.pid) : undefined;
  // Let the last echoes in flight arrive before cutting the connections.
  for (let i = 0; i < 100 && inFlight > 0; i++) await sleep(20);
  for (const ws of sockets) ws.terminate();
  samples.sort((a, b) => a - b);
  const q = (p: number) =>
    samples.length ? samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] : 0;
  return {
    mode: 'echo',
    connections: opts.connections,
    opened: sockets.length,
    size: opts.size,
    binary: opts.binary,
    durationS: elapsedS,
    roundTrips: samples.length,
    roundTripsPerS: samples.length / elapsedS,
    mibPerS: (samples.length * opts.size) / 1048576 / elapsedS,
    p50us: q(0.5) * 1000,
    p99us: q(0.99) * 1000,
    maxUs: (samples.at(-1) ?? 0) * 1000,
    errors,
    unexpectedCloses,
    badEchoes,
    cpuUsPerRoundTrip:
      cpu0 !== undefined && cpu1 !== undefined && samples.length > 0
        ? (cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) / samples.length
        : undefined,
    sysUsPerRoundTrip:
      cpu0 !== undefined && cpu1 !== undefined && samples.length > 0
        ? (cpu1.sys - cpu0.sys) / samples.length
        : undefined,
    backendCpuUsPerRoundTrip:
      backendCpu0 !== undefined && backendCpu1 !== undefined && samples.length > 0
        ? (backendCpu1 - backendCpu0) / samples.length
        : undefined,
    rssEndKiB,
    firstError,
  };
}

export async function idle(opts: {
  url: string;
  connections: number;
  batch: number;
  pid: number;
  backendPid?: number;
  /** Seconds after opening at which to read the RSS: the first is the result, the others `later`. */
  settleS: number[];
}): Promise<IdleResult> {
  const warm = await openMany(opts.url, opts.batch, opts.batch);
  for (const ws of warm.sockets) ws.close(1000);
  await sleep(1000);
  for (const ws of warm.sockets) ws.terminate();
  const rssBeforeKiB = rssKiB(opts.pid);
  const backendRssBeforeKiB = opts.backendPid ? rssKiB(opts.backendPid) : undefined;
  const t0 = performance.now();
  const { sockets, failed, firstError: openError } = await openMany(opts.url, opts.connections, opts.batch);
  const openMs = performance.now() - t0;
  let firstError = openError;
  let closed = 0;
  for (const ws of sockets) {
    ws.on('error', (err) => {
      firstError ??= err.message;
    });
    ws.once('close', (code) => {
      closed++;
      firstError ??= `closed with ${code} while idle`;
    });
  }
  const [firstS, ...laterS] = opts.settleS;
  await sleep(firstS * 1000);
  const rssAfterKiB = rssKiB(opts.pid);
  const backendRssAfterKiB = opts.backendPid ? rssKiB(opts.backendPid) : undefined;
  const later: IdleResult['later'] = [];
  let slept = firstS;
  for (const s of laterS) {
    await sleep((s - slept) * 1000);
    slept = s;
    const rss = rssKiB(opts.pid);
    later.push({ afterS: s, rssKiB: rss, kibPerConnection: (rss - rssBeforeKiB) / opts.connections });
  }
  const openAfterSettle = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
  for (const ws of sockets) {
    ws.removeAllListeners('close');
    ws.terminate();
  }
  void closed;
  const n = opts.connections;
  return {
    mode: 'idle',
    connections: n,
    opened: sockets.length,
    openAfterSettle,
    failed,
    openMs,
    rssBeforeKiB,
    rssAfterKiB,
    kibPerConnection: (rssAfterKiB - rssBeforeKiB) / n,
    later,
    backendRssBeforeKiB,
    backendRssAfterKiB,
    backendKibPerConnection:
      backendRssAfterKiB !== undefined && backendRssBeforeKiB !== undefined
        ? (backendRssAfterKiB - backendRssBeforeKiB) / n
        : undefined,
    firstError,
  };
}

if (import.meta.main) {
  const { values: a } = parseArgs({
    options: {
      url: { type: 'string' },
      mode: { type: 'string', default: 'echo' },
      connections: { type: 'string', default: '100' },
      size: { type: 'string', default: '64' },
      binary: { type: 'boolean', default: false },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      batch: { type: 'string', default: '200' },
      pid: { type: 'string' },
      'backend-pid': { type: 'string' },
      settle: { type: 'string', default: '2' },
      rate: { type: 'string', default: '0' },
    },
  });
  if (!a.url) throw new Error('--url is required');
  const result =
    a.mode === 'idle'
      ? await idle({
          url: a.url,
          connections: Number(a.connections),
          batch: Number(a.batch),
          pid: Number(a.pid ?? Number.NaN),
          backendPid: a['backend-pid'] ? Number(a['backend-pid']) : undefined,
          settleS: a.settle.split(',').map(Number),
        })
      : await echo({
          url: a.url,
          connections: Number(a.connections),
          size: Number(a.size),
          binary: a.binary,
          durationS: Number(a.duration),
          warmupS: Number(a.warmup),
          pid: a.pid ? Number(a.pid) : undefined,
          backendPid: a['backend-pid'] ? Number(a['backend-pid']) : undefined,
          rate: Number(a.rate),
        });
  process.stdout.write(`WSLOAD_JSON ${JSON.stringify(result)}\n`);
  process.exit(0);
}
