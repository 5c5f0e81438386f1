/**
 * @module services/admin/traffic
 * The console's live traffic: per topology and service, requests per second, error rate, latency percentiles,
 * status classes, body bytes and open WebSockets over the last minutes, from the events the core publishes
 * (`postern:request`, `postern:websocket`; observability/events.ts). No Prometheus server is needed, and the
 * request path is untouched: the gateway publishes these events anyway (its recent-errors list subscribes), and
 * recording one costs two Map lookups, a `Math.log` and a few array increments, with no allocation.
 *
 * Counts are kept in a ring of one-second slots ({@link WINDOW_SECONDS} of them) per topology and service; a
 * slot is cleared when the clock comes round to it again. Latencies go into geometric buckets (each 25% wider
 * than the last, 0.1 ms to 10 min), so a percentile is the upper bound of its bucket: at most 25% high.
 *
 * One recorder per process (events carry no gateway identity; a process normally runs one gateway): it
 * subscribes while at least one ADMIN deployment holds it ({@link holdTraffic}). With several workers the admin
 * API adds up every worker's {@link TrafficRecorder.parts} ({@link combineTraffic}; services/admin/gateway-wide.ts).
 */
import diagnostics_channel from 'node:diagnostics_channel';
import type { RequestEvent, WebSocketEvent } from '../../observability/events.ts';

/** Seconds of history kept (the ring's length). */
export const WINDOW_SECONDS = 300;
const FIRST_BOUND_MS = 0.1;
const GROWTH = 1.25;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets up to 0.1 ms × 1.25^n ≥ 10 min; the last one takes anything slower. */
const BUCKETS = Math.ceil(Math.log(600_000 / FIRST_BOUND_MS) / LOG_GROWTH) + 1;
/** Status classes 1xx–5xx, plus one for anything else (0: no response). */
const CLASSES = 6;

function bucketOf(ms: number): number {
  if (ms <= FIRST_BOUND_MS) return 0;
  const i = Math.ceil(Math.log(ms / FIRST_BOUND_MS) / LOG_GROWTH);
  return i < BUCKETS ? i : BUCKETS - 1;
}

function boundOf(bucket: number): number {
  return FIRST_BOUND_MS * GROWTH ** bucket;
}

/** The requests of one topology and service. */
class Series {
  readonly second = new Float64Array(WINDOW_SECONDS);
  readonly count = new Uint32Array(WINDOW_SECONDS);
  readonly classes = new Uint32Array(WINDOW_SECONDS * CLASSES);
  readonly latency = new Uint32Array(WINDOW_SECONDS * BUCKETS);
  readonly bytesIn = new Float64Array(WINDOW_SECONDS);
  readonly bytesOut = new Float64Array(WINDOW_SECONDS);
  /** Exact status codes since the recorder started. */
  readonly statuses = new Map<number, number>();
  total = 0;
  websockets = 0;

  slot(now: number): number {
    const i = now % WINDOW_SECONDS;
    if (this.second[i] !== now) {
      this.second[i] = now;
      this.count[i] = 0;
      this.bytesIn[i] = 0;
      this.bytesOut[i] = 0;
      this.classes.fill(0, i * CLASSES, (i + 1) * CLASSES);
      this.latency.fill(0, i * BUCKETS, (i + 1) * BUCKETS);
    }
    return i;
  }
}

/** What one series (or a topology's total) looked like over a window. */
export interface TrafficSummary {
  topology: string;
  /** Empty for a topology's total. */
  service: string;
  requests: number;
  /** Requests per second over the window. */
  rate: number;
  /** Share of answers with status 5xx (or none at all), 0–1. */
  errorRate: number;
  /** Milliseconds (upper bounds of their buckets), absent without requests. */
  p50?: number;
  p95?: number;
  p99?: number;
  /** Answers by status class over the window: `2xx`… and `other`. */
  classes: Record<string, number>;
  /** Exact status codes since the console's recorder started. */
  statuses: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  websockets: number;
  /** Per second, oldest first: requests, and 5xx answers. */
  perSecond: number[];
  errorsPerSecond: number[];
}

const CLASS_NAMES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'];

