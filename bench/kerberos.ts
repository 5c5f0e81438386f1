/**
 * @module bench/kerberos
 * The Kerberos rows (issue 15): requests/s through postern to a SPNEGO backend against the same backend with
 * Kerberos off. The realm and backend are the tests' (test/helpers/kerberos.ts): an MIT KDC and Apache httpd with
 * mod_auth_gssapi on loopback ports; postern runs as its own process (`src/cli/main.ts start`, POSTERN_LOG_LEVEL=warn,
 * no access or audit log) with one topology whose HTTP service is the httpd; wrk (`-t1`, `bench/wrk-report.lua`)
 * sends small GETs.
 *
 * - `kerberos-off`: `gateway.hadoop.kerberos.secured=false`, httpd's `/plain/` (no authentication): the baseline;
 * - `spnego-cookie`: secured, httpd's `/session/` (mod_auth_gssapi keeps its session in a cookie named
 *   `hadoop.auth`): one Negotiate, then every request carries the cookie the gateway cached — the steady state
 *   against a Hadoop service;
 * - `spnego-token`: secured, httpd's `/secure/` (no session): a fresh SPNEGO token on every request (the service
 *   ticket comes from the gateway's in-memory cache; httpd verifies each token and its replay cache records it).
 *
 * Pinning as bench/run.ts: wrk on core 0, postern on core 1 (httpd and the KDC are not pinned: they are part of
 * the "backend" here). `npx node bench/kerberos.ts [--duration 10] [--warmup 3] [--connections 50]`, or
 * `npm run bench -- --kerberos-only`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { GATEWAY_PRINCIPAL, startKerberos } from '../test/helpers/kerberos.ts';
import { freePort } from './proc.ts';
import { parseWrkJson, type WrkJson } from './wrk-json.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface KerberosRow {
  target: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function run(cmd: string, argv: string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolveRun(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

async function wrk(url: string, connections: number, seconds: number): Promise<WrkJson> {
  const argv = ['-c', '0', 'wrk', '--latency', '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s'];
  argv.push('-s', join(REPO, 'bench', 'wrk-report.lua'), url);
  const out = await run('taskset', argv);
  return parseWrkJson(out);
}

function siteXml(props: Record<string, string | number | boolean>): string {
  const body = Object.entries(props)
    .map(([n, v]) => `  <property><name>${n}</name><value>${v}</value></property>`)
    .join('\n');
  return `<?xml version="1.0"?>\n<configuration>\n${body}\n</configuration>\n`;
}

async function startPostern(
  dir: string,
  site: Record<string, string | number | boolean>,
  backend: string,
  path: string,
): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  for (const d of ['conf/topologies', 'data', 'logs']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(
    join(dir, 'conf', 'gateway-site.xml'),
    // One process, pinned like every single-core row (postern.workers defaults to auto).
    siteXml({
      'gateway.port': port,
      'gateway.host': '127.0.0.1',
      'ssl.enabled': false,
      'postern.workers': 1,
      ...site,
    }),
  );
  writeFileSync(
    join(dir, 'conf', 'topologies', 'bench.xml'),
    `<topology><gateway>
  <provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
  <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled></provider>
</gateway><service><role>HTTP</role><url>${backend}</url></service></topology>\n`,
  );
  const child = spawn(
    'taskset',
    ['-c', '1', process.execPath, join(REPO, 'src', 'cli', 'main.ts'), 'start', '--home', dir],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        POSTERN_LOG_LEVEL: 'warn',
        POSTERN_ACCESS_LOG: 'silent',
        POSTERN_AUDIT_LOG: 'silent',
      },
    },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}/gateway/bench/http${path}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await request(url);
      const user = res.headers['x-remote-user'];
      await res.body.dump();
      if (res.statusCode === 200) {
        if (site['gateway.hadoop.kerberos.secured'] && user !== GATEWAY_PRINCIPAL) {
          throw new Error(`${url}: the backend saw ${String(user)}, not the gateway`);
        }
        break;
      }
    } catch (err) {
      if ((err as Error).message.includes('backend saw')) throw err;
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${url} did not answer 200`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    stop: async () => {
      child.kill('SIGINT');
      await exited;
    },
  };
}

/** Runs the three rows; `log` reports progress. */
export async function runKerberosRows(options: {
  duration: number;
  warmup: number;
  connections: number;
  log: (msg: string) => void;
}): Promise<KerberosRow[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'postern-bench-krb-'));
  const krb = await startKerberos();
  const jaas = krb.jaas(krb.keytabs.knox, GATEWAY_PRINCIPAL);
  const secured = {
    'gateway.hadoop.kerberos.secured': true,
    'java.security.krb5.conf': krb.krb5Conf,
    'java.security.auth.login.config': jaas,
  };
  const rows: KerberosRow[] = [];
  try {
    const targets: [string, Record<string, string | number | boolean>, string][] = [
      ['kerberos-off', {}, '/plain/small'],
      ['spnego-cookie', secured, '/session/small'],
      ['spnego-token', secured, '/secure/small'],
    ];
    for (const [name, site, path] of targets) {
      options.log(`${name}: starting postern`);
      const p = await startPostern(join(tmp, name), site, krb.backendUrl, path);
      try {
        await wrk(p.url, options.connections, options.warmup);
        const r = await wrk(p.url, options.connections, options.duration);
        rows.push({
          target: name,
          rps: r.requests / (r.duration_us / 1e6),
          p50Ms: r.p50 / 1000,
          p99Ms: r.p99 / 1000,
          errors: r.connect + r.read + r.write + r.status + r.timeout,
        });
        options.log(`${name}: ${rows.at(-1)!.rps.toFixed(0)} req/s`);
      } finally {
        await p.stop();
      }
    }
  } finally {
    await krb.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}

export function kerberosTable(rows: KerberosRow[]): string {
  const base = rows.find((r) => r.target === 'kerberos-off');
  const lines = [
    '| target | req/s | vs. Kerberos off | p50 ms | p99 ms | errors |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const ratio = base ? `${((r.rps / base.rps) * 100).toFixed(0)} %` : '';
    lines.push(
      `| ${r.target} | ${r.rps.toFixed(0)} | ${ratio} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.errors} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      connections: { type: 'string', default: '50' },
    },
  });
  if (!existsSync('/usr/bin/wrk')) throw new Error('wrk is needed (apt-get install wrk)');
  const rows = await runKerberosRows({
    duration: Number(values.duration),
    warmup: Number(values.warmup),
    connections: Number(values.connections),
    log: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(
    `Kerberos — wrk -t1 -c${values.connections} ${values.duration}s (core 0) → postern (core 1) → httpd + mod_auth_gssapi\n\n${kerberosTable(rows)}\n`,
  );
}
