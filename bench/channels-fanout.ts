/**
 * @module bench/channels-fanout
 * CHANNELS fan-out rows: one publisher to 1,000 subscribers, deliveries per second and publish-to-delivery
 * latency (p50, p99), for
 * - `bare`: the limit, a bare `ws` broadcast server (one process: an HTTP `POST /publish` of a JSON batch, each
 *   event serialised once and sent to every connected client);
 * - `mesh`: three postern processes linked by the backplane (`gateway.channels.layer=backplane`), subscribers
 *   spread over the three, the publisher posting to the first;
 * - `redis`: the same three nodes through a real redis-server (`gateway.channels.layer=redis`).
 *
 * The servers (bare, or the three nodes and Redis) share one core; the load generator (all subscribers and the
 * publisher, in one process) runs on the other, both pinned with `taskset`. The publisher runs a closed loop: it
 * posts a batch of `--batch` events (~100 B each, stamped with the wall-clock time of the POST), waits until every
 * subscriber has the batch's last event, and posts the next. Latency is each delivery's arrival time minus its
 * stamp (same machine, same clock).
 *
 *   npx node bench/channels-fanout.ts [--subscribers 1000] [--duration 10] [--batch 20]
 *                                     [--targets bare,mesh,redis] [--json out.json] [--keep]
 *
 * `npm run bench` runs these rows after the WebSocket rows (`--no-channels` skips them, `--channels-only` runs
 * only them). Needs `taskset` (util-linux) and, for the redis row, `redis-server` (Debian packages).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { freePort } from './proc.ts';
import { markdownTable } from './table.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const NODE = process.execPath;

export interface FanoutRow {
  target: string;
  nodes: number;
  subscribers: number;
  /** Events published. */
  events: number;
  deliveries: number;
  deliveriesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Subscribers the servers closed (slow consumers) or lost. */
  lost: number;
}

export interface FanoutOptions {
  subscribers: number;
  durationS: number;
  batch: number;
  targets: string[];
  serverCpu: string;
  loadgenCpu: string;
  tmp: string;
  log: (line: string) => void;
}

// ---------------------------------------------------------------- the bare broadcast server

function serveBare(port: number): void {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: true });
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(200).end('ok');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const items = JSON.parse(Buffer.concat(chunks).toString()) as { group: string; message: object }[];
      for (const item of items) {
        const text = JSON.stringify({ ...item.message, group_name: item.group.split('-')[0] });
        for (const client of wss.clients) client.send(text);
      }
      res.writeHead(202, { 'content-type': 'application/json' }).end(`{"accepted":${items.length}}`);
    });
  });
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => ws.send('{"accept":true,"user":"bench"}')),
  );
  server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
}

// ---------------------------------------------------------------- the load generator

interface LoadArgs {
  urls: string[];
  publish: string;
  subscribers: number;
  durationS: number;
  batch: number;
  awx: boolean;
}

async function load(a: LoadArgs): Promise<Omit<FanoutRow, 'target' | 'nodes'>> {
  const N = a.subscribers;
  const latencies = new Float64Array((64 * 1024 * 1024) / 8);
  let nLat = 0;
  let measuring = false;
  const counts = new Map<number, number>();
  let waitFor = -1;
  let wake: (() => void) | undefined;
  let lost = 0;
  const probed = new Set<WebSocket>();
  const now = () => performance.timeOrigin + performance.now();
  const onEvent = (ws: WebSocket, data: Buffer) => {
    const text = data.toString('latin1');
    if (!text.startsWith('{"t":')) return;
    const arrived = now();
    const s = Number.parseInt(text.slice(text.indexOf('"s":') + 4), 10);
    if (s < 0) {
      probed.add(ws);
      if (probed.size === N) wake?.();
      return;
    }
    if (measuring && nLat < latencies.length) latencies[nLat++] = arrived - Number.parseFloat(text.slice(5));
    const c = (counts.get(s) ?? 0) + 1;
    counts.set(s, c);
    if (s === waitFor && c >= N - lost) wake?.();
  };
  const sockets: WebSocket[] = [];
  for (let i = 0; i < N; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, N - i) }, (_, k) => {
        const url = a.urls[(i + k) % a.urls.length];
        return new Promise<void>((resolveOpen, reject) => {
          const ws = new WebSocket(url, { perMessageDeflate: false });
          sockets.push(ws);
          ws.once('error', reject);
          ws.on('close', () => {
            lost++;
          });
          let state = 0;
          ws.on('message', (data: Buffer) => {
            if (state === 2) return onEvent(ws, data);
            if (state === 0) {
              state = 1;
              if (!a.awx) {
                state = 2;
                resolveOpen();
              } else ws.send('{"groups":{"bench":["fanout"]}}');
            } else if (state === 1) {
              state = 2;
              resolveOpen();
            }
          });
        });
      }),
    );
  }
  const pool = new Pool(new URL(a.publish).origin, { connections: 1 });
  const path = new URL(a.publish).pathname;
  const pad = 'x'.repeat(48);
  const post = async (events: object[]) => {
    const res = await pool.request({
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    await res.body.dump();
    if (res.statusCode !== 202) throw new Error(`publish answered ${res.statusCode}`);
  };
  // Subscriptions reach the other nodes asynchronously: probe until every subscriber has one.
  for (let k = 0; probed.size < N; k++) {
    if (k > 600) throw new Error(`only ${probed.size} of ${N} subscribers got a probe`);
    await post([{ group: 'bench-fanout', message: { t: now(), s: -1, p: pad } }]);
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, 50);
    });
  }
  let seq = 0;
  const run = async (seconds: number) => {
    const end = Date.now() + seconds * 1000;
    let events = 0;
    while (Date.now() < end) {
      const batch = Array.from({ length: a.batch }, () => ({
        group: 'bench-fanout',
        message: { t: now(), s: seq++, p: pad },
      }));
      waitFor = seq - 1;
      const done = new Promise<void>((r) => {
        wake = r;
      });
      await post(batch);
      if ((counts.get(waitFor) ?? 0) < N - lost) {
        const timer = setTimeout(() => wake?.(), 10_000);
        await done;
        clearTimeout(timer);
      }
      events += a.batch;
      for (let s = seq - a.batch; s < seq; s++) counts.delete(s);
    }
    return events;
  };
  await run(Math.min(2, a.durationS / 2));
  nLat = 0;
  measuring = true;
  const started = performance.now();
  const events = await run(a.durationS);
  const elapsed = (performance.now() - started) / 1000;
  measuring = false;
  const lat = latencies.subarray(0, nLat).sort();
  const pct = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : 0);
  for (const ws of sockets) ws.terminate();
  await pool.close();
  return {
    subscribers: N,
    events,
    deliveries: nLat,
    deliveriesPerSec: Math.round(nLat / elapsed),
    p50Ms: Math.round(pct(0.5) * 100) / 100,
    p99Ms: Math.round(pct(0.99) * 100) / 100,
    lost: lost,
  };
}

