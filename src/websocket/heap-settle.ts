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
 * When: after at least {@link MIN_UPGRADES} upgrades since the last one, once no upgrade has been relayed for
 * {@link QUIET_MS} (a storm of reconnects, a deploy). Its pause (~10–40 ms for 1,000–8,000 idle connections on
 * the bench machine) therefore falls in a quiet moment, at most once per {@link MIN_UPGRADES} upgrades, and a
 * steady stream of upgrades never triggers it (V8's own collections handle that). The `gc` function is obtained
 * without exposing it to the process (`--expose-gc` for one new context of its own); a Node without it, or
 * `setFlagsFromString` failing, leaves this off.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Upgrades since the last compaction below which none is due: ~100 handshakes leave ~2 MiB of old space. */
export const MIN_UPGRADES = 100;
/** How long no upgrade must have been relayed before the compaction runs. */
export const QUIET_MS = 500;

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
/** How many compactions ran (for tests and the docs' measurements). */
let runs = 0;

function settle(): void {
  if (upgrades < MIN_UPGRADES) return;
  upgrades = 0;
  runs++;
  gcFunction()?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** Counts one relayed upgrade; the compaction is due {@link QUIET_MS} after the last of a burst. */
export function upgradeRelayed(): void {
  upgrades++;
  if (upgrades < MIN_UPGRADES) return;
  // One timer per process, pushed back by every upgrade (refresh allocates nothing); never keeps it alive.
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
