/**
 * @module websocket/heap-settle
 * Returning the memory a burst of WebSocket upgrades leaves behind, once the burst has settled.
 *
 * Why: a handshake allocates ~65 KiB on the JS heap (the client's upgrade request, the gateway's chain, the `ws`
 * client request to the backend and its response), and while a few hundred handshakes are in flight each
 * scavenge finds most of it still alive and promotes it to the old generation. Once the burst is over, the
 * connections' own state (~7 KiB each) sits in old-space pages among the dead handshake objects. Measured on 1,000
 * idle proxied connections (docs/performance.md, "Idle connections"): 8–22 MiB of old space above what is alive.
 *
 * V8 has a collector for exactly this: its memory reducer, which runs memory-reducing mark-compacts (incremental
 * marking, then compaction, returning the emptied pages) when the process has gone quiet. It looks every 8 s; but
 * it judges "quiet" by the allocation rate, which V8 samples at garbage collections, and an idle process has none,
 * so after a burst it keeps seeing the burst's rate and waits for its watchdog (~100 s after the last mark-compact;
 * measured with `--trace-memory-reducer`). Hence, by default, the **nudge**: once the burst has settled, a
 * scavenge every {@link NUDGE_INTERVAL_MS} (~1 ms each on a quiet process), at most {@link NUDGES} times, each
 * giving V8 a sample of the quiet. The reducer then acts within ~8–16 s on its own terms (only while the
 * allocation rate is low, incrementally: its pauses were 7–80 ms at 1,000 and 8,000 connections, against 90–330 ms
 * for a full collection on the spot). The nudging stops at the first mark-compact it sees.
 *
 * The reducer acts once per activation (two collections), and V8 activates it again only after a mark-compact
 * that found the heap grown. A later burst in a process whose reducer has finished would keep its garbage until
 * V8's next mark-compact. So when a nudging series sees no mark-compact and the process stayed quiet throughout
 * (no collection but the nudges, and under {@link QUIET_BYTES_PER_S} allocated), it runs one ordinary mark-compact
 * (30–120 ms at 1,000–8,000 connections, on a quiet process), which activates the reducer again, and nudges once
 * more. A busy process is left to V8's own collections.
 *
 * With `postern.websocket.compact.after.burst`, the **compaction** instead: at once, V8's memory-reducing
 * collection (the `gc` extension's "last-resort" flavour: mark-compact with compaction, twice). Its cost grows with
 * the live heap (0.23–0.25 s of CPU at 1,000 open connections and 0.6–0.67 s at 8,000 on the loaded 2-core bench
 * machine, a pause for every connection of the process), and it flushes the bytecode of the functions not running.
 *
 * When: once no upgrade has been relayed for {@link QUIET_MS} (the end of a storm of reconnects, a deploy), if
 * there were at least {@link MIN_UPGRADES} since the last time, and at least a quarter as many as there were
 * relayed connections open after it: what is left uncollected is at most the garbage of a quarter of them, and the
 * cost per upgrade does not grow with the connections. A compaction also waits at least 9× as long as the last one
 * took (a due one is put off, not dropped), so it never takes more than a tenth of the process's time. A steady
 * stream of upgrades triggers neither (V8's own collections handle that). The `gc` function is obtained without
 * exposing it to the process (`--expose-gc` for one new context of its own); a Node without it, or
 * `setFlagsFromString` failing, leaves this off.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Upgrades since the last time below which nothing is due: ~100 handshakes leave ~2 MiB of old space. */
export const MIN_UPGRADES = 100;
/** How long no upgrade must have been relayed before anything runs. */
export const QUIET_MS = 500;
/** Between two nudges: V8's memory reducer averages the allocation rate over ~5 s of samples. */
export const NUDGE_INTERVAL_MS = 2500;
/** Nudges in a series: ~10 s, one look of the memory reducer when it is waiting (it looks every 8 s). */
export const NUDGES = 4;
/** Below this allocation rate between two nudges (and with no other collection) the process counts as quiet. */
export const QUIET_BYTES_PER_S = 256 * 1024;
/** A compaction takes at most this share of the process's time: the next one waits 9× as long as the last took. */
const MAX_SHARE = 0.1;

type Gc = (options: {
  type: 'major' | 'minor';
  execution: 'sync';
  flavor?: 'regular' | 'last-resort';
}) => void;

let gc: Gc | null | undefined;