// ---------------------------------------------------------------- orchestration

interface Proc {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

function start(cpu: string, cmd: string, argv: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn('taskset', ['-c', cpu, cmd, ...argv], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c;
  });
  child.stderr!.on('data', (c: Buffer) => {
    out += c;
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  return { child, output: () => out, stop };
}

async function waitFor(proc: Proc, pattern: RegExp, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!pattern.test(proc.output())) {
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`${what} did not start:\n${proc.output().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function siteXml(props: Record<string, string | number | boolean>): string {
  const body = Object.entries(props)
    .map(([n, v]) => `  <property><name>${n}</name><value>${v}</value></property>`)
    .join('\n');
  return `<?xml version="1.0"?>\n<configuration>\n${body}\n</configuration>\n`;
}

const TOPOLOGY = `<?xml version="1.0" encoding="UTF-8"?>
<topology>
  <gateway>
    <provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
    <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled></provider>
  </gateway>
  <service>
    <role>CHANNELS</role>
    <param><name>channels.publish.acl</name><value>*;*;*</value></param>
  </service>
</topology>
`;

async function startNodes(
  o: FanoutOptions,
  layer: Record<string, string>,
  peers: boolean,
): Promise<{ procs: Proc[]; ports: number[] }> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const procs: Proc[] = [];
  for (const port of ports) {
    const home = mkdtempSync(join(o.tmp, 'node-'));
    for (const d of ['conf/topologies', 'data', 'logs']) mkdirSync(join(home, d), { recursive: true });
    writeFileSync(
      join(home, 'conf/gateway-site.xml'),
      siteXml({
        'gateway.host': '127.0.0.1',
        'gateway.port': port,
        'ssl.enabled': false,
        // One process per node, pinned (postern.workers defaults to auto).
        'postern.workers': 1,
        'gateway.websocket.feature.enabled': true,
        ...layer,
        ...(peers && {
          'gateway.channels.broadcast.peers': ports
            .filter((p) => p !== port)
            .map((p) => `ws://127.0.0.1:${p}`)
            .join(','),
        }),
      }),
    );
    writeFileSync(join(home, 'conf/topologies/bench.xml'), TOPOLOGY);
    const proc = start(o.serverCpu, NODE, [join(REPO, 'src/cli/main.ts'), 'start', '--home', home], {
      POSTERN_LOG_LEVEL: 'warn',
      POSTERN_ACCESS_LOG: 'silent',
      POSTERN_AUDIT_LOG: 'silent',
    });
    procs.push(proc);
  }
  for (const p of procs) await waitFor(p, /postern listening on/, 'postern');
  return { procs, ports };
}

async function runLoad(o: FanoutOptions, urls: string[], publishUrl: string, awx: boolean) {
  const argv = [
    SELF,
    '--mode',
    'load',
    '--urls',
    urls.join(','),
    '--publish',
    publishUrl,
    '--subscribers',
    String(o.subscribers),
    '--duration',
    String(o.durationS),
    '--batch',
    String(o.batch),
    ...(awx ? ['--awx'] : []),
  ];
  const proc = start(o.loadgenCpu, NODE, argv);
  await new Promise<void>((r) => proc.child.once('exit', () => r()));
  const line = proc.output().trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Omit<FanoutRow, 'target' | 'nodes'>;
  } catch {
    throw new Error(`the load generator failed:\n${proc.output().slice(-3000)}`);
  }
}

