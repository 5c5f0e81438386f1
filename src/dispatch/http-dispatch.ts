/**
 * @module dispatch/http-dispatch
 * The default dispatch: forwards a request to its backend over undici and streams both bodies, never buffering
 * (a rewritten body streams through the rewrite provider's filters, dispatch/body-rewrite).
 *
 * Knox's DefaultDispatch, ConfigurableDispatch and PassAllHeadersDispatch are one implementation with three
 * header policies. Connection pools come from one undici Agent per distinct set of
 * client limits in a deployment; they close when the deployment is retired and its last request is done.
 */
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { Errors } from '../errors.ts';
import { type PoolEvent, poolEvents } from '../observability/events.ts';
import {
  addTo,
  type DispatchContext,
  type DispatchFactory,
  type Exchange,
  HA_CONTRIBUTION,
  type Handler,
} from '../spi/index.ts';
import { actorHeaderNames, addActorHeaders, parseActorHeaders } from './actor-headers.ts';
import { backendTlsOptions } from './backend-tls.ts';
import { requestBodyFor } from './body-rewrite.ts';
import { DetachableHandler } from './detachable-handler.ts';
import { createHaHandler } from './ha/http.ts';
import type { HaService } from './ha/service.ts';
import type { StandbyCheck } from './ha/standby.ts';
import {
  BLOCKED_AUTH_COOKIES,
  forwardRequestHeaders,
  type HeaderPolicy,
  parseAppendHeaders,
  parseHeaderList,
  parseResponseExclude,
} from './headers.ts';
import { dispatchParams } from './params.ts';
import { type DispatchSettings, ProxyHandler } from './proxy-handler.ts';
import { bodyFailure, guardRequestBody, requestHasBody } from './request-body.ts';
import { sendWithSpnego } from './spnego.ts';
import { backendSpnego } from './spnego-context.ts';
import { backendTarget, splitTarget } from './target-url.ts';
import { keepTrailingSlash } from './trailing-slash.ts';
import { decodeQueryOnce } from './url-encoding.ts';

export { upstreamError } from './proxy-handler.ts';

/**
 * The high-water mark, both ways, of a connection's socket to an `https://` backend (undici's own: 16 KiB; for
 * `http://` it keeps its 64 KiB). An upload's body reaches the gateway one TLS record (16 KiB) at a time; with 16
 * KiB of room each record written to the backend filled the socket's buffer, undici paused the body until
 * `drain`, and the client's socket was stopped and started again around every record: 146 system calls per MiB on
 * 64 MiB TLS uploads (a `write` per record, `epoll_ctl` and `io_uring_enter` for the interest changes), 42 at 256
 * KiB, where the records queued while a write is in flight go out in one TLS write. A download's records are
 * taken from the socket several at a time, so they reach the client in larger writes (TLS 1 MiB downloads: 75 →
 * 41 per MiB). `http://` backends showed the same system calls at 256 KiB as at 64. What it costs: up to 256 KiB
 * more per TLS backend connection while one side is slower than the other (docs/performance.md, "Large bodies,
 * fifth round").
 */
export const BACKEND_TLS_HIGH_WATER_MARK = 256 * 1024;

/** Methods never forwarded: TRACE reflects credentials (cross-site tracing), CONNECT would tunnel anywhere. */
export { REFUSED_METHODS } from './target-url.ts';

const KNOX_DISPATCH = 'org.apache.knox.gateway.dispatch.';

export type Variant = 'default' | 'configurable' | 'pass-all';

/**
 * What a Knox dispatch that extends one of the three plain ones changes in it (src/dispatch/knox): each field is a
 * method Knox's subclass overrides. Per-request edits (the target URL, headers, the request body) go through the
 * exchange instead (dispatch/knox/extend).
 */
export interface HttpDispatchOptions {
  readonly variant: Variant;
  /** Adjusts the header policy built from the params (StormDispatch: no response header is excluded). */
  readonly policy?: (policy: HeaderPolicy) => HeaderPolicy;
  /**
   * The client's body is never sent: Knox's HdfsHttpClientDispatch and AbstractHdfsHaDispatch return no request
   * entity (a namenode never reads one; it redirects the body to a datanode).
   */
  readonly withoutBody?: boolean;
  /** Knox's `removeUrlEncoding` always on (PassAllHeadersNoEncodingDispatch), whatever the param says. */
  readonly removeUrlEncoding?: boolean;
  /** How an HA dispatch recognises an answer from a standby, which it fails over like a connect error. */
  readonly standby?: StandbyCheck;
  /**
   * Responses are open-ended streams (SSEDispatch: Knox's async client with no timeout): no body timeout between
   * two chunks of the backend's answer; the connect and header timeouts stay.
   */
  readonly streaming?: boolean;
}

