/**
 * @module bench/bodies
 * The large-body rows (issue 21): WebHDFS-class transfers through each proxy, plain and with TLS.
 *
 * For each mode (`plain`: HTTP everywhere; `tls`: HTTPS on the proxy's listener and to an HTTPS backend) and each
 * target — `direct` (wrk → backend), `floor` (bench/floor-proxy.ts: bare node:http + an undici Pool), `nginx` (one
 * worker, access log off), `nginx-64k` (the same with 64 KiB proxy buffers), `knox-stack` (bench/knox-stack/KnoxStackProxy.java: Jetty 9.4 + HttpClient 4.5 with
 * Knox's defaults, compiled now from Debian's jars, warmed up before it is measured), `postern` (logs off,
 * Anonymous) — four wrk runs: GET 1 MiB (`/big`), GET 64 MiB (`/big64`), PUT 1 MiB and PUT 64 MiB (`/upload`, a
 * sink that answers 201). Reported per run: req/s, MiB/s, p50/p99, and the proxy's CPU (user + system from
 * /proc, all threads) per request and per MiB moved — the column a loaded machine blurs least.
 *
 *   npm run bench -- --bodies-only [--bodies-targets direct,floor,nginx,nginx-64k,knox-stack,postern]
 *                    [--bodies-modes plain,tls] [--bodies-duration 8] [--knox-warmup 30]
 *
 * Needs wrk, taskset, openssl (the certificate), nginx for its row, and for the knox-stack row
 * `apt-get install openjdk-17-jdk-headless libjetty9-java libhttpclient-java` (skipped, and said so, without).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from './context.ts';
import { floorCommand } from './floor.ts';
import { NGINX_64K_BUFFERS, nginxConfig } from './nginx-conf.ts';
import { markdownTable } from './table.ts';
import { makeCert, type Tls } from './tls-cert.ts';
import { parseWrkJson, type WrkJson } from './wrk-json.ts';

export const DEFAULT_BODY_TARGETS = ['direct', 'floor', 'nginx', 'nginx-64k', 'knox-stack', 'postern'];
const MiB = 1024 * 1024;

/** What bench/run.ts lends this module. */
export interface BodiesContext extends BenchContext {
  knoxWarmup: number;
}

interface Case {
  name: string;
  method: 'GET' | 'PUT';
  path: string;
  bytes: number;
  connections: number;
}

/** 16 clients on 1 MiB bodies (the issue's setting), 4 on 64 MiB ones. */
const CASES: Case[] = [
  { name: 'GET 1MiB', method: 'GET', path: 'big', bytes: MiB, connections: 16 },
  { name: 'GET 64MiB', method: 'GET', path: 'big64', bytes: 64 * MiB, connections: 4 },
  { name: 'PUT 1MiB', method: 'PUT', path: 'upload', bytes: MiB, connections: 16 },
  { name: 'PUT 64MiB', method: 'PUT', path: 'upload', bytes: 64 * MiB, connections: 4 },
];

export interface BodyResult {
  target: string;
  mode: string;
  case: string;
  bytes: number;
  requests: number;
  errors: number;
  rps: number;
  mibPerS: number;
  p50us: number;
  p99us: number;
  /** Proxy CPU (user + system) per request and per MiB, µs; NaN for direct. */
  cpuUsPerReq: number;
  cpuUsPerMiB: number;
}

/** A wrk script: the report of bench/wrk-report.lua, and for uploads the method and a body of `bytes`. */
function wrkScript(ctx: BodiesContext, c: Case): string {
  const file = join(ctx.tmp, `wrk-${c.method}-${c.bytes}.lua`);
  if (!existsSync(file)) {
    const report = readFileSync(join(ctx.repo, 'bench', 'wrk-report.lua'), 'utf8');
    const upload =
      c.method === 'PUT'
        ? `wrk.method = "PUT"\nwrk.body = string.rep("z", ${c.bytes})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`
        : '';
    writeFileSync(file, `${upload}${report}`);
  }
  return file;
}

