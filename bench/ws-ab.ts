/**
 * @module bench/ws-ab
 * A/B of the WebSocket relay between builds and against nginx, in alternating rounds: each target is started in
 * turn, round after round, and measured on the same cases (bench/ws-load.ts `--mode echo`: 64 B text, one message
 * in flight per connection), so that targets are compared under the same load of a shared machine instead of
 * minutes apart as in `npm run bench`. The load generator runs on core 0, the target and the echo backend
 * (bench/ws-backend.ts) on core 1, as in bench/run.ts's WebSocket rows.
 *
 *   npx node bench/ws-ab.ts [--targets .,.:floor-raw,nginx] [--cases c100,c1000] [--rounds 3] [--seconds 6]
 *                           [--warmup 2] [--rate N]
 *
 * A target is a tree (a checkout with node_modules: its postern, started as bench/run.ts starts the `postern` row),
 * `TREE:floor-raw` or `TREE:floor` (that tree's bench/floor-proxy.ts relaying WebSockets by raw writes or by
 * `pipe`, with postern start's V8 flags), or `nginx` (one process, the WebSocket location of bench/run.ts), and may
 * end in `@NAME=value+NAME=value` for environment variables of that target alone.
 *
 * Printed per round: each target's round trips/s and its CPU (user + system) per round trip; at the end, per case,
 * each target's rounds and, for every round, its ratio to nginx and to the first `:floor-raw` target of the same
 * round, with the median of those ratios. `--rate N` paces every case to N round trips/s in all (closed loop
 * without it): then the CPU per round trip is the comparable figure, the rate being the one asked for.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { floorCommand } from './floor.ts';
import { writeBenchHome } from './home.ts';
import { nginxConfig, nginxWebSocketLocation } from './nginx-conf.ts';
import { envOfSpec, freePort, median, startOnServerCore, stopChild, waitFor200 } from './proc.ts';
import type { EchoResult } from './ws-load.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: '.,.:floor-raw,nginx' },
    cases: { type: 'string', default: 'c100,c1000' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    rate: { type: 'string' },
  },
});

/** The cases of bench/run.ts's WebSocket rows: 64 B text over 100 and over 1,000 connections. */
const CASES: Record<string, number> = { c100: 100, c1000: 1000 };

const tmp = mkdtempSync(join(tmpdir(), 'postern-ws-ab-'));
const children = new Set<ChildProcess>();
const start = (argv: string[], env: Record<string, string> = {}, command?: string) =>
  startOnServerCore(children, argv, env, command);

interface Started {
  child: ChildProcess;
  /** The WebSocket URL the load generator opens. */
  url: string;
}

async function startTarget(spec: string, wsPort: number): Promise<Started> {
  const [where, extra] = spec.split('@');
  const port = await freePort();
  const backend = `http://127.0.0.1:${wsPort}`;
  if (where === 'nginx') {
    const dir = join(tmp, `nginx-${port}`);
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      nginxConfig(dir, {
        purpose: 'nginx relaying WebSockets (bench/ws-ab)',
        workerConnections: 20000,
        rlimitNofile: 40000,
        upstream: `127.0.0.1:${wsPort}`,
        server: [`listen 127.0.0.1:${port};`, ...nginxWebSocketLocation('/', 'http://backend')],
      }),
    );
    const child = start(
      ['-c', conf, '-p', dir, '-e', join(dir, 'logs', 'error.log')],
      envOfSpec(extra),
      'nginx',
    );
    await waitFor200(`http://127.0.0.1:${port}/health`);
    return { child, url: `ws://127.0.0.1:${port}/` };
  }
  const floor = /^(.*):(floor|floor-raw)$/.exec(where);
  if (floor) {
    const relay = floor[2] === 'floor' ? 'pipe' : 'raw';
    const cmd = floorCommand({
      tree: resolve(floor[1]),
      upstream: backend,
      port,
      flags: true,
      ws: { port: wsPort, relay },
    });
    const child = start(cmd.argv, { ...cmd.env, ...envOfSpec(extra) });
    await waitFor200(`http://127.0.0.1:${port}/health`);
    return { child, url: `ws://127.0.0.1:${port}/` };
  }
  const tree = resolve(where);
  const home = join(tmp, `home-${port}`);
  // As bench/run.ts's `postern` WebSocket row: one process, every client from 127.0.0.1 without a per-address cap.
  writeBenchHome(
    home,
    {
      'postern.workers': '1',
      'gateway.port': String(port),
      'gateway.host': '127.0.0.1',
      'ssl.enabled': 'false',
      'gateway.websocket.feature.enabled': 'true',
      'postern.connections.max.per.address': '0',
      'postern.connections.max': '0',
    },
    [
      { role: 'HTTP', url: backend },
      { role: 'ECHOWS', url: `ws://127.0.0.1:${wsPort}` },
    ],
  );
  const child = start([join(tree, 'src', 'cli', 'main.ts'), 'start', '--home', home], {
    POSTERN_LOG_LEVEL: 'warn',
    POSTERN_ACCESS_LOG: 'silent',
    POSTERN_AUDIT_LOG: 'silent',
    ...envOfSpec(extra),
  });
  await waitFor200(`http://127.0.0.1:${port}/gateway/bench/http/health`);
  return { child, url: `ws://127.0.0.1:${port}/gateway/bench/echo/ws` };
}

