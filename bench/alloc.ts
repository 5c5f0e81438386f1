/**
 * @module bench/alloc
 * What one proxied request costs the process beyond its CPU time: bytes allocated and where, what outlives the
 * young generation, the garbage collections, and the CPU per request. postern (one process, logs as chosen) or the
 * bare floor proxy in front of bench/backend.ts, driven by an undici Pool from this process (closed loop, `c`
 * requests in flight), observed over the inspector. Allocation counts do not move with the machine's load the way
 * req/s does, so two builds can be compared on a busy machine.
 *
 *   node bench/alloc.ts [--target postern|floor] [--requests 20000] [--warmup 5000] [--connections 10]
 *                       [--path small] [--logs] [--env NAME=value …] [--top 25] [--interval 1024]
 *                       [--node-flags="--flag …"] [--attach 'command {pid}'] [--put BYTES | --ws]
 *                       [--tls | --h2 [--streams 10]] [MODE]
 *
 * MODE (one):
 * - none: V8's sampling heap profiler, counting objects the GCs have already collected, records every allocation;
 *   prints the bytes per request in total and by origin (postern src/, undici, node internals, …), the functions
 *   allocating the most (self), and the postern functions under which the most was allocated (the innermost
 *   postern frame of each sample's stack).
 * - `--promoted`: the same for the objects no scavenge collected (those a scavenge copied out of the young
 *   generation: what makes scavenges cost).
 * - `--survivors`: the same for the objects nothing collected by the end.
 * - `--live`: a heap snapshot in the middle of the load, objects by constructor.
 * - `--trace-gc`: the target runs with `--trace-gc`; scavenges and mark-compacts during the measured requests, and
 *   their pause time per request.
 * - `--cost`: the target's CPU time (user + system, all threads, from /proc) per request, and by thread name with
 *   the context switches; `--attach 'strace -c -f -p {pid}'` runs a command against the target meanwhile.
 * - `--cpu`: a CPU profile of the load, summarised by bench/profile-summary.ts.
 *
 * What a request is: a GET of `--path` (bench/backend.ts's `small`, `big`, …); with `--put BYTES`, a PUT of that many
 * bytes (`--path upload`); with `--ws` (postern only), a WebSocket through the gateway to bench/ws-backend.ts, opened,
 * one 64 B echo, closed, so the handshake, the relay's setup and its teardown are what is measured.
 *
 * `--tls` (postern only) puts the gateway's listener on TLS (the certificate it generates) and drives it over
 * HTTP/1.1; `--h2` the same over HTTP/2 (`gateway.http2.enabled`), `--connections` sessions with `--streams`
 * requests in flight on each, so that the two protocols' costs per request can be compared with the same load.
 *
 * `--target floor` is bench/floor-proxy.ts with postern start's V8 flags and malloc tunables (bench/floor);
 * `--node-flags` adds flags to the target (postern through POSTERN_NODE_FLAGS, after the same defaults).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, Pool } from 'undici';
import WebSocket from 'ws';
import { DEFAULT_NODE_FLAGS } from '../src/cli/node-flags.ts';
import { echoOnce } from '../test/helpers/ws-echo-once.ts';
import { floorCommand } from './floor.ts';
import { writeBenchHome } from './home.ts';
import { attach, cpuTimes, freePort, minorFaults, threadTimes } from './proc.ts';
import { type CpuProfile, formatSummary, summarize } from './profile-summary.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '5000' },
    connections: { type: 'string', default: '10' },
    path: { type: 'string', default: 'small' },
    logs: { type: 'boolean', default: false },
    top: { type: 'string', default: '25' },
    interval: { type: 'string', default: '1024' },
    cpu: { type: 'boolean', default: false },
    target: { type: 'string', default: 'postern' },
    'trace-gc': { type: 'boolean', default: false },
    survivors: { type: 'boolean', default: false },
    promoted: { type: 'boolean', default: false },
    live: { type: 'boolean', default: false },
    // --live: also write the heap snapshot to this file (for DevTools, or a retainer search).
    snapshot: { type: 'string' },
    // Sampling modes: also print the stacks (innermost 10 frames) under which functions whose name contains this
    // allocated, by bytes (for instance `--stacks Uint8Array` with `--promoted`: which buffers outlive a scavenge).
    stacks: { type: 'string' },
    put: { type: 'string' },
    // Each "request" is a WebSocket through the gateway (bench/ws-backend.ts behind it): opened, one 64 B echo,
    // closed (the handshake, the relay's setup and its teardown).
    ws: { type: 'boolean', default: false },
    // postern only: its listener on TLS (its generated certificate), driven over HTTP/1.1 (`--tls`) or HTTP/2
    // (`--h2`: `--connections` sessions, `--streams` requests in flight on each).
    tls: { type: 'boolean', default: false },
    h2: { type: 'boolean', default: false },
    streams: { type: 'string', default: '10' },
    cost: { type: 'boolean', default: false },
    // With --cost: a command run against the target while the measured requests run ({pid} replaced), stopped with
    // SIGINT after them, its output printed (for instance `strace -c -f -p {pid}`).
    attach: { type: 'string' },
    'node-flags': { type: 'string', default: '' },
    // NAME=value for postern's environment, after --logs' (for instance `POSTERN_AUDIT_LOG=silent`); repeatable.
    env: { type: 'string', multiple: true, default: [] },
  },
});

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface SamplingNode {
  callFrame: CallFrame;
  selfSize: number;
  id: number;
  children: SamplingNode[];
}

const children: ChildProcess[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'postern-alloc-'));
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function startChild(argv: string[], env: NodeJS.ProcessEnv = {}): { proc: ChildProcess; lines: string[] } {
  const proc = spawn(process.execPath, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  const lines: string[] = [];
  proc.stdout?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n')));
  proc.stderr?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n')));
  return { proc, lines };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, lines: string[]): Promise<T> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up:\n${lines.slice(-20).join('\n')}`);
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
class Cdp {
  readonly ws: WebSocket;
  #id = 0;
  #pending = new Map<number, (r: { result?: unknown; error?: unknown }) => void>();
  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: unknown };
      if (msg.id !== undefined) this.#pending.get(msg.id)?.(msg);
    });
  }
  static async open(url: string): Promise<Cdp> {
    const ws = new WebSocket(url, { maxPayload: 1 << 30 });
    await new Promise((ok, fail) => ws.once('open', ok).once('error', fail));
    return new Cdp(ws);
  }
  send<T>(method: string, params: object = {}): Promise<T> {
    const id = ++this.#id;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((ok, fail) =>
      this.#pending.set(id, (r) => (r.error ? fail(new Error(JSON.stringify(r.error))) : ok(r.result as T))),
    );
  }
  close(): void {
    this.ws.close();
  }
}

/** `--put BYTES`: each request is a PUT of this many bytes (with `--path upload`), answered 201. */
const PUT_BODY = args.put ? Buffer.alloc(Number(args.put), 120) : undefined;

