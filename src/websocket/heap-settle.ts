/**
 * @module websocket/heap-settle
 * One compacting garbage collection once a burst of WebSocket upgrades has settled.
 *
 * Why: a handshake allocates ~65 KiB on the JS heap (the client's upgrade request, the gateway's chain, the `ws`
 * client request to the backend and its response), and while a few hundred handshakes are in flight each
 * scavenge finds most of it still alive and promotes it to the old generation. Once the burst is over, the
 * connections' own state (~7 KiB each) sits in old-space pages among the dead handshake objects, and nothing
 * collects them: V8 starts a mark-compact only when the old generation reaches a limit of up to 4× the live size
 * at the last one, and its memory reducer never runs in an idle process (it waits for a low allocation rate,
 * which it estimates from samples taken at garbage collections, so with none it keeps seeing the burst's rate).
 * Measured on 1,000 idle proxied connections (docs/performance.md, "Idle connections"): 8–22 MiB of old space
 * above what is alive, for as long as the connections stay idle. A full collection without compaction frees the
 * objects but keeps the pages (each holds a few live connections' objects); V8's memory-reducing collection (the
 * `gc` extension's "last-resort" flavour: mark-compact with compaction, twice) moves the survivors together and
 * returns the emptied pages.
 *
 * When: once no upgrade has been relayed for {@link QUIET_MS} (the end of a storm of reconnects, a deploy), if
 * there were at least {@link MIN_UPGRADES} since the last one, and at least a quarter as many as there were
 * relayed connections open after the last one. Its cost grows with the live heap, so with the open connections
 * (0.23–0.25 s of CPU at 1,000 and 0.6–0.67 s at 8,000 on the loaded 2-core bench machine, a pause for every
 * connection of the process): the quarter keeps its cost per upgrade from growing with the connections, while
 * what it leaves uncollected is at most the garbage of a quarter of them. The next one also waits at least 9× as
 * long as the last took (a due one is put off, not dropped), so it never takes more than a tenth of the
 * process's time (bursts of short-lived connections every second). A steady stream of upgrades never triggers it
 * (V8's own collections handle that). The `gc` function is obtained without exposing it to the process
 * (`--expose-gc` for one new context of its own); a Node without it, or `setFlagsFromString` failing, leaves
 * this off.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Upgrades since the last compaction below which none is due: ~100 handshakes leave ~2 MiB of old space. */
export const MIN_UPGRADES = 100;
/** How long no upgrade must have been relayed before the compaction runs. */
export const QUIET_MS = 500;
/** The compaction takes at most this share of the process's time: the next one waits 9× as long as the last took. */
const MAX_SHARE = 0.1;

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

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
/** The number of relayed connections open, from the caller, and what it was at the last compaction. */
let openCount: () => number = () => 0;
let openAtLast = 0;
/** Enough upgrades since the last compaction for the next one. */
const due = () => upgrades >= Math.max(MIN_UPGRADES, openAtLast / 4);
/** How many compactions ran (for tests). */
let runs = 0;

/** When the next compaction may run (performance.now()), after the last one's duration. */
let notBefore = 0;

function settle(): void {
  timer = undefined;
  if (!due()) return;
  const now = performance.now();
  if (now < notBefore) {
    timer = setTimeout(settle, Math.max(QUIET_MS, notBefore - now));
    timer.unref();
    return;
  }
  const collect = gcFunction();
  if (!collect) return;
  upgrades = 0;
  openAtLast = openCount();
  runs++;
  // Timed without making the `gc` function's context (the first time): the share is the collection's.
  const start = performance.now();
  collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const end = performance.now();
  notBefore = end + ((end - start) * (1 - MAX_SHARE)) / MAX_SHARE;
}

/**
 * Counts one relayed upgrade; the compaction is looked at {@link QUIET_MS} after the last of a burst. `open` counts
 * the relayed connections open in this process (the same function every time).
 */
export function upgradeRelayed(open: () => number): void {
  openCount = open;
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

/** How many compactions have run in this process. */
export function compactions(): number {
  return runs;
}