/**
 * A dispatch's handler that can also say which headers it would send the backend for an exchange (the same
 * function the handler uses), so `postern explain` shows them without sending anything.
 */
export type DescribedHandler = Handler & { requestHeaders?: (ex: Exchange) => Record<string, string> };

function headerPolicy(variant: Variant, params: ReadonlyMap<string, string>): HeaderPolicy {
  // The client's copies of renamed actor headers are dropped like the default names (actor-headers.ts).
  const actor = actorHeaderNames(params);
  if (variant === 'pass-all') {
    return {
      requestExclude: new Set(['host', 'content-length', ...actor.exact]),
      requestExcludePrefixes: actor.prefixes,
      requestAppend: [],
      responseExclude: new Set(),
      responseCookieBlock: 'none',
    };
  }
  // Knox excludes Content-Length because its client recomputes it; undici streams with the client's length
  // and checks it, so the header is kept and the body is never re-framed.
  const defaultRequestExclude = ['host', 'authorization', 'transfer-encoding'];
  const requestExclude = new Set(
    (params.has('requestExcludeHeaders')
      ? parseHeaderList(params.get('requestExcludeHeaders')!)
      : defaultRequestExclude
    ).map((h) => h.toLowerCase()),
  );
  requestExclude.add('host');
  if (requestExclude.has('content-length')) requestExclude.delete('content-length');
  for (const name of actor.exact) requestExclude.add(name);
  const requestExcludePrefixes = actor.prefixes;
  const requestAppend = parseAppendHeaders(params.get('requestAppendHeaders') ?? '');
  if (variant === 'default') {
    return {
      requestExclude,
      requestExcludePrefixes,
      requestAppend,
      responseExclude: new Set(['www-authenticate']),
      responseCookieBlock: 'all',
    };
  }
  const response = params.has('responseExcludeHeaders')
    ? parseResponseExclude(params.get('responseExcludeHeaders')!)
    : { responseExclude: new Set(['www-authenticate']), responseCookieBlock: new Set(BLOCKED_AUTH_COOKIES) };
  return { requestExclude, requestExcludePrefixes, requestAppend, ...response };
}

function agentFor(ctx: DispatchContext, streaming = false): Dispatcher {
  const hc = ctx.settings.httpclient;
  // Knox's client factory ignores a value it cannot read and keeps the gateway-wide one: so does postern, but it
  // says so at the param.
  const params = dispatchParams(ctx);
  const connections = params.int('httpclient.maxConnections', hc.maxConnections, 1, { onBad: 'warn' });
  const connectTimeout = params.duration('httpclient.connectionTimeout', hc.connectionTimeoutMs, 'warn');
  const socketTimeout = params.duration('httpclient.socketTimeout', hc.socketTimeoutMs, 'warn');
  // Deployment reads it (as Knox does, anything but `true` is false); only the warning is given here.
  params.bool('useTwoWaySsl', false, 'warn');
  // Trust for https backends, and the gateway's certificate when the service asks for two-way TLS; a
  // truststore postern cannot read stops the deployment at the service.
  const tls = backendTlsOptions(ctx.settings, ctx.home, ctx.useTwoWaySsl);
  const key = `undici-agent:${connections}:${connectTimeout}:${socketTimeout}:${ctx.useTwoWaySsl}:${streaming}`;
  return ctx.shared(key, () => {
    // buildConnector passes its options on to `tls.connect`/`net.connect`, highWaterMark included (undici's types
    // leave it out); one connector per scheme, so that only TLS backends get the larger mark.
    const plainConnect = buildConnector({ timeout: connectTimeout, ...tls });
    const tlsOptions = { timeout: connectTimeout, highWaterMark: BACKEND_TLS_HIGH_WATER_MARK, ...tls };
    const tlsConnect = buildConnector(tlsOptions);
    const agent = new Agent({
      connections,
      connect: (options, callback) =>
        (options.protocol === 'https:' ? tlsConnect : plainConnect)(options, callback),
      headersTimeout: socketTimeout,
      bodyTimeout: streaming ? 0 : socketTimeout,
      keepAliveTimeout: 30_000,
    });
    ctx.onRetire(() => agent.close());
    // The pool's stats (connected, free, pending, queued, running) for exporters such as metrics.
    const topology = ctx.topology.name;
    if (poolEvents.hasSubscribers) {
      poolEvents.publish({ event: 'open', topology, pool: agent } satisfies PoolEvent);
    }
    ctx.onRetire(() => {
      if (poolEvents.hasSubscribers) {
        poolEvents.publish({ event: 'close', topology, pool: agent } satisfies PoolEvent);
      }
    });
    return agent;
  });
}