/** The gateway's WebSocket URL under `--ws` (set once the gateway is up). */
let wsUrl = '';

/** `--tls`/`--h2`: the gateway's listener speaks TLS with a certificate it generated. */
const TLS = args.tls || args.h2;
const insecure = { rejectUnauthorized: false };
/** The gateway's origin (set once its port is known). */
let gatewayOrigin = '';

/** `--h2`: each of `connections` HTTP/2 sessions runs `--streams` requests at once, `n` in all. */
async function driveH2(path: string, n: number, connections: number): Promise<void> {
  let left = n;
  const streams = Number(args.streams);
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const session = h2connect(gatewayOrigin, insecure);
      await Promise.all(
        Array.from({ length: streams }, async () => {
          while (left-- > 0) {
            await new Promise<void>((ok, fail) => {
              const req = session.request({ ':path': path });
              req.on('response', (h) => {
                if (h[':status'] !== 200) fail(new Error(`${path}: ${h[':status']}`));
              });
              req.on('error', fail);
              req.on('end', ok);
              req.resume();
            });
          }
        }),
      );
      session.close();
    }),
  );
}

async function drive(pool: Pool, path: string, n: number, connections: number): Promise<void> {
  let left = n;
  if (args.h2) return driveH2(path, n, connections);
  if (args.ws) {
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (left-- > 0) await echoOnce(wsUrl);
      }),
    );
    return;
  }
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (left-- > 0) {
        const res = await pool.request(
          PUT_BODY ? { method: 'PUT', path, body: PUT_BODY } : { method: 'GET', path },
        );
        if (res.statusCode !== (PUT_BODY ? 201 : 200)) throw new Error(`${path}: ${res.statusCode}`);
        // Read to the end. undici's dump() takes a finite limit only (Infinity falls back to 128 KiB, and a
        // larger body was cut off: the gateway then saw a client gone on every 1 MiB request).
        await res.body.dump({ limit: Number.MAX_SAFE_INTEGER });
      }
    }),
  );
}

