/**
 * @module cli/node-flags
 * The V8 settings `postern start` runs with, applied by re-executing the process (same pid, `process.execve`)
 * before anything else is evaluated. Imported first by cli/main, for its side effect.
 *
 * `--max-semi-space-size=2` (MiB): every socket read is a fresh external ArrayBuffer (64 KiB), and V8 starts a full
 * mark-compact each time about 64 MiB of external memory has accumulated since the last one. With the default
 * young generation (16 MiB semi-spaces) a proxy moving large bodies allocates little on the JS heap, so scavenges
 * (which free dead young ArrayBuffers cheaply) are rare and nearly every 40–60 MiB moved costs a full GC of the
 * whole heap — about a quarter of postern's CPU on 1 MiB downloads (docs/performance.md). A 2 MiB semi-space makes
 * scavenges free the read buffers first: ~10× fewer mark-compacts per MiB, no measurable change on small requests.
 *
 * `POSTERN_NODE_FLAGS` replaces the list (empty: none, no re-exec). Nothing is done when the flags are already on
 * the command line or in NODE_OPTIONS, or when this Node has no `process.execve` (before 22.15).
 */

/** The flags `postern start` wants, unless POSTERN_NODE_FLAGS says otherwise. */
export const DEFAULT_NODE_FLAGS = ['--max-semi-space-size=2'];

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
  const name = (flag: string) => flag.split('=')[0].replaceAll('_', '-');
  return wanted.filter((f) => !present.some((p) => name(p) === name(f)));
}

const missing = missingNodeFlags(process.argv, process.execArgv, process.env);
if (missing.length > 0 && typeof process.execve === 'function') {
  process.execve(
    process.execPath,
    [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
    { ...process.env, POSTERN_NODE_FLAGS_APPLIED: '1' },
  );
}
