/**
 * @module cli/node-flags
 * The V8 settings (and glibc malloc tunable) `postern start` runs with, applied by re-executing the process (same
 * pid, `process.execve`) before anything else is evaluated. Imported first by cli/main, for its side effect.
 *
 * `--max-semi-space-size=2` (MiB): every socket read is a fresh external ArrayBuffer (64 KiB plain, one 16 KiB
 * record with TLS) that only a scavenge frees, and scavenges are paced by what is allocated on the JS heap, of which
 * a proxy moving large bodies allocates little; the external memory piled up between two scavenges is what runs
 * into V8's limits and makes it run a full mark-compact of the whole heap instead. With the default young
 * generation (16 MiB semi-spaces) nearly every 40–60 MiB moved cost one — about a quarter of postern's CPU on 1 MiB
 * downloads (docs/performance.md); 2 MiB semi-spaces make that ~10× rarer, with no measurable change on small
 * requests. 1 MiB was tried for TLS downloads, which still fall into a run of mark-compacts now and then: it avoided
 * more of those runs but cost more per MiB in the others, uploads included ("Large bodies, fourth round").
 *
 * `--no-allocation-site-pretenuring`: V8 watches how many objects of each allocation site (an object or array
 * literal) survive a scavenge, and once nearly all of one site's do, allocates that site's objects straight in the
 * old generation. A proxy's per-request objects live about as long as their request, so a burst of slow requests
 * (a compile pause, a stall on a shared core) is enough to tenure a request-path site; a tenured object stays until
 * the next mark-compact, and every young object it points to (the request, its headers, the exchange) is then kept
 * alive by the old-to-new remembered set through every scavenge and promoted in turn, which tenures their sites
 * too. On a small GET, ~270 KB of each ~1.6 MB scavenged survived and ~93 % of that was promoted, against ~18 KB
 * for the bare node:http + undici proxy; with the flag 27–60 KB survive and the CPU per request falls by about a
 * sixth (docs/performance.md). The few objects that do live long (deployments, connections) are copied once more.
 *
 * `--external-memory-accounted-in-global-limit`: how V8 decides that dead external memory (the read buffers above)
 * calls for a mark-compact. By default it sets a fixed limit after each mark-compact, 64 MiB above the external
 * memory alive at that moment; a stream's buffers die young but are only freed by the next scavenge, so whenever a
 * mark-compact happened to run with few buffers alive the limit is low, the next ones follow within ~100 ms, each
 * sets the limit low again, and the process stays in that regime: 10–14 mark-compacts a second on four 64 MiB
 * downloads, the whole heap marked each time (postern's ~28 MiB heap makes each one twice the floor's). Runs of
 * one build were bimodal for that reason, 1,000 or 2,000+ µs per MiB. With the flag, external memory counts in
 * V8's global limit, which grows with the heap like the rest: no mark-compact at all in the same plain runs, so
 * every run in the fast regime (the slow ones had cost twice the CPU per MiB, plain and TLS), small requests
 * unchanged, peak RSS of the flat-memory run unchanged (docs/performance.md).
 *
 * `--heap-growing-percent=300`: how far the heap may grow past what a mark-compact left alive before the next one,
 * here fixed at 4×, the highest factor V8 chooses itself (`MemoryController::MaxGrowingFactor`'s `kHighFactor`).
 * V8 otherwise derives the factor from its GC speed against the allocation rate, and on TLS transfers (one fresh
 * 16 KiB buffer per record, counted in the global limit by the flag above, promoted when it waits in a socket across
 * two scavenges) it chose a factor near 1: a mark-compact every ~130 ms with the heap steady at ~32 MB, ~17 % of the
 * CPU, and runs of one build that fell into that regime or not (2× apart in CPU per MiB). With 4× those runs had 4
 * mark-compacts instead of 32–56: TLS 64 MiB downloads 1,768–2,831 µs per MiB against 2,411–3,902 by default in six
 * alternating rounds, 1 MiB downloads lower in four of four, uploads and plain transfers the same or lower, small
 * requests within 0–4 % (docs/performance.md, "Large bodies, seventh round"). V8 still caps each limit at halfway
 * to the maximum heap size, so near that limit the heap still grows by halves.
 *
 * `GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864`: glibc's malloc gives freed heap memory back to the
 * kernel as soon as more than 128 KiB is free at the top of its heap. A mark-compact frees tens of MiB of dead
 * body buffers at once, glibc trims them, and the next buffers fault fresh zeroed pages in again: 20–60 minor
 * faults per MiB moved, and on a virtual machine each fault is dear (uploads spent a tenth of their CPU in the
 * page faults of the HTTP parser's body copy). With up to 64 MiB kept at the top of the heap (V8 lets dead external
 * memory pile up to about that between two mark-compacts) the buffers reuse the same pages: ~0–5 faults per MiB, about
 * half the CPU per MiB on 64 MiB uploads and downloads (docs/performance.md). Peak RSS is unchanged; memory freed
 * after a burst is kept for the next one instead of returned. Only glibc reads it; a `GLIBC_TUNABLES` already set
 * is kept as it is.
 *
 * `POSTERN_NODE_FLAGS` replaces the list (empty: none, no re-exec). Nothing is done when the flags are already on
 * the command line or in NODE_OPTIONS (and `GLIBC_TUNABLES` is set), or when this Node has no `process.execve`
 * (before 22.15).
 */

