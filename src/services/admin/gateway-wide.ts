/**
 * @module services/admin/gateway-wide
 * The admin API's views of what each process keeps for itself — recent errors, HA backends' states, open
 * connections, traffic, leaks, readiness — answered for the whole gateway, whichever worker is asked.
 *
 * A single process answers from its own state ({@link localView}), as before. In a worker of a multi-process
 * gateway (`postern.workers` > 1) the worker asked goes through the primary (`admin.all`, cluster/hub.ts), which
 * asks every worker for its {@link localView} (`admin.collect`, cluster/worker-shared.ts) and hands back their
 * answers; they are combined here ({@link gatewayView}): errors merged newest first, each with the `worker` that
 * recorded it; counts summed; traffic's counts and latency buckets added up (percentiles of the whole gateway); an
 * HA URL `down` when any worker has it down; and per-worker detail where it says something (`workers`). A primary
 * that does not answer is a 503. Views that every worker builds from the same files (topologies, routes, files,
 * history, TLS, explain) are answered by the worker asked.
 */
import { hub } from '../../cluster/ipc.ts';
import { HubUnavailableError } from '../../cluster/rpc.ts';
import { backendHealth } from '../../dispatch/ha/service.ts';
import { Errors } from '../../errors.ts';
import type { GatewayHandle, RecentErrorReport } from '../../spi/index.ts';
import { channelNodeFor } from '../channels/nodes.ts';
import { safeUrl } from './common.ts';
import { feedCounts } from './feed.ts';
import { type LeakEntry, leaks } from './leaks.ts';
import { combineTraffic, type TrafficParts, traffic } from './traffic.ts';

/** How many recent errors a view lists. */
const ERRORS_LISTED = 100;

export type ViewName = 'errors' | 'health' | 'connections' | 'traffic' | 'leaks' | 'status';

export interface HealthRow {
  topology: string;
  service: string;
  url: string;
  state: 'up' | 'down';
}

interface Connections {
  websockets: Record<string, number>;
  websocketsTotal: number;
  channels: Record<string, number>;
  channelsTotal: number;
  consoleFeeds: Record<string, number>;
  inflight: number;
}

interface ErrorsView {
  total: number;
  errors: readonly RecentErrorReport[];
}

interface ProcessView {
  ready: boolean;
  node: string;
  pid: number;
  uptimeSeconds: number;
}

interface StatusParts {
  process: ProcessView;
  health: HealthRow[];
  connections: Connections;
  errors: ErrorsView;
}

interface TrafficView {
  parts: TrafficParts;
  websockets: Record<string, number>;
  inflight: number;
}

function topologyNames(gateway: GatewayHandle): string[] {
  return gateway.topologies().map((t) => t.name);
}

export function healthOf(gateway: GatewayHandle): HealthRow[] {
  const served = new Set(gateway.topologies().flatMap((t) => (t.serving ? [t.name] : [])));
  return backendHealth()
    .filter((h) => served.has(h.topology))
    .map((h) => ({ topology: h.topology, service: h.service, url: safeUrl(h.url), state: h.state }));
}

function connectionsOf(gateway: GatewayHandle): Connections {
  const node = channelNodeFor(gateway.settings);
  const websockets = Object.fromEntries(gateway.openWebSockets());
  const channels: Record<string, number> = {};
  for (const name of topologyNames(gateway)) {
    const n = node.stats(name).subscribers;
    if (n > 0) channels[name] = n;
  }
  return {
    websockets,
    websocketsTotal: Object.values(websockets).reduce((a, b) => a + b, 0),
    channels,
    channelsTotal: node.clientCount,
    consoleFeeds: feedCounts(gateway, topologyNames(gateway)),
    inflight: gateway.inflight,
  };
}

function errorsOf(gateway: GatewayHandle): ErrorsView {
  return { total: gateway.recentErrors.total, errors: gateway.recentErrors.list(ERRORS_LISTED) };
}

/** This process's part of a view (JSON: a worker sends it to the primary). */
export function localView(gateway: GatewayHandle, view: ViewName, args: { window?: number } = {}): unknown {
  switch (view) {
    case 'errors':
      return errorsOf(gateway);
    case 'health':
      return healthOf(gateway);
    case 'connections':
      return connectionsOf(gateway);
    case 'leaks':
      return leaks.list(() => true);
    case 'traffic':
      return {
        parts: traffic.parts(args.window ?? 60),
        websockets: Object.fromEntries(gateway.openWebSockets()),
        inflight: gateway.inflight,
      } satisfies TrafficView;
    case 'status':
      return {
        process: {
          ready: gateway.ready,
          node: channelNodeFor(gateway.settings).id,
          pid: process.pid,
          uptimeSeconds: Math.round(process.uptime()),
        },
        health: healthOf(gateway),
        connections: connectionsOf(gateway),
        errors: errorsOf(gateway),
      } satisfies StatusParts;
    default:
      throw new Error(`unknown admin view ${view as string}`);
  }
}

/** One worker's answer, as the primary hands it back. */
export interface WorkerAnswer<T = unknown> {
  worker: number;
  value: T;
}

/** What the primary answers to `admin.all`: every worker's answer, and how many workers there are. */
export interface AllAnswers {
  of: number;
  answers: WorkerAnswer[];
}