async function wrk(ctx: BodiesContext, url: string, c: Case, seconds: number): Promise<WrkJson> {
  const out = await ctx.run('taskset', [
    ...['-c', ctx.loadgenCpu, 'wrk', '--latency', '-t1', `-c${c.connections}`, `-d${seconds}s`],
    ...['--timeout', '20s', '-s', wrkScript(ctx, c), url],
  ]);
  return parseWrkJson(out);
}

interface BodyTarget {
  name: string;
  /** Base URL; the case's path is appended. */
  base: string;
  pid: number | undefined;
  warmupS?: number;
  stop(): Promise<void>;
}

interface Backends {
  plain: string;
  tls: string;
}

async function startBackends(
  ctx: BodiesContext,
  tls: Tls,
): Promise<{ urls: Backends; stop(): Promise<void> }> {
  const plainPort = await ctx.freePort();
  const tlsPort = await ctx.freePort();
  const script = join(ctx.repo, 'bench', 'backend.ts');
  const plain = ctx.pinned('bodies-backend', ctx.node, [script, '--port', String(plainPort)]);
  const secure = ctx.pinned('bodies-backend-tls', ctx.node, [
    ...[script, '--port', String(tlsPort)],
    ...['--tls-cert', tls.cert, '--tls-key', tls.key],
  ]);
  const urls = { plain: `http://127.0.0.1:${plainPort}`, tls: `https://127.0.0.1:${tlsPort}` };
  await ctx.waitReady(`${urls.plain}/small`, plain);
  await ctx.waitReady(`${urls.tls}/small`, secure);
  return {
    urls,
    stop: async () => {
      await plain.stop();
      await secure.stop();
    },
  };
}

/** The jars KnoxStackProxy.java compiles and runs against (Debian's libjetty9-java, libhttpclient-java). */
const KNOX_JARS = [
  'jetty9-server',
  'jetty9-servlet',
  'jetty9-util',
  'jetty9-http',
  'jetty9-io',
  'jetty9-security',
  'servlet-api',
  'httpclient',
  'httpcore',
  'commons-logging',
].map((j) => `/usr/share/java/${j}.jar`);

