/**
 * @module bench/run
 * `npm run bench`: postern against a direct connection, nginx and @fastify/http-proxy, side by side, with the
 * same CPU pinning — the load generator (wrk, or bench/fixed-rate.ts) on core 0, the proxy under test and the
 * backend (bench/backend.ts) together on core 1. For each target: closed-loop small (~100 B) and 1 MiB GETs with
 * wrk (req/s, p50, p99), then open-loop runs at a fixed rate (default 2,000 req/s) of small GETs (bench/
 * fixed-rate.ts; the median of 3 runs of 5 s, because this VM's own stalls would otherwise decide the p99). Then a CPU
 * profile of postern under the small-request load, summarized by bench/profile-summary.ts.
 *
 *   npm run bench -- [--duration 10] [--quick]
 *                    [--targets direct,floor,floor+flags,postern,postern+log,postern-workers,nginx,nginx-64k,fastify]
 *                    [--tls] [--no-profile] [--rate 2000] [--fixed-duration 5] [--fixed-repeats 3] [--log-pairs 3]
 *                    [--ws-only | --no-ws] [--ws-targets direct,floor,floor-raw,postern,nginx] [--ws-idle 1000,8000] [--ws-idle-later 30]
 *                    [--auth-only | --no-auth] [--auth-targets anon,ldap,jwt,jwt-managed] [--auth-profile]
 *                    [--rewrite-only | --no-rewrite] [--kerberos | --kerberos-only] [--http2-only | --no-http2]
 *                    [--handshakes-only | --no-handshakes] [--json out.json] [--keep]
 *
 * Then the security-provider rows (bench/auth-chains.ts): postern with an Anonymous, a ShiroProvider-LDAP (slapd,
 * authentication cache) and a JWTProvider chain, small requests with the credentials sent by wrk, each as a ratio
 * to the Anonymous chain. `--auth-only` runs just those rows.
 *
 * Then the body-rewrite rows (bench/rewrite-bodies.ts): MiB/s of a ~1 MiB HTML page and a ~1 MiB JSON document
 * through postern's streaming rewrite filters, against the same bytes passed through, as a ratio.
 * `--rewrite-only` runs just those rows; `--leak-guard off,report,rewrite` runs the HTML row once per leak-guard
 * mode instead, each against the first.
 *
 * Then the WebSocket rows (bench/ws-backend.ts, an echo; bench/ws-load.ts, the `ws` client on core 0): 64-byte
 * text round trips/s over 100 and over 1,000 connections (with the proxy's CPU µs per round trip), 64 KiB binary
 * MiB/s over 10, and the proxy's RSS per idle proxied connection with 1,000 and with 8,000 open, for `direct` (client → echo backend), `postern` (the same start as the HTTP rows:
 * its topology has an ECHOWS service) and `nginx` (a `location /echo/ws` with the Upgrade headers).
 * `--ws-only` runs just those rows.
 *
 * HTTP/2 rows (bench/http2.ts): postern's TLS listener over HTTP/2 (`h2load -c16 -m10`) and over HTTP/1.1
 * (`h2load --h1 -c160`), nginx with `http2` on its TLS listener as the reference. `--http2-only` runs just those.
 *
 * TLS handshake rows (bench/handshakes.ts): the proxy's CPU per new TLS connection (one small GET each), with a full
 * handshake and with a resumed one (`openssl s_time -new`, `-reuse`), postern, the floor and nginx. `--handshakes-only` runs
 * just those.
 *
 * Targets: `direct` (wrk → backend), `postern` (POSTERN_LOG_LEVEL=warn, POSTERN_ACCESS_LOG=silent,
 * POSTERN_AUDIT_LOG=silent: no access or audit log), `postern+log` (the default level, info, with the access and
 * audit logs: an access line and a dispatch audit line per request, in logs/access.log and logs/audit.log),
 * `postern+metrics` (as `postern`, with `postern.metrics.enabled`; not in the default list),
 * `floor` (bench/floor-proxy.ts: a bare node:http server and an undici Pool, the floor for any Node proxy),
 * `floor+flags` (the same with postern start's V8 flags and malloc tunables, src/cli/node-flags.ts: the floor's code
 * under postern's runtime settings),
 * `nginx` (one worker, access_log off), `fastify` (@fastify/http-proxy, logger off); `--tls` adds `postern-tls`
 * (HTTPS in front, self-signed certificate; not like-for-like with the plain-HTTP rows). Every postern row runs
 * one process (`postern.workers` 1) pinned to the server core, except `postern-workers`: `postern.workers=auto`
 * (one worker per core), logs off, NOT pinned (the primary and its workers may run on every core, which wrk on
 * core 0 and the backend on core 1 share); its CPU per request is the primary's and all its workers'.
 * With both `postern` and `postern+log` among the targets, `--log-pairs N` (default 3; 0 for none) runs the two N
 * more times, back to back on fresh starts, alternating which goes first (small requests only): the logs goal is
 * judged on each pair and their median as well as on the two rows, which run minutes apart.
 *
 * With `--kerberos` (or only them: `--kerberos-only`), the Kerberos rows (bench/kerberos.ts): req/s through postern
 * to httpd with mod_auth_gssapi with Kerberos off, with SPNEGO and the backend's cached cookie, and with a fresh
 * token per request.
 *
 * Then the CHANNELS fan-out rows (bench/channels-fanout.ts): one publisher to 1,000 subscribers over three
 * nodes, deliveries/s and p99 publish-to-delivery latency, for the backplane mesh and for Redis, against a bare
 * `ws` broadcast server. `--channels-only` runs just those rows, `--no-channels` skips them
 * (`--channels-targets bare,mesh,redis`, `--channels-subscribers 1000`, `--channels-duration 10`).
 *
 * Needs `wrk`, `taskset` (util-linux) and, for its row, `nginx` on the PATH (Debian packages); `redis-server`
 * for the Redis fan-out row.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { type AuthReport, authTable, DEFAULT_AUTH_TARGETS, runAuthRows } from './auth-chains.ts';
import { type BodyResult, bodiesTable, DEFAULT_BODY_TARGETS, runBodyRows } from './bodies.ts';
import { type FanoutRow, fanoutHeader, fanoutTable, runFanoutRows } from './channels-fanout.ts';
import type { FixedRateResult } from './fixed-rate.ts';
import { floorCommand } from './floor.ts';
import { type HandshakeRow, handshakeTable, runHandshakeRows } from './handshakes.ts';
import { writeBenchHome } from './home.ts';
import { type Http2Row, http2Table, runHttp2Rows } from './http2.ts';
import { type KerberosRow, kerberosTable, runKerberosRows } from './kerberos.ts';
import { NGINX_64K_BUFFERS, nginxConfig, nginxWebSocketLocation } from './nginx-conf.ts';
import { cpuTimes, freePort, treeCpuTimes, which } from './proc.ts';
import { summarizeFile } from './profile-summary.ts';
import { leakGuardTable, type RewriteRow, rewriteTable, runRewriteRows } from './rewrite-bodies.ts';
import { markdownTable } from './table.ts';
import { parseWrkJson, type WrkJson } from './wrk-json.ts';
import type { EchoResult, IdleResult } from './ws-load.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE = process.execPath;
const LOADGEN_CPU = '0';
const SERVER_CPU = '1';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string' },
    warmup: { type: 'string' },
    quick: { type: 'boolean', default: false },
    targets: {
      type: 'string',
      default: 'direct,floor,floor+flags,postern,postern+log,postern-workers,nginx,nginx-64k,fastify',
    },
    tls: { type: 'boolean', default: false },
    'no-profile': { type: 'boolean', default: false },
    rate: { type: 'string', default: '2000' },
    'fixed-duration': { type: 'string' },
    'fixed-repeats': { type: 'string', default: '3' },
    'small-connections': { type: 'string', default: '50' },
    // Alternating logs-off / default-logs pairs of small-request runs, for the logs goal (0: none).
    'log-pairs': { type: 'string', default: '3' },
    'big-connections': { type: 'string', default: '10' },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'ws-only': { type: 'boolean', default: false },
    'no-ws': { type: 'boolean', default: false },
    'ws-targets': { type: 'string', default: 'direct,floor-raw,postern,nginx' },
    'ws-duration': { type: 'string' },
    'ws-big-duration': { type: 'string' },
    'ws-warmup': { type: 'string', default: '2' },
    'ws-idle': { type: 'string', default: '1000,8000' },
    'ws-idle-later': { type: 'string' },
    // Security-provider rows (bench/auth-chains.ts).
    'auth-only': { type: 'boolean', default: false },
    'no-auth': { type: 'boolean', default: false },
    'auth-targets': { type: 'string', default: DEFAULT_AUTH_TARGETS.join(',') },
    'auth-profile': { type: 'boolean', default: false },
    // Body-rewrite rows (bench/rewrite-bodies.ts).
    'rewrite-only': { type: 'boolean', default: false },
    // With the rewrite rows: the HTML row once per postern.rewrite.leak.guard mode (off,report,rewrite).
    'leak-guard': { type: 'string' },
    'no-rewrite': { type: 'boolean', default: false },
    // Large-body rows (bench/bodies.ts).
    'bodies-only': { type: 'boolean', default: false },
    'no-bodies': { type: 'boolean', default: false },
    'bodies-targets': { type: 'string', default: DEFAULT_BODY_TARGETS.join(',') },
    'bodies-modes': { type: 'string', default: 'plain,tls' },
    'bodies-duration': { type: 'string' },
    'knox-warmup': { type: 'string', default: '30' },
    // Kerberos rows (bench/kerberos.ts): a KDC and httpd with mod_auth_gssapi; only on request.
    kerberos: { type: 'boolean', default: false },
    'kerberos-only': { type: 'boolean', default: false },
    // HTTP/2 rows (bench/http2.ts): h2load against postern's TLS listener and nginx with http2 on.
    'http2-only': { type: 'boolean', default: false },
    'no-http2': { type: 'boolean', default: false },
    // TLS handshake rows (bench/handshakes.ts): openssl s_time, full and resumed handshakes.
    'handshakes-only': { type: 'boolean', default: false },
    'no-handshakes': { type: 'boolean', default: false },
    // CHANNELS fan-out rows (bench/channels-fanout.ts).
    'channels-only': { type: 'boolean', default: false },
    'no-channels': { type: 'boolean', default: false },
    'channels-targets': { type: 'string', default: 'bare,mesh,redis' },
    'channels-subscribers': { type: 'string', default: '1000' },
    'channels-duration': { type: 'string' },
  },
});

const DURATION = Number(args.duration ?? (args.quick ? 3 : 10));
const WARMUP = Number(args.warmup ?? (args.quick ? 1 : 3));
const FIXED_DURATION = Number(args['fixed-duration'] ?? (args.quick ? 3 : 5));
const FIXED_REPEATS = Math.max(1, Number(args['fixed-repeats']));
const RATE = Number(args.rate);
const SMALL_C = Number(args['small-connections']);
const LOG_PAIRS = Math.max(0, Number(args['log-pairs']));
const BIG_C = Number(args['big-connections']);
const TARGETS = args.targets.split(',').map((t) => t.trim());
if (args.tls && !TARGETS.includes('postern-tls')) TARGETS.push('postern-tls');
const WS_ONLY = args['ws-only'];
const AUTH_ONLY = args['auth-only'];
const REWRITE_ONLY = args['rewrite-only'];
const CHANNELS_ONLY = args['channels-only'];
const BODIES_ONLY = args['bodies-only'];
const KERBEROS_ONLY = args['kerberos-only'];
const HTTP2_ONLY = args['http2-only'];
const HANDSHAKES_ONLY = args['handshakes-only'];
/** Only one group of rows: not the HTTP rows, nor the profile. */
const ONLY =
  WS_ONLY ||
  AUTH_ONLY ||
  REWRITE_ONLY ||
  CHANNELS_ONLY ||
  BODIES_ONLY ||
  KERBEROS_ONLY ||
  HTTP2_ONLY ||
  HANDSHAKES_ONLY;
