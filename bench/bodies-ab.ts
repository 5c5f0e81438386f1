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
 *                               [--slices N]
 *   ({backend} in --attach: the backend's pid instead of the target's)
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
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  median,
  minorFaults,
  startOnServerCore,
  stopChild,
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
    // Targets all running at once, measured in turns of --seconds each, N turns per case (see roundInSlices).
    slices: { type: 'string', default: '0' },
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
  get1c4: { method: 'GET', path: 'big', bytes: MiB, connections: 4 },
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

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function wrk(url: string, c: Case, seconds: number): WrkJson & { busy: number } {
  const script = join(tmp, `wrk-${c.method}-${c.bytes}.lua`);
  const upload = c.method === 'PUT' ? `wrk.method = "PUT"\nwrk.body = string.rep("z", ${c.bytes})\n` : '';
  writeFileSync(script, upload + readFileSync(join(REPO, 'bench', 'wrk-report.lua'), 'utf8'));
  // Under /usr/bin/time (Debian's `time`, when installed): wrk's own CPU says whether the load generator, not the
  // target, set the pace.
  const argv = [
    'taskset',
    '-c',
    '0',
    'wrk',
    '-t1',
    `-c${c.connections}`,
    `-d${seconds}s`,
    '--timeout',
    '20s',
  ];
  argv.push('-s', script, url);
  const r = TIME
    ? spawnSync(TIME, ['-f', 'wrk-cpu %U %S', ...argv], { encoding: 'utf8' })
    : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  const cpu = /wrk-cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
  const busy = cpu ? (Number(cpu[1]) + Number(cpu[2])) / seconds : Number.NaN;
  return { ...parseWrkJson(`${r.stdout}${r.stderr}`), busy };
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
const backend = start([
  join(REPO, 'bench', 'backend.ts'),
  ...['--port', String(backendPort)],
  ...(files ? ['--tls-cert', files.cert, '--tls-key', files.key] : []),
]);
const upstream = `${tls ? 'https' : 'http'}://127.0.0.1:${backendPort}`;
const results: Record<string, string[]> = {};

interface Slice {
  requests: number;
  /** The target's CPU, µs. */
  cpu: number;
  /** The backend's CPU over the same time, µs. */
  backCpu: number;
  mib: number;
  faults: number;
  /** wrk's CPU over its time: whether the load generator set the pace. */
  busy: number;
}

/** One wrk run of `seconds` against a running target, and what it cost the target and the backend. */
async function measure(pid: number, url: string, c: Case, seconds: number): Promise<Slice> {
  const probe = values.attach
    ? attach(values.attach.replaceAll('{backend}', String(backend.pid)), pid)
    : undefined;
  const cpu0 = cpuTimes(pid)!;
  const back0 = cpuTimes(backend.pid!)!;
  const io0 = io(pid);
  const r = wrk(url, c, seconds);
  const cpu1 = cpuTimes(pid)!;
  const back1 = cpuTimes(backend.pid!)!;
  const io1 = io(pid);
  if (probe) console.log(await probe());
  return {
    requests: r.requests,
    cpu: cpu1.user - cpu0.user + (cpu1.sys - cpu0.sys),
    // The backend shares the target's core: what the target's way of reading and writing costs it shows here.
    backCpu: back1.user - back0.user + (back1.sys - back0.sys),
    mib: (io1.rchar - io0.rchar) / MiB,
    faults: io1.minflt - io0.minflt,
    busy: r.busy,
  };
}

function figureOf(name: string, m: Slice): string {
  return name === 'small'
    ? `${(m.cpu / m.requests).toFixed(1)} µs/req, backend ${(m.backCpu / m.requests).toFixed(1)} µs/req`
    : `${Math.round(m.cpu / m.mib)} µs/MiB, ${(m.faults / m.mib).toFixed(1)} faults/MiB, ` +
        `backend ${Math.round(m.backCpu / m.mib)} µs/MiB`;
}

function caseOf(name: string): Case {
  const c = CASES[name];
  if (!c) throw new Error(`unknown case ${name} (${Object.keys(CASES).join(', ')})`);
  return c;
}

/** One process per target, started in turn: the default. */
async function roundOneAtATime(round: number): Promise<void> {
  for (const spec of values.targets.split(',')) {
    const t = await startTarget(spec, upstream);
    const pid = t.child.pid!;
    for (const name of values.cases.split(',')) {
      const c = caseOf(name);
      const url = `${t.base}${c.path}`;
      for (let w = 0; w < Number(values.warmups); w++) wrk(url, c, Number(values.warmup));
      const m = await measure(pid, url, c, Number(values.seconds));
      const figure = figureOf(name, m);
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rss = (field: string) =>
        Math.round(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) / 1024);
      const key = `${spec} ${name}`;
      results[key] = [...(results[key] ?? []), figure.split(',')[0]!];
      console.log(
        `round ${round} ${spec} ${name}: ${figure} (${m.requests} requests, ${m.mib.toFixed(0)} MiB read, ` +
          (Number.isNaN(m.busy) ? '' : `wrk ${Math.round(m.busy * 100)} % of its core, `) +
          `RSS ${rss('VmRSS')} MiB, peak ${rss('VmHWM')} MiB, load ${load})`,
      );
    }
    await stopChild(t.child);
  }
}

