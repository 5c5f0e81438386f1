/**
 * @module observability/metrics
 * Prometheus metrics (prom-client) from what the core publishes on `node:diagnostics_channel`
 * (observability/events.ts): the core imports nothing of this module, and with metrics off nothing subscribes.
 *
 * Requests are the hot path, so they are not counted through prom-client's labelled children (each call hashes
 * its label object): a finished request costs two Map lookups by topology and service, one by status, and a
 * bucket scan, with no allocation; the counts become prom-client values only when Prometheus scrapes.
 * Everything else (WebSockets, deployments, channels, pools) is rare and uses ordinary prom-client metrics.
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `postern_http_requests_total` | counter | topology, service, status |
 * | `postern_http_request_duration_seconds` | histogram | topology, service |
 * | `postern_http_requests_in_flight` | gauge | |
 * | `postern_websockets_open` / `postern_websockets_total` | gauge / counter | topology, service |
 * | `postern_websocket_bytes_total` | counter | topology, service, direction (`in` from clients, `out` to them) |
 * | `postern_backend_pool_connections` | gauge | topology, origin, state (connected, free, running, pending, queued) |
 * | `postern_channel_messages_delivered_total` / `…_dropped_total` | counter | group |
 * | `postern_deployments_total` | counter | topology, result (deployed, redeployed, undeployed, failed) |
 * | `postern_log_bytes_written_total` / `…_lost_total` | counter | file (`access.log`, `audit.log`) |
 * | `postern_topology_serving` | gauge | topology |
 * | `postern_topology_config_errors` / `…_warnings` | gauge | topology (of its last deployment attempt) |
 * | `postern_site_reloads_total` | counter | result (ok, failed) |
 * | `postern_rewrite_leaks_total` | counter | topology, service, route, where (a header name or `body`), action (reported, rewritten, unmapped) |
 * | `postern_tls_handshakes_total` | counter | result (`full`, `resumed`, `failed`), protocol (`TLSv1.3`, `TLSv1.2`; empty for `failed`) |
 * | `postern_ready` | gauge | |
 * | `process_*`, `nodejs_*` | prom-client's defaults | |
 *
 * Unrouted requests (no deployed topology, no matching route) have an empty `topology` or `service`: a name
 * taken from the URL would let any client add series.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import client from 'prom-client';
import { hub, workerNumber } from '../cluster/ipc.ts';
import type { MetricFamily } from '../spi/index.ts';
import { batchedFileTotals } from './batched-file.ts';
import type {
  BackendHealthEvent,
  ChannelEvent,
  DeploymentEvent,
  LifecycleEvent,
  PoolEvent,
  PoolStatName,
  PoolStatsSource,
  RequestEvent,
  RewriteLeakEvent,
  TlsHandshakeEvent,
  WebSocketEvent,
} from './events.ts';

/** Upper bounds (seconds) of the latency histogram: a proxy's own 1 ms up to a slow backend's minute. */
export const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

const POOL_STATES: readonly PoolStatName[] = ['connected', 'free', 'running', 'pending', 'queued'];

/** The requests of one topology and service. */
class RequestSeries {
  readonly statuses = new Map<number, number>();
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length);
  sum = 0;
  count = 0;
}

/** Request counts and latencies, kept in plain numbers and read by the two metrics below at scrape time. */
class RequestStore {
  readonly byTopology = new Map<string, Map<string, RequestSeries>>();

  record(e: RequestEvent): void {
    const topology = e.topology ?? '';
    const service = e.service ?? '';
    let services = this.byTopology.get(topology);
    if (services === undefined) {
      services = new Map();
      this.byTopology.set(topology, services);
    }
    let series = services.get(service);
    if (series === undefined) {
      series = new RequestSeries();
      services.set(service, series);
    }
    const statuses = series.statuses;
    statuses.set(e.status, (statuses.get(e.status) ?? 0) + 1);
    // An upgrade's time is its connection's lifetime, not a latency.
    if (e.upgrade) return;
    const seconds = e.ms / 1000;
    series.sum += seconds;
    series.count++;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (seconds <= LATENCY_BUCKETS[i]) {
        series.buckets[i]++;
        break;
      }
    }
  }
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** The shape prom-client's Registry reads from a metric. */
interface CustomMetric {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: string }>;
}

function custom(name: string, help: string, type: string, values: () => MetricValue[]): CustomMetric {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    async get() {
      return { name, help, type, values: values(), aggregator: 'sum' };
    },
  };
}