const HTTP2 = (!args['no-http2'] && !ONLY) || HTTP2_ONLY;
const HANDSHAKES = (!args['no-handshakes'] && !ONLY) || HANDSHAKES_ONLY;
const AUTH = (!args['no-auth'] && !ONLY) || AUTH_ONLY;
const WS = (!args['no-ws'] && !ONLY) || WS_ONLY;
const REWRITE = (!args['no-rewrite'] && !ONLY) || REWRITE_ONLY;
const CHANNELS = (!args['no-channels'] && !ONLY) || CHANNELS_ONLY;
const BODIES = (!args['no-bodies'] && !ONLY) || BODIES_ONLY;
const KERBEROS = args.kerberos || KERBEROS_ONLY;
const WS_TARGETS = args['ws-targets'].split(',').map((t) => t.trim());
const WS_DURATION = Number(args['ws-duration'] ?? (args.quick ? 3 : 10));
const WS_BIG_DURATION = Number(args['ws-big-duration'] ?? (args.quick ? 3 : 5));
const WS_WARMUP = Number(args['ws-warmup']);
const WS_IDLE = args['ws-idle'].split(',').map((n) => Number(n.trim()));
/**
 * The idle RSS is read 2 s after the connections are open and again this many seconds after: postern returns a
 * burst's handshake garbage once it is quiet, through V8's memory reducer (websocket/heap-settle), within ~10–20 s.
 */
const WS_IDLE_LATER_S = Number(args['ws-idle-later'] ?? (args.quick ? 2 : 30));
/** Descriptors for every process of the run: 8,000 idle WebSockets through postern are 16,000 sockets. */
const NOFILE = 20_000;

// ---------------------------------------------------------------------------------------------------------------
// Child processes: every one is tracked and killed on exit, on Ctrl-C and on SIGTERM.

const children = new Set<ChildProcess>();
const tmp = mkdtempSync(join(tmpdir(), 'postern-bench-'));

function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', () => {
  killAll();
  if (!args.keep) {
    try {
      rmSync(tmp, { recursive: true, force: true });
    } catch (err) {
      process.stderr.write(`could not remove ${tmp}: ${(err as Error).message}\n`);
    }
  }
});
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  // `on`, not `once`: a Ctrl-C (or `timeout`) can deliver the signal twice, and a second one with no listener
  // would kill this process before it has stopped its children.
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${sig}: stopping the benchmark's processes\n`);
    const gone = [...children].map((c) => new Promise((r) => c.once('exit', r)));
    killAll();
    // Wait for them to be gone before the exit handler removes the temp dir they write into.
    Promise.race([Promise.all(gone), new Promise((r) => setTimeout(r, 3000))]).then(() => process.exit(130));
  });
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