/**
 * `--slices N`: every target started at once (idle but for its turn), then each case run as N short slices per
 * target, the targets taking turns slice by slice, their order turned round each time. The machine's speed swings
 * over tens of seconds; slices a few seconds apart see nearly the same machine, so the ratio of what two targets
 * moved in one turn (MiB the target read; requests for `small`) is the comparison, the last target the reference,
 * and the median of those ratios the verdict.
 */
async function roundInSlices(round: number): Promise<void> {
  const specs = values.targets.split(',');
  const started: { spec: string; child: ChildProcess; base: string }[] = [];
  for (const spec of specs) started.push({ spec, ...(await startTarget(spec, upstream)) });
  try {
    for (const name of values.cases.split(',')) {
      const c = caseOf(name);
      for (const t of started) {
        for (let w = 0; w < Number(values.warmups); w++) wrk(`${t.base}${c.path}`, c, Number(values.warmup));
      }
      const slices = new Map<string, Slice[]>(specs.map((s) => [s, []]));
      for (let i = 0; i < Number(values.slices); i++) {
        const order = i % 2 ? [...started].reverse() : started;
        for (const t of order) {
          const m = await measure(t.child.pid!, `${t.base}${c.path}`, c, Number(values.seconds));
          slices.get(t.spec)!.push(m);
        }
      }
      const ref = specs[specs.length - 1]!;
      for (const spec of specs) {
        const ms = slices.get(spec)!;
        const sum = (f: (m: Slice) => number) => ms.reduce((a, m) => a + f(m), 0);
        const total: Slice = {
          requests: sum((m) => m.requests),
          cpu: sum((m) => m.cpu),
          backCpu: sum((m) => m.backCpu),
          mib: sum((m) => m.mib),
          faults: sum((m) => m.faults),
          busy: sum((m) => m.busy) / ms.length,
        };
        // What was moved, not requests: a slice holds a few 64 MiB requests, and partial ones count.
        const moved = (m: Slice) => (name === 'small' ? m.requests : m.mib);
        const ratios = ms.map((m, i) => moved(m) / moved(slices.get(ref)![i]!));
        const versus =
          spec === ref
            ? ''
            : `, ${name === 'small' ? 'requests' : 'MiB moved'} ÷ ${ref}'s in the same turn: ` +
              `median ${median(ratios).toFixed(2)} ` +
              `(${ratios.map((r) => r.toFixed(2)).join(' ')})`;
        const key = `${spec} ${name}`;
        results[key] = [...(results[key] ?? []), `${figureOf(name, total).split(',')[0]}${versus}`];
        console.log(
          `round ${round} ${spec} ${name}, ${ms.length} slices: ${figureOf(name, total)} ` +
            `(${total.requests} requests, ${total.mib.toFixed(0)} MiB read, ` +
            `${Number.isNaN(total.busy) ? '' : `wrk ${Math.round(total.busy * 100)} % of its core`})${versus}`,
        );
      }
    }
  } finally {
    for (const t of started) await stopChild(t.child);
  }
}

try {
  await waitFor200(`${upstream}/small`);
  for (let round = 0; round < Number(values.rounds); round++) {
    if (Number(values.slices) > 0) await roundInSlices(round);
    else await roundOneAtATime(round);
  }
  console.log('\nper target and case, round by round:');
  for (const [k, v] of Object.entries(results)) console.log(`  ${k}: ${v.join(' / ')}`);
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
