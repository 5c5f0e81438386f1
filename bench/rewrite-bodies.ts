/**
 * @module bench/rewrite-bodies
 * The body-rewrite rows of `npm run bench` (issue 7): how fast postern streams a page and a JSON document
 * through its rewrite filters, against the same bytes passed through untouched.
 *
 * One postern (started like the bench's `postern` row: POSTERN_LOG_LEVEL=warn, no access or audit log, pinned
 * on the server core with the backend) serves a topology whose only service, BENCHRW, is a definition written
 * here in Knox's format, shaped like Knox's YARN UI: a `response.body` filter with the YARN UI's HTML applies
 * (regular expressions on attribute values and inline script) and a JSONPath apply, and OUT rules that best
 * match `/static/…`, `/cluster/…` and `…/proxy/…` URLs. The backend (bench/backend.ts) answers:
 *
 * - `/rewrite/page.html`: a ~1 MiB ResourceManager-like applications page (`text/html`), every row with links
 *   the filter rewrites (relative and absolute, in attributes and in the inline table data);
 * - `/rewrite/doc.json`: a ~1 MiB `apps.app[*]` document (`application/json`), the YARN REST shape;
 * - `/rewrite/page.bin`, `/rewrite/doc.bin`: the same bytes as `application/octet-stream`, which no filter reads:
 *   the pass-through baseline through the same route, provider chain and dispatch.
 *
 * Each row: wrk -c10 warm-up then the measured run; MiB/s = responses/s × body size; the ratio is rewrite ÷
 * pass-through.
 *
 * `npm run bench -- --rewrite-only --leak-guard off,report,rewrite` runs the HTML row once per
 * `postern.rewrite.leak.guard` mode and prints each mode against `off` ({@link leakGuardTable}): the page's
 * `rm.internal` links are no backend of the topology, so this is the guard's cost on a page without leaks.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBenchHome } from './home.ts';
import { markdownTable } from './table.ts';

const MiB = 1024 * 1024;

/** A ResourceManager-like applications page of about 1 MiB. */
function page(): Buffer {
  const rows: string[] = [];
  const head =
    '<!DOCTYPE html>\n<html><head><meta http-equiv="Content-type" content="text/html; charset=UTF-8">\n' +
    '<title>All Applications</title>\n<link rel="stylesheet" href="/static/yarn.css">\n' +
    '<script type="text/javascript" src="/static/jquery/jquery-3.6.0.min.js"></script>\n</head>\n<body>\n' +
    '<div id="nav"><a href="/cluster/nodes">Nodes</a> <a href="/cluster/scheduler?openQueues=default">Scheduler</a></div>\n' +
    '<table id="apps"><thead><tr><th>ID</th><th>User</th><th>Name</th><th>State</th><th>Tracking UI</th></tr></thead><tbody>\n';
  let size = head.length;
  for (let i = 0; size < MiB - 4096; i++) {
    const id = `application_1700000000000_${String(i).padStart(5, '0')}`;
    const row =
      `<tr class="odd"><td><a href='/cluster/app/${id}'>${id}</a></td><td>alice</td><td>Spark shell ${i}</td>` +
      `<td>RUNNING</td><td><a href='http://rm.internal:8088/proxy/${id}/'>ApplicationMaster</a></td></tr>\n`;
    rows.push(row);
    size += row.length;
  }
  return Buffer.from(`${head}${rows.join('')}</tbody></table>\n</body></html>\n`);
}

/** A YARN `apps` document of about 1 MiB. */
function doc(): Buffer {
  const apps: unknown[] = [];
  let size = 0;
  for (let i = 0; size < MiB - 1024; i++) {
    const id = `application_1700000000000_${String(i).padStart(5, '0')}`;
    const app = {
      id,
      user: 'alice',
      name: `Spark shell ${i}`,
      queue: 'default',
      state: 'RUNNING',
      finalStatus: 'UNDEFINED',
      progress: 10.0,
      trackingUI: 'ApplicationMaster',
      trackingUrl: `http://rm.internal:8088/proxy/${id}/`,
      diagnostics: '',
      clusterId: 1700000000000,
      applicationType: 'SPARK',
      startedTime: 1700000000000 + i,
      elapsedTime: 3600000,
      amContainerLogs: `http://nm1.internal:8042/node/containerlogs/container_${i}_01_000001/alice`,
      amHostHttpAddress: 'nm1.internal:8042',
      allocatedMB: 2048,
      allocatedVCores: 2,
    };
    apps.push(app);
    size += JSON.stringify(app).length + 1;
  }
  return Buffer.from(JSON.stringify({ apps: { app: apps } }));
}

