/**
 * @module observability/events
 * What the core publishes about itself, on `node:diagnostics_channel`: exporters (metrics, tracing, the admin
 * console, postern's own channels) subscribe, and the core never imports them. Publishing to a channel without
 * subscribers costs a property check, and the core checks `hasSubscribers` before building a message.
 *
 * | channel | message | when |
 * |---|---|---|
 * | `postern:request` | {@link RequestEvent} | a request's response is done (with its access line) |
 * | `postern:websocket` | {@link WebSocketEvent} | a proxied WebSocket opened or closed |
 * | `postern:deployment` | {@link DeploymentEvent} | a topology deployed, redeployed, undeployed, or failed to |
 * | `postern:pool` | {@link PoolEvent} | a dispatch connection pool was made or closed |
 * | `postern:lifecycle` | {@link LifecycleEvent} | the gateway is ready, draining, stopped, or reloaded its site |
 * | `postern:channels` | {@link ChannelEvent} | a channels message was delivered to a subscriber or dropped |
 * | `postern:rewrite-leak` | {@link RewriteLeakEvent} | a backend address was left in a response after its outbound rules |
 * | `postern:tls-handshake` | {@link TlsHandshakeEvent} | a TLS handshake on the listener completed, or failed |
 * | `tracing:postern:request:*` | {@link RequestTrace} | a routed request starts (`start`) and ends (`asyncEnd`) |
 * | `tracing:postern:dispatch:*` | {@link DispatchTrace} | a route's dispatch runs (`tracePromise`) |
 *
 * The tracing channels follow Node's TracingChannel conventions; their messages are mutable on purpose: a tracer
 * writes the trace id into a {@link RequestTrace}, and a `traceparent` for the backend into the exchange's
 * `addRequestHeaders`, during the synchronous `start` publish.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import type { Exchange, Handler } from '../spi/index.ts';

/** A proxied WebSocket opened or closed. */
export interface WebSocketEvent {
  event: 'open' | 'close';
  topology: string;
  service: string;
  /** The request id of the upgrade. */
  reqId: string;
  /** On close: how long it was open, bytes each way, the close code and who closed it. */
  ms?: number;
  bytesIn?: number;
  bytesOut?: number;
  closeCode?: number;
  closedBy?: string;
}

export const websocketEvents = diagnostics_channel.channel('postern:websocket');

/**
 * A request whose response is done (finished, aborted, or — for an upgrade — whose socket closed). `topology` is
 * set only for a topology that is deployed (a name from the URL that matches nothing is not a label value an
 * exporter should keep), `service` only when a route matched.
 */
export interface RequestEvent {
  topology: string | undefined;
  service: string | undefined;
  method: string | undefined;
  status: number;
  /** Milliseconds from the request's arrival to its end (for an upgrade: to the socket's close). */
  ms: number;
  /** The response did not finish (client gone, backend stream failed). */
  aborted: boolean;
  /** A WebSocket upgrade: `ms` is the connection's lifetime, not a latency. */
  upgrade: boolean;
  /**
   * `bytesIn`: the request body's declared length (`Content-Length`; 0 when chunked or absent). `bytesOut`: what
   * the response wrote to the connection, head and body (the socket's count at the end minus at the start). Both
   * cost no hook on the body streams.
   */
  bytesIn?: number;
  bytesOut?: number;
}

export const requestEvents = diagnostics_channel.channel('postern:request');

/** A deployment attempt or an undeploy of one topology. */
export interface DeploymentEvent {
  event: 'deployed' | 'redeployed' | 'undeployed' | 'failed';
  topology: string;
  file?: string;
  /** Configuration errors and warnings of the attempt. */
  errors: number;
  warnings: number;
  /** On `failed`: whether a previous deployment keeps serving. */
  serving?: boolean;
  /** The gateway's home (several gateways may share a process, as in tests). */
  home?: string;
}

export const deploymentEvents = diagnostics_channel.channel('postern:deployment');

/** Anything with undici's `stats` (an Agent: per-origin connected, free, pending, queued, running, size). */
export interface PoolStatsSource {
  readonly stats: Record<string, Partial<Record<PoolStatName, number | boolean>>>;
}

export type PoolStatName = 'connected' | 'free' | 'pending' | 'queued' | 'running' | 'size';

/** A dispatch connection pool (one undici Agent per deployment and client limits) was made or closed. */
export interface PoolEvent {
  event: 'open' | 'close';
  topology: string;
  pool: PoolStatsSource;
}

export const poolEvents = diagnostics_channel.channel('postern:pool');

/** The gateway's own state changes. */
export interface LifecycleEvent {
  event: 'listening' | 'draining' | 'stopped' | 'reloaded' | 'reload-failed';
  /** On `reloaded`: gateway-site properties applied, and those that need a restart. */
  reloaded?: readonly string[];
  restartNeeded?: readonly string[];
}