function forwardedHeaders(ex: Exchange, headers: Record<string, string>, context: string): void {
  const inbound = ex.rewriteContext.inbound;
  const remote = ex.peerAddress ?? '';
  const priorFor = headers['x-forwarded-for'];
  headers['x-forwarded-for'] = priorFor ? `${priorFor}, ${remote}` : remote;
  headers['x-forwarded-proto'] ??= inbound.scheme;
  // The host the gateway answered as (the Host header once checked, or gateway.frontend.url's), never a raw Host.
  headers['x-forwarded-host'] ??= inbound.authority;
  headers['x-forwarded-port'] ??= String(inbound.port);
  headers['x-forwarded-server'] ??= inbound.host;
  const priorContext = headers['x-forwarded-context'];
  headers['x-forwarded-context'] = priorContext ? `${priorContext}${context}` : context;
}

/** The `create` of an HTTP dispatch: one of the three plain ones, or a Knox dispatch built on one of them. */
export function createHttpDispatch(options: HttpDispatchOptions | Variant) {
  const opts: HttpDispatchOptions = typeof options === 'string' ? { variant: options } : options;
  const { variant } = opts;
  return (ctx: DispatchContext): Handler => {
    const built = headerPolicy(variant, ctx.params);
    const policy = opts.policy ? opts.policy(built) : built;
    // ConfigurableDispatch's `removeUrlEncoding` (Knox's DefaultDispatch has no such setter).
    const removeEncoding =
      opts.removeUrlEncoding === true ||
      (variant !== 'default' && dispatchParams(ctx).bool('removeUrlEncoding', false, 'warn'));
    // postern's `keepTrailingSlash` (dispatch/trailing-slash): the client's trailing `/` survives the rewrite.
    const keepSlash = dispatchParams(ctx).bool('keepTrailingSlash', false, 'warn');
    const withoutBody = opts.withoutBody === true;
    // ConfigurableDispatch and its PassAllHeaders subclass add the actor headers; DefaultDispatch does not.
    const actorHeaders = parseActorHeaders(ctx);
    if (actorHeaders && variant === 'default') {
      ctx.sink.warn(
        ctx.pos,
        `dispatch ${ctx.name}: shouldIncludePrincipalAndGroups is ignored: DefaultDispatch adds no actor headers (ConfigurableDispatch does)`,
      );
    }
    const actor = variant === 'default' ? undefined : actorHeaders;
    const agent = agentFor(ctx, opts.streaming === true);
    const xforwarded = ctx.settings.xforwardedEnabled;
    const context = `/${ctx.settings.path}/${ctx.topology.name}`;

    const settings: DispatchSettings = {
      policy,
      context,
      scopeCookies: ctx.settings.scopeCookiesEnabled,
    };

    const proxies = ctx.settings.trustedProxies;
    // gateway.hadoop.kerberos.secured: SPNEGO towards the backend (dispatch/spnego); undefined otherwise.
    const spnego = backendSpnego(ctx);
    const requestHeaders = (ex: Exchange): Record<string, string> => {
      const fromProxy = proxies.matches(ex.peerAddress);
      let headers = forwardRequestHeaders(ex.req.rawHeaders, policy, fromProxy);
      if (xforwarded) forwardedHeaders(ex, headers, context);
      // The gateway's id (the client's when it was acceptable) so backend logs join with ours.
      headers['x-request-id'] = ex.id;
      if (ex.addRequestHeaders) for (const [n, v] of ex.addRequestHeaders) headers[n.toLowerCase()] = v;
      if (ex.requestHeaderFilters) {
        for (const f of ex.requestHeaderFilters) headers = f(headers) as Record<string, string>;
      }
      // After the rewrite's header filters, so no rule can alter who the gateway says the user is.
      if (actor) addActorHeaders(actor, ex, headers);
      return headers;
    };

    // An HA dispatch (dispatch/ha) fails over between the service's URLs; without HA nothing of it runs.
    const haService = ctx.contribution<HaService>(HA_CONTRIBUTION);
    if (haService) {
      const haHandler = createHaHandler(ctx, haService, agent, settings, requestHeaders, {
        standby: opts.standby,
        withoutBody,
      });
      const ha = withTargetEdits(haHandler, keepSlash, removeEncoding);
      ha.requestHeaders = requestHeaders;
      return ha;
    }

    const forward: DescribedHandler = (ex: Exchange) =>
      new Promise<void>((resolve, reject) => {
        const { req } = ex;
        const method = req.method ?? 'GET';
        let url: string;
        try {
          url = backendTarget(ex);
        } catch (err) {
          reject(err);
          return;
        }
        const target = splitTarget(url);
        if (!target) {
          reject(Errors.internal('The rewritten backend URL is not absolute'));
          return;
        }

        const headers = requestHeaders(ex);
        const hasBody = requestHasBody(req, headers, withoutBody);

        const handler = new ProxyHandler(ex, method, settings, resolve, reject);
        // A body is guarded (dispatch/request-body): the backend connection is taken once it flows.
        const body = hasBody ? guardRequestBody(req, ctx.settings) : null;
        const dispatchWith = (h: ProxyHandler, sent: Record<string, string>) => {
          try {
            agent.dispatch(
              {
                origin: target.origin,
                path: target.path,
                method: method as Dispatcher.HttpMethod,
                headers: sent,
                body: body ? requestBodyFor(ex, body, sent) : null,
                // Only replay requests that are safe to replay; undici otherwise fails rather than resending.
                idempotent: method === 'GET' || method === 'HEAD' || method === 'OPTIONS',
              },
              // A streamed body: undici keeps its Request (and so the handler) past the exchange (detachable-handler).
              body ? new DetachableHandler(h) : h,
            );
          } catch (err) {
            // undici refuses a request target it cannot send (a control character the rewrite let through).
            h.fail(Errors.internal('The rewritten backend URL is not valid', { cause: err }));
          }
        };
        const send = spnego
          ? () =>
              sendWithSpnego({
                spnego,
                ex,
                target,
                headers,
                hasBody: body !== null,
                first: handler,
                makeHandler: () => new ProxyHandler(ex, method, settings, resolve, reject),
                send: dispatchWith,
              })
          : () => dispatchWith(handler, headers);
        if (body) body.ready.then(send, (err: unknown) => handler.fail(bodyFailure(err)));
        else send();
      });
    const described = withTargetEdits(forward, keepSlash, removeEncoding);
    described.requestHeaders = requestHeaders;
    return described;
  };
}

