/**
 * @module bench/bodies-ab
 * A/B of the large-body path between builds: each target (a postern tree, or a tree's bench/floor-proxy.ts) is
 * started in turn, round after round, and measured on the same cases, so two builds are compared under the same
 * load of a shared machine. Reported per run: the gateway's CPU (user + system from /proc) per MiB it read (the
 * `rchar` of /proc/PID/io: the request bodies of uploads, the responses of downloads, exactly, partial transfers
 * included), its minor page faults per MiB, and for `small` the CPU per request. wrk runs on core 0, the target and
 * the backend on core 1, as in bench/bodies.ts.
 *
 *   npx node bench/bodies-ab.ts --targets /tmp/old-tree,.,.:floor [--cases put64,get1,get64,put1,small]
 *                               [--rounds 2] [--seconds 6] [--warmup 2] [--warmups 1] [--mode plain|tls]
 *                               [--attach 'strace -c -f -p {pid}'] [--knox-warmup 30]
 *
 * A target is a tree (a checkout or `git archive` of a commit, with node_modules), `TREE:floor` for that tree's
 * floor, `nginx` (one process, bench/bodies.ts's configuration: the reference of the TLS goals), `nginx-64k` (the
 * same with 64 KiB proxy buffers, bench/nginx-conf.ts's NGINX_64K_BUFFERS), or `knox` (the
 * Knox stack of bench/bodies.ts, Jetty + HttpClient with Knox's defaults, its JIT warmed up `--knox-warmup` seconds
 * after each start: the reference of the upload and Knox goals), and may end in
 * `@NAME=value+NAME=value` for environment variables of the target alone (for instance
 * `.@POSTERN_NODE_FLAGS=--max-semi-space-size=8` or `.:floor@GLIBC_TUNABLES=`).
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compileKnoxStack, nginxConf } from './bodies.ts';
import { floorCommand } from './floor.ts';
import { writeBenchHome } from './home.ts';
import {
  attach,
  cpuTimes,
  envOfSpec,
  freePort,
  minorFaults,
  startOnServerCore,
  waitFor200,
  which,
} from './proc.ts';
import { makeCert } from './tls-cert.ts';
import { parseWrkJson, type WrkJson } from './wrk-json.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: '.' },
    cases: { type: 'string', default: 'put64,get1,get64,put1,small' },
    rounds: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    // Warm-up runs before each measured one. A process is still compiling for its first ~20 s, and the close of
    // a run's connections throws some optimized code away (docs/performance.md, "Large bodies, seventh round").
    warmups: { type: 'string', default: '1' },
    mode: { type: 'string', default: 'plain' },
    // A command run against the target during each measured run, `{pid}` replaced by its process id, stopped with
    // SIGINT at the end and its output printed (for instance `strace -c -f -p {pid}`).
    attach: { type: 'string' },
    // Seconds of load on a `knox` target after each start, before its cases (its JIT): bench/bodies.ts's default.
    'knox-warmup': { type: 'string', default: '30' },
  },
});

interface Case {
  method: 'GET' | 'PUT';
  path: string;
  bytes: number;
  connections: number;
}
/**
 * The cases of bench/bodies.ts, `get64c1` (one 64 MiB download at a time: what one transfer's flow does, not how the
 * core is shared), and `small` (100 B GETs) for the per-request cost.
 */
const CASES: Record<string, Case> = {
  get1: { method: 'GET', path: 'big', bytes: MiB, connections: 16 },
  get64: { method: 'GET', path: 'big64', bytes: 64 * MiB, connections: 4 },
  get64c1: { method: 'GET', path: 'big64', bytes: 64 * MiB, connections: 1 },
  put1: { method: 'PUT', path: 'upload', bytes: MiB, connections: 16 },
  put64: { method: 'PUT', path: 'upload', bytes: 64 * MiB, connections: 4 },
  small: { method: 'GET', path: 'small', bytes: 100, connections: 50 },
};

const tmp = mkdtempSync(join(tmpdir(), 'postern-bodies-ab-'));
const tls = values.mode === 'tls';
/** bench/bodies.ts's certificate (PEM, and PKCS#12 for the Knox stack), in TLS mode. */
const files = tls ? makeCert(join(tmp, 'tls')) : undefined;
/** The Knox stack's classpath, compiled once when a target names it. */
const knoxClasspath = values.targets.split(',').some((t) => t.split('@')[0] === 'knox')
  ? compileKnoxStack({ repo: REPO, tmp, which, log: (line: string) => console.log(line) })
  : undefined;

const children = new Set<ChildProcess>();
const start = (argv: string[], env: Record<string, string> = {}, command?: string) =>
  startOnServerCore(children, argv, env, command);

function wrk(url: string, c: Case, seconds: number): WrkJson {
  const script = join(tmp, `wrk-${c.method}-${c.bytes}.lua`);
  const upload = c.method === 'PUT' ? `wrk.method = "PUT"\nwrk.body = string.rep("z", ${c.bytes})\n` : '';
  writeFileSync(script, upload + readFileSync(join(REPO, 'bench', 'wrk-report.lua'), 'utf8'));
  const r = spawnSync(
    'taskset',
    ['-c', '0', 'wrk', '-t1', `-c${c.connections}`, `-d${seconds}s`, '--timeout', '20s', '-s', script, url],
    { encoding: 'utf8' },
  );
  return parseWrkJson(`${r.stdout}${r.stderr}`);
}

