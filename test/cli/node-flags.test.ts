import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_GLIBC_TUNABLES,
  DEFAULT_NODE_FLAGS,
  missingEnv,
  missingNodeFlags,
} from '../../src/cli/node-flags.ts';

const START = ['node', 'main.ts', 'start'];

test('postern start wants the default V8 flags; other commands none', () => {
  assert.deepEqual(missingNodeFlags(START, [], {}), DEFAULT_NODE_FLAGS);
  assert.deepEqual(missingNodeFlags(['node', 'main.ts', 'check'], [], {}), []);
});

test('flags already given on the command line or in NODE_OPTIONS (any value, either spelling) are kept', () => {
  assert.deepEqual(missingNodeFlags(START, ['--max-semi-space-size=8'], {}), [
    '--no-allocation-site-pretenuring',
    '--external-memory-accounted-in-global-limit',
    '--heap-growing-percent=300',
  ]);
  assert.deepEqual(
    missingNodeFlags(START, [], {
      NODE_OPTIONS:
        '--max_semi_space_size=4 --trace-gc --allocation_site_pretenuring --external_memory_accounted_in_global_limit --heap_growing_percent=0',
    }),
    [],
  );
  // An operator who turns V8's pretenuring back on keeps it on; the other flags are still added.
  assert.deepEqual(missingNodeFlags(START, ['--allocation-site-pretenuring'], {}), [
    '--max-semi-space-size=2',
    '--external-memory-accounted-in-global-limit',
    '--heap-growing-percent=300',
  ]);
  assert.deepEqual(missingNodeFlags(START, [], { NODE_OPTIONS: '--no-allocation-site-pretenuring' }), [
    '--max-semi-space-size=2',
    '--external-memory-accounted-in-global-limit',
    '--heap-growing-percent=300',
  ]);
  // The same for the external memory accounting, turned off by the operator.
  assert.deepEqual(missingNodeFlags(START, ['--no-external-memory-accounted-in-global-limit'], {}), [
    '--max-semi-space-size=2',
    '--no-allocation-site-pretenuring',
    '--heap-growing-percent=300',
  ]);
  // An operator's own growing factor (0: V8's dynamic one) stands.
  assert.deepEqual(missingNodeFlags(START, ['--heap-growing-percent=0'], {}), [
    '--max-semi-space-size=2',
    '--no-allocation-site-pretenuring',
    '--external-memory-accounted-in-global-limit',
  ]);
});

test('POSTERN_NODE_FLAGS replaces the list; empty turns the re-exec off; once applied, never again', () => {
  assert.deepEqual(missingNodeFlags(START, [], { POSTERN_NODE_FLAGS: '' }), []);
  assert.deepEqual(missingNodeFlags(START, [], { POSTERN_NODE_FLAGS: ' --a=1  --b ' }), ['--a=1', '--b']);
  assert.deepEqual(missingNodeFlags(START, [], { POSTERN_NODE_FLAGS_APPLIED: '1' }), []);
});

test('postern start sets glibc malloc tunables unless GLIBC_TUNABLES is set, the re-exec is off, or done', () => {
  assert.deepEqual(missingEnv(START, {}), { GLIBC_TUNABLES: DEFAULT_GLIBC_TUNABLES });
  assert.deepEqual(missingEnv(['node', 'main.ts', 'check'], {}), {});
  // The operator's own tunables (even none at all) are theirs.
  assert.deepEqual(missingEnv(START, { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }), {});
  assert.deepEqual(missingEnv(START, { GLIBC_TUNABLES: '' }), {});
  assert.deepEqual(missingEnv(START, { POSTERN_NODE_FLAGS: ' ' }), {});
  assert.deepEqual(missingEnv(START, { POSTERN_NODE_FLAGS: '--a' }), {
    GLIBC_TUNABLES: DEFAULT_GLIBC_TUNABLES,
  });
  assert.deepEqual(missingEnv(START, { POSTERN_NODE_FLAGS_APPLIED: '1' }), {});
});

test('the re-executed process keeps its pid, its arguments and gets the flags and the tunables', () => {
  // The module's side effect, in a real process: argv[2] is `start`, the script prints what it ran with.
  const module = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'node-flags.ts');
  const dir = mkdtempSync(join(tmpdir(), 'postern-node-flags-'));
  const script = join(dir, 'main.mjs');
  writeFileSync(
    script,
    `await import(${JSON.stringify(module)});\n` +
      'console.log(JSON.stringify({ pid: process.pid, execArgv: process.execArgv, argv: process.argv.slice(2), tunables: process.env.GLIBC_TUNABLES }));\n',
  );
  const env = { ...process.env };
  delete env.POSTERN_NODE_FLAGS;
  delete env.POSTERN_NODE_FLAGS_APPLIED;
  delete env.NODE_OPTIONS;
  delete env.GLIBC_TUNABLES;
  const r = spawnSync(process.execPath, [script, 'start', '--home', 'x'], { env, encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { pid: number; execArgv: string[]; argv: string[]; tunables?: string };
  assert.deepEqual(out.argv, ['start', '--home', 'x']);
  for (const f of DEFAULT_NODE_FLAGS)
    assert.ok(out.execArgv.includes(f), `${f} in ${out.execArgv.join(' ')}`);
  assert.equal(out.pid, r.pid);
  // glibc reads it when the process starts: the re-executed process started with it.
  assert.equal(out.tunables, DEFAULT_GLIBC_TUNABLES);
});