function origin(url: string): string {
  if (url.includes('/node_modules/')) return url.split('/node_modules/')[1]?.split('/')[0] ?? 'node_modules';
  if (url.startsWith(`file://${REPO}/src/`)) return 'postern src/';
  if (url.startsWith('node:')) return 'node internals';
  if (url === '') return '(V8/native)';
  return 'other';
}

function where(f: CallFrame): string {
  const file = f.url.replace(`file://${REPO}/`, '').replace(/^.*\/node_modules\//, '');
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
}

async function main(): Promise<void> {
  const requests = Number(args.requests);
  const connections = Number(args.connections);

  const backendPort = await freePort();
  const backend = startChild([join(REPO, 'bench', 'backend.ts'), '--port', String(backendPort)]);
  const wsBackendPort = await freePort();
  const wsBackend = args.ws
    ? startChild([join(REPO, 'bench', 'ws-backend.ts'), '--port', String(wsBackendPort)])
    : undefined;
  if (wsBackend) {
    await waitFor(
      'ws backend',
      () => fetch(`http://127.0.0.1:${wsBackendPort}/health`).then((r) => r.status),
      wsBackend.lines,
    );
  }
  await waitFor(
    'backend',
    () => fetch(`http://127.0.0.1:${backendPort}/small`).then((r) => r.status),
    backend.lines,
  );

  const port = await freePort();
  const extraFlags = [
    ...(args['trace-gc'] ? ['--trace-gc'] : []),
    ...args['node-flags'].split(/\s+/).filter(Boolean),
  ];
  const inspect = `--inspect=127.0.0.1:${await freePort()}`;
  const inspectPort = Number(inspect.split(':').at(-1));
  let path: string;
  let gw: { proc: ChildProcess; lines: string[] };
  if (args.target === 'floor') {
    path = `/${args.path}`;
    const floor = floorCommand({
      tree: REPO,
      upstream: `http://127.0.0.1:${backendPort}`,
      port,
      flags: true,
      nodeFlags: [...extraFlags, inspect],
    });
    gw = startChild(floor.argv, floor.env);
  } else {
    path = `/gateway/bench/http/${args.path}`;
    const home = writeBenchHome(
      join(tmp, 'home'),
      {
        'gateway.port': String(port),
        'gateway.host': '127.0.0.1',
        'ssl.enabled': String(TLS),
        'gateway.http2.enabled': String(args.h2),
        'postern.workers': '1',
        ...(args.ws
          ? {
              'gateway.websocket.feature.enabled': 'true',
              'postern.connections.max.per.address': '0',
              'postern.connections.max': '0',
            }
          : {}),
      },
      [
        { role: 'HTTP', url: `http://127.0.0.1:${backendPort}` },
        ...(args.ws ? [{ role: 'ECHOWS', url: `ws://127.0.0.1:${wsBackendPort}` }] : []),
      ],
    );
    wsUrl = `ws://127.0.0.1:${port}/gateway/bench/echo/ws`;
    const logs = args.logs ? 'info' : 'silent';
    gw = startChild([inspect, join(REPO, 'bin', 'postern.js'), 'start', '--home', home], {
      POSTERN_LOG_LEVEL: args.logs ? 'info' : 'warn',
      POSTERN_ACCESS_LOG: logs,
      POSTERN_AUDIT_LOG: logs,
      ...(extraFlags.length > 0
        ? { POSTERN_NODE_FLAGS: [...DEFAULT_NODE_FLAGS, ...extraFlags].join(' ') }
        : {}),
      ...Object.fromEntries(args.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
    });
  }
  gatewayOrigin = `${TLS ? 'https' : 'http'}://127.0.0.1:${port}`;
  const dispatcher = TLS ? new Agent({ connect: insecure }) : undefined;
  await waitFor(
    args.target,
    // @ts-expect-error undici's dispatcher option is not in the global fetch's typings
    () => fetch(`${gatewayOrigin}${path}`, { dispatcher }).then((r) => r.status),
    gw.lines,
  );

  const shown =
    args.ws && wsUrl
      ? `WebSocket ${new URL(wsUrl).pathname} (open, one echo, close)`
      : `GET ${path}${args.h2 ? ` over HTTP/2 (${args.streams} streams per session)` : TLS ? ' over TLS' : ''}`;
  const pool = new Pool(gatewayOrigin, { connections, pipelining: 1, connect: insecure });
  await drive(pool, path, Number(args.warmup), connections);

  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const cdp = await Cdp.open(targets[0]!.webSocketDebuggerUrl);
  if (args.cost) {
    // CPU time (user + system, all threads) of the target process per request, from /proc.
    const before = cpuTimes(gw.proc.pid)!;
    const backendBefore = cpuTimes(backend.proc.pid)!;
    const faultsBefore = minorFaults(gw.proc.pid!);
    const threadsBefore = threadTimes(gw.proc.pid!);
    const probe = args.attach ? attach(args.attach, gw.proc.pid!) : undefined;
    if (probe) await new Promise((r) => setTimeout(r, 500));
    await drive(pool, path, requests, connections);
    const probed = await probe?.();
    const after = cpuTimes(gw.proc.pid)!;
    const backendAfter = cpuTimes(backend.proc.pid)!;
    const faults = minorFaults(gw.proc.pid!) - faultsBefore;
    const threadsAfter = threadTimes(gw.proc.pid!);
    const per = (a: number, b: number) => ((a - b) / requests).toFixed(1);
    process.stdout.write(
      `${args.target}${args['node-flags'] ? ` (${args['node-flags']})` : ''}: ${shown} × ${requests} (c=${connections}): ` +
        `${per(after.user, before.user)} + ${per(after.sys, before.sys)} µs CPU per request (user + system); ` +
        // The backend does the same work for every target: its CPU shows how fast the machine was meanwhile.
        `the backend's ${per(backendAfter.user + backendAfter.sys, backendBefore.user + backendBefore.sys)} µs, ` +
        `÷ backend ${(
          (after.user + after.sys - before.user - before.sys) /
            (backendAfter.user + backendAfter.sys - backendBefore.user - backendBefore.sys)
        ).toFixed(2)}; ${((faults * 1000) / requests).toFixed(1)} minor page faults per 1,000 requests\n`,
    );
    for (const [name, a] of threadsAfter) {
      const b = threadsBefore.get(name) ?? { user: 0, sys: 0, voluntary: 0, involuntary: 0, threads: 0 };
      if (a.user + a.sys === b.user + b.sys && a.voluntary + a.involuntary === b.voluntary + b.involuntary)
        continue;
      process.stdout.write(
        `  ${name.padEnd(16)} ×${a.threads}: ${per(a.user, b.user)} + ${per(a.sys, b.sys)} µs, ` +
          `context switches per 1,000 requests ${(((a.voluntary - b.voluntary) * 1000) / requests).toFixed(1)} voluntary, ` +
          `${(((a.involuntary - b.involuntary) * 1000) / requests).toFixed(1)} involuntary\n`,
      );
    }
    if (probed !== undefined) process.stdout.write(probed);
    process.exit(0);
  }
  if (args.live) {
    // A heap snapshot in the middle of the load: which objects are alive, by constructor, while requests run.
    const load = drive(pool, path, requests, connections);
    await new Promise((r) => setTimeout(r, 1000));
    const chunks: string[] = [];
    const ws = cdp.ws;
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { method?: string; params?: { chunk: string } };
      if (msg.method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(msg.params!.chunk);
    });
    await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    await load;
    if (args.snapshot) writeFileSync(args.snapshot, chunks.join(''));
    const snap = JSON.parse(chunks.join('')) as {
      snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
      nodes: number[];
      strings: string[];
    };
    const f = snap.snapshot.meta.node_fields;
    const [typeI, nameI, sizeI] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
    const types = snap.snapshot.meta.node_types[0];
    const count = new Map<string, { n: number; bytes: number }>();
    for (let i = 0; i < snap.nodes.length; i += f.length) {
      if (types[snap.nodes[i + typeI]!] !== 'object') continue;
      const name = snap.strings[snap.nodes[i + nameI]!]!;
      const c = count.get(name) ?? { n: 0, bytes: 0 };
      c.n++;
      c.bytes += snap.nodes[i + sizeI]!;
      count.set(name, c);
    }
    process.stdout.write(
      `${args.target}: objects alive during ${shown} (c=${connections}), by constructor (count, bytes):\n` +
        [...count]
          .sort((a, b) => b[1].n - a[1].n)
          .slice(0, Number(args.top))
          .map(([k, v]) => `${String(v.n).padStart(8)} ${String(v.bytes).padStart(10)}  ${k}`)
          .join('\n') +
        '\n',
    );
    process.exit(0);
  }
  if (args['trace-gc']) {
    const from = gw.lines.length;
    await drive(pool, path, requests, connections);
    const kinds = new Map<string, { n: number; ms: number }>();
    for (const line of gw.lines.slice(from)) {
      const m = /: (Scavenge|Mark-Compact|Minor Mark-Sweep)\b.*?, ([\d.]+) \/ ([\d.]+) ms/.exec(line);
      if (!m) continue;
      const k = kinds.get(m[1]!) ?? { n: 0, ms: 0 };
      k.n++;
      k.ms += Number(m[2]);
      kinds.set(m[1]!, k);
    }
    process.stdout.write(
      `${args.target}: ${shown} × ${requests} (c=${connections}), GCs during the measured requests:\n` +
        [...kinds]
          .map(
            ([k, v]) =>
              `  ${k.padEnd(16)} ${String(v.n).padStart(6)}  (${((1000 * v.n) / requests).toFixed(1)} per 1,000 requests)  ` +
              `${v.ms.toFixed(0)} ms pause, ${((1000 * v.ms) / requests).toFixed(1)} µs per request`,
          )
          .join('\n') +
        '\n',
    );
    process.exit(0);
  }
  if (args.cpu) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await cdp.send('Profiler.start');
    await drive(pool, path, requests, connections);
    const { profile } = await cdp.send<{ profile: CpuProfile }>('Profiler.stop');
    process.stdout.write(
      `${args.target}: ${shown} × ${requests} (c=${connections}, logs ${args.logs ? 'on' : 'off'}), CPU profile:\n` +
        `${formatSummary(summarize(profile, { top: Number(args.top) }))}\n`,
    );
    process.exit(0);
  }
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.startSampling', {
    samplingInterval: Number(args.interval),
    // --survivors: only what no scavenge has collected by the end: objects that outlived their request (promoted
    // to the old generation and waiting there for a mark-compact), plus the last ~2 MiB of young garbage.
    // --promoted: what no scavenge collected, whether a mark-compact did later or not: the objects that outlived
    // the young generation (what scavenges copy, and the old generation collects).
    includeObjectsCollectedByMajorGC: !args.survivors,
    includeObjectsCollectedByMinorGC: !args.survivors && !args.promoted,
  });
  await drive(pool, path, requests, connections);
  const { profile } = await cdp.send<{ profile: { head: SamplingNode } }>('HeapProfiler.stopSampling');
  cdp.close();
  await pool.close();

  const byOrigin = new Map<string, number>();
  const bySelf = new Map<string, number>();
  const byPostern = new Map<string, number>();
  const byStack = new Map<string, number>();
  let total = 0;
  const walk = (node: SamplingNode, stack: CallFrame[]): void => {
    const here = [...stack, node.callFrame];
    if (node.selfSize > 0) {
      total += node.selfSize;
      const o = origin(node.callFrame.url);
      byOrigin.set(o, (byOrigin.get(o) ?? 0) + node.selfSize);
      const k = where(node.callFrame);
      bySelf.set(k, (bySelf.get(k) ?? 0) + node.selfSize);
      const inner = here.findLast((f) => origin(f.url) === 'postern src/');
      const pk = inner ? where(inner) : '(no postern frame)';
      byPostern.set(pk, (byPostern.get(pk) ?? 0) + node.selfSize);
      if (args.stacks !== undefined && k.includes(args.stacks)) {
        const sk = here.slice(-10).reverse().map(where).join('\n        ← ');
        byStack.set(sk, (byStack.get(sk) ?? 0) + node.selfSize);
      }
    }
    for (const c of node.children) walk(c, here);
  };
  walk(profile.head, []);

  const per = (b: number) => (b / requests).toFixed(0).padStart(8);
  const top = Number(args.top);
  const list = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${per(v)} B  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`)
      .join('\n');
  process.stdout.write(
    `${args.target}: ${shown} × ${requests} (c=${connections}, logs ${args.logs ? 'on' : 'off'}), sampling every ${args.interval} B:\n` +
      `${per(total)} B allocated per request\n\nby origin:\n${list(byOrigin, 10)}\n\n` +
      `top functions (self):\n${list(bySelf, top)}\n\ninnermost postern frame:\n${list(byPostern, top)}\n` +
      (args.stacks === undefined ? '' : `\nstacks of ${args.stacks}:\n${list(byStack, 8)}\n`),
  );
  process.exit(0);
}

await main();