export class TrafficRecorder {
  readonly #series = new Map<string, Map<string, Series>>();
  readonly #now: () => number;
  #holders = 0;
  readonly #onRequest = (message: unknown) => this.record(message as RequestEvent);
  readonly #onWebSocket = (message: unknown) => this.#websocket(message as WebSocketEvent);

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Subscribes on the first hold; returns the release (unsubscribes with the last). */
  hold(): () => void {
    if (this.#holders++ === 0) {
      diagnostics_channel.subscribe('postern:request', this.#onRequest);
      diagnostics_channel.subscribe('postern:websocket', this.#onWebSocket);
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.#holders === 0) {
        diagnostics_channel.unsubscribe('postern:request', this.#onRequest);
        diagnostics_channel.unsubscribe('postern:websocket', this.#onWebSocket);
      }
    };
  }

  #seriesOf(topology: string, service: string): Series {
    let services = this.#series.get(topology);
    if (services === undefined) {
      services = new Map();
      this.#series.set(topology, services);
    }
    let series = services.get(service);
    if (series === undefined) {
      series = new Series();
      services.set(service, series);
    }
    return series;
  }

  record(e: RequestEvent): void {
    const series = this.#seriesOf(e.topology ?? '', e.service ?? '');
    const i = series.slot(Math.floor(this.#now() / 1000));
    series.count[i]++;
    series.total++;
    const status = e.status;
    series.statuses.set(status, (series.statuses.get(status) ?? 0) + 1);
    const c = status >= 100 && status < 600 ? Math.floor(status / 100) : 0;
    series.classes[i * CLASSES + c]++;
    series.bytesIn[i] += e.bytesIn ?? 0;
    series.bytesOut[i] += e.bytesOut ?? 0;
    // An upgrade's time is its connection's lifetime, not a latency.
    if (!e.upgrade) series.latency[i * BUCKETS + bucketOf(e.ms)]++;
  }

  #websocket(e: WebSocketEvent): void {
    const series = this.#seriesOf(e.topology, e.service);
    // Connections opened before the recorder subscribed close without having been counted.
    series.websockets = Math.max(0, series.websockets + (e.event === 'open' ? 1 : -1));
  }

  /** Every series over the last `windowS` seconds (whole seconds up to now), and each topology's total. */
  snapshot(windowS = 60): TrafficSnapshot {
    return combineTraffic([this.parts(windowS)]);
  }

  /**
   * This process's series over the window as plain sums ({@link TrafficParts}: JSON, so that a worker can send
   * them), for {@link combineTraffic} to add up with other workers' into one snapshot.
   */
  parts(windowS = 60): TrafficParts {
    const window = Math.max(1, Math.min(WINDOW_SECONDS - 1, Math.floor(windowS)));
    const now = Math.floor(this.#now() / 1000);
    const series: TrafficParts['series'] = [];
    for (const [topology, services] of this.#series) {
      for (const [service, s] of services) {
        const one = new Accumulator(window);
        one.add(s, now);
        series.push({ topology, service, sums: one.sums() });
      }
    }
    return { windowSeconds: window, series };
  }
}

export interface TrafficSnapshot {
  windowSeconds: number;
  series: TrafficSummary[];
  topologies: TrafficSummary[];
}

/** One accumulator's sums, as JSON. */
interface Sums {
  perSecond: number[];
  errorsPerSecond: number[];
  classes: number[];
  latency: number[];
  statuses: [number, number][];
  requests: number;
  bytesIn: number;
  bytesOut: number;
  websockets: number;
}

/** What one process recorded over a window, by topology and service. */
export interface TrafficParts {
  windowSeconds: number;
  series: { topology: string; service: string; sums: Sums }[];
}

/**
 * One snapshot of several processes' parts (each worker's): the counts, bytes and latency buckets of a series are
 * summed over the processes, so the percentiles are the whole gateway's.
 */
export function combineTraffic(all: readonly TrafficParts[]): TrafficSnapshot {
  const window = all[0]?.windowSeconds ?? 60;
  const byTopology = new Map<string, Map<string, Accumulator>>();
  for (const parts of all) {
    for (const { topology, service, sums } of parts.series) {
      let services = byTopology.get(topology);
      if (!services) {
        services = new Map();
        byTopology.set(topology, services);
      }
      let acc = services.get(service);
      if (!acc) {
        acc = new Accumulator(window);
        services.set(service, acc);
      }
      acc.addSums(sums);
    }
  }
  const series: TrafficSummary[] = [];
  const topologies: TrafficSummary[] = [];
  for (const [topology, services] of [...byTopology].sort(([a], [b]) => a.localeCompare(b))) {
    const total = new Accumulator(window);
    for (const [service, acc] of [...services].sort(([a], [b]) => a.localeCompare(b))) {
      total.addSums(acc.sums());
      series.push(acc.summary(topology, service));
    }
    topologies.push(total.summary(topology, ''));
  }
  return { windowSeconds: window, series, topologies };
}

/** Sums series over a window (one series, or all of a topology's). */
class Accumulator {
  readonly window: number;
  readonly perSecond: number[];
  readonly errorsPerSecond: number[];
  readonly classes = new Float64Array(CLASSES);
  readonly latency = new Float64Array(BUCKETS);
  readonly statuses = new Map<number, number>();
  requests = 0;
  bytesIn = 0;
  bytesOut = 0;
  websockets = 0;

  constructor(window: number) {
    this.window = window;
    this.perSecond = new Array(window).fill(0);
    this.errorsPerSecond = new Array(window).fill(0);
  }

  add(s: Series, now: number): void {
    // The current second is still filling: the window is the `window` whole seconds before it.
    for (let k = 0; k < this.window; k++) {
      const second = now - this.window + k;
      const i = ((second % WINDOW_SECONDS) + WINDOW_SECONDS) % WINDOW_SECONDS;
      if (s.second[i] !== second) continue;
      const n = s.count[i];
      this.perSecond[k] += n;
      this.requests += n;
      this.bytesIn += s.bytesIn[i];
      this.bytesOut += s.bytesOut[i];
      for (let c = 0; c < CLASSES; c++) this.classes[c] += s.classes[i * CLASSES + c];
      this.errorsPerSecond[k] += s.classes[i * CLASSES + 5] + s.classes[i * CLASSES];
      for (let b = 0; b < BUCKETS; b++) this.latency[b] += s.latency[i * BUCKETS + b];
    }
    for (const [status, n] of s.statuses) this.statuses.set(status, (this.statuses.get(status) ?? 0) + n);
    this.websockets += s.websockets;
  }

  sums(): Sums {
    return {
      perSecond: [...this.perSecond],
      errorsPerSecond: [...this.errorsPerSecond],
      classes: [...this.classes],
      latency: [...this.latency],
      statuses: [...this.statuses],
      requests: this.requests,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      websockets: this.websockets,
    };
  }

  /** Adds another accumulator's sums over the same window. */
  addSums(o: Sums): void {
    for (let k = 0; k < this.window && k < o.perSecond.length; k++) {
      this.perSecond[k] += o.perSecond[k];
      this.errorsPerSecond[k] += o.errorsPerSecond[k];
    }
    for (let c = 0; c < CLASSES; c++) this.classes[c] += o.classes[c] ?? 0;
    for (let b = 0; b < BUCKETS; b++) this.latency[b] += o.latency[b] ?? 0;
    for (const [status, n] of o.statuses) this.statuses.set(status, (this.statuses.get(status) ?? 0) + n);
    this.requests += o.requests;
    this.bytesIn += o.bytesIn;
    this.bytesOut += o.bytesOut;
    this.websockets += o.websockets;
  }

  #percentile(q: number): number | undefined {
    let timed = 0;
    for (const n of this.latency) timed += n;
    if (timed === 0) return undefined;
    const rank = Math.ceil(q * timed);
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.latency[b];
      if (seen >= rank) return Math.round(boundOf(b) * 100) / 100;
    }
    return undefined;
  }

  summary(topology: string, service: string): TrafficSummary {
    const errors = this.classes[5] + this.classes[0];
    const classes: Record<string, number> = {};
    for (let c = 0; c < CLASSES; c++) if (this.classes[c] > 0) classes[CLASS_NAMES[c]] = this.classes[c];
    return {
      topology,
      service,
      requests: this.requests,
      rate: Math.round((this.requests / this.window) * 100) / 100,
      errorRate: this.requests > 0 ? Math.round((errors / this.requests) * 10_000) / 10_000 : 0,
      p50: this.#percentile(0.5),
      p95: this.#percentile(0.95),
      p99: this.#percentile(0.99),
      classes,
      statuses: Object.fromEntries([...this.statuses].sort(([a], [b]) => a - b)),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      websockets: this.websockets,
      perSecond: this.perSecond,
      errorsPerSecond: this.errorsPerSecond,
    };
  }
}

/** The process's recorder. */
export const traffic = new TrafficRecorder();
