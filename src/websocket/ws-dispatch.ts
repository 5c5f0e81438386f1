/**
 * @module websocket/ws-dispatch
 * The WebSocket end of a route's chain: after the route's providers ran on the upgrade request (authentication,
 * identity assertion, the request-URL rewrite), the backend is contacted first, and only when it accepts does
 * the client get its 101 — so an unreachable backend is a clean 502, a refused handshake relays the backend's
 * status, and nothing is ever accepted and then dropped.
 *
 * The backend URL is the rewritten one with Knox's scheme rule (http → ws, https → wss; ws/wss as given) and the
 * client's query kept (`withClientQuery`). The subprotocols the client offers are offered to the backend, and the one it picks is the one
 * the client gets. permessage-deflate is negotiated the same way: offered to the backend only when the client
 * offered it, and accepted from the client only when the backend accepted it (each leg then compresses on its
 * own, since the gateway relays messages, not frames). `postern.websocket.permessage-deflate=false` (gateway-site
 * or service param) turns it off.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { hub } from '../cluster/ipc.ts';
import { type RedisState, sharedState } from '../cluster/redis-state.ts';
import type { Setting } from '../config/setting.ts';
import { SETTINGS } from '../config/settings-table.ts';
import { type BackendTlsOptions, backendTlsOptions } from '../dispatch/backend-tls.ts';
import type { HaService } from '../dispatch/ha/service.ts';
import { webSocketFailover } from '../dispatch/ha/websocket.ts';
import {
  BLOCKED_AUTH_COOKIES,
  forwardRequestHeaders,
  type HeaderPolicy,
  isBlockedSetCookie,
} from '../dispatch/headers.ts';
import { dispatchParams } from '../dispatch/params.ts';
import { type SpnegoAttempt, tokenFailure } from '../dispatch/spnego.ts';
import { backendSpnego } from '../dispatch/spnego-context.ts';
import { CloseCodes, Errors } from '../errors.ts';
import { type WebSocketEvent, websocketEvents } from '../observability/events.ts';
import { type DispatchContext, type Exchange, HA_CONTRIBUTION, type Handler } from '../spi/index.ts';
import { directConnection, FrameWebSocket, relayFrames } from './frame-relay.ts';
import { upgradeRelayed } from './heap-settle.ts';
import { type RelayLimits, relay } from './relay.ts';

/** Handshake headers `ws` sets itself, or that belong to the client's leg only. */
const WS_OWN = new Set([
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'origin',
]);

const POLICY: HeaderPolicy = {
  requestExclude: new Set(['host', 'authorization', 'content-length', 'transfer-encoding', ...WS_OWN]),
  requestAppend: [],
  responseExclude: new Set(),
  responseCookieBlock: new Set(BLOCKED_AUTH_COOKIES),
};

/** The subprotocol the backend chose, carried on the request to the client's handshake. */
const kChosenProtocol = Symbol('postern.websocket.protocol');
/** The backend's handshake headers worth relaying to the client, carried the same way. */
const kBackendHeaders = Symbol('postern.websocket.headers');

/** Handshake response headers that belong to one leg (RFC 6455 §4.2.2) or are hop-by-hop. */
const LEG_ONLY = /^(connection|upgrade|sec-websocket-.*|keep-alive|transfer-encoding|content-length|date)$/i;

export function toWebSocketUrl(url: string): string {
  if (url.startsWith('http://')) return `ws://${url.slice(7)}`;
  if (url.startsWith('https://')) return `wss://${url.slice(8)}`;
  return url;
}

/**
 * The backend URL of an upgrade before the providers' edits: the rewritten `target`, with the client's raw `query`
 * appended when the rewrite left none. Knox's GatewayWebsocketHandler applies no rewrite rule to an upgrade and
 * appends the request's query to every backend URL, so a route rule whose template drops the query (Knox's JKGWS
 * `inboundrule`, `{$serviceUrl[JKGWS]}/api/kernels/{**}`) must not drop a Jupyter client's `session_id`. The
 * providers' edits run after this (identity assertion's scrubbing of `doAs`/`user.name`, the JWT provider's
 * removal of a token parameter), so they still apply to what the client sent.
 */
export function withClientQuery(target: string, query: string): string {
  return query === '' || target.includes('?') ? target : `${target}?${query}`;
}

/** What `ws` may use per compressing leg: its defaults, with small messages left uncompressed. */
const DEFLATE = { threshold: 1024 } as const;