/** The backend's bodies, built once (bench/backend.ts serves them). */
export const REWRITE_BODIES = { html: page(), json: doc() };

const SERVICE = `<?xml version="1.0" encoding="UTF-8"?>
<service role="BENCHRW" name="benchrw" version="1.0.0">
  <routes>
    <route path="/rw/**?**">
      <rewrite apply="BENCHRW/in" to="request.url"/>
      <rewrite apply="BENCHRW/body" to="response.body"/>
    </route>
  </routes>
  <dispatch classname="org.apache.knox.gateway.dispatch.DefaultDispatch"/>
</service>
`;

const REWRITE = `<?xml version="1.0" encoding="UTF-8"?>
<rules>
  <rule dir="IN" name="BENCHRW/in" pattern="*://*:*/**/rw/{path=**}?{**}">
    <rewrite template="{$serviceUrl[BENCHRW]}/{path=**}?{**}"/>
  </rule>
  <rule dir="OUT" name="BENCHRW/out/static" pattern="/static/{**}">
    <rewrite template="{$frontend[url]}/rw/static/{**}"/>
  </rule>
  <rule dir="OUT" name="BENCHRW/out/cluster" pattern="/cluster/{**}">
    <rewrite template="{$frontend[url]}/rw/cluster/{**}"/>
  </rule>
  <rule dir="OUT" name="BENCHRW/out/proxy" pattern="*://*:*/proxy/{**}">
    <rewrite template="{$frontend[url]}/rw/proxy/{**}"/>
  </rule>
  <rule dir="OUT" name="BENCHRW/out/app">
    <rewrite template="{$frontend[url]}/rw/cluster/app"/>
  </rule>
  <rule dir="OUT" name="BENCHRW/out/history" flow="OR">
    <match pattern="*://*:*/proxy/{**}"><rewrite template="{$frontend[url]}/rw/proxy/{**}"/></match>
    <match pattern="/proxy/{**}"><rewrite template="{$frontend[url]}/rw/proxy/{**}"/></match>
  </rule>
  <filter name="BENCHRW/body">
    <content type="*/html">
      <apply path="(https?://[^/':,]+:[\\d]+)?/proxy/[^']*" rule="BENCHRW/out/history"/>
      <apply path="(https?://[^/':,]+:[\\d]+)?/cluster/app" rule="BENCHRW/out/app"/>
    </content>
    <content type="*/json">
      <apply path="$.apps.app[*].trackingUrl" rule="BENCHRW/out/proxy"/>
    </content>
  </filter>
</rules>
`;

/** What bench/run.ts lends this module. */
export interface RewriteHarness {
  repo: string;
  node: string;
  tmp: string;
  duration: number;
  warmup: number;
  connections: number;
  pinned(
    name: string,
    cmd: string,
    argv: string[],
    env?: NodeJS.ProcessEnv,
  ): { child: ChildProcess; stop(signal?: NodeJS.Signals): Promise<void> };
  freePort(): Promise<number>;
  waitReady(url: string, proc: { child: ChildProcess }): Promise<void>;
  /** wrk against a URL: responses/s, responses and errors. */
  wrk(
    url: string,
    connections: number,
    seconds: number,
  ): Promise<{ rps: number; requests: number; errors: number }>;
  log(msg: string): void;
  /** CPU time a process has used so far (µs, user and system). */
  cpuTimes(pid: number | undefined): { user: number; sys: number } | undefined;
}

export interface RewriteRow {
  body: 'html' | 'json';
  bytes: number;
  rewriteMiBps: number;
  passMiBps: number;
  /** CPU of postern (user + system) per MiB of body, ms: what a loaded machine does not blur. */
  rewriteCpuMsPerMiB: number;
  passCpuMsPerMiB: number;
  errors: number;
}

/**
 * Starts postern on the BENCHRW topology, measures the four URLs (or only the bodies in `options.bodies`), stops
 * it. `options.leakGuard` sets `postern.rewrite.leak.guard` (default: the gateway's, `report`).
 */