export interface MetricsOptions {
  /** Whether the gateway is ready (postern_ready). */
  ready?: () => boolean;
  /** Requests in flight (postern_http_requests_in_flight). */
  inflight?: () => number;
  /** prom-client's process and Node.js metrics (default true). */
  defaultMetrics?: boolean;
  /**
   * The services' own families (the channel node's per-topology and per-peer ones): with several workers every
   * worker's go through the primary's aggregation with the rest, summed or kept apart by a `worker` label.
   */
  families?: () => MetricFamily[];
  /** More metric families in Prometheus text, appended to every scrape (only the answering worker's). */
  extraText?: () => string;
}

export class GatewayMetrics {
  readonly registry = new client.Registry();
  readonly #requests = new RequestStore();
  readonly #pools = new Map<PoolStatsSource, string>();
  readonly #unsubscribe: (() => void)[] = [];

  constructor(options: MetricsOptions = {}) {
    const register = [this.registry];
    if (options.defaultMetrics !== false) client.collectDefaultMetrics({ register: this.registry });
    const store = this.#requests;

    this.registry.registerMetric(
      custom('postern_http_requests_total', 'Requests by topology, service and status.', 'counter', () => {
        const values: MetricValue[] = [];
        for (const [topology, services] of store.byTopology) {
          for (const [service, series] of services) {
            for (const [status, value] of series.statuses) {
              values.push({ labels: { topology, service, status }, value });
            }
          }
        }
        return values;
      }) as unknown as client.Metric,
    );
    const histogram = 'postern_http_request_duration_seconds';
    this.registry.registerMetric(
      custom(
        histogram,
        'Time from a request’s arrival to the end of its response, by topology and service (WebSocket upgrades not included).',
        'histogram',
        () => {
          const values: MetricValue[] = [];
          for (const [topology, services] of store.byTopology) {
            for (const [service, series] of services) {
              if (series.count === 0) continue;
              let cumulative = 0;
              for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
                cumulative += series.buckets[i];
                values.push({
                  labels: { topology, service, le: LATENCY_BUCKETS[i] },
                  value: cumulative,
                  metricName: `${histogram}_bucket`,
                });
              }
              values.push({
                labels: { topology, service, le: '+Inf' },
                value: series.count,
                metricName: `${histogram}_bucket`,
              });
              values.push({
                labels: { topology, service },
                value: series.sum,
                metricName: `${histogram}_sum`,
              });
              values.push({
                labels: { topology, service },
                value: series.count,
                metricName: `${histogram}_count`,
              });
            }
          }
          return values;
        },
      ) as unknown as client.Metric,
    );
    // The access and audit logs' writers (observability/batched-file): what reached the files, and what a full
    // or stalled disk made them drop (also said on stderr).
    for (const [metric, help, key] of [
      ['postern_log_bytes_written_total', 'Bytes of access and audit log lines written, by file.', 'written'],
      [
        'postern_log_bytes_lost_total',
        'Bytes of access and audit log lines dropped: writes the disk refused, or lines beyond what may wait while it does not keep up.',
        'lost',
      ],
    ] as const) {
      this.registry.registerMetric(
        custom(metric, help, 'counter', () =>
          [...batchedFileTotals()].map(([file, total]) => ({ labels: { file }, value: total[key] })),
        ) as unknown as client.Metric,
      );
    }
    const inflight = options.inflight;
    if (inflight) {
      new client.Gauge({
        name: 'postern_http_requests_in_flight',
        help: 'Requests whose response is not done yet (WebSockets not included).',
        registers: register,
        collect() {
          this.set(inflight());
        },
      });
    }
    const ready = options.ready;
    if (ready) {
      new client.Gauge({
        name: 'postern_ready',
        help: '1 when /readyz answers 200: started and not stopping (and, with postern.health.ready.strict, every topology serving).',
        registers: register,
        // Over several workers: ready only when every one is.
        aggregator: 'min',
        collect() {
          this.set(ready() ? 1 : 0);
        },
      });
    }