export const lifecycleEvents = diagnostics_channel.channel('postern:lifecycle');

/**
 * Published by the channels layer (src/services/channels/) for each message it delivers to a subscriber or drops (a slow
 * subscriber, a full backplane link); `count` defaults to 1.
 */
export interface ChannelEvent {
  event: 'delivered' | 'dropped';
  group: string;
  count?: number;
}

export const channelEvents = diagnostics_channel.channel('postern:channels');

/**
 * The leak guard (rewrite/leak-guard) found backend addresses in one place of one response (a header, or a chunk
 * of its body) after the outbound rules ran. No query string is ever in it.
 */
export interface RewriteLeakEvent {
  topology: string;
  service: string;
  /** The route's path template (`yarn/proxy/**`). */
  route: string;
  /** A header name in lower case (`location`, `set-cookie` …) or `body`. */
  where: string;
  /** How many addresses were found there. */
  count: number;
  /** The backend origin of the first of them (`http://rm:8088`). */
  origin: string;
  /** The request's path, without its query. */
  path: string;
  /** `reported` (report mode), `rewritten` (mapped back) or `unmapped` (rewrite mode, no mapping applied). */
  action: 'reported' | 'rewritten' | 'unmapped';
}

export const rewriteLeakEvents = diagnostics_channel.channel('postern:rewrite-leak');

/** One routed request, from its match to the end of its response (or of its upgrade handshake). */
export interface RequestTrace {
  readonly ex: Exchange;
  readonly topology: string;
  readonly service: string;
  /** Provider names in chain order, ending with the dispatch. */
  readonly chain: readonly string[];
  readonly upgrade: boolean;
  /** Written by a tracer at `start`: the request's trace id, for its log lines. */
  traceId?: string;
  /** Set before `asyncEnd`. */
  status?: number;
  aborted?: boolean;
}

export const requestTracing = diagnostics_channel.tracingChannel<object, RequestTrace>('postern:request');

/** One dispatch of a route to its backend (HTTP, or a WebSocket handshake). */
export interface DispatchTrace {
  readonly ex: Exchange;
  readonly kind: 'http' | 'websocket';
  /** Set by `tracePromise` when the dispatch rejects. */
  error?: unknown;
}

export const dispatchTracing = diagnostics_channel.tracingChannel<object, DispatchTrace>('postern:dispatch');

/**
 * Starts a request's trace when a tracer listens: returns the message to end it with, or undefined (then nothing
 * was allocated).
 */
export function traceRequest(
  ex: Exchange,
  topology: string,
  service: string,
  chain: readonly string[],
  upgrade: boolean,
): RequestTrace | undefined {
  if (!requestTracing.hasSubscribers) return undefined;
  const t: RequestTrace = { ex, topology, service, chain, upgrade };
  requestTracing.start.publish(t);
  return t;
}

export function endRequestTrace(t: RequestTrace, status: number, aborted: boolean): void {
  t.status = status;
  t.aborted = aborted;
  requestTracing.asyncEnd.publish(t);
}

/** A dispatch handler that publishes on `postern:dispatch` when a tracer listens, and is itself otherwise. */
export function tracedDispatch(run: Handler, kind: DispatchTrace['kind']): Handler {
  return (ex) =>
    dispatchTracing.hasSubscribers ? dispatchTracing.tracePromise(run, { ex, kind }, undefined, ex) : run(ex);
}

/**
 * A URL of an HA service changed state (dispatch/ha): `down` when a request to it failed or the active check
 * failed, `up` when it answered again. `source` and `reason` are set on events, not on snapshots.
 */
export interface BackendHealthEvent {
  topology: string;
  /** The service role. */
  service: string;
  url: string;
  state: 'up' | 'down';
  source?: 'request' | 'check';
  /** Why it went down: the error code, or the check's status. */
  reason?: string;
  /** Set when another worker noticed it and the primary relayed the mark here (cluster/ha-relay.ts). */
  worker?: number;
}

export const backendHealthEvents = diagnostics_channel.channel('postern:backend-health');

/**
 * A TLS handshake on the gateway's listener: `full` (a new session: ECDHE and a signature with the certificate's
 * key), `resumed` (a session ticket the listener issued was accepted: gateway/ticket-keys), or `failed` (refused,
 * timed out, not TLS at all). `protocol` is the negotiated version (`TLSv1.3`), empty for a failure.
 */
export interface TlsHandshakeEvent {
  result: 'full' | 'resumed' | 'failed';
  protocol: string;
}

export const tlsHandshakeEvents = diagnostics_channel.channel('postern:tls-handshake');