export function createWebSocketHandler(ctx: DispatchContext): Handler {
  const site = ctx.settings.websocket;
  const haService = ctx.contribution<HaService>(HA_CONTRIBUTION);
  const proxies = ctx.settings.trustedProxies;
  // gateway-site's names, overridable per service by a topology <param> of the same name, which is read with the
  // same syntax (the settings table's) and refused at the <param> as gateway-site refuses it at the <value>.
  const params = dispatchParams(ctx);
  const table = SETTINGS.websocket;
  const override = <T>(setting: Setting<T>, fallback: T): T =>
    params.parsed(setting.key, fallback, setting.parse, setting.expected);
  const limits: RelayLimits = {
    maxTextBytes: override(table.maxTextMessageSize, site.maxTextMessageSize),
    maxBinaryBytes: override(table.maxBinaryMessageSize, site.maxBinaryMessageSize),
    idleTimeoutMs: override(table.idleTimeoutMs, site.idleTimeoutMs),
    writeTimeoutMs: override(table.asyncWriteTimeoutMs, site.asyncWriteTimeoutMs),
    maxQueuedMessages: override(table.maxWaitBufferCount, site.maxWaitBufferCount),
  };
  const maxConnections = override(table.maxConnections, site.maxConnections);
  const deflate = override(table.perMessageDeflate, site.perMessageDeflate);
  const handshakeTimeout =
    override(table.handshakeTimeoutMs, site.handshakeTimeoutMs) ??
    ctx.settings.httpclient.connectionTimeoutMs;
  const maxPayload = Math.max(limits.maxTextBytes, limits.maxBinaryBytes);
  const topology = ctx.topology.name;
  const service = ctx.service.role;
  let tls: BackendTlsOptions | undefined;
  try {
    tls = backendTlsOptions(ctx.settings, ctx.home, ctx.useTwoWaySsl);
  } catch (err) {
    ctx.sink.error(ctx.pos, (err as Error).message);
  }
  // One server per deployment for each way a client leg can be: with and without permessage-deflate.
  const servers = ctx.shared('websocket-servers', () => {
    const make = (perMessageDeflate: false | typeof DEFLATE) => {
      const server = new WebSocketServer({
        noServer: true,
        // Without an extension the client's leg stays a raw socket for the frame relay (websocket/frame-relay).
        WebSocket: perMessageDeflate ? WebSocket : FrameWebSocket,
        maxPayload,
        perMessageDeflate,
        autoPong: false,
        handleProtocols: (_offered, request) =>
          (request as IncomingMessage & { [kChosenProtocol]?: string })[kChosenProtocol] || false,
      });
      server.on('headers', (headers, request) => {
        const extra = (request as IncomingMessage & { [kBackendHeaders]?: string[] })[kBackendHeaders];
        if (extra) headers.push(...extra);
      });
      return server;
    };
    const all: ServerPair = { plain: make(false), deflate: make(DEFLATE), retired: false };
    // Every deployment's servers of this topology, so that an undeploy or a shutdown also reaches the sockets
    // still open on earlier deployments of it.
    const generations = ctx.sharedAcrossDeployments(
      `websocket-servers:${topology}`,
      () => new Set<ServerPair>(),
    );
    for (const old of generations) {
      if (old.retired && old.plain.clients.size + old.deflate.clients.size === 0) {
        old.plain.close();
        old.deflate.close();
        generations.delete(old);
      }
    }
    generations.add(all);
    ctx.onRetire(async (reason) => {
      // A redeployed topology's sockets stay up on the deployment they started on, to their natural end. An
      // undeployed (or stopping) one's go away with 1001; a peer that does not answer the close within a second
      // is cut.
      all.retired = true;
      if (reason === 'redeploy') return;
      const pairs = [...generations];
      generations.clear();
      const servers = pairs.flatMap((p) => [p.plain, p.deflate]);
      const open = () => servers.reduce((n, s) => n + s.clients.size, 0);
      const why = reason === 'shutdown' ? 'gateway shutting down' : 'topology undeployed';
      for (const server of servers)
        for (const client of server.clients) client.close(CloseCodes.goingAway, why);
      const deadline = Date.now() + 1000;
      while (open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const server of servers) {
        for (const client of server.clients) client.terminate();
        server.close();
      }
    });
    return all;
  });

  // Counted per topology across its deployments: sockets that stay on a redeployed topology's old deployment
  // still count against the limit.
  const counter = ctx.sharedAcrossDeployments(`websocket-open:${topology}`, () => ({ open: 0 }));
  // Several nodes (postern.state.redis.url): the count is over every node and worker, in Redis; Redis
  // unreachable refuses the upgrade (503, fail closed).
  const redis = sharedState(ctx.settings);
  const shared: Omit<Accepted, 'log' | 'reqId' | 'expiresAt' | 'slot'> = {
    limits,
    topology,
    service,
    compactAfterBurst: site.compactAfterBurst,
  };
  // gateway.hadoop.kerberos.secured: the handshake authenticates with SPNEGO as any GET (dispatch/spnego).
  const spnego = backendSpnego(ctx);

  // Several workers: the count is the sum over all of them, kept by the primary (cluster/hub.ts); a hub that
  // does not answer refuses the upgrade (503, fail closed).
  const rpc = redis ? undefined : hub();
  const handler = (ex: Exchange, openNow: number, slot: Slot) =>
    new Promise<void>((resolve, reject) => {
      const upgrade = ex.upgrade;
      if (!upgrade) {
        reject(Errors.badRequest('This route accepts WebSocket upgrades only'));
        return;
      }
      if (ex.target === undefined) {
        reject(Errors.noRewrite());
        return;
      }
      // The count includes this connection's own place (taken before counting: see takeSlot).
      if (openNow > maxConnections) {
        reject(
          Errors.unavailable(`This topology holds its maximum of ${maxConnections} WebSocket connections`),
        );
        return;
      }
      let url = withClientQuery(ex.target, ex.query);
      if (ex.targetEdits) for (const edit of ex.targetEdits) url = edit(url);
      const req: IncomingMessage = ex.req;
      const fromProxy = proxies.matches(ex.peerAddress);
      let headers = forwardRequestHeaders(req.rawHeaders, POLICY, fromProxy);
      headers['x-request-id'] = ex.id;
      const remote = ex.peerAddress ?? '';
      const priorFor = headers['x-forwarded-for'];
      headers['x-forwarded-for'] = priorFor ? `${priorFor}, ${remote}` : remote;
      headers['x-forwarded-proto'] = ex.rewriteContext.inbound.scheme === 'https' ? 'wss' : 'ws';
      if (ex.addRequestHeaders) for (const [n, v] of ex.addRequestHeaders) headers[n.toLowerCase()] = v;
      // The providers' request-header filters (identity headers a federation provider consumed, the session
      // cookie) apply to upgrades as to any request.
      if (ex.requestHeaderFilters) {
        for (const f of ex.requestHeaderFilters) headers = f(headers) as Record<string, string>;
      }
      const offered = (req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      const offersDeflate =
        deflate && /(^|,)\s*permessage-deflate\b/i.test(req.headers['sec-websocket-extensions'] ?? '');
      // With HA, each connection attempt goes to the URL the service's HA state picks (dispatch/ha/websocket).
      const failover = haService && webSocketFailover(haService, req, url, headers);

      let backend: FrameWebSocket;
      /** With SPNEGO: what authenticated the current attempt, and whether it is the retry after a 401. */
      let attempt: SpnegoAttempt | undefined;
      let retried = false;
      const open = (target: string, sent: Record<string, string>): boolean => {
        try {
          backend = new FrameWebSocket(target, offered, {
            headers: sent,
            handshakeTimeout,
            maxPayload,
            perMessageDeflate: offersDeflate ? DEFLATE : false,
            // Without an extension the leg is relayed raw: over plain TCP its socket is read into a buffer of its
            // own (frame-relay's DirectReader), not through a Readable stream.
            ...(offersDeflate || !target.startsWith('ws:') ? {} : { createConnection: directConnection }),
            ...tls,
            autoPong: false,
            followRedirects: false,
          });
        } catch (err) {
          reject(Errors.internal('The rewritten backend URL is not a WebSocket URL', { cause: err }));
          return false;
        }
        upgrade.socket.once('close', onClientGone);
        backend.once('upgrade', onUpgrade);
        backend.once('unexpected-response', onRefused);
        backend.once('error', onError);
        backend.once('open', onOpen);
        return true;
      };
      /** The backend's origin as the SPNEGO state keys it (its HTTP origin: one cookie for HTTP and WebSocket). */
      const spnegoTarget = (target: string) => {
        const u = new URL(target.replace(/^ws/, 'http'));
        return { origin: u.origin, path: `${u.pathname}${u.search}` };
      };
      const connect = (): boolean => {
        const target = toWebSocketUrl(failover ? failover.target() : url);
        if (!spnego) return open(target, headers);
        let at: { origin: string; path: string };
        try {
          at = spnegoTarget(target);
        } catch (err) {
          reject(Errors.internal('The rewritten backend URL is not a WebSocket URL', { cause: err }));
          return false;
        }
        spnego.authorize(at, headers, { hasBody: false, force: retried }).then(
          (a) => {
            attempt = a;
            if (upgrade.socket.destroyed) resolve();
            else open(target, a.headers);
          },
          (err: unknown) => reject(tokenFailure(ex, err, at.origin)),
        );
        return true;
      };
      const onClientGone = () => backend.terminate();

      const onUpgrade = (response: IncomingMessage) => {
        // The backend's auth cookie on its 101 is kept for the next handshakes and requests (never relayed).
        if (spnego && attempt) {
          spnego.verdict(ex, spnegoTarget(backend.url), attempt, 101, response.headers, false);
        }
        const relayed: string[] = [];
        for (let i = 0; i < response.rawHeaders.length; i += 2) {
          const name = response.rawHeaders[i];
          const value = response.rawHeaders[i + 1];
          if (LEG_ONLY.test(name)) continue;
          // The same auth-cookie block list as any other response: a backend's hadoop.auth never reaches the browser.
          if (name.toLowerCase() === 'set-cookie' && isBlockedSetCookie(value, POLICY.responseCookieBlock))
            continue;
          relayed.push(`${name}: ${value.replace(/[\r\n]/g, '')}`);
        }
        const sticky = failover?.cookie();
        if (sticky !== undefined) relayed.push(sticky);
        (req as IncomingMessage & { [kBackendHeaders]?: string[] })[kBackendHeaders] = relayed;
      };
      const onRefused = (_request: unknown, response: IncomingMessage) => {
        settle();
        failover?.answered();
        response.resume();
        const status = response.statusCode ?? 502;
        backend.terminate();
        if (spnego && attempt) {
          const verdict = spnego.verdict(
            ex,
            spnegoTarget(backend.url),
            attempt,
            status,
            response.headers,
            !retried,
          );
          if (verdict === 'retry') {
            retried = true;
            connect();
            return;
          }
          if (verdict) {
            reject(verdict);
            return;
          }
        }
        reject(Errors.upstreamRefusedUpgrade(undefined, { status: status >= 400 ? status : 502 }));
      };
      const onError = (err: Error) => {
        settle();
        const wait = upgrade.socket.destroyed ? undefined : failover?.failed(err);
        if (wait !== undefined) {
          setTimeout(() => (upgrade.socket.destroyed ? resolve() : connect()), wait);
          return;
        }
        const code = (err as { code?: string }).code;
        reject(
          code === 'ETIMEDOUT' || /timed out/i.test(err.message)
            ? Errors.upstreamTimeout(undefined, { cause: err })
            : Errors.upstreamUnavailable(undefined, { cause: err }),
        );
      };
      const onOpen = () => {
        settle();
        failover?.answered();
        if (upgrade.socket.destroyed) {
          backend.terminate();
          resolve();
          return;
        }
        // The client gets the subprotocol the backend chose (or none).
        (req as IncomingMessage & { [kChosenProtocol]?: string })[kChosenProtocol] = backend.protocol;
        // The socket leaves the HTTP response that would have carried a refusal.
        ex.res.statusCode = 101;
        ex.res.detachSocket(upgrade.socket as Socket);
        const wss = backend.extensions.includes('permessage-deflate') ? servers.deflate : servers.plain;
        const accepted: Accepted = {
          ...shared,
          log: ex.log,
          reqId: ex.id,
          expiresAt: ex.credentialExpiresAt,
          slot,
        };
        wss.handleUpgrade(req, upgrade.socket, upgrade.head, (client) =>
          startRelay(client, backend, accepted),
        );
        // ws completes a handshake synchronously, or aborts it (a socket gone): then the backend goes too.
        if (!slot.relayed) backend.terminate();
        resolve();
      };
      // Every handshake listener goes once the handshake is decided: an open connection must not keep this
      // request's objects (request, response, exchange, headers) alive through them.
      const settle = () => {
        upgrade.socket.off('close', onClientGone);
        backend.off('upgrade', onUpgrade);
        backend.off('unexpected-response', onRefused);
        backend.off('error', onError);
        backend.off('open', onOpen);
        // A late error of the backend leg is the relay's (it listens from now on); until then, not uncaught.
        backend.on('error', ignore);
      };
      connect();
    });
  const count = (): Promise<number> => {
    if (redis) return redis.websockets(topology).then((open) => Math.max(open, counter.open));
    if (!rpc) return Promise.resolve(counter.open);
    return rpc.request<number>('ws.count', { topology }).then(
      (open) => Math.max(open, counter.open),
      (err: unknown) => {
        throw Errors.unavailable('The WebSocket connection count is unavailable; retry shortly', {
          cause: err,
        });
      },
    );
  };
  return (ex: Exchange) => {
    const slot = takeSlot(topology, counter, redis, rpc);
    return count()
      .then((open) => handler(ex, open, slot))
      .then(
        () => {
          if (!slot.relayed) slot.release();
        },
        (err: unknown) => {
          slot.release();
          throw err;
        },
      );
  };
}

/**
 * One connection's place in its topology's WebSocket count. It is taken before the count is read, so the count
 * includes it: two handshakes racing for the last place on two workers (or nodes) both see the other and are both
 * refused, never both let in (a worker's count reaches the primary or Redis asynchronously, and the backend
 * handshake takes time). It is given back once: when the handshake does not become a relay, or when the relay
 * ends.
 */
interface Slot {
  /** A relay holds it (set synchronously by startRelay). */
  relayed: boolean;
  release(): void;
}

function takeSlot(
  topology: string,
  counter: { open: number },
  redis: RedisState | undefined,
  rpc: ReturnType<typeof hub>,
): Slot {
  counter.open++;
  if (redis) redis.countWebSocket(topology, +1);
  else rpc?.notify('ws.open', { topology });
  let held = true;
  return {
    relayed: false,
    release() {
      if (!held) return;
      held = false;
      counter.open--;
      if (redis) redis.countWebSocket(topology, -1);
      else rpc?.notify('ws.close', { topology });
    },
  };
}

function ignore(): void {}

/** Every relayed client WebSocket open in this process (closed with 1011 when a worker fails: cluster/worker.ts). */
const openClients = new Set<WebSocket>();
const openRelayed = () => openClients.size;

/** Closes every relayed client WebSocket with `code`; resolves once their close frames are written (or 200 ms). */
export function closeAllRelayed(code: number, reason: string): Promise<void> {
  const clients = [...openClients];
  for (const c of clients) c.close(code, reason);
  if (clients.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 200);
    let left = clients.length;
    for (const c of clients)
      c.once('close', () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
  });
}