/**
 * The handler with the dispatch's own target edits: the client's trailing slash put back, then Knox's
 * `removeUrlEncoding` applied to the backend URL's query, last of all the target edits.
 */
function withTargetEdits(forward: Handler, keepSlash: boolean, removeEncoding: boolean): DescribedHandler {
  if (!keepSlash && !removeEncoding) return forward;
  return (ex) => {
    if (keepSlash) {
      const slash = keepTrailingSlash(ex);
      if (slash) addTo(ex, 'targetEdits', slash);
    }
    if (removeEncoding) addTo(ex, 'targetEdits', decodeQueryOnce);
    return forward(ex);
  };
}

export const defaultDispatch: DispatchFactory = {
  name: 'default',
  // Knox's `http-client` contributor is DefaultDispatch with Java-specific extras.
  classNames: [`${KNOX_DISPATCH}DefaultDispatch`, 'http-client'],
  create: createHttpDispatch('default'),
};

export const configurableDispatch: DispatchFactory = {
  name: 'configurable',
  classNames: [`${KNOX_DISPATCH}ConfigurableDispatch`],
  create: createHttpDispatch('configurable'),
};

export const passAllHeadersDispatch: DispatchFactory = {
  name: 'pass-all-headers',
  classNames: [`${KNOX_DISPATCH}PassAllHeadersDispatch`],
  create: createHttpDispatch('pass-all'),
};
