/**
 * @module bench/fixed-rate
 * An open-loop, fixed-rate HTTP load generator (Debian has no wrk2): request i is due at start + i/rate, whether
 * or not earlier requests have answered, so a slow server cannot slow the load down and hide its own latency
 * (coordinated omission). Latency is measured from the request's due time to the end of its response body —
 * as wrk2 does — and, for reference, from the moment it was actually handed to the connection pool.
 *
 *   node bench/fixed-rate.ts --url http://127.0.0.1:PORT/path [--rate 2000] [--duration 10] [--warmup 1]
 *                            [--connections 64] [--insecure]
 *
 * The scheduler spins on setImmediate rather than sleeping on 1 ms timers, so sends are on time to a few
 * microseconds; run it on a core of its own (`taskset -c 0`). Prints a summary line and one `FIXED_JSON {…}`
 * line (latencies in microseconds) that bench/run.ts parses.
 */
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

export interface FixedRateResult {
  url: string;
  rate: number;
  durationS: number;
  sent: number;
  ok: number;
  errors: number;
  /** Requests still unanswered when the run gave up waiting. */
  unfinished: number;
  /** Achieved rate of completed requests over the measured window. */
  achievedRate: number;
  /** Microseconds, from the due time (coordinated-omission corrected). */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** Microseconds, from the actual send (service time). */
  serviceP50: number;
  serviceP99: number;
  /** How late the scheduler sent, worst case, in microseconds. */
  maxSendLagUs: number;
}

function histogram(): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: 120_000_000_000, figures: 3 });
}

const nsSince = (t: number) => Math.max(1, Math.round((performance.now() - t) * 1e6));

/**
 * One continuous schedule of warm-up plus measurement: only requests due after the warm-up are recorded, so
 * there is no pause or transient at the boundary.
 */
async function run(
  pool: Pool,
  path: string,
  rate: number,
  warmupS: number,
  seconds: number,
): Promise<{ corrected: RecordableHistogram; service: RecordableHistogram; counts: Counts; wallS: number }> {
  const corrected = histogram();
  const service = histogram();
  const counts: Counts = { sent: 0, ok: 0, errors: 0, inFlight: 0, maxLagUs: 0 };
  const total = Math.round(rate * (warmupS + seconds));
  const interval = 1000 / rate;
  const start = performance.now() + 5;
  const measureFrom = start + warmupS * 1000;
  let done: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  let sendingDone = false;

  const send = (due: number) => {
    const sentAt = performance.now();
    const record = due >= measureFrom;
    if (record) {
      counts.sent++;
      counts.maxLagUs = Math.max(counts.maxLagUs, (sentAt - due) * 1000);
    }
    counts.inFlight++;
    pool
      .request({ path, method: 'GET' })
      .then(async (res) => {
        await res.body.dump();
        if (record) {
          corrected.record(nsSince(due));
          service.record(nsSince(sentAt));
        }
        if (!record) return;
        if (res.statusCode >= 200 && res.statusCode < 400) counts.ok++;
        else counts.errors++;
      })
      .catch(() => {
        if (record) counts.errors++;
      })
      .finally(() => {
        counts.inFlight--;
        if (sendingDone && counts.inFlight === 0) done();
      });
  };

  await new Promise<void>((resolve) => {
    let i = 0;
    const tick = () => {
      const now = performance.now();
      while (i < total && start + i * interval <= now) {
        send(start + i * interval);
        i++;
      }
      if (i < total) setImmediate(tick);
      else resolve();
    };
    setImmediate(tick);
  });
  sendingDone = true;
  if (counts.inFlight === 0) done!();
  const timeout = new Promise<void>((r) => setTimeout(r, 10_000).unref());
  await Promise.race([finished, timeout]);
  return { corrected, service, counts, wallS: (performance.now() - measureFrom) / 1000 };
}

interface Counts {
  sent: number;
  ok: number;
  errors: number;
  inFlight: number;
  maxLagUs: number;
}

export async function runFixedRate(options: {
  url: string;
  rate: number;
  durationS: number;
  warmupS: number;
  connections: number;
  insecure: boolean;
}): Promise<FixedRateResult> {
  const url = new URL(options.url);
  const pool = new Pool(url.origin, {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    connect: options.insecure ? { rejectUnauthorized: false } : undefined,
  });
  const path = url.pathname + url.search;
  try {
    const { corrected, service, counts, wallS } = await run(
      pool,
      path,
      options.rate,
      options.warmupS,
      options.durationS,
    );
    const us = (h: RecordableHistogram, p: number) => Math.round(h.percentile(p) / 1000);
    return {
      url: options.url,
      rate: options.rate,
      durationS: options.durationS,
      sent: counts.sent,
      ok: counts.ok,
      errors: counts.errors,
      unfinished: counts.inFlight,
      achievedRate: Math.round(counts.ok / wallS),
      p50: us(corrected, 50),
      p90: us(corrected, 90),
      p99: us(corrected, 99),
      p999: us(corrected, 99.9),
      max: Math.round(corrected.max / 1000),
      serviceP50: us(service, 50),
      serviceP99: us(service, 99),
      maxSendLagUs: Math.round(counts.maxLagUs),
    };
  } finally {
    await pool.destroy();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      rate: { type: 'string', default: '2000' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '64' },
      insecure: { type: 'boolean', default: false },
    },
  });
  if (!values.url) {
    process.stderr.write(
      'usage: node bench/fixed-rate.ts --url URL [--rate N] [--duration S] [--warmup S]\n',
    );
    process.exit(2);
  }
  const r = await runFixedRate({
    url: values.url,
    rate: Number(values.rate),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    connections: Number(values.connections),
    insecure: values.insecure,
  });
  const ms = (v: number) => `${(v / 1000).toFixed(3)}ms`;
  process.stdout.write(
    `${r.url} @ ${r.rate}/s for ${r.durationS}s: ${r.ok} ok, ${r.errors} errors, ${r.unfinished} unfinished, ` +
      `achieved ${r.achievedRate}/s; latency p50 ${ms(r.p50)} p90 ${ms(r.p90)} p99 ${ms(r.p99)} ` +
      `p99.9 ${ms(r.p999)} max ${ms(r.max)} (service p50 ${ms(r.serviceP50)} p99 ${ms(r.serviceP99)}; ` +
      `max send lag ${r.maxSendLagUs}us)\n`,
  );
  process.stdout.write(`FIXED_JSON ${JSON.stringify(r)}\n`);
}