/** The flags `postern start` wants, unless POSTERN_NODE_FLAGS says otherwise. */
export const DEFAULT_NODE_FLAGS = [
  '--max-semi-space-size=2',
  '--no-allocation-site-pretenuring',
  '--external-memory-accounted-in-global-limit',
  '--heap-growing-percent=300',
];

/** The flags still missing from this process, for `argv` (process.argv) and `env`. */
export function missingNodeFlags(
  argv: readonly string[],
  execArgv: readonly string[],
  env: NodeJS.ProcessEnv,
): string[] {
  if (argv[2] !== 'start' || env.POSTERN_NODE_FLAGS_APPLIED === '1') return [];
  const wanted =
    env.POSTERN_NODE_FLAGS === undefined
      ? DEFAULT_NODE_FLAGS
      : env.POSTERN_NODE_FLAGS.split(/\s+/).filter((f) => f !== '');
  const present = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  // `--x`, `--no-x` and `--x=…` (either spelling) all set the same thing: the operator's choice stands.
  const name = (flag: string) =>
    flag
      .split('=')[0]
      .replaceAll('_', '-')
      .replace(/^--no-/, '--');
  return wanted.filter((f) => !present.some((p) => name(p) === name(f)));
}

/** glibc's malloc settings `postern start` wants (see the module's comment). */
export const DEFAULT_GLIBC_TUNABLES = 'glibc.malloc.trim_threshold=67108864';

/** The environment variables still to set before the process starts again (none once applied or turned off). */
export function missingEnv(argv: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  if (argv[2] !== 'start' || env.POSTERN_NODE_FLAGS_APPLIED === '1') return {};
  // POSTERN_NODE_FLAGS set to nothing turns the re-exec off, and with it this.
  if (env.POSTERN_NODE_FLAGS !== undefined && env.POSTERN_NODE_FLAGS.trim() === '') return {};
  return env.GLIBC_TUNABLES === undefined ? { GLIBC_TUNABLES: DEFAULT_GLIBC_TUNABLES } : {};
}

const missing = missingNodeFlags(process.argv, process.execArgv, process.env);
const env = missingEnv(process.argv, process.env);
if ((missing.length > 0 || Object.keys(env).length > 0) && typeof process.execve === 'function') {
  process.execve(
    process.execPath,
    [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
    { ...process.env, ...env, POSTERN_NODE_FLAGS_APPLIED: '1' },
  );
}