function load(url: string, connections: number, pid: number, backendPid: number): EchoResult {
  const argv = [
    join(REPO, 'bench', 'ws-load.ts'),
    ...['--url', url, '--mode', 'echo', '--connections', String(connections), '--size', '64'],
    ...['--duration', values.seconds, '--warmup', values.warmup],
    ...['--pid', String(pid), '--backend-pid', String(backendPid)],
    ...(values.rate ? ['--rate', values.rate] : []),
  ];
  const r = spawnSync('taskset', ['-c', '0', process.execPath, ...argv], { encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('WSLOAD_JSON '));
  if (!line) throw new Error(`ws-load printed no report:\n${r.stdout}${r.stderr}`);
  return JSON.parse(line.slice('WSLOAD_JSON '.length)) as EchoResult;
}

const wsPort = await freePort();
const backend = start([join(REPO, 'bench', 'ws-backend.ts'), '--port', String(wsPort)]);
const targets = values.targets.split(',');
const cases = values.cases.split(',');
for (const c of cases) if (!CASES[c]) throw new Error(`unknown case ${c} (${Object.keys(CASES).join(', ')})`);
/** results[case][target][round] */
const results: Record<string, Record<string, EchoResult[]>> = {};
try {
  await waitFor200(`http://127.0.0.1:${wsPort}/health`);
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const spec of targets) {
      const t = await startTarget(spec, wsPort);
      for (const c of cases) {
        const r = load(t.url, CASES[c], t.child.pid!, backend.pid!);
        if (r.errors > 0 || r.badEchoes > 0 || r.opened < CASES[c])
          console.log(`  (${spec} ${c}: ${r.opened} opened, ${r.errors} errors, ${r.badEchoes} bad echoes)`);
        const byTarget = results[c] ?? {};
        results[c] = byTarget;
        byTarget[spec] = [...(byTarget[spec] ?? []), r];
        console.log(
          `round ${round} ${spec} ${c}: ${Math.round(r.roundTripsPerS)} rt/s, ` +
            `${r.cpuUsPerRoundTrip?.toFixed(1)} µs/rt (backend ${r.backendCpuUsPerRoundTrip?.toFixed(1)})`,
        );
      }
      await stopChild(t.child);
    }
  }
  const floorSpec = targets.find((t) => t.split('@')[0].endsWith(':floor-raw'));
  const nginxSpec = targets.find((t) => t.split('@')[0] === 'nginx');
  for (const c of cases) {
    console.log(`\n${c} (${CASES[c]} connections${values.rate ? `, paced to ${values.rate} rt/s` : ''}):`);
    for (const spec of targets) {
      const rs = results[c][spec];
      const rates = rs.map((r) => Math.round(r.roundTripsPerS)).join(' / ');
      const cpus = rs.map((r) => r.cpuUsPerRoundTrip?.toFixed(1)).join(' / ');
      let line = `  ${spec}: ${rates} rt/s; ${cpus} µs/rt`;
      for (const [name, ref] of [
        ['nginx', nginxSpec],
        ['floor-raw', floorSpec],
      ] as const) {
        if (!ref || ref === spec) continue;
        const ratios = rs.map((r, i) => r.roundTripsPerS / results[c][ref][i].roundTripsPerS);
        line += `; ÷ ${name} ${ratios.map((x) => x.toFixed(2)).join(' / ')} (median ${median(ratios).toFixed(2)}×)`;
      }
      console.log(line);
    }
  }
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
