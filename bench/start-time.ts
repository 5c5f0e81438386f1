/**
 * @module bench/start-time
 * How long `npm start` takes on the sample home (issue 18: under 3 s with workers on): the time from spawning
 * `bin/postern.js start` to its start line, then `/readyz` must answer 200, then SIGTERM. Each variant runs once with
 * an empty compile cache (`NODE_COMPILE_CACHE` pointed at a new directory: the first start after an install) and
 * then `--runs` times with the cache that start left. Variants: the sample home as `npm start` runs it
 * (`postern.workers` auto: one worker per core), and a copy of it with `postern.workers` 1. Also prints the CPU
 * seconds each process had used when the start line appeared (the primary's, then each worker's).
 *
 *   npm run bench:start -- [--runs 5]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { childPids, cpuSeconds, freePort } from './proc.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(args.runs);

interface Start {
  ms: number;
  /** CPU seconds at the start line: the primary (or the single process), then each worker. */
  cpu: number[];
}

async function startOnce(home: string | undefined, cacheDir: string): Promise<Start> {
  const port = await freePort();
  const argv = [join(REPO, 'bin', 'postern.js'), 'start', '--port', String(port)];
  if (home) argv.push('--home', home);
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, argv, {
    cwd: REPO,
    env: { ...process.env, NODE_COMPILE_CACHE: cacheDir, POSTERN_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => {
    out += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /postern listening on (\S+) /.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`postern exited with ${code} before listening:\n${out}`)));
  });
  const ms = performance.now() - t0;
  const pid = child.pid!;
  const cpu = [cpuSeconds(pid), ...childPids(pid).map(cpuSeconds)];
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  const ready = await request(`${new URL(url).origin}/readyz`, { dispatcher });
  await ready.body.dump();
  await dispatcher.close();
  if (ready.statusCode !== 200) throw new Error(`/readyz answered ${ready.statusCode}`);
  await new Promise<void>((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
  return { ms, cpu };
}

async function variant(name: string, home: string | undefined): Promise<string> {
  const cache = mkdtempSync(join(tmpdir(), 'postern-compile-cache-'));
  try {
    const cold = await startOnce(home, cache);
    const warm: Start[] = [];
    for (let i = 0; i < RUNS; i++) warm.push(await startOnce(home, cache));
    const sorted = warm.map((w) => w.ms).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const cpu = (s: Start) => s.cpu.map((c) => c.toFixed(2)).join(' + ');
    return `| ${name} | ${cold.ms.toFixed(0)} (${cpu(cold)}) | ${median.toFixed(0)} (${sorted[0].toFixed(0)}–${sorted.at(-1)!.toFixed(0)}) | ${cpu(warm[warm.length - 1])} |`;
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

const single = mkdtempSync(join(tmpdir(), 'postern-start-single-'));
try {
  cpSync(join(REPO, 'conf'), join(single, 'conf'), { recursive: true });
  const site = join(single, 'conf', 'gateway-site.xml');
  writeFileSync(
    site,
    readFileSync(site, 'utf8').replace(
      '</configuration>',
      '<property><name>postern.workers</name><value>1</value></property></configuration>',
    ),
  );
  const rows = [
    `start to the start line on the sample home, ${availableParallelism()} cores; ms (CPU s per process at the start line)`,
    '| variant | empty compile cache | with the cache: median (min–max) | CPU s, last run |',
    '|---|---:|---:|---|',
    await variant(`npm start (workers auto: ${availableParallelism()})`, undefined),
    await variant('postern.workers 1', single),
  ];
  process.stdout.write(`${rows.join('\n')}\n`);
} finally {
  rmSync(single, { recursive: true, force: true });
}