/** Compiles bench/knox-stack/KnoxStackProxy.java; its classpath, or undefined (said why) without Java or a jar. */
export function compileKnoxStack(
  ctx: Pick<BodiesContext, 'repo' | 'tmp' | 'which' | 'log'>,
): string | undefined {
  const missing = KNOX_JARS.filter((j) => !existsSync(j));
  if (!ctx.which('javac') || missing.length > 0) {
    ctx.log(
      `knox-stack: ${ctx.which('javac') ? `missing ${missing.join(', ')}` : 'no javac'} ` +
        '(apt-get install openjdk-17-jdk-headless libjetty9-java libhttpclient-java): skipping its rows',
    );
    return undefined;
  }
  const out = join(ctx.tmp, 'knox-stack-classes');
  mkdirSync(out, { recursive: true });
  const src = join(ctx.repo, 'bench', 'knox-stack', 'KnoxStackProxy.java');
  const r = spawnSync('javac', ['-cp', KNOX_JARS.join(':'), '-d', out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`javac KnoxStackProxy.java failed:\n${r.stderr}`);
  return `${out}:${KNOX_JARS.join(':')}`;
}

export function nginxConf(
  dir: string,
  port: number,
  upstream: string,
  tls: { cert: string; key: string } | undefined,
  buffers64k = false,
): string {
  return nginxConfig(dir, {
    purpose: 'nginx as a reverse proxy for the large-body rows',
    workerConnections: 4096,
    upstream: upstream.replace(/^https?:\/\//, ''),
    // Large bodies: no size cap, streamed to the backend as they come (not spooled to a temp file first).
    http: [
      'client_max_body_size 0;',
      'proxy_request_buffering off;',
      ...(buffers64k ? NGINX_64K_BUFFERS : []),
    ],
    server: [
      `listen 127.0.0.1:${port}${tls ? ' ssl' : ''};`,
      ...(tls ? [`ssl_certificate ${tls.cert};`, `ssl_certificate_key ${tls.key};`] : []),
      'location / {',
      `  proxy_pass ${upstream.startsWith('https') ? 'https' : 'http'}://backend;`,
      '  proxy_http_version 1.1;',
      '  proxy_set_header Connection "";',
      '}',
    ],
  });
}

async function startTarget(
  ctx: BodiesContext,
  name: string,
  mode: string,
  backends: Backends,
  tlsFiles: Tls,
  knoxClasspath: string | undefined,
): Promise<BodyTarget | undefined> {
  const tls = mode === 'tls' ? tlsFiles : undefined;
  const upstream = tls ? backends.tls : backends.plain;
  const scheme = tls ? 'https' : 'http';
  const tag = `${name}-${mode}`;
  switch (name) {
    case 'direct':
      return { name, base: `${upstream}/`, pid: undefined, stop: async () => {} };
    case 'floor': {
      const port = await ctx.freePort();
      // The floor runs as `postern start` does: its V8 flags and glibc malloc tunables (src/cli/node-flags.ts).
      const floor = floorCommand({ tree: ctx.repo, upstream, port, flags: true, tls });
      const proc = ctx.pinned(tag, ctx.node, floor.argv, floor.env);
      const base = `${scheme}://127.0.0.1:${port}/`;
      await ctx.waitReady(`${base}small`, proc);
      return { name, base, pid: proc.child.pid, stop: () => proc.stop('SIGTERM') };
    }
    case 'nginx':
    case 'nginx-64k': {
      if (!ctx.which('nginx')) {
        ctx.log('nginx is not installed: skipping its rows');
        return undefined;
      }
      const port = await ctx.freePort();
      const dir = join(ctx.tmp, tag);
      mkdirSync(join(dir, 'logs'), { recursive: true });
      const conf = join(dir, 'nginx.conf');
      writeFileSync(conf, nginxConf(dir, port, upstream, tls, name === 'nginx-64k'));
      const proc = ctx.pinned(tag, 'nginx', ['-c', conf, '-p', dir, '-e', join(dir, 'logs', 'error.log')]);
      const base = `${scheme}://127.0.0.1:${port}/`;
      await ctx.waitReady(`${base}small`, proc);
      return { name, base, pid: proc.child.pid, stop: () => proc.stop('SIGQUIT') };
    }
    case 'knox-stack': {
      if (!knoxClasspath) return undefined;
      const port = await ctx.freePort();
      const argv = ['-cp', knoxClasspath, 'KnoxStackProxy', '--port', String(port), '--upstream', upstream];
      if (tls) argv.push('--keystore', tls.p12, '--password', tls.password);
      const proc = ctx.pinned(tag, 'java', argv);
      const base = `${scheme}://127.0.0.1:${port}/`;
      await ctx.waitReady(`${base}small`, proc);
      return { name, base, pid: proc.child.pid, warmupS: ctx.knoxWarmup, stop: () => proc.stop('SIGTERM') };
    }
    case 'postern': {
      const port = await ctx.freePort();
      const site: Record<string, string> = {};
      if (tls) {
        site['gateway.tls.certificate.path'] = tls.cert;
        site['gateway.tls.key.path'] = tls.key;
        site['gateway.httpclient.truststore.path'] = tls.cert;
      }
      const home = ctx.posternHome(tag, upstream, port, tls !== undefined, site);
      const proc = ctx.pinned(
        tag,
        ctx.node,
        [join(ctx.repo, 'src', 'cli', 'main.ts'), 'start', '--home', home],
        {
          POSTERN_LOG_LEVEL: 'warn',
          POSTERN_ACCESS_LOG: 'silent',
          POSTERN_AUDIT_LOG: 'silent',
        },
      );
      const base = `${scheme}://127.0.0.1:${port}/gateway/bench/http/`;
      await ctx.waitReady(`${base}small`, proc);
      return { name, base, pid: proc.child.pid, stop: () => proc.stop('SIGINT') };
    }
    default:
      throw new Error(`unknown body target "${name}" (${DEFAULT_BODY_TARGETS.join(', ')})`);
  }
}

async function measureTarget(ctx: BodiesContext, t: BodyTarget, mode: string): Promise<BodyResult[]> {
  const out: BodyResult[] = [];
  if (t.warmupS) {
    ctx.log(`${t.name} ${mode}: JIT warm-up ${t.warmupS}s (GET 1 MiB, then PUT 1 MiB) …`);
    await wrk(ctx, `${t.base}big`, CASES[0], Math.ceil(t.warmupS / 2));
    await wrk(ctx, `${t.base}upload`, CASES[2], Math.floor(t.warmupS / 2));
  }
  for (const c of CASES) {
    const url = `${t.base}${c.path}`;
    ctx.log(`${t.name} ${mode}: ${c.name} c=${c.connections}, warm-up ${ctx.warmup}s + ${ctx.duration}s …`);
    await wrk(ctx, url, c, ctx.warmup);
    const before = ctx.cpuTimes(t.pid);
    // 64 MiB transfers take seconds each: twice the time, so the runs hold tens of them.
    const r = await wrk(ctx, url, c, c.bytes > MiB ? 2 * ctx.duration : ctx.duration);
    const after = ctx.cpuTimes(t.pid);
    const cpu = before && after ? after.user - before.user + (after.sys - before.sys) : Number.NaN;
    const rps = r.requests / (r.duration_us / 1e6);
    // Downloads: the bytes wrk read; uploads: the bodies of the completed requests.
    const mib = c.method === 'GET' ? r.bytes / MiB : (r.requests * c.bytes) / MiB;
    const seconds = r.duration_us / 1e6;
    out.push({
      target: t.name,
      mode,
      case: c.name,
      bytes: c.bytes,
      requests: r.requests,
      errors: r.connect + r.read + r.write + r.status + r.timeout,
      rps,
      mibPerS: mib / seconds,
      p50us: r.p50,
      p99us: r.p99,
      cpuUsPerReq: r.requests > 0 ? cpu / r.requests : Number.NaN,
      cpuUsPerMiB: mib > 0 ? cpu / mib : Number.NaN,
    });
  }
  return out;
}

export async function runBodyRows(
  ctx: BodiesContext,
  opts: { targets: string[]; modes: string[] },
): Promise<BodyResult[]> {
  if (!ctx.which('openssl')) throw new Error('openssl is not on the PATH (apt-get install openssl)');
  const tls = makeCert(join(ctx.tmp, 'bodies-tls'));
  const knoxClasspath = opts.targets.includes('knox-stack') ? compileKnoxStack(ctx) : undefined;
  const backends = await startBackends(ctx, tls);
  const results: BodyResult[] = [];
  try {
    for (const mode of opts.modes) {
      for (const name of opts.targets) {
        const t = await startTarget(ctx, name, mode, backends.urls, tls, knoxClasspath);
        if (!t) continue;
        try {
          results.push(...(await measureTarget(ctx, t, mode)));
        } finally {
          await t.stop();
        }
      }
    }
  } finally {
    await backends.stop();
  }
  return results;
}

const fmt0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const fmt1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');

export function bodiesTable(rows: BodyResult[]): string {
  const head = [
    'mode',
    'case',
    'target',
    'req/s',
    'MiB/s',
    'p50 ms',
    'p99 ms',
    'CPU µs/req',
    'CPU µs/MiB',
    'vs floor',
    'vs knox',
    'vs nginx',
  ];
  const find = (r: BodyResult, target: string) =>
    rows.find((o) => o.mode === r.mode && o.case === r.case && o.target === target);
  const rel = (r: BodyResult, target: string) => {
    const o = find(r, target);
    if (!o || o === r || r.target === 'direct' || !(o.mibPerS > 0)) return '';
    return `${(r.mibPerS / o.mibPerS).toFixed(2)}×`;
  };
  const body = rows.map((r) => [
    r.mode,
    r.case,
    r.errors > 0 ? `${r.target} (!${r.errors} errors)` : r.target,
    fmt1(r.rps),
    fmt0(r.mibPerS),
    (r.p50us / 1000).toFixed(1),
    (r.p99us / 1000).toFixed(1),
    fmt0(r.cpuUsPerReq),
    fmt0(r.cpuUsPerMiB),
    rel(r, 'floor'),
    rel(r, 'knox-stack'),
    rel(r, 'nginx'),
  ]);
  return markdownTable(head, body, 3);
}