/** V8's `gc` function, from a context of its own (the flag is on only while that context is made). */
function gcFunction(): Gc | null {
  if (gc !== undefined) return gc;
  try {
    setFlagsFromString('--expose-gc');
    try {
      const fn: unknown = runInNewContext('gc');
      gc = typeof fn === 'function' ? (fn as Gc) : null;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  } catch {
    gc = null;
  }
  return gc;
}

let upgrades = 0;
let timer: NodeJS.Timeout | undefined;
/** The number of relayed connections open, from the caller, and what it was the last time. */
let openCount: () => number = () => 0;
let openAtLast = 0;
/** What the latest upgrade's deployment asked for: the compaction at once, or the nudge. */
let compactAtOnce = false;
/** Enough upgrades since the last time for the next one. */
const due = () => upgrades >= Math.max(MIN_UPGRADES, openAtLast / 4);

/** Compactions at once; nudges; series that saw a mark-compact of V8's own; ordinary mark-compacts run. */
const counts = { compactions: 0, nudges: 0, reducerSeen: 0, collections: 0 };
/** When the next compaction may run (performance.now()), after the last one's duration. */
let notBefore = 0;
/** Nudge timing (tests shorten it). */
let nudgeIntervalMs = NUDGE_INTERVAL_MS;
let nudgesPerSeries = NUDGES;

function settle(): void {
  timer = undefined;
  if (!due()) return;
  if (compactAtOnce) compact();
  else if (gcFunction()) {
    startOver();
    series = new NudgeSeries(true);
  }
}

/** A burst is being answered: the upgrade count starts again, and a series still nudging stops. */
function startOver(): void {
  series?.stop();
  upgrades = 0;
  openAtLast = openCount();
}

function compact(): void {
  const now = performance.now();
  if (now < notBefore) {
    timer = setTimeout(settle, Math.max(QUIET_MS, notBefore - now));
    timer.unref();
    return;
  }
  const collect = gcFunction();
  if (!collect) return;
  startOver();
  counts.compactions++;
  // Timed without making the `gc` function's context (the first time): the share is the collection's.
  const start = performance.now();
  collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const end = performance.now();
  notBefore = end + ((end - start) * (1 - MAX_SHARE)) / MAX_SHARE;
}

let series: NudgeSeries | undefined;

/**
 * Scavenges every {@link nudgeIntervalMs} until a mark-compact is seen (V8's memory reducer ran) or the series is
 * over; then, when the process stayed quiet and the series may, one ordinary mark-compact and a new series.
 */
class NudgeSeries {
  readonly #mayCollect: boolean;
  readonly #observer: PerformanceObserver;
  /** The nudges' own collections, as [start, end] in performance.now(), to tell them from V8's. */
  readonly #ours: [number, number][] = [];
  #left = nudgesPerSeries;
  #timer: NodeJS.Timeout;
  #markCompacted = false;
  #quiet = true;
  /** New-space bytes in use right after the last nudge, and when. */
  #usedAfter = newSpaceUsed();
  #at = performance.now();

  /** `ours`: a collection just run by the previous series, whose entry is still to come. */
  constructor(mayCollect: boolean, ours?: [number, number]) {
    this.#mayCollect = mayCollect;
    if (ours) this.#ours.push(ours);
    this.#observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (this.#ours.some(([s, end]) => e.startTime >= s && e.startTime <= end)) continue;
        const kind = (e as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.#markCompacted = true;
        else this.#quiet = false;
      }
    });
    this.#observer.observe({ entryTypes: ['gc'] });
    this.#timer = setTimeout(() => this.#nudge(), 0);
    this.#timer.unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#observer.disconnect();
    if (series === this) series = undefined;
  }

  #run(type: 'major' | 'minor'): [number, number] | undefined {
    const collect = gcFunction();
    if (!collect) return undefined;
    const start = performance.now();
    collect({ type, execution: 'sync' });
    const ran: [number, number] = [start, performance.now()];
    this.#ours.push(ran);
    return ran;
  }

  #nudge(): void {
    // Entries of collections are delivered a tick late: those since the last nudge are in by now.
    if (this.#markCompacted) {
      counts.reducerSeen++;
      this.stop();
      return;
    }
    const now = performance.now();
    const allocated = newSpaceUsed() - this.#usedAfter;
    if (allocated > (QUIET_BYTES_PER_S * (now - this.#at)) / 1000 + 64 * 1024) this.#quiet = false;
    if (this.#left === 0) {
      this.stop();
      if (this.#mayCollect && this.#quiet) {
        counts.collections++;
        series = new NudgeSeries(false, this.#run('major'));
      }
      return;
    }
    this.#left--;
    counts.nudges++;
    this.#run('minor');
    this.#usedAfter = newSpaceUsed();
    this.#at = performance.now();
    this.#timer = setTimeout(() => this.#nudge(), nudgeIntervalMs);
    this.#timer.unref();
  }
}

function newSpaceUsed(): number {
  for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_used_size;
  return 0;
}

/**
 * Counts one relayed upgrade; what is due is looked at {@link QUIET_MS} after the last of a burst. `open` counts
 * the relayed connections open in this process (the same function every time); `compactAtOnce` is the
 * deployment's `postern.websocket.compact.after.burst`.
 */
export function upgradeRelayed(open: () => number, compactNow: boolean): void {
  openCount = open;
  compactAtOnce = compactNow;
  upgrades++;
  // Not due yet, or this Node has no `gc` to lend (then never).
  if (!due() || gc === null) return;
  // One timer per process, pushed back by every upgrade (refresh allocates nothing); it never keeps it alive.
  if (timer) timer.refresh();
  else {
    timer = setTimeout(settle, QUIET_MS);
    timer.unref();
  }
}

/**
 * How many compactions, nudges and ordinary mark-compacts have run in this process; whether a series runs now; the
 * relayed connections open the last time (a quarter of it is the next burst's size).
 */
export function settleCounts(): Readonly<typeof counts & { nudging: boolean; openAtLast: number }> {
  return { ...counts, nudging: series !== undefined, openAtLast };
}

/** For tests: shorter nudge series (the defaults again without arguments). */
export function setNudgeTiming(intervalMs = NUDGE_INTERVAL_MS, count = NUDGES): void {
  nudgeIntervalMs = intervalMs;
  nudgesPerSeries = count;
}