/** One deployment's WebSocket servers (with and without permessage-deflate). */
interface ServerPair {
  plain: WebSocketServer;
  deflate: WebSocketServer;
  /** Its deployment was retired (a redeploy keeps its sockets up). */
  retired: boolean;
}

/** What a relayed connection keeps of its upgrade request: no request, response or exchange. */
interface Accepted {
  limits: RelayLimits;
  topology: string;
  service: string;
  log: Exchange['log'];
  reqId: string;
  expiresAt: number | undefined;
  /** This connection's place in the topology's count, given back when the relay ends. */
  slot: Slot;
  /** postern.websocket.compact.after.burst (websocket/heap-settle). */
  compactAfterBurst: boolean;
}

/** Relays an accepted connection; a function of its own so its closures hold only what they need. */
function startRelay(client: WebSocket, backend: FrameWebSocket, a: Accepted): void {
  backend.off('error', ignore);
  const started = Date.now();
  a.slot.relayed = true;
  openClients.add(client);
  upgradeRelayed(openRelayed, a.compactAfterBurst);
  a.log.info(
    {
      type: 'websocket',
      event: 'open',
      protocol: client.protocol || undefined,
      extensions: client.extensions || undefined,
    },
    'websocket open',
  );
  if (websocketEvents.hasSubscribers)
    websocketEvents.publish({
      event: 'open',
      topology: a.topology,
      service: a.service,
      reqId: a.reqId,
    } satisfies WebSocketEvent);
  const limits = a.expiresAt === undefined ? a.limits : { ...a.limits, expiresAt: a.expiresAt };
  // Both legs raw (no extension): frames pass through (websocket/frame-relay); with permessage-deflate, `ws`
  // runs both legs and messages are relayed (websocket/relay).
  const raw = client instanceof FrameWebSocket && client.raw !== undefined;
  if (raw !== (backend.raw !== undefined)) {
    // Cannot happen (the client's server is chosen by the backend's extensions); never relay half raw.
    client.terminate();
    backend.terminate();
  }
  const relayed = raw
    ? relayFrames(client as FrameWebSocket, backend, limits)
    : relay(client, backend, limits);
  relayed.then(
    (stats) => {
      a.slot.release();
      openClients.delete(client);
      const ms = Date.now() - started;
      a.log.info({ type: 'websocket', ms, ...stats }, 'websocket closed');
      if (websocketEvents.hasSubscribers)
        websocketEvents.publish({
          event: 'close',
          topology: a.topology,
          service: a.service,
          reqId: a.reqId,
          ms,
          ...stats,
        } satisfies WebSocketEvent);
    },
    () => {},
  );
}