interface Started {
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `sh -c 'ulimit -n 20000 && exec "$@"'`: the command keeps the pid, with a descriptor limit of NOFILE. */
function withNofile(cmd: string, argv: string[]): [string, string[]] {
  return ['sh', ['-c', `ulimit -n ${NOFILE} && exec "$@"`, 'sh', cmd, ...argv]];
}

function start(name: string, cmd: string, argv: string[], env: NodeJS.ProcessEnv = {}): Started {
  const out = openSync(join(tmp, `${name}.out`), 'a');
  const [c, a] = withNofile(cmd, argv);
  const child = spawn(c, a, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  children.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  exited.then(() => children.delete(child));
  return {
    child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Runs to completion, returning stdout (stderr is passed through on failure). */
function run(cmd: string, argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const [c, a] = withNofile(cmd, argv);
    const child = spawn(c, a, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.once('exit', (code) => {
      children.delete(child);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}\n${err}${out}`));
    });
  });
}

const insecure = new Agent({ connect: { rejectUnauthorized: false } });

async function waitReady(url: string, proc: Started, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${url}: the process exited (${proc.child.exitCode})`);
    try {
      const res = await request(url, { dispatcher: insecure });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Load generators.

/** wrk's report, with its rate. */
interface WrkResult extends WrkJson {
  rps: number;
}

async function wrk(url: string, connections: number, seconds: number): Promise<WrkResult> {
  const out = await run('taskset', [
    '-c',
    LOADGEN_CPU,
    'wrk',
    '--latency',
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--timeout',
    '5s',
    '-s',
    join(REPO, 'bench', 'wrk-report.lua'),
    url,
  ]);
  const r = parseWrkJson(out);
  return { ...r, rps: r.requests / (r.duration_us / 1e6) };
}

async function fixedRate(url: string, warmupS: number): Promise<FixedRateResult> {
  const argv = ['-c', LOADGEN_CPU, NODE, join(REPO, 'bench', 'fixed-rate.ts'), '--url', url];
  argv.push('--rate', String(RATE), '--duration', String(FIXED_DURATION), '--warmup', String(warmupS));
  if (url.startsWith('https:')) argv.push('--insecure');
  const out = await run('taskset', argv);
  const line = out.split('\n').find((l) => l.startsWith('FIXED_JSON '));
  if (!line) throw new Error(`fixed-rate printed no report:\n${out}`);
  return JSON.parse(line.slice('FIXED_JSON '.length)) as FixedRateResult;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * FIXED_REPEATS short open-loop runs; each percentile is the median over the runs. This VM stalls for several
 * milliseconds now and then (see the noise floor), and one stall in one run would otherwise set the p99.
 */
async function fixedRateRepeated(url: string): Promise<FixedRateResult & { runs: FixedRateResult[] }> {
  const runs: FixedRateResult[] = [];
  for (let i = 0; i < FIXED_REPEATS; i++) runs.push(await fixedRate(url, i === 0 ? WARMUP : 1));
  const m = (k: keyof FixedRateResult) => median(runs.map((r) => r[k] as number));
  const sum = (k: keyof FixedRateResult) => runs.reduce((a, r) => a + (r[k] as number), 0);
  return {
    ...runs[0],
    durationS: sum('durationS'),
    sent: sum('sent'),
    ok: sum('ok'),
    errors: sum('errors'),
    unfinished: sum('unfinished'),
    achievedRate: m('achievedRate'),
    p50: m('p50'),
    p90: m('p90'),
    p99: m('p99'),
    p999: m('p999'),
    max: Math.max(...runs.map((r) => r.max)),
    serviceP50: m('serviceP50'),
    serviceP99: m('serviceP99'),
    maxSendLagUs: Math.max(...runs.map((r) => r.maxSendLagUs)),
    runs,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Targets.

interface Target {
  name: string;
  /** Base URL; `small` and `big` are appended. */
  base: string;
  proc?: Started;
  /** The proxy's CPU is its process's and its children's (postern's workers). */
  tree?: boolean;
  stop(): Promise<void>;
}

function pinned(name: string, cmd: string, argv: string[], env?: NodeJS.ProcessEnv): Started {
  return start(name, 'taskset', ['-c', SERVER_CPU, cmd, ...argv], env);
}

async function startBackend(): Promise<{ port: number; proc: Started }> {
  const port = await freePort();
  const proc = pinned('backend', NODE, [join(REPO, 'bench', 'backend.ts'), '--port', String(port)]);
  await waitReady(`http://127.0.0.1:${port}/small`, proc);
  return { port, proc };
}

/** The WebSocket echo backend's port once it runs: postern's topology and nginx's config then route to it. */
let wsBackendPort: number | undefined;

function posternHome(
  name: string,
  backend: number | string,
  port: number,
  tls: boolean,
  site: Record<string, string> = {},
): string {
  // One process unless the row says otherwise (postern.workers defaults to auto).
  return writeBenchHome(
    join(tmp, name),
    {
      'gateway.port': String(port),
      'gateway.host': '127.0.0.1',
      'ssl.enabled': String(tls),
      'gateway.websocket.feature.enabled': String(wsBackendPort !== undefined),
      'postern.workers': '1',
      ...site,
    },
    [
      { role: 'HTTP', url: typeof backend === 'number' ? `http://127.0.0.1:${backend}` : backend },
      ...(wsBackendPort === undefined ? [] : [{ role: 'ECHOWS', url: `ws://127.0.0.1:${wsBackendPort}` }]),
    ],
  );
}

async function startPostern(
  name: string,
  backendPort: number,
  opts: {
    tls?: boolean;
    logLevel: string;
    cpuProfDir?: string;
    site?: Record<string, string>;
    /** Run on every core (the workers row) instead of the server core. */
    unpinned?: boolean;
  },
): Promise<Target> {
  const port = await freePort();
  const home = posternHome(name, backendPort, port, opts.tls ?? false, opts.site);
  const node = opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : [];
  const argv = [...node, join(REPO, 'bin', 'postern.js'), 'start', '--home', home];
  const env = {
    POSTERN_LOG_LEVEL: opts.logLevel,
    // The access log has its own switch; "warn" rows measure postern without it.
    POSTERN_ACCESS_LOG: opts.logLevel === 'warn' ? 'silent' : 'info',
    POSTERN_AUDIT_LOG: opts.logLevel === 'warn' ? 'silent' : 'info',
  };
  const proc = opts.unpinned ? start(name, NODE, argv, env) : pinned(name, NODE, argv, env);
  const base = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/gateway/bench/http/`;
  await waitReady(`${base}small`, proc);
  // SIGINT: `postern start` closes the gateway and exits (which also writes a --cpu-prof profile).
  return { name, base, proc, tree: opts.unpinned, stop: () => proc.stop('SIGINT') };
}

async function startNginx(backendPort: number, buffers64k = false): Promise<Target> {
  const port = await freePort();
  const name = buffers64k ? 'nginx-64k' : 'nginx';
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    nginxConfig(dir, {
      purpose: 'nginx as a reverse proxy (the HTTP and WebSocket rows)',
      workerConnections: 20000,
      rlimitNofile: 40000,
      upstream: `127.0.0.1:${backendPort}`,
      http: buffers64k ? NGINX_64K_BUFFERS : [],
      server: [
        `listen 127.0.0.1:${port};`,
        'location / {',
        '  proxy_pass http://backend;',
        '  proxy_http_version 1.1;',
        '  proxy_set_header Connection "";',
        '}',
        ...(wsBackendPort === undefined
          ? []
          : nginxWebSocketLocation('/echo/ws', `http://127.0.0.1:${wsBackendPort}/`)),
      ],
    }),
  );
  const proc = pinned(name, 'nginx', ['-c', conf, '-p', dir, '-e', join(dir, 'logs', 'error.log')]);
  const base = `http://127.0.0.1:${port}/`;
  await waitReady(`${base}small`, proc);
  return { name, base, proc, stop: () => proc.stop('SIGQUIT') };
}

async function startFastify(backendPort: number): Promise<Target> {
  const port = await freePort();
  const proc = pinned('fastify', NODE, [
    join(REPO, 'bench', 'fastify-proxy.ts'),
    '--upstream',
    `http://127.0.0.1:${backendPort}`,
    '--port',
    String(port),
  ]);
  const base = `http://127.0.0.1:${port}/`;
  await waitReady(`${base}small`, proc);
  return { name: 'fastify-http-proxy', base, proc, stop: () => proc.stop('SIGTERM') };
}

/**
 * The floor proxy; `withFlags`: run with postern start's V8 flags and malloc tunables (cli/node-flags), so that the
 * two differ only in their code.
 */
async function startFloor(
  backendPort: number,
  withFlags = false,
  ws?: { port: number; relay: 'pipe' | 'raw' },
): Promise<Target> {
  const port = await freePort();
  const name = withFlags ? 'node-http+undici, flags' : 'node-http+undici';
  const floor = floorCommand({
    tree: REPO,
    upstream: `http://127.0.0.1:${backendPort}`,
    port,
    flags: withFlags,
    ws,
  });
  const proc = pinned(name, NODE, floor.argv, floor.env);
  const base = `http://127.0.0.1:${port}/`;
  await waitReady(`${base}small`, proc);
  return { name, base, proc, stop: () => proc.stop('SIGTERM') };
}

async function startTarget(name: string, backendPort: number): Promise<Target | undefined> {
  switch (name) {
    case 'direct':
      return { name, base: `http://127.0.0.1:${backendPort}/`, stop: async () => {} };
    case 'postern':
      return startPostern('postern', backendPort, { logLevel: 'warn' });
    case 'postern+log':
      return startPostern('postern+log', backendPort, { logLevel: 'info' });
    case 'postern+metrics':
      // Prometheus metrics on (their own loopback listener, nobody scraping): the cost of counting.
      return startPostern('postern+metrics', backendPort, {
        logLevel: 'warn',
        site: { 'postern.metrics.enabled': 'true', 'postern.metrics.port': '0' },
      });
    case 'postern-tls':
      return startPostern('postern-tls', backendPort, { logLevel: 'warn', tls: true });
    case 'postern-workers':
      return startPostern('postern-workers', backendPort, {
        logLevel: 'warn',
        unpinned: true,
        site: { 'postern.workers': 'auto' },
      });
    case 'nginx':
    case 'nginx-64k':
      if (!which('nginx')) {
        log('nginx is not installed (apt-get install nginx): skipping its row');
        return undefined;
      }
      return startNginx(backendPort, name === 'nginx-64k');
    case 'fastify':
      return startFastify(backendPort);
    case 'floor':
      return startFloor(backendPort);
    case 'floor+flags':
      return startFloor(backendPort, true);
    default:
      throw new Error(`unknown target "${name}"`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Measurement and report.

interface CpuPerRequest {
  /** Microseconds of CPU per request, user and system, of the proxy (or, for direct, the backend). */
  proxyUser: number;
  proxySys: number;
  backendUser: number;
  backendSys: number;
}

function perRequest(
  before: ReturnType<typeof cpuTimes>,
  after: ReturnType<typeof cpuTimes>,
  requests: number,
): { user: number; sys: number } {
  if (!before || !after || requests === 0) return { user: Number.NaN, sys: Number.NaN };
  return { user: (after.user - before.user) / requests, sys: (after.sys - before.sys) / requests };
}

interface Row {
  target: string;
  smallCpu: CpuPerRequest;
  small: WrkResult;
  big: WrkResult;
  fixed: FixedRateResult & { runs: FixedRateResult[] };
}

/** The closed-loop small-request run of a row (after its warm-up), with the CPU per request. */
async function measureSmall(
  t: Target,
  backendPid: number | undefined,
): Promise<{ small: WrkResult; smallCpu: CpuPerRequest }> {
  log(`${t.name}: warm-up ${WARMUP}s, small ${DURATION}s (c=${SMALL_C}) …`);
  await wrk(`${t.base}small`, SMALL_C, WARMUP);
  const proxyPid = t.proc?.child.pid;
  const proxyCpu = t.tree ? treeCpuTimes : cpuTimes;
  const [p0, b0] = [proxyCpu(proxyPid), cpuTimes(backendPid)];
  const small = await wrk(`${t.base}small`, SMALL_C, DURATION);
  const proxy = perRequest(p0, proxyCpu(proxyPid), small.requests);
  const backend = perRequest(b0, cpuTimes(backendPid), small.requests);
  const smallCpu = t.proc
    ? { proxyUser: proxy.user, proxySys: proxy.sys, backendUser: backend.user, backendSys: backend.sys }
    : { proxyUser: 0, proxySys: 0, backendUser: backend.user, backendSys: backend.sys };
  return { small, smallCpu };
}

async function measure(t: Target, backendPid: number | undefined): Promise<Row> {
  const { small, smallCpu } = await measureSmall(t, backendPid);
  log(`${t.name}: warm-up ${Math.max(1, Math.ceil(WARMUP / 2))}s, 1 MiB ${DURATION}s (c=${BIG_C}) …`);
  await wrk(`${t.base}big`, BIG_C, Math.max(1, Math.ceil(WARMUP / 2)));
  const big = await wrk(`${t.base}big`, BIG_C, DURATION);
  log(`${t.name}: fixed rate ${RATE}/s, ${FIXED_REPEATS} runs of ${FIXED_DURATION}s …`);
  const fixed = await fixedRateRepeated(`${t.base}small`);
  return { target: t.name, smallCpu, small, big, fixed };
}

/** One logs-off / default-logs pair of small-request runs, back to back on fresh starts. */
interface LogPair {
  /** Which ran first: the pairs alternate, so that a drift of the machine's speed favours neither. */
  first: 'off' | 'on';
  off: { rps: number; relativeCpu: number };
  on: { rps: number; relativeCpu: number };
}

/** Filled by {@link runLogPairs} when asked for (`--log-pairs`, with both postern rows among the targets). */
let logPairs: LogPair[] = [];

/**
 * The logs goal compares two rows, and one row each is at the machine's mercy (this VM's speed swings up to 2×
 * within a minute, and the two rows run minutes apart). So it is also measured in pairs: logs off and default logs
 * run back to back, the order alternating, and the goal line reports each pair and their median.
 */
async function runLogPairs(backendPort: number, backendPid: number | undefined): Promise<LogPair[]> {
  const pairs: LogPair[] = [];
  const one = async (on: boolean) => {
    const name = on ? 'postern+log' : 'postern';
    const t = await startPostern(`${name}-pair`, backendPort, { logLevel: on ? 'info' : 'warn' });
    try {
      const { small, smallCpu } = await measureSmall(t, backendPid);
      return { rps: small.rps, relativeCpu: relativeCpu({ smallCpu }) };
    } finally {
      await t.stop();
    }
  };
  for (let i = 0; i < LOG_PAIRS; i++) {
    log(`logs pair ${i + 1} of ${LOG_PAIRS}`);
    if (i % 2 === 0) {
      const off = await one(false);
      pairs.push({ first: 'off', off, on: await one(true) });
    } else {
      const on = await one(true);
      pairs.push({ first: 'on', on, off: await one(false) });
    }
  }
  return pairs;
}

const ms = (us: number) => (us / 1000).toFixed(2);
const rps = (r: number) => Math.round(r).toLocaleString('en-US');
/** A row's proxy CPU per small request, user + system µs. */
const proxyCpuPerRequest = (r: Pick<Row, 'smallCpu'>) => r.smallCpu.proxyUser + r.smallCpu.proxySys;
/** A row's proxy CPU per small request divided by the backend's in the same measurement. */
const relativeCpu = (r: Pick<Row, 'smallCpu'>) =>
  proxyCpuPerRequest(r) / (r.smallCpu.backendUser + r.smallCpu.backendSys);

const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '—');

function table(rows: Row[]): string {
  const head = [
    'target',
    'small req/s',
    'small p50 ms',
    'small p99 ms',
    '1MiB req/s',
    '1MiB p50 ms',
    '1MiB p99 ms',
    `${RATE}/s p50 ms`,
    `${RATE}/s p99 ms`,
    `${RATE}/s p99.9 ms`,
  ];
  const body = rows.map((r) => [
    r.target,
    rps(r.small.rps),
    ms(r.small.p50),
    ms(r.small.p99),
    rps(r.big.rps),
    ms(r.big.p50),
    ms(r.big.p99),
    ms(r.fixed.p50),
    ms(r.fixed.p99),
    ms(r.fixed.p999),
  ]);
  const postern = rows.find((r) => r.target === 'postern');
  if (postern) {
    for (const [label, name] of [
      ['postern/nginx', 'nginx'],
      ['postern/nginx-64k', 'nginx-64k'],
      ['postern/floor', 'node-http+undici'],
      ['postern/floor+flags', 'node-http+undici, flags'],
      ['postern/fastify', 'fastify-http-proxy'],
      ['postern/direct', 'direct'],
    ] as const) {
      const o = rows.find((r) => r.target === name);
      if (!o) continue;
      body.push([
        label,
        ratio(postern.small.rps, o.small.rps),
        ratio(postern.small.p50, o.small.p50),
        ratio(postern.small.p99, o.small.p99),
        ratio(postern.big.rps, o.big.rps),
        ratio(postern.big.p50, o.big.p50),
        ratio(postern.big.p99, o.big.p99),
        ratio(postern.fixed.p50, o.fixed.p50),
        ratio(postern.fixed.p99, o.fixed.p99),
        ratio(postern.fixed.p999, o.fixed.p999),
      ]);
    }
  }
  return markdownTable(head, body);
}

function notes(rows: Row[]): string {
  const out: string[] = [];
  for (const r of rows) {
    for (const [what, w] of [
      ['small', r.small],
      ['1MiB', r.big],
    ] as const) {
      const errs = w.connect + w.read + w.write + w.status + w.timeout;
      if (errs > 0) {
        out.push(
          `! ${r.target} ${what}: ${errs} errors (connect ${w.connect}, read ${w.read}, write ${w.write}, ` +
            `non-2xx/3xx ${w.status}, timeout ${w.timeout})`,
        );
      }
    }
    const f = r.fixed;
    if (f.errors > 0 || f.unfinished > 0 || f.achievedRate < RATE * 0.95) {
      out.push(
        `! ${r.target} fixed rate: ${f.errors} errors, ${f.unfinished} unfinished, achieved ${f.achievedRate}/s`,
      );
    }
  }
  out.push(
    `CPU per small request, µs user+sys (proxy | backend): ${rows
      .map(
        (r) =>
          `${r.target} ${r.smallCpu.proxyUser.toFixed(0)}+${r.smallCpu.proxySys.toFixed(0)} | ` +
          `${r.smallCpu.backendUser.toFixed(0)}+${r.smallCpu.backendSys.toFixed(0)}`,
      )
      .join(', ')}`,
  );
  // The backend does the same work for every row; its CPU per request moves with the machine's own speed (this
  // VM's swings of up to 2× within minutes), so the proxy's CPU divided by it compares rows run at different times.
  out.push(
    `proxy CPU ÷ backend CPU per small request (the machine's speed divided out): ${rows
      .filter((r) => r.target !== 'direct')
      .map((r) => `${r.target} ${relativeCpu(r).toFixed(2)}`)
      .join(', ')}`,
  );
  out.push(
    `fixed-rate p99 ms of each run (the table has the median): ${rows
      .map((r) => `${r.target} ${r.fixed.runs.map((x) => ms(x.p99)).join('/')}`)
      .join(', ')}`,
  );
  out.push(
    `fixed-rate service time (from actual send, not due time) p50/p99 ms: ${rows
      .map((r) => `${r.target} ${ms(r.fixed.serviceP50)}/${ms(r.fixed.serviceP99)}`)
      .join(', ')}`,
  );
  const p = rows.find((r) => r.target === 'postern');
  const n = rows.find((r) => r.target === 'nginx');
  const f = rows.find((r) => r.target === 'fastify-http-proxy');
  if (p) {
    const goals: string[] = [];
    if (f) {
      goals.push(
        `small req/s ≥ 1.5× fastify: ${ratio(p.small.rps, f.small.rps)} ${p.small.rps >= 1.5 * f.small.rps ? 'met' : 'not met'}`,
      );
    }
    if (n) {
      goals.push(`small req/s vs nginx (about 0.4× wanted): ${ratio(p.small.rps, n.small.rps)}`);
      goals.push(
        `1MiB req/s ≥ nginx: ${ratio(p.big.rps, n.big.rps)} ${p.big.rps >= n.big.rps ? 'met' : 'not met'}`,
      );
      const d = (p.fixed.p99 - n.fixed.p99) / 1000;
      goals.push(
        `${RATE}/s p99 within 1 ms of nginx: ${d >= 0 ? '+' : ''}${d.toFixed(2)} ms ${d <= 1 ? 'met' : 'not met'}`,
      );
    }
    const n64 = rows.find((r) => r.target === 'nginx-64k');
    if (n64) {
      goals.push(
        `1MiB req/s against nginx with 64 KiB proxy buffers (the stretch anchor; CPU per MiB in the large-body rows): ${ratio(p.big.rps, n64.big.rps)}`,
      );
    }
    for (const name of ['node-http+undici', 'node-http+undici, flags']) {
      const floor = rows.find((r) => r.target === name);
      if (!floor) continue;
      const x = proxyCpuPerRequest(p) / proxyCpuPerRequest(floor);
      goals.push(
        `CPU per small request within 10 % of the floor (${name}): ${proxyCpuPerRequest(p).toFixed(0)} vs ${proxyCpuPerRequest(floor).toFixed(0)} µs, ` +
          `${x.toFixed(2)}× ${x <= 1.1 ? 'met' : 'not met'} (each ÷ the backend's: ` +
          `${(relativeCpu(p) / relativeCpu(floor)).toFixed(2)}×)`,
      );
    }
    const l = rows.find((r) => r.target === 'postern+log');
    if (l) {
      const x = l.small.rps / p.small.rps;
      goals.push(
        `default access and audit logs ≥ 0.85× of logs off: small req/s ${ratio(l.small.rps, p.small.rps)} ` +
          `${x >= 0.85 ? 'met' : 'not met'} (CPU ${proxyCpuPerRequest(l).toFixed(0)} vs ${proxyCpuPerRequest(p).toFixed(0)} µs per request; ` +
          `each ÷ the backend's: ${(relativeCpu(p) / relativeCpu(l)).toFixed(2)}×)`,
      );
    }
    if (logPairs.length > 0) {
      // On a saturated core the throughput ratio is the inverse CPU ratio; each CPU figure divided by the
      // backend's in the same run takes out the machine's speed, which the req/s of two runs do not.
      const cpu = logPairs.map((x) => x.off.relativeCpu / x.on.relativeCpu);
      const rps = logPairs.map((x) => x.on.rps / x.off.rps);
      const m = median(cpu);
      goals.push(
        `the same in ${logPairs.length} alternating pairs (fresh starts, back to back), CPU per request ÷ the ` +
          `backend's, logs off over logs on: ${cpu
            .map((x, i) => `${x.toFixed(2)}${logPairs[i].first === 'on' ? ' (logs first)' : ''}`)
            .join(', ')}; median ${m.toFixed(2)}× ${m >= 0.85 ? 'met' : 'not met'} ` +
          `(small req/s, which the machine's swings move: ${rps.map((x) => x.toFixed(2)).join(', ')})`,
      );
    }
    const w = rows.find((r) => r.target === 'postern-workers');
    if (w)
      goals.push(
        `postern.workers=auto (${availableParallelism()} workers, unpinned; wrk and the backend share the cores): small req/s ${ratio(w.small.rps, p.small.rps)}, 1 MiB req/s ${ratio(w.big.rps, p.big.rps)} of one pinned process`,
      );
    out.push('issue targets: ', ...goals.map((g) => `  - ${g}`));
  }
  return out.join('\n');
}

/** The machine's own scheduling noise: the longest stalls a busy loop sees on each core in one second. */
function noiseFloor(): string {
  const script = `const {performance}=require('node:perf_hooks');let l=performance.now();const e=l+1000;const g=[];
for(;;){const n=performance.now();if(n-l>0.2)g.push(n-l);l=n;if(n>e)break}
g.sort((a,b)=>b-a);console.log(g.length+' stalls >0.2ms, longest '+g.slice(0,3).map(x=>x.toFixed(2)).join('/')+' ms')`;
  return [LOADGEN_CPU, SERVER_CPU]
    .map((cpu) => {
      const r = spawnSync('taskset', ['-c', cpu, NODE, '-e', script], { encoding: 'utf8' });
      return `core ${cpu}: ${r.stdout.trim() || r.stderr.trim()}`;
    })
    .join('; ');
}

async function profilePostern(backendPort: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-bench-profile-'));
  const t = await startPostern('postern-profile', backendPort, { logLevel: 'warn', cpuProfDir: dir });
  log(
    `profile: postern --cpu-prof under small-request load (c=${SMALL_C}), ${WARMUP}s warm-up + ${DURATION}s …`,
  );
  const ready = Date.now();
  await wrk(`${t.base}small`, SMALL_C, WARMUP);
  const skipMs = Date.now() - ready;
  const r = await wrk(`${t.base}small`, SMALL_C, DURATION);
  await t.stop();
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return `no profile was written to ${dir}`;
  return (
    `postern (log level warn) under wrk -c${SMALL_C} small for ${DURATION}s (${rps(r.rps)} req/s while profiling; ` +
    `summary: node bench/profile-summary.ts ${dir} --skip-ms ${skipMs})\n${summarizeFile(dir, { skipMs })}`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// WebSocket rows: an echo backend (bench/ws-backend.ts) and bench/ws-load.ts on core 0.

interface WsTarget {
  name: string;
  url: string;
  /** The process whose RSS the idle test reads: the proxy, or for `direct` the echo backend. */
  pid: number;
  stop(): Promise<void>;
}

interface WsRow {
  target: string;
  nofile: string;
  /** One idle test per `--ws-idle` count, in that order. */
  idle: IdleResult[];
  /** 64 B text over 100 connections. */
  text: EchoResult;
  /** 64 B text over 1,000 connections. */
  text1k: EchoResult;
  big: EchoResult;
}

async function startWsBackend(): Promise<{ port: number; proc: Started }> {
  const port = await freePort();
  const proc = pinned('ws-backend', NODE, [join(REPO, 'bench', 'ws-backend.ts'), '--port', String(port)]);
  await waitReady(`http://127.0.0.1:${port}/health`, proc);
  return { port, proc };
}

async function startWsTarget(
  name: string,
  backendPort: number,
  wsBackend: { port: number; proc: Started },
): Promise<WsTarget | undefined> {
  const fromHttp = (t: Target, path: string): WsTarget => ({
    name: t.name,
    url: `ws://${new URL(t.base).host}${path}`,
    pid: t.proc?.child.pid ?? Number.NaN,
    stop: () => t.stop(),
  });
  switch (name) {
    case 'direct':
      return {
        name,
        url: `ws://127.0.0.1:${wsBackend.port}/`,
        pid: wsBackend.proc.child.pid ?? Number.NaN,
        stop: async () => {},
      };
    case 'postern':
      // The same start as the HTTP `postern` row (warn, no access log); its topology has the ECHOWS service.
      return {
        ...fromHttp(
          // Every client connects from 127.0.0.1, as behind a load balancer: no per-address or total cap.
          await startPostern('postern-ws', backendPort, {
            logLevel: 'warn',
            site: { 'postern.connections.max.per.address': '0', 'postern.connections.max': '0' },
          }),
          '/gateway/bench/echo/ws',
        ),
        name: 'postern',
      };
    case 'nginx':
      if (!which('nginx')) {
        log('nginx is not installed (apt-get install nginx): skipping its WebSocket row');
        return undefined;
      }
      return { ...fromHttp(await startNginx(backendPort), '/echo/ws'), name: 'nginx' };
    case 'floor':
    case 'floor-raw':
      // The WebSocket floor (bench/floor-proxy.ts): the sockets joined by pipe, or by raw writes as postern's relay
      // makes them, no frame looked at; postern start's flags.
      return {
        ...fromHttp(
          await startFloor(backendPort, true, {
            port: wsBackend.port,
            relay: name === 'floor' ? 'pipe' : 'raw',
          }),
          '/',
        ),
        name,
      };
    default:
      throw new Error(`unknown WebSocket target "${name}" (direct, floor, floor-raw, postern, nginx)`);
  }
}

/** The soft "Max open files" limit of a process, from /proc/PID/limits. */
function nofileLimit(pid: number): string {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    return line?.split(/\s{2,}/)[1] ?? '?';
  } catch {
    return '?';
  }
}

async function wsLoad<T>(argv: string[]): Promise<T> {
  const out = await run('taskset', ['-c', LOADGEN_CPU, NODE, join(REPO, 'bench', 'ws-load.ts'), ...argv]);
  const line = out.split('\n').find((l) => l.startsWith('WSLOAD_JSON '));
  if (!line) throw new Error(`ws-load printed no report:\n${out}`);
  return JSON.parse(line.slice('WSLOAD_JSON '.length)) as T;
}

async function measureWsEcho(
  t: WsTarget,
  wsBackendPid: number | undefined,
): Promise<Pick<WsRow, 'text' | 'text1k' | 'big'>> {
  // CPU per round trip of the target process (for direct: the echo backend) and of the echo backend.
  const pids = ['--pid', String(t.pid)];
  if (t.name !== 'direct' && wsBackendPid !== undefined) pids.push('--backend-pid', String(wsBackendPid));
  const text = async (c: number) => {
    log(`${t.name} ws: 64 B text echo, c=${c}, warm-up ${WS_WARMUP}s + ${WS_DURATION}s …`);
    return wsLoad<EchoResult>([
      ...['--mode', 'echo', '--url', t.url, '--connections', String(c), '--size', '64', ...pids],
      ...['--duration', String(WS_DURATION), '--warmup', String(WS_WARMUP)],
    ]);
  };
  const text100 = await text(100);
  const text1k = await text(1000);
  log(`${t.name} ws: 64 KiB binary echo, c=10, warm-up ${WS_WARMUP}s + ${WS_BIG_DURATION}s …`);
  const big = await wsLoad<EchoResult>([
    ...['--mode', 'echo', '--url', t.url, '--connections', '10', '--size', '65536', '--binary', ...pids],
    ...['--duration', String(WS_BIG_DURATION), '--warmup', String(WS_WARMUP)],
  ]);
  return { text: text100, text1k, big };
}

async function measureWsIdle(
  t: WsTarget,
  wsBackendPid: number | undefined,
  connections: number,
): Promise<{ nofile: string; idle: IdleResult }> {
  const nofile = nofileLimit(t.pid);
  if (Number(nofile) < 2 * connections + 100)
    log(`warning: ${t.name} (pid ${t.pid}) may open only ${nofile} files`);
  log(
    `${t.name} ws: ${connections} idle connections (200 at a time), RSS of pid ${t.pid} before and after …`,
  );
  const idleArgs = ['--mode', 'idle', '--url', t.url, '--connections', String(connections), '--batch', '200'];
  idleArgs.push('--pid', String(t.pid), '--settle', `2,${WS_IDLE_LATER_S}`);
  if (t.name !== 'direct' && wsBackendPid !== undefined) idleArgs.push('--backend-pid', String(wsBackendPid));
  return { nofile, idle: await wsLoad<IdleResult>(idleArgs) };
}

function wsTable(rows: WsRow[]): string {
  const counts = rows[0]?.idle.map((i) => i.connections) ?? [];
  const head = [
    'target',
    'text rt/s c=100',
    'CPU µs/rt',
    'text p99 ms',
    'text rt/s c=1000',
    'CPU µs/rt',
    '64KiB MiB/s',
    ...counts.map((n) => `KiB/idle @${n} (2 s / ${WS_IDLE_LATER_S} s)`),
  ];
  const us = (e: EchoResult) => (e.cpuUsPerRoundTrip === undefined ? '—' : e.cpuUsPerRoundTrip.toFixed(1));
  const body = rows.map((r) => [
    r.target,
    rps(r.text.roundTripsPerS),
    us(r.text),
    ms(r.text.p99us),
    rps(r.text1k.roundTripsPerS),
    us(r.text1k),
    r.big.mibPerS.toFixed(0),
    ...r.idle.map(
      (i) =>
        `${i.kibPerConnection.toFixed(1)} / ${(i.later.at(-1)?.kibPerConnection ?? Number.NaN).toFixed(1)}`,
    ),
  ]);
  const p = rows.find((r) => r.target === 'postern');
  // postern against nginx (the goals' reference) and against Node's own floor (no frame looked at).
  for (const n of [rows.find((r) => r.target === 'nginx'), rows.find((r) => r.target === 'floor-raw')]) {
    if (!p || !n) continue;
    body.push([
      `postern/${n.target}`,
      ratio(p.text.roundTripsPerS, n.text.roundTripsPerS),
      ratio(p.text.cpuUsPerRoundTrip ?? 0, n.text.cpuUsPerRoundTrip ?? 0),
      ratio(p.text.p99us, n.text.p99us),
      ratio(p.text1k.roundTripsPerS, n.text1k.roundTripsPerS),
      ratio(p.text1k.cpuUsPerRoundTrip ?? 0, n.text1k.cpuUsPerRoundTrip ?? 0),
      ratio(p.big.mibPerS, n.big.mibPerS),
      ...p.idle.map(
        (i, k) =>
          `${ratio(i.kibPerConnection, n.idle[k]?.kibPerConnection ?? 0)} / ${ratio(i.later.at(-1)?.kibPerConnection ?? 0, n.idle[k]?.later.at(-1)?.kibPerConnection ?? 0)}`,
      ),
    ]);
  }
  return markdownTable(head, body);
}

function wsNotes(rows: WsRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    for (const [what, e] of [
      ['text', r.text],
      ['text c=1000', r.text1k],
      ['64KiB', r.big],
    ] as const) {
      if (e.errors + e.unexpectedCloses + e.badEchoes > 0 || e.opened < e.connections) {
        out.push(
          `! ${r.target} ${what}: opened ${e.opened}/${e.connections}, ${e.errors} errors, ` +
            `${e.unexpectedCloses} unexpected closes, ${e.badEchoes} wrong echoes (first: ${e.firstError ?? '—'})`,
        );
      }
    }
    for (const i of r.idle) {
      if (i.failed > 0 || i.openAfterSettle < i.connections) {
        out.push(
          `! ${r.target} idle @${i.connections}: opened ${i.opened}/${i.connections}, ${i.openAfterSettle} still ` +
            `open after the settle (first error: ${i.firstError ?? '—'})`,
        );
      }
    }
  }
  const us = (n: number | undefined) => (n === undefined ? '—' : n.toFixed(1));
  out.push(
    `CPU µs per round trip, target | echo backend: ${rows
      .map(
        (r) =>
          `${r.target} c=100 ${us(r.text.cpuUsPerRoundTrip)} | ${us(r.text.backendCpuUsPerRoundTrip)}, ` +
          `c=1000 ${us(r.text1k.cpuUsPerRoundTrip)} | ${us(r.text1k.backendCpuUsPerRoundTrip)}`,
      )
      .join('; ')}`,
  );
  out.push(
    `idle tests, RSS before → after in MiB (open time of all connections): ${rows
      .map(
        (r) =>
          `${r.target} ${r.idle
            .map(
              (i) =>
                `@${i.connections} ${(i.rssBeforeKiB / 1024).toFixed(1)} → ${(i.rssAfterKiB / 1024).toFixed(1)} ` +
                `(${(i.openMs / 1000).toFixed(1)} s)`,
            )
            .join(', ')}`,
      )
      .join('; ')}`,
  );
  const backend = rows.filter((r) => r.idle.some((i) => i.backendKibPerConnection !== undefined));
  if (backend.length > 0) {
    out.push(
      `echo backend KiB per idle connection during the proxied idle tests: ${backend
        .map(
          (r) =>
            `${r.target} ${r.idle.map((i) => `@${i.connections} ${us(i.backendKibPerConnection)}`).join(', ')}`,
        )
        .join('; ')}`,
    );
  }
  out.push(
    `text p99 / max ms: ${rows.map((r) => `${r.target} ${ms(r.text.p99us)}/${ms(r.text.maxUs)}`).join(', ')}; ` +
      `c=1000: ${rows.map((r) => `${r.target} ${ms(r.text1k.p99us)}/${ms(r.text1k.maxUs)}`).join(', ')}; ` +
      `64 KiB round trip p50/p99 ms: ${rows.map((r) => `${r.target} ${ms(r.big.p50us)}/${ms(r.big.p99us)}`).join(', ')}`,
  );
  out.push(
    `open-files limit (soft) of each target: ${rows.map((r) => `${r.target} ${r.nofile}`).join(', ')}`,
  );
  const p = rows.find((r) => r.target === 'postern');
  const n = rows.find((r) => r.target === 'nginx');
  if (p) {
    const goals: string[] = [];
    if (n) {
      const x = p.text.roundTripsPerS / n.text.roundTripsPerS;
      goals.push(
        `text round trips/s at c=100 ≥ 1.0× nginx: ${ratio(p.text.roundTripsPerS, n.text.roundTripsPerS)} ${x >= 1 ? 'met' : 'not met'}`,
      );
      const y = p.text1k.roundTripsPerS / n.text1k.roundTripsPerS;
      goals.push(
        `text round trips/s at c=1000 ≥ 0.8× nginx: ${ratio(p.text1k.roundTripsPerS, n.text1k.roundTripsPerS)} ${y >= 0.8 ? 'met' : 'not met'}`,
      );
      // What the goals ask of any Node process: the floor relays bytes below the streams and checks nothing.
      const f = rows.find((r) => r.target === 'floor-raw');
      if (f) {
        goals.push(
          `(Node's floor, floor-raw, against nginx: c=100 ${ratio(f.text.roundTripsPerS, n.text.roundTripsPerS)}, ` +
            `c=1000 ${ratio(f.text1k.roundTripsPerS, n.text1k.roundTripsPerS)}; postern against it: ` +
            `c=100 ${ratio(p.text.roundTripsPerS, f.text.roundTripsPerS)}, c=1000 ${ratio(p.text1k.roundTripsPerS, f.text1k.roundTripsPerS)})`,
        );
      }
    }
    for (const i of p.idle) {
      const readings = [{ afterS: 2, kibPerConnection: i.kibPerConnection }, ...i.later.slice(-1)];
      const said = readings.map(
        (r) =>
          `${r.kibPerConnection.toFixed(1)} KiB after ${r.afterS} s ${r.kibPerConnection <= 20 ? 'met' : 'not met'}`,
      );
      goals.push(`≤ 20 KiB per idle proxied connection at ${i.connections}: ${said.join('; ')}`);
    }
    out.push('issue targets (WebSocket): ', ...goals.map((g) => `  - ${g}`));
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  for (const tool of ['wrk', 'taskset']) {
    if (!which(tool))
      throw new Error(
        `${tool} is not on the PATH (apt-get install ${tool === 'wrk' ? 'wrk' : 'util-linux'})`,
      );
  }
  if (Number(process.versions.node.split('.')[0]) < 24) {
    log(`warning: running on Node ${process.versions.node}; use npm run bench (the repo pins Node 24)`);
  }
  const startedAt = Date.now();
  log(
    `node ${process.versions.node}; load generator on core ${LOADGEN_CPU}, proxy + backend on core ${SERVER_CPU}`,
  );
  const noise = noiseFloor();
  log(`noise floor: ${noise}`);
  // The HTTP backend runs in --ws-only too: postern's readiness check is a GET through its HTTP service.
  const backend = await startBackend();
  const wsBackend = WS ? await startWsBackend() : undefined;
  wsBackendPort = wsBackend?.port;
  const rows: Row[] = [];
  for (const name of ONLY ? [] : TARGETS) {
    const t = await startTarget(name, backend.port);
    if (!t) continue;
    try {
      rows.push(await measure(t, backend.proc.child.pid));
    } finally {
      await t.stop();
    }
  }
  if (!ONLY && LOG_PAIRS > 0 && TARGETS.includes('postern') && TARGETS.includes('postern+log')) {
    const pairsStartedAt = Date.now();
    logPairs = await runLogPairs(backend.port, backend.proc.child.pid);
    log(`logs pairs took ${((Date.now() - pairsStartedAt) / 1000).toFixed(0)} s`);
  }
  let auth: AuthReport | undefined;
  if (AUTH) {
    const authStartedAt = Date.now();
    auth = await runAuthRows(
      {
        ...{ repo: REPO, node: NODE, tmp, loadgenCpu: LOADGEN_CPU, serverCpu: SERVER_CPU },
        ...{ duration: DURATION, warmup: WARMUP, connections: SMALL_C },
        ...{ pinned, run, freePort, log, cpuTimes },
      },
      backend.port,
      {
        targets: args['auth-targets'].split(',').map((t) => t.trim()),
        cpuProfDir: args['auth-profile']
          ? mkdtempSync(join(tmpdir(), 'postern-bench-auth-profile-'))
          : undefined,
      },
    );
    log(`security-provider rows took ${((Date.now() - authStartedAt) / 1000).toFixed(0)} s`);
  }
  let rewrite: RewriteRow[] | undefined;
  let leakGuard: { mode: string; row: RewriteRow }[] | undefined;
  if (REWRITE) {
    const rewriteStartedAt = Date.now();
    const harness = {
      ...{ repo: REPO, node: NODE, tmp, duration: DURATION, warmup: WARMUP, connections: BIG_C },
      ...{ pinned, freePort, log, waitReady, cpuTimes },
      wrk: async (url: string, c: number, seconds: number) => {
        const r = await wrk(url, c, seconds);
        return {
          rps: r.rps,
          requests: r.requests,
          errors: r.connect + r.read + r.write + r.status + r.timeout,
        };
      },
    };
    if (args['leak-guard']) {
      leakGuard = [];
      for (const mode of args['leak-guard'].split(',').map((m) => m.trim())) {
        if (mode !== 'off' && mode !== 'report' && mode !== 'rewrite')
          throw new Error(`--leak-guard: ${mode}?`);
        const [row] = await runRewriteRows(harness, backend.port, { leakGuard: mode, bodies: ['html'] });
        leakGuard.push({ mode, row });
      }
    } else rewrite = await runRewriteRows(harness, backend.port);
    log(`body-rewrite rows took ${((Date.now() - rewriteStartedAt) / 1000).toFixed(0)} s`);
  }
  let bodies: BodyResult[] | undefined;
  if (BODIES) {
    const bodiesStartedAt = Date.now();
    bodies = await runBodyRows(
      {
        ...{ repo: REPO, node: NODE, tmp, loadgenCpu: LOADGEN_CPU },
        duration: Number(args['bodies-duration'] ?? (args.quick ? 3 : 8)),
        warmup: args.quick ? 1 : 2,
        knoxWarmup: args.quick ? 4 : Number(args['knox-warmup']),
        ...{ pinned, run, freePort, log, waitReady, cpuTimes, which, posternHome },
      },
      {
        targets: args['bodies-targets'].split(',').map((t) => t.trim()),
        modes: args['bodies-modes'].split(',').map((t) => t.trim()),
      },
    );
    log(`large-body rows took ${((Date.now() - bodiesStartedAt) / 1000).toFixed(0)} s`);
  }
  // What the HTTP/2 and the handshake rows borrow from this script.
  const tlsRowsContext = {
    ...{ repo: REPO, node: NODE, tmp, loadgenCpu: LOADGEN_CPU, duration: DURATION, warmup: WARMUP },
    ...{ pinned, run, freePort, log, waitReady, cpuTimes, which, posternHome },
  };
  let http2Rows: Http2Row[] = [];
  if (HTTP2) {
    const http2StartedAt = Date.now();
    http2Rows = await runHttp2Rows(tlsRowsContext, backend.port);
    log(`HTTP/2 rows took ${((Date.now() - http2StartedAt) / 1000).toFixed(0)} s`);
  }
  let handshakeRows: HandshakeRow[] = [];
  if (HANDSHAKES) {
    const handshakesStartedAt = Date.now();
    handshakeRows = await runHandshakeRows(tlsRowsContext, backend.port);
    log(`TLS handshake rows took ${((Date.now() - handshakesStartedAt) / 1000).toFixed(0)} s`);
  }
  const profile = ONLY || args['no-profile'] ? undefined : await profilePostern(backend.port);
  const wsRows: WsRow[] = [];
  if (wsBackend) {
    const wsStartedAt = Date.now();
    // Throughput first for every target, then the idle test for every target on a fresh start of it: after
    // 8,000 connections the echo backend (Node) echoes about half as fast for the rest of its life, and a
    // proxy's RSS after throughput runs already holds freed buffers that would hide the idle connections' cost.
    const echoes = new Map<string, Pick<WsRow, 'text' | 'text1k' | 'big'>>();
    for (const name of WS_TARGETS) {
      const t = await startWsTarget(name, backend.port, wsBackend);
      if (!t) continue;
      try {
        echoes.set(t.name, await measureWsEcho(t, wsBackend.proc.child.pid));
      } finally {
        await t.stop();
      }
    }
    // Each idle count on a fresh start of the target (for direct, the same backend: its RSS only grows).
    for (const name of WS_TARGETS) {
      const echo = echoes.get(name);
      if (!echo) continue;
      const row: WsRow = { target: name, ...echo, nofile: '?', idle: [] };
      for (const count of WS_IDLE) {
        const t = await startWsTarget(name, backend.port, wsBackend);
        if (!t) continue;
        try {
          const m = await measureWsIdle(t, wsBackend.proc.child.pid, count);
          row.nofile = m.nofile;
          row.idle.push(m.idle);
        } finally {
          await t.stop();
        }
      }
      wsRows.push(row);
    }
    log(`WebSocket rows took ${((Date.now() - wsStartedAt) / 1000).toFixed(0)} s`);
    await wsBackend.proc.stop();
  }
  await backend.proc.stop();
  const fanout = {
    subscribers: Number(args['channels-subscribers']),
    durationS: Number(args['channels-duration'] ?? (args.quick ? 3 : 10)),
    batch: 20,
    serverCpu: SERVER_CPU,
    loadgenCpu: LOADGEN_CPU,
  };
  let fanoutRows: FanoutRow[] = [];
  if (CHANNELS) {
    const channelsStartedAt = Date.now();
    const targets = args['channels-targets'].split(',').map((t) => t.trim());
    fanoutRows = await runFanoutRows({ ...fanout, targets, tmp, log });
    log(`channels fan-out rows took ${((Date.now() - channelsStartedAt) / 1000).toFixed(0)} s`);
  }

  let kerberosRows: KerberosRow[] = [];
  if (KERBEROS) {
    const kerberosStartedAt = Date.now();
    kerberosRows = await runKerberosRows({ duration: DURATION, warmup: WARMUP, connections: SMALL_C, log });
    log(`Kerberos rows took ${((Date.now() - kerberosStartedAt) / 1000).toFixed(0)} s`);
  }

  const header =
    `postern bench — node ${process.versions.node}, wrk -t1 (core ${LOADGEN_CPU}), proxy + backend on core ${SERVER_CPU}; ` +
    `small: -c${SMALL_C} ${DURATION}s, 1MiB: -c${BIG_C} ${DURATION}s, fixed rate: ${RATE}/s, median of ` +
    `${FIXED_REPEATS} runs of ${FIXED_DURATION}s (latency from due time); warm-up ${WARMUP}s each`;
  const wsHeader =
    `WebSocket — bench/ws-load.ts (ws client, core ${LOADGEN_CPU}) → target → bench/ws-backend.ts (echo), ` +
    `proxy + echo backend on core ${SERVER_CPU}; closed loop (send, await the echo, repeat): 64 B text c=100 ` +
    `and c=1000 ${WS_DURATION}s each (CPU µs/rt: the target process's user + system time per round trip, from /proc), ` +
    `64 KiB binary c=10 ${WS_BIG_DURATION}s (MiB/s of payload echoed), warm-up ${WS_WARMUP}s each; idle: RSS of the ` +
    `target process before/after opening N connections (200 at a time, 2 s idle), ÷ N, each N on a fresh start`;
  process.stdout.write(`\n${ONLY ? 'postern bench' : header}\nnoise floor (busy loop, 1 s): ${noise}\n`);
  if (!ONLY) process.stdout.write(`\n${table(rows)}\n\n${notes(rows)}\n`);
  if (auth) process.stdout.write(`\n${auth.header}\n\n${authTable(auth)}\n`);
  if (auth?.profiles.length) process.stdout.write(`\n${auth.profiles.join('\n\n')}\n`);
  if (rewrite) {
    process.stdout.write(
      `\nbody rewrite — postern (warn, no access log) with the BENCHRW service (bench/rewrite-bodies.ts), wrk -c${BIG_C} ` +
        `${DURATION}s after ${WARMUP}s warm-up; pass-through is the same body as application/octet-stream on the same route\n\n` +
        `${rewriteTable(rewrite)}\n`,
    );
  }
  if (leakGuard) {
    process.stdout.write(
      `\nleak guard — the HTML row of bench/rewrite-bodies.ts per postern.rewrite.leak.guard mode, wrk -c${BIG_C} ` +
        `${DURATION}s after ${WARMUP}s warm-up\n\n${leakGuardTable(leakGuard)}\n`,
    );
  }
  if (bodies) {
    process.stdout.write(
      `\nlarge bodies — wrk -t1 (core ${LOADGEN_CPU}), proxy + backend on core ${SERVER_CPU}; 1 MiB c=16, 64 MiB c=4; ` +
        "tls: HTTPS listener and HTTPS backend; CPU is the proxy's user+system (all threads) per request and per MiB; " +
        `knox-stack warmed ${args['knox-warmup']}s per mode first\n\n${bodiesTable(bodies)}\n`,
    );
  }
  if (http2Rows.length > 0) {
    process.stdout.write(
      `\nHTTP/2 — h2load -t1 (core ${LOADGEN_CPU}) → TLS listener (core ${SERVER_CPU}) → bench/backend.ts over HTTP/1.1; ` +
        `small GETs, ${DURATION}s after ${WARMUP}s warm-up; 160 requests in flight either way (bench/http2.ts)\n\n` +
        `${http2Table(http2Rows)}\n`,
    );
  }
  if (handshakeRows.length > 0) {
    process.stdout.write(
      `\nTLS handshakes — openssl s_time (core ${LOADGEN_CPU}), one connection at a time, one small GET each → ` +
        `TLS listener (core ${SERVER_CPU}); full (-new) and resumed (-reuse), ${DURATION}s after ${WARMUP}s ` +
        `(bench/handshakes.ts)\n\n${handshakeTable(handshakeRows)}\n`,
    );
  }
  if (profile) process.stdout.write(`\n${profile}\n`);
  if (wsRows.length > 0) process.stdout.write(`\n${wsHeader}\n\n${wsTable(wsRows)}\n\n${wsNotes(wsRows)}\n`);
  if (fanoutRows.length > 0)
    process.stdout.write(`\n${fanoutHeader(fanout)}\n\n${fanoutTable(fanoutRows)}\n`);
  if (kerberosRows.length > 0) {
    process.stdout.write(
      `\nKerberos — wrk -t1 -c${SMALL_C} ${DURATION}s (core ${LOADGEN_CPU}) → postern (core ${SERVER_CPU}) → httpd + mod_auth_gssapi (bench/kerberos.ts)\n\n${kerberosTable(kerberosRows)}\n`,
    );
  }
  process.stdout.write(`\ntotal time ${((Date.now() - startedAt) / 1000).toFixed(0)} s\n`);
  if (args.json) {
    writeFileSync(
      args.json,
      `${JSON.stringify({ header, noise, rows, auth, rewrite, bodies, wsHeader, wsRows, fanout: { header: fanoutHeader(fanout), rows: fanoutRows }, kerberos: kerberosRows, http2: http2Rows, handshakes: handshakeRows }, null, 2)}\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    if (stopping) return; // the signal handler exits once the children are gone
    process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
    if (args.keep) process.stderr.write(`logs kept in ${tmp}\n`);
    process.exit(1);
  },
);