export async function runFanoutRows(o: FanoutOptions): Promise<FanoutRow[]> {
  const rows: FanoutRow[] = [];
  for (const target of o.targets) {
    const procs: Proc[] = [];
    try {
      if (target === 'bare') {
        const port = await freePort();
        const p = start(o.serverCpu, NODE, [SELF, '--mode', 'bare', '--port', String(port)]);
        procs.push(p);
        await waitFor(p, /listening/, 'the bare server');
        const r = await runLoad(o, [`ws://127.0.0.1:${port}/`], `http://127.0.0.1:${port}/publish`, false);
        rows.push({ target, nodes: 1, ...r });
      } else if (target === 'mesh' || target === 'redis') {
        let layer: Record<string, string>;
        if (target === 'redis') {
          if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) {
            o.log('redis row skipped: redis-server is not on the PATH (apt-get install redis-server)');
            continue;
          }
          const port = await freePort();
          const dir = mkdtempSync(join(o.tmp, 'redis-'));
          const r = start(o.serverCpu, 'redis-server', [
            ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
            ...['--save', '', '--appendonly', 'no'],
          ]);
          procs.push(r);
          await waitFor(r, /Ready to accept connections/, 'redis-server');
          layer = {
            'gateway.channels.layer': 'redis',
            'gateway.channels.redis.url': `redis://127.0.0.1:${port}`,
          };
        } else {
          layer = {
            'gateway.channels.layer': 'backplane',
            'gateway.channels.broadcast.secret': 'bench-secret',
          };
        }
        const nodes = await startNodes(o, layer, target === 'mesh');
        procs.push(...nodes.procs);
        const urls = nodes.ports.map((p) => `ws://127.0.0.1:${p}/gateway/bench/websocket/`);
        const r = await runLoad(
          o,
          urls,
          `http://127.0.0.1:${nodes.ports[0]}/gateway/bench/websocket/publish`,
          true,
        );
        rows.push({ target, nodes: 3, ...r });
      } else {
        o.log(`unknown channels target ${target}; skipped`);
      }
    } finally {
      for (const p of procs.reverse()) await p.stop();
    }
  }
  return rows;
}

export function fanoutTable(rows: FanoutRow[]): string {
  const bare = rows.find((r) => r.target === 'bare')?.deliveriesPerSec;
  const head = ['target', 'nodes', 'subscribers', 'deliveries/s', 'vs bare', 'p50 ms', 'p99 ms', 'lost'];
  const body = rows.map((r) => [
    r.target,
    String(r.nodes),
    String(r.subscribers),
    r.deliveriesPerSec.toLocaleString('en-US'),
    bare ? `${(r.deliveriesPerSec / bare).toFixed(2)}×` : '',
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    String(r.lost),
  ]);
  return markdownTable(head, body, head.length);
}

export function fanoutHeader(
  o: Pick<FanoutOptions, 'subscribers' | 'durationS' | 'batch' | 'serverCpu' | 'loadgenCpu'>,
): string {
  return (
    `CHANNELS fan-out — bench/channels-fanout.ts: one publisher (HTTP POST, batches of ${o.batch} ~100 B events, ` +
    `closed loop on delivery of each batch's last event) to ${o.subscribers} subscribers (spread over the nodes), ` +
    `${o.durationS}s after a warm-up; load generator on core ${o.loadgenCpu}, every server on core ${o.serverCpu}`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'run' },
      port: { type: 'string' },
      urls: { type: 'string' },
      publish: { type: 'string' },
      awx: { type: 'boolean', default: false },
      subscribers: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '10' },
      batch: { type: 'string', default: '20' },
      targets: { type: 'string', default: 'bare,mesh,redis' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  if (values.mode === 'bare') return serveBare(Number(values.port));
  if (values.mode === 'load') {
    const r = await load({
      urls: values.urls!.split(','),
      publish: values.publish!,
      subscribers: Number(values.subscribers),
      durationS: Number(values.duration),
      batch: Number(values.batch),
      awx: values.awx,
    });
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'postern-bench-fanout-'));
  const o: FanoutOptions = {
    subscribers: Number(values.subscribers),
    durationS: Number(values.duration),
    batch: Number(values.batch),
    targets: values.targets.split(',').map((t) => t.trim()),
    serverCpu: '1',
    loadgenCpu: '0',
    tmp,
    log: (l) => process.stderr.write(`${l}\n`),
  };
  try {
    const rows = await runFanoutRows(o);
    process.stdout.write(`\n${fanoutHeader(o)}\n\n${fanoutTable(rows)}\n`);
    if (values.json)
      writeFileSync(values.json, `${JSON.stringify({ header: fanoutHeader(o), rows }, null, 2)}\n`);
  } finally {
    if (!values.keep) rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] === SELF) {
  main().catch((err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
