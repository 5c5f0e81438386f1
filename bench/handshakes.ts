/**
 * @module bench/handshakes
 * The TLS handshake rows (issue 21, "session resumption"): what a new TLS connection costs the proxy, with a full
 * handshake (`openssl s_time -new`: ECDHE and a signature with the certificate's key, one EC P-256 certificate
 * for both) and with a
 * resumed one (`-reuse`: the session's ticket sent back), for postern (one process), the floor (bench/floor.ts:
 * node:https and an undici Pool, postern start's flags: what any Node proxy pays) and nginx (the TLS body rows'
 * configuration, one worker, `ssl_session_tickets on`, its default). Each connection sends one `GET … HTTP/1.0` of the bench's small body and
 * reads the answer (s_time's `-www`: a TLS 1.3 client reads its session ticket only after the handshake, so a
 * connection that read nothing would have no session to resume); the proxy closes it. s_time runs on the
 * load-generator core, one connection at a time; the proxy and the backend on the server core.
 *
 * `npm run bench -- --handshakes-only` runs just these rows.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nginxConf } from './bodies.ts';
import type { BenchContext, Started } from './context.ts';
import { floorCommand } from './floor.ts';
import { cpuPer } from './proc.ts';
import { textTable } from './table.ts';
import { makeCert } from './tls-cert.ts';

export interface HandshakeRow {
  target: string;
  handshake: 'full' | 'resumed';
  /** Connections per second (s_time's count over the run's wall time). */
  rate: number;
  /** The proxy's CPU (user + system) per connection, µs. */
  cpuUsPerConn: number | undefined;
}

/** `openssl s_time`'s count: "N connections in T real seconds" (the second, timed, block for `-reuse`). */
function parseSTime(out: string): { connections: number; seconds: number } {
  const all = [...out.matchAll(/(\d+) connections in (\d+) real seconds/g)];
  const last = all.at(-1);
  if (!last) throw new Error(`openssl s_time printed no count:\n${out}`);
  return { connections: Number(last[1]), seconds: Number(last[2]) };
}

async function measure(
  ctx: BenchContext,
  target: string,
  port: number,
  path: string,
  proc: Started,
): Promise<HandshakeRow[]> {
  const rows: HandshakeRow[] = [];
  for (const handshake of ['full', 'resumed'] as const) {
    const sTime = (seconds: number) =>
      ctx.run('taskset', [
        '-c',
        ctx.loadgenCpu,
        'openssl',
        's_time',
        '-connect',
        `127.0.0.1:${port}`,
        handshake === 'full' ? '-new' : '-reuse',
        '-www',
        path,
        '-time',
        String(seconds),
      ]);
    await sTime(Math.max(1, ctx.warmup));
    const before = ctx.cpuTimes(proc.child.pid);
    const out = await sTime(ctx.duration);
    const after = ctx.cpuTimes(proc.child.pid);
    const { connections, seconds } = parseSTime(out);
    rows.push({
      target,
      handshake,
      rate: connections / Math.max(seconds, 1),
      cpuUsPerConn: cpuPer(before, after, connections),
    });
    ctx.log(`${target} ${handshake} handshakes: ${connections} connections in ${seconds} s`);
  }
  return rows;
}

export async function runHandshakeRows(ctx: BenchContext, backendPort: number): Promise<HandshakeRow[]> {
  if (!ctx.which('openssl')) {
    ctx.log('openssl is not installed: skipping the TLS handshake rows');
    return [];
  }
  const rows: HandshakeRow[] = [];
  const dir = join(ctx.tmp, 'handshakes');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const { cert, key } = makeCert(join(dir, 'tls'));
  const port = await ctx.freePort();
  const home = ctx.posternHome('postern-handshakes', backendPort, port, true, {
    'gateway.tls.certificate.path': cert,
    'gateway.tls.key.path': key,
  });
  const postern = ctx.pinned(
    'postern-handshakes',
    ctx.node,
    [join(ctx.repo, 'src', 'cli', 'main.ts'), 'start', '--home', home],
    { POSTERN_LOG_LEVEL: 'warn', POSTERN_ACCESS_LOG: 'silent', POSTERN_AUDIT_LOG: 'silent' },
  );
  const path = '/gateway/bench/http/small';
  try {
    await ctx.waitReady(`https://127.0.0.1:${port}${path}`, postern);
    rows.push(...(await measure(ctx, 'postern', port, path, postern)));
  } finally {
    await postern.stop('SIGINT');
  }
  // The floor for any Node proxy: node:https and an undici Pool, with postern start's flags (bench/floor.ts).
  const floorPort = await ctx.freePort();
  const floorCmd = floorCommand({
    tree: ctx.repo,
    upstream: `http://127.0.0.1:${backendPort}`,
    port: floorPort,
    flags: true,
    tls: { cert, key },
  });
  const floor = ctx.pinned('floor-handshakes', ctx.node, floorCmd.argv, floorCmd.env);
  try {
    await ctx.waitReady(`https://127.0.0.1:${floorPort}/small`, floor);
    rows.push(...(await measure(ctx, 'floor', floorPort, '/small', floor)));
  } finally {
    await floor.stop('SIGTERM');
  }
  if (!ctx.which('nginx')) {
    ctx.log('nginx is not installed: skipping its TLS handshake rows');
    return rows;
  }
  const nginxPort = await ctx.freePort();
  const conf = join(dir, 'nginx.conf');
  // The TLS body rows' nginx (bench/bodies.ts): TLS listener, keep-alive upstream, access log off.
  writeFileSync(conf, nginxConf(dir, nginxPort, `http://127.0.0.1:${backendPort}`, { cert, key }));
  const nginx = ctx.pinned('nginx-handshakes', 'nginx', [
    '-c',
    conf,
    '-p',
    dir,
    '-e',
    join(dir, 'logs', 'error.log'),
  ]);
  try {
    await ctx.waitReady(`https://127.0.0.1:${nginxPort}/small`, nginx);
    rows.push(...(await measure(ctx, 'nginx', nginxPort, '/small', nginx)));
  } finally {
    await nginx.stop('SIGQUIT');
  }
  return rows;
}

export function handshakeTable(rows: HandshakeRow[]): string {
  const head = ['target', 'handshake', 'connections/s', 'CPU µs/connection'];
  const body = rows.map((r) => [
    r.target,
    r.handshake,
    r.rate.toFixed(0),
    r.cpuUsPerConn === undefined ? '-' : r.cpuUsPerConn.toFixed(0),
  ]);
  return textTable(head, body);
}