export async function runRewriteRows(
  h: RewriteHarness,
  backendPort: number,
  options: { leakGuard?: 'off' | 'report' | 'rewrite'; bodies?: readonly ('html' | 'json')[] } = {},
): Promise<RewriteRow[]> {
  const port = await h.freePort();
  const home = join(h.tmp, `postern-rewrite${options.leakGuard ? `-${options.leakGuard}` : ''}`);
  mkdirSync(join(home, 'data', 'services', 'benchrw', '1.0.0'), { recursive: true });
  writeFileSync(join(home, 'data', 'services', 'benchrw', '1.0.0', 'service.xml'), SERVICE);
  writeFileSync(join(home, 'data', 'services', 'benchrw', '1.0.0', 'rewrite.xml'), REWRITE);
  writeBenchHome(
    home,
    {
      'gateway.port': String(port),
      'gateway.host': '127.0.0.1',
      'ssl.enabled': 'false',
      'postern.workers': '1',
      ...(options.leakGuard ? { 'postern.rewrite.leak.guard': options.leakGuard } : {}),
    },
    [{ role: 'BENCHRW', url: `http://127.0.0.1:${backendPort}/rewrite` }],
  );
  const proc = h.pinned(
    'postern-rewrite',
    h.node,
    [join(h.repo, 'src', 'cli', 'main.ts'), 'start', '--home', home],
    {
      POSTERN_LOG_LEVEL: 'warn',
      POSTERN_ACCESS_LOG: 'silent',
      POSTERN_AUDIT_LOG: 'silent',
    },
  );
  const base = `http://127.0.0.1:${port}/gateway/bench/rw/`;
  const rows: RewriteRow[] = [];
  try {
    await h.waitReady(`${base}page.bin`, proc);
    for (const [body, file] of [
      ['html', 'page'],
      ['json', 'doc'],
    ] as const) {
      if (options.bodies && !options.bodies.includes(body)) continue;
      const bytes = REWRITE_BODIES[body].length;
      const measure = async (url: string, what: string) => {
        h.log(`postern-rewrite ${body} ${what}: warm-up ${h.warmup}s, ${h.duration}s (c=${h.connections}) …`);
        await h.wrk(url, h.connections, h.warmup);
        const before = h.cpuTimes(proc.child.pid);
        const r = await h.wrk(url, h.connections, h.duration);
        const after = h.cpuTimes(proc.child.pid);
        const cpuUs = before && after ? after.user + after.sys - before.user - before.sys : Number.NaN;
        return { ...r, cpuMsPerMiB: cpuUs / 1000 / ((r.requests * bytes) / MiB) };
      };
      const rewrite = await measure(`${base}${file}.${body}`, 'rewrite');
      const pass = await measure(`${base}${file}.bin`, 'pass-through');
      rows.push({
        body,
        bytes,
        rewriteMiBps: (rewrite.rps * bytes) / MiB,
        passMiBps: (pass.rps * bytes) / MiB,
        rewriteCpuMsPerMiB: rewrite.cpuMsPerMiB,
        passCpuMsPerMiB: pass.cpuMsPerMiB,
        errors: rewrite.errors + pass.errors,
      });
    }
  } finally {
    await proc.stop('SIGINT');
  }
  return rows;
}

export function rewriteTable(rows: RewriteRow[]): string {
  const head = [
    'body',
    'size',
    'rewrite MiB/s',
    'pass-through MiB/s',
    'rewrite / pass-through',
    'CPU ms/MiB rewrite',
    'CPU ms/MiB pass-through',
  ];
  const body = rows.map((r) => [
    r.body === 'html' ? 'HTML page (text/html)' : 'JSON document (application/json)',
    `${(r.bytes / MiB).toFixed(2)} MiB`,
    r.rewriteMiBps.toFixed(1),
    r.passMiBps.toFixed(1),
    `${(r.rewriteMiBps / r.passMiBps).toFixed(3)}×`,
    r.rewriteCpuMsPerMiB.toFixed(1),
    r.passCpuMsPerMiB.toFixed(1),
  ]);
  const errors = rows.filter((r) => r.errors > 0).map((r) => `! ${r.body}: ${r.errors} errors`);
  return [markdownTable(head, body), ...errors].join('\n');
}

/** The HTML row per leak-guard mode, each against the first (`off`): MiB/s and postern's CPU per MiB. */
export function leakGuardTable(rows: readonly { mode: string; row: RewriteRow }[]): string {
  const base = rows[0].row;
  const lines = [
    '| postern.rewrite.leak.guard | rewrite MiB/s | ÷ first | CPU ms/MiB | ÷ first | pass-through MiB/s |',
    '|:--|--:|--:|--:|--:|--:|',
  ];
  for (const { mode, row } of rows) {
    lines.push(
      `| ${mode} | ${row.rewriteMiBps.toFixed(1)} | ${(row.rewriteMiBps / base.rewriteMiBps).toFixed(3)}× | ` +
        `${row.rewriteCpuMsPerMiB.toFixed(1)} | ${(row.rewriteCpuMsPerMiB / base.rewriteCpuMsPerMiB).toFixed(3)}× | ` +
        `${row.passMiBps.toFixed(1)} |`,
    );
  }
  const errors = rows.filter((r) => r.row.errors > 0).map((r) => `! ${r.mode}: ${r.row.errors} errors`);
  return [...lines, ...errors].join('\n');
}
