/**
 * @module bench/http2
 * The HTTP/2 rows (issue 18): small GETs through postern's TLS listener over HTTP/2 against the same listener over
 * HTTP/1.1, and nginx with `http2` on its TLS listener as the reference, all measured with h2load (Debian's
 * `nghttp2-client`) on the load-generator core, the proxy and the backend (bench/backend.ts, HTTP/1.1) on the
 * server core, as bench/run.ts pins them.
 *
 * - `postern TLS HTTP/2`: `h2load -c16 -m10` (16 connections, 10 streams each: 160 requests in flight);
 * - `postern TLS HTTP/1.1`: `h2load --h1 -c160 -m1` (the same 160 requests in flight, one per connection, no
 *   pipelining — what browsers and HTTP/1.1 clients do);
 * - `nginx TLS http2 on`, and its HTTP/1.1 row, the same way (one worker, access log off, keepalive upstream).
 *
 * `npm run bench -- --http2-only` runs just these rows.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext, Started } from './context.ts';
import { nginxConfig } from './nginx-conf.ts';
import { cpuPer } from './proc.ts';
import { textTable } from './table.ts';
import { makeCert } from './tls-cert.ts';

/** What bench/run.ts lends this module. */
export type Http2Context = BenchContext;

export interface Http2Row {
  target: string;
  protocol: 'h2' | 'http/1.1';
  load: string;
  rps: number;
  meanMs: number;
  failed: number;
  /** The proxy's CPU (user + system) per request, in µs (cpuTimes gives µs). */
  cpuUsPerReq: number | undefined;
}

interface Loads {
  name: 'h2' | 'http/1.1';
  args: string[];
}

const LOADS: Loads[] = [
  { name: 'h2', args: ['-c', '16', '-m', '10'] },
  { name: 'http/1.1', args: ['--h1', '-c', '160', '-m', '1'] },
];

/** `h2load`'s summary: req/s, mean time per request, failed + errored requests. */
function parseH2load(out: string): { rps: number; meanMs: number; failed: number } {
  const rps = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(out);
  const counts =
    /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out);
  if (!rps || !counts || !mean) throw new Error(`h2load printed no summary:\n${out}`);
  const m = mean[1];
  const meanMs = m.endsWith('us')
    ? Number.parseFloat(m) / 1000
    : m.endsWith('ms')
      ? Number.parseFloat(m)
      : Number.parseFloat(m) * 1000;
  return { rps: Number(rps[1]), meanMs, failed: Number(counts[1]) + Number(counts[2]) };
}

async function startNginx(ctx: Http2Context, backendPort: number): Promise<{ base: string; proc: Started }> {
  const port = await ctx.freePort();
  const dir = join(ctx.tmp, 'nginx-h2');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const { cert, key } = makeCert(join(dir, 'tls'));
  const conf = join(dir, 'nginx.conf');
  // nginx 1.22 (Debian 12) spells `http2 on` as a listen parameter.
  writeFileSync(
    conf,
    nginxConfig(dir, {
      purpose: 'nginx with http2 on its TLS listener, for the HTTP/2 rows',
      workerConnections: 20000,
      rlimitNofile: 40000,
      upstream: `127.0.0.1:${backendPort}`,
      http: ['http2_max_requests 1000000;'],
      server: [
        `listen 127.0.0.1:${port} ssl http2;`,
        `ssl_certificate ${cert};`,
        `ssl_certificate_key ${key};`,
        'location / {',
        '  proxy_pass http://backend;',
        '  proxy_http_version 1.1;',
        '  proxy_set_header Connection "";',
        '}',
      ],
    }),
  );
  const proc = ctx.pinned('nginx-h2', 'nginx', ['-c', conf, '-p', dir, '-e', join(dir, 'logs', 'error.log')]);
  const base = `https://127.0.0.1:${port}/`;
  await ctx.waitReady(`${base}small`, proc);
  return { base, proc };
}

async function startPostern(
  ctx: Http2Context,
  backendPort: number,
): Promise<{ base: string; proc: Started }> {
  const port = await ctx.freePort();
  const home = ctx.posternHome('postern-h2', backendPort, port, true);
  const proc = ctx.pinned(
    'postern-h2',
    ctx.node,
    [join(ctx.repo, 'src', 'cli', 'main.ts'), 'start', '--home', home],
    {
      POSTERN_LOG_LEVEL: 'warn',
      POSTERN_ACCESS_LOG: 'silent',
      POSTERN_AUDIT_LOG: 'silent',
    },
  );
  const base = `https://127.0.0.1:${port}/gateway/bench/http/`;
  await ctx.waitReady(`${base}small`, proc);
  return { base, proc };
}

async function measure(ctx: Http2Context, target: string, base: string, proc: Started): Promise<Http2Row[]> {
  const rows: Http2Row[] = [];
  for (const load of LOADS) {
    const h2load = (seconds: number) =>
      ctx.run('taskset', [
        '-c',
        ctx.loadgenCpu,
        'h2load',
        '-t',
        '1',
        ...load.args,
        '-D',
        String(seconds),
        `${base}small`,
      ]);
    await h2load(ctx.warmup);
    const before = ctx.cpuTimes(proc.child.pid);
    const out = await h2load(ctx.duration);
    const after = ctx.cpuTimes(proc.child.pid);
    const r = parseH2load(out);
    if (r.rps === 0) ctx.log(`${target} ${load.name}: h2load completed nothing:\n${out.slice(-1500)}`);
    const requests = r.rps * ctx.duration;
    rows.push({
      target,
      protocol: load.name,
      load: `h2load ${load.args.join(' ')}`,
      ...r,
      cpuUsPerReq: cpuPer(before, after, requests),
    });
    ctx.log(
      `${target} ${load.name}: ${r.rps.toFixed(0)} req/s, mean ${r.meanMs.toFixed(2)} ms, failed ${r.failed}`,
    );
  }
  return rows;
}

export async function runHttp2Rows(ctx: Http2Context, backendPort: number): Promise<Http2Row[]> {
  if (!ctx.which('h2load')) {
    ctx.log('h2load is not installed (apt-get install nghttp2-client): skipping the HTTP/2 rows');
    return [];
  }
  const rows: Http2Row[] = [];
  const postern = await startPostern(ctx, backendPort);
  try {
    rows.push(...(await measure(ctx, 'postern TLS', postern.base, postern.proc)));
  } finally {
    await postern.proc.stop('SIGINT');
  }
  if (ctx.which('nginx')) {
    const nginx = await startNginx(ctx, backendPort);
    try {
      rows.push(...(await measure(ctx, 'nginx TLS http2 on', nginx.base, nginx.proc)));
    } finally {
      await nginx.proc.stop('SIGQUIT');
    }
  } else {
    ctx.log('nginx is not installed: skipping its HTTP/2 reference rows');
  }
  return rows;
}

export function http2Table(rows: Http2Row[]): string {
  const head = ['target', 'protocol', 'load', 'req/s', 'mean ms', 'CPU µs/req', 'failed'];
  const body = rows.map((r) => [
    r.target,
    r.protocol === 'h2' ? 'HTTP/2' : 'HTTP/1.1',
    r.load,
    r.rps.toFixed(0),
    r.meanMs.toFixed(2),
    r.cpuUsPerReq === undefined ? '-' : r.cpuUsPerReq.toFixed(0),
    String(r.failed),
  ]);
  return textTable(head, body);
}