/** The view for the whole gateway: this process's alone, or every worker's combined (through the primary). */
export async function gatewayView(
  gateway: GatewayHandle,
  view: ViewName,
  args: { window?: number } = {},
): Promise<Record<string, unknown> | unknown[]> {
  const rpc = hub();
  if (!rpc) return single(gateway, view, args);
  let all: AllAnswers;
  try {
    all = await rpc.request<AllAnswers>('admin.all', { view, args });
  } catch (err) {
    if (err instanceof HubUnavailableError) {
      throw Errors.unavailable('The other workers could not be asked; retry shortly', { cause: err });
    }
    throw err;
  }
  return combine(view, all);
}

/** A single process's view, in the shapes the API has always answered. */
function single(gateway: GatewayHandle, view: ViewName, args: { window?: number }) {
  if (view === 'traffic') {
    const t = localView(gateway, 'traffic', args) as TrafficView;
    return { ...combineTraffic([t.parts]), websockets: t.websockets, inflight: t.inflight };
  }
  if (view === 'status') {
    const s = localView(gateway, 'status') as StatusParts;
    return {
      gateway: { path: gateway.settings.path, ready: s.process.ready, node: s.process.node },
      health: s.health,
      connections: s.connections,
      errors: s.errors,
    };
  }
  return localView(gateway, view, args) as Record<string, unknown> | unknown[];
}

function combine(view: ViewName, all: AllAnswers) {
  const workers = { answered: all.answers.length, of: all.of };
  const values = <T>() => all.answers as WorkerAnswer<T>[];
  switch (view) {
    case 'errors':
      return { ...combineErrors(values<ErrorsView>()), workers };
    case 'health':
      return combineHealth(values<HealthRow[]>());
    case 'connections':
      return { ...combineConnections(values<Connections>()), workers };
    case 'leaks':
      return combineLeaks(values<LeakEntry[]>());
    case 'traffic': {
      const parts = values<TrafficView>();
      return {
        ...combineTraffic(parts.map((a) => a.value.parts)),
        websockets: sumRecords(parts.map((a) => a.value.websockets)),
        inflight: parts.reduce((n, a) => n + a.value.inflight, 0),
        workers,
      };
    }
    case 'status': {
      const parts = values<StatusParts>();
      const one = <K extends keyof StatusParts>(k: K) =>
        parts.map((a) => ({ worker: a.worker, value: a.value[k] }));
      const processes = one('process');
      return {
        gateway: {
          ready: processes.length === all.of && processes.every((p) => p.value.ready),
          node: processes[0]?.value.node,
          workers: {
            ...workers,
            each: processes
              .map((p) => ({ worker: p.worker, ...p.value }))
              .sort((a, b) => a.worker - b.worker),
          },
        },
        health: combineHealth(one('health')),
        connections: { ...combineConnections(one('connections')), workers },
        errors: { ...combineErrors(one('errors')), workers },
      };
    }
    default:
      throw new Error(`unknown admin view ${view as string}`);
  }
}

function combineErrors(answers: WorkerAnswer<ErrorsView>[]) {
  const errors = answers
    .flatMap((a) => a.value.errors.map((e) => ({ ...e, worker: a.worker })))
    .sort((a, b) => b.time.localeCompare(a.time))
    .slice(0, ERRORS_LISTED);
  return { total: answers.reduce((n, a) => n + a.value.total, 0), errors };
}

/** An HA URL is down for the gateway when a worker has it down; `workers` says each one's view. */
function combineHealth(answers: WorkerAnswer<HealthRow[]>[]) {
  const rows = new Map<string, HealthRow & { workers: Record<string, 'up' | 'down'> }>();
  for (const a of answers) {
    for (const h of a.value) {
      const key = `${h.topology}\n${h.service}\n${h.url}`;
      let row = rows.get(key);
      if (!row) {
        row = { ...h, workers: {} };
        rows.set(key, row);
      }
      row.workers[a.worker] = h.state;
      if (h.state === 'down') row.state = 'down';
    }
  }
  return [...rows.values()];
}

function sumRecords(records: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const [k, n] of Object.entries(r)) out[k] = (out[k] ?? 0) + n;
  return out;
}

function combineConnections(answers: WorkerAnswer<Connections>[]) {
  const v = answers.map((a) => a.value);
  const websockets = sumRecords(v.map((c) => c.websockets));
  return {
    websockets,
    websocketsTotal: Object.values(websockets).reduce((a, b) => a + b, 0),
    channels: sumRecords(v.map((c) => c.channels)),
    channelsTotal: v.reduce((n, c) => n + c.channelsTotal, 0),
    consoleFeeds: sumRecords(v.map((c) => c.consoleFeeds)),
    inflight: v.reduce((n, c) => n + c.inflight, 0),
    perWorker: answers
      .map((a) => ({
        worker: a.worker,
        websocketsTotal: a.value.websocketsTotal,
        channelsTotal: a.value.channelsTotal,
        inflight: a.value.inflight,
      }))
      .sort((a, b) => a.worker - b.worker),
  };
}

/** The same leak seen by several workers is one entry: counts added, first and last seen over all. */
function combineLeaks(answers: WorkerAnswer<LeakEntry[]>[]) {
  const merged = new Map<string, LeakEntry>();
  for (const a of answers) {
    for (const e of a.value) {
      const key = `${e.topology}\u0000${e.service}\u0000${e.route}\u0000${e.where}`;
      const m = merged.get(key);
      if (!m) {
        merged.set(key, { ...e });
        continue;
      }
      m.count += e.count;
      if (e.firstSeen < m.firstSeen) m.firstSeen = e.firstSeen;
      if (e.lastSeen > m.lastSeen) Object.assign(m, { ...e, count: m.count, firstSeen: m.firstSeen });
    }
  }
  return [...merged.values()].sort((a, b) => b.lastSeen.localeCompare(a.lastSeen) || b.count - a.count);
}