    const wsOpen = new client.Gauge({
      name: 'postern_websockets_open',
      help: 'Proxied WebSocket connections open.',
      labelNames: ['topology', 'service'],
      registers: register,
    });
    const wsTotal = new client.Counter({
      name: 'postern_websockets_total',
      help: 'Proxied WebSocket connections opened.',
      labelNames: ['topology', 'service'],
      registers: register,
    });
    const wsBytes = new client.Counter({
      name: 'postern_websocket_bytes_total',
      help: 'Bytes of WebSocket messages relayed, counted when a connection closes (in: from clients, out: to them).',
      labelNames: ['topology', 'service', 'direction'],
      registers: register,
    });
    this.#on('postern:websocket', (e: WebSocketEvent) => {
      if (e.event === 'open') {
        wsOpen.inc({ topology: e.topology, service: e.service });
        wsTotal.inc({ topology: e.topology, service: e.service });
      } else {
        wsOpen.dec({ topology: e.topology, service: e.service });
        if (e.bytesIn) wsBytes.inc({ topology: e.topology, service: e.service, direction: 'in' }, e.bytesIn);
        if (e.bytesOut)
          wsBytes.inc({ topology: e.topology, service: e.service, direction: 'out' }, e.bytesOut);
      }
    });

    const pools = this.#pools;
    new client.Gauge({
      name: 'postern_backend_pool_connections',
      help: 'Dispatch connection pools per backend origin: connections (connected, free, running) and requests waiting (pending, queued).',
      labelNames: ['topology', 'origin', 'state'],
      registers: register,
      collect() {
        this.reset();
        for (const [pool, topology] of pools) {
          for (const [origin, stats] of Object.entries(pool.stats)) {
            for (const state of POOL_STATES) {
              const value = stats[state];
              if (value !== undefined) this.inc({ topology, origin, state }, Number(value));
            }
          }
        }
      },
    });
    this.#on('postern:pool', (e: PoolEvent) => {
      if (e.event === 'open') pools.set(e.pool, e.topology);
      else pools.delete(e.pool);
    });

    const delivered = new client.Counter({
      name: 'postern_channel_messages_delivered_total',
      help: 'Channel messages delivered to subscribers, by group.',
      labelNames: ['group'],
      registers: register,
    });
    const dropped = new client.Counter({
      name: 'postern_channel_messages_dropped_total',
      help: 'Channel messages dropped (slow subscriber, full backplane link), by group.',
      labelNames: ['group'],
      registers: register,
    });
    this.#on('postern:channels', (e: ChannelEvent) => {
      (e.event === 'dropped' ? dropped : delivered).inc({ group: e.group }, e.count ?? 1);
    });

    const deployments = new client.Counter({
      name: 'postern_deployments_total',
      help: 'Deployment attempts and undeploys, by topology and result (deployed, redeployed, undeployed, failed).',
      labelNames: ['topology', 'result'],
      registers: register,
    });
    const serving = new client.Gauge({
      name: 'postern_topology_serving',
      help: '1 when a deployment of the topology serves.',
      labelNames: ['topology'],
      registers: register,
    });
    const errors = new client.Gauge({
      name: 'postern_topology_config_errors',
      help: 'Configuration errors of the topology’s last deployment attempt.',
      labelNames: ['topology'],
      registers: register,
    });
    const warnings = new client.Gauge({
      name: 'postern_topology_config_warnings',
      help: 'Configuration warnings of the topology’s last deployment attempt.',
      labelNames: ['topology'],
      registers: register,
    });
    this.#on('postern:deployment', (e: DeploymentEvent) => {
      const topology = e.topology;
      deployments.inc({ topology, result: e.event });
      if (e.event === 'undeployed') {
        serving.remove({ topology });
        errors.remove({ topology });
        warnings.remove({ topology });
        return;
      }
      serving.set({ topology }, e.event === 'failed' && !e.serving ? 0 : 1);
      errors.set({ topology }, e.errors);
      warnings.set({ topology }, e.warnings);
    });

    // The listener's TLS handshakes: how many resume a session (ticket keys shared by the workers and, with
    // postern.tls.ticket.key.shared, by the nodes), and how many fail.
    const handshakes = new client.Counter({
      name: 'postern_tls_handshakes_total',
      help: 'TLS handshakes on the listener, by result (full: a new session; resumed: a session ticket accepted; failed) and protocol.',
      labelNames: ['result', 'protocol'],
      registers: register,
    });
    this.#on('postern:tls-handshake', (e: TlsHandshakeEvent) => {
      handshakes.inc({ result: e.result, protocol: e.protocol });
    });

    const reloads = new client.Counter({
      name: 'postern_site_reloads_total',
      help: 'gateway-site reloads (SIGHUP), by result (ok, failed).',
      labelNames: ['result'],
      registers: register,
    });
    reloads.inc({ result: 'ok' }, 0);
    reloads.inc({ result: 'failed' }, 0);
    this.#on('postern:lifecycle', (e: LifecycleEvent) => {
      if (e.event === 'reloaded') reloads.inc({ result: 'ok' });
      else if (e.event === 'reload-failed') reloads.inc({ result: 'failed' });
    });

    const leaks = new client.Counter({
      name: 'postern_rewrite_leaks_total',
      help: 'Backend addresses left in responses after the outbound rules (postern.rewrite.leak.guard), by topology, service, route, where (a header or body) and action (reported, rewritten, unmapped).',
      labelNames: ['topology', 'service', 'route', 'where', 'action'],
      registers: register,
    });
    this.#on('postern:rewrite-leak', (e: RewriteLeakEvent) => {
      leaks.inc(
        { topology: e.topology, service: e.service, route: e.route, where: e.where, action: e.action },
        e.count,
      );
    });

    const backendUp = new client.Gauge({
      name: 'postern_backend_up',
      help: 'HA health of each backend URL (1 up, 0 down: skipped for its cool-down or failing its check), by topology and service.',
      labelNames: ['topology', 'service', 'url'],
      registers: register,
    });
    const backendChanges = new client.Counter({
      name: 'postern_backend_health_changes_total',
      help: 'Backend URLs going up or down, by topology, service, new state and what noticed it (request or check).',
      labelNames: ['topology', 'service', 'state', 'source'],
      registers: register,
    });
    this.#on('postern:backend-health', (e: BackendHealthEvent) => {
      backendUp.set({ topology: e.topology, service: e.service, url: e.url }, e.state === 'up' ? 1 : 0);
      backendChanges.inc({
        topology: e.topology,
        service: e.service,
        state: e.state,
        source: e.source ?? 'request',
      });
    });
    this.#extraText = options.extraText;
    this.#families = options.families;

    // Last: the hot one.
    this.#on('postern:request', (e: RequestEvent) => store.record(e));
    // A worker of a multi-process gateway: the primary collects every worker's values for one scrape.
    hub()?.on('metrics.collect', async () => [
      ...(await this.registry.getMetricsAsJSON()),
      ...this.#familiesJson(workerNumber()),
    ]);
  }

  readonly #extraText: (() => string) | undefined;
  readonly #families: (() => MetricFamily[]) | undefined;

  /**
   * The services' families as prom-client's JSON, which the primary's AggregatorRegistry sums by labels: a
   * family marked `perWorker` gets this worker's `worker` label, so its values stay apart.
   */
  #familiesJson(worker: number | undefined): object[] {
    return (this.#families?.() ?? []).map((f) => ({
      name: f.name,
      help: f.help,
      type: f.type,
      aggregator: 'sum',
      values:
        f.perWorker && worker !== undefined
          ? f.values.map((v) => ({ value: v.value, labels: { ...v.labels, worker } }))
          : f.values,
    }));
  }

  /** A single process's scrape: the registry's families, then the services'. */
  async #ownText(): Promise<string> {
    const own = await this.registry.metrics();
    const families = this.#familiesJson(undefined);
    if (families.length === 0) return own;
    const more = await client.AggregatorRegistry.aggregate([families]).metrics();
    return `${own.endsWith('\n') ? own : `${own}\n`}${more}`;
  }

  /**
   * Answers a scrape in Prometheus's text format. In a worker of a multi-process gateway the primary asks every
   * worker for its values and sums them (prom-client's AggregatorRegistry: cluster/hub.ts), so one scrape shows
   * the whole gateway whichever worker it reached.
   */
  readonly handler = (_req: IncomingMessage, res: ServerResponse): void => {
    const rpc = hub();
    (rpc ? rpc.request<string>('metrics.scrape') : this.#ownText()).then(
      (own) => {
        const extra = this.#extraText?.() ?? '';
        const text = extra ? `${own.endsWith('\n') ? own : `${own}\n`}${extra}` : own;
        res.writeHead(200, {
          'content-type': this.registry.contentType,
          'cache-control': 'no-store',
          'content-length': Buffer.byteLength(text),
        });
        res.end(res.req?.method === 'HEAD' ? undefined : text);
      },
      () => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics unavailable\n');
      },
    );
  };

  /** Unsubscribes from every channel (the counts stay readable). */
  close(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  #on<T>(name: string, listener: (message: T) => void): void {
    const fn = listener as (message: unknown, name: string | symbol) => void;
    diagnostics_channel.subscribe(name, fn);
    this.#unsubscribe.push(() => diagnostics_channel.unsubscribe(name, fn));
  }
}