/** Bytes read by the process's syscalls so far, and its minor page faults. */
function io(pid: number): { rchar: number; minflt: number } {
  const rchar = Number(/rchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
  return { rchar, minflt: minorFaults(pid) };
}

async function startTarget(spec: string, upstream: string): Promise<{ child: ChildProcess; base: string }> {
  const [where, extra] = spec.split('@');
  const scheme = tls ? 'https' : 'http';
  const port = await freePort();
  if (where === 'nginx' || where === 'nginx-64k') {
    const dir = join(tmp, `nginx-${port}`);
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxConf(dir, port, upstream, files, where === 'nginx-64k'));
    const child = start(
      ['-c', conf, '-p', dir, '-e', join(dir, 'logs', 'error.log')],
      envOfSpec(extra),
      'nginx',
    );
    const base = `${scheme}://127.0.0.1:${port}/`;
    await waitFor200(`${base}small`);
    return { child, base };
  }
  if (where === 'knox') {
    if (!knoxClasspath) throw new Error('knox: the Knox stack could not be compiled (see above)');
    const argv = ['-cp', knoxClasspath, 'KnoxStackProxy', '--port', String(port), '--upstream', upstream];
    if (files) argv.push('--keystore', files.p12, '--password', files.password);
    const child = start(argv, envOfSpec(extra), 'java');
    const base = `${scheme}://127.0.0.1:${port}/`;
    await waitFor200(`${base}small`);
    // As bench/bodies.ts: the JVM's JIT warmed up first, half on GET 1 MiB, half on PUT 1 MiB.
    const warm = Number(values['knox-warmup']);
    wrk(`${base}big`, CASES.get1, Math.ceil(warm / 2));
    wrk(`${base}upload`, CASES.put1, Math.floor(warm / 2));
    return { child, base };
  }
  if (where.endsWith(':floor')) {
    const tree = resolve(where.slice(0, -':floor'.length));
    // As bench/bodies.ts runs it: postern start's V8 flags and malloc tunables, unless the target says otherwise.
    const floor = floorCommand({ tree, upstream, port, flags: true, tls: files });
    const child = start(floor.argv, { ...floor.env, ...envOfSpec(extra) });
    const base = `${scheme}://127.0.0.1:${port}/`;
    await waitFor200(`${base}small`);
    return { child, base };
  }
  const tree = resolve(where);
  const home = join(tmp, `home-${port}`);
  const site: Record<string, string> = {
    'postern.workers': '1',
    'gateway.port': String(port),
    'gateway.host': '127.0.0.1',
    'ssl.enabled': String(tls),
    ...(files
      ? {
          'gateway.tls.certificate.path': files.cert,
          'gateway.tls.key.path': files.key,
          'gateway.httpclient.truststore.path': files.cert,
        }
      : {}),
  };
  writeBenchHome(home, site, [{ role: 'HTTP', url: upstream }]);
  const child = start([join(tree, 'src', 'cli', 'main.ts'), 'start', '--home', home], {
    POSTERN_LOG_LEVEL: 'warn',
    POSTERN_ACCESS_LOG: 'silent',
    POSTERN_AUDIT_LOG: 'silent',
    ...envOfSpec(extra),
  });
  const base = `${scheme}://127.0.0.1:${port}/gateway/bench/http/`;
  await waitFor200(`${base}small`);
  return { child, base };
}

const backendPort = await freePort();
start([
  join(REPO, 'bench', 'backend.ts'),
  ...['--port', String(backendPort)],
  ...(files ? ['--tls-cert', files.cert, '--tls-key', files.key] : []),
]);
const upstream = `${tls ? 'https' : 'http'}://127.0.0.1:${backendPort}`;
const results: Record<string, string[]> = {};
try {
  await waitFor200(`${upstream}/small`);
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const spec of values.targets.split(',')) {
      const t = await startTarget(spec, upstream);
      const pid = t.child.pid!;
      for (const name of values.cases.split(',')) {
        const c = CASES[name];
        if (!c) throw new Error(`unknown case ${name} (${Object.keys(CASES).join(', ')})`);
        const url = `${t.base}${c.path}`;
        for (let w = 0; w < Number(values.warmups); w++) wrk(url, c, Number(values.warmup));
        const probe = values.attach ? attach(values.attach, pid) : undefined;
        const cpu0 = cpuTimes(pid)!;
        const io0 = io(pid);
        const r = wrk(url, c, Number(values.seconds));
        const cpu1 = cpuTimes(pid)!;
        const io1 = io(pid);
        if (probe) console.log(await probe());
        const cpu = cpu1.user - cpu0.user + (cpu1.sys - cpu0.sys);
        const mib = (io1.rchar - io0.rchar) / MiB;
        const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const rss = (field: string) =>
          Math.round(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) / 1024);
        const figure =
          name === 'small'
            ? `${(cpu / r.requests).toFixed(1)} µs/req`
            : `${Math.round(cpu / mib)} µs/MiB, ${((io1.minflt - io0.minflt) / mib).toFixed(1)} faults/MiB`;
        const key = `${spec} ${name}`;
        results[key] = [...(results[key] ?? []), figure.split(',')[0]];
        console.log(
          `round ${round} ${spec} ${name}: ${figure} (${r.requests} requests, ${mib.toFixed(0)} MiB read, ` +
            `RSS ${rss('VmRSS')} MiB, peak ${rss('VmHWM')} MiB, load ${load})`,
        );
      }
      t.child.kill('SIGINT');
      if (t.child.exitCode === null) await new Promise((r) => t.child.once('exit', r));
    }
  }
  console.log('\nper target and case, round by round:');
  for (const [k, v] of Object.entries(results)) console.log(`  ${k}: ${v.join(' / ')}`);
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
