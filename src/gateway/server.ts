/**
 * @module gateway/server
 * The gateway's HTTP(S) front door: `/{gateway.path}/{topology}/…` → the topology's current deployment →
 * route match → compiled chain → dispatch. Deployments are swapped atomically by replacing one reference; a
 * request holds the deployment it started on until it ends.
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import type { GatewaySettings } from '../config/gateway-site.ts';
import type { Deployment } from '../deploy/deployment.ts';
import { Errors, GatewayError } from '../errors.ts';
import {
  endRequestTrace,
  type RequestEvent,
  type RequestTrace,
  requestEvents,
  type TlsHandshakeEvent,
  tlsHandshakeEvents,
  traceRequest,
} from '../observability/events.ts';
import { field, type JsonLines, jsonLines, stringField } from '../observability/json-line.ts';
import type { Logger } from '../observability/logger.ts';
import { continueOnRead, type ServiceEndpoint, type UpgradeRequest } from '../spi/index.ts';
import { ConnectionLimits } from './connection-limits.ts';

import { GatewayExchange } from './exchange.ts';
import { hostOf } from './host.ts';
import { createH2Server, type H2Response, H2Sessions, isH2Request } from './http2.ts';
import { resolveRequest } from './resolve.ts';
import { errorBody, sendError, toGatewayError } from './respond.ts';
import { clientCertGate, type ServerTls } from './tls.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The access line's `protocol` field for the usual HTTP versions, made once. */
const PROTOCOL_FIELD: Readonly<Record<string, string>> = Object.assign(Object.create(null), {
  '1.1': ',"protocol":"HTTP/1.1"',
  '1.0': ',"protocol":"HTTP/1.0"',
  '2.0': ',"protocol":"HTTP/2.0"',
});

export interface GatewayServerOptions {
  settings: GatewaySettings;
  log: Logger;
  /** Where access lines go (default: `log`). */
  accessLog?: Logger;
  /** TLS identity; omit when `ssl.enabled` is false. */
  tls?: ServerTls;
}

/** Answers an operational request (health, readiness, metrics) outside the gateway path; false: not one. */
export type OperationsHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export class GatewayServer {
  #settings: GatewaySettings;
  readonly #log: Logger;
  readonly #accessLog: Logger;
  /** The access lines, assembled as strings (observability/json-line). */
  readonly #accessLines: JsonLines;
  /** `https.Server`, or with `gateway.http2.enabled` an HTTP/2 server that also speaks HTTP/1.1 (gateway/http2). */
  readonly #server: Server | Http2SecureServer;
  /** The HTTP/2 sessions, when the listener offers h2. */
  readonly #h2: H2Sessions | undefined;
  readonly #scheme: 'http' | 'https';
  #deployments: ReadonlyMap<string, Deployment> = new Map();
  #port = 0;
  /** Requests (not upgrades) whose response is not done yet; shutdown waits for them. */
  #inflight = 0;
  #draining = false;
  #drained: (() => void) | undefined = undefined;
  /** Health, readiness and metrics: asked only for URLs outside `/{gateway.path}/`. */
  operations: OperationsHandler | undefined = undefined;
  /** Services' WebSocket endpoints outside `/{gateway.path}/` (registry.service), by exact path. */
  endpoints: ReadonlyMap<string, ServiceEndpoint> = new Map();
  /** Per request, with two-way TLS: the refusal of a client without an accepted certificate (tls.ts). */
  readonly #clientCertRefusal?: (socket: unknown, topology: string) => GatewayError | undefined;
  readonly #connections: ConnectionLimits;
  /** `gateway.port.mapping.{topology}`: the extra listeners, and the topology each local port serves. */
  readonly #mappedListeners: net.Server[] = [];
  #mappedPorts: ReadonlyMap<number, string> = new Map();

  constructor(options: GatewayServerOptions) {
    this.#settings = options.settings;
    this.#log = options.log;
    this.#accessLog = options.accessLog ?? options.log;
    this.#accessLines = jsonLines(this.#accessLog);
    this.#scheme = options.tls ? 'https' : 'http';
    const serverOptions = {
      maxHeaderSize: options.settings.requestHeaderBufferBytes,
      // Streaming bodies may take long; idleness, not total time, ends a connection.
      requestTimeout: 0,
      headersTimeout: 60_000,
      keepAliveTimeout: 65_000,
    };
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.#mapPort(req);
      this.#gatewayHeaders(res);
      this.#handle(req, res);
    };
    // A client that connects and never finishes its TLS handshake is cut after postern.tls.handshake.timeout.
    const handshakeTimeout = options.settings.limits.tlsHandshakeTimeoutMs || undefined;
    if (options.tls && options.settings.http2Enabled) {
      const h2 = createH2Server({ ...options.tls, handshakeTimeout }, serverOptions, handler as never);
      this.#server = h2;
      this.#h2 = new H2Sessions(h2, {
        headersMs: serverOptions.headersTimeout,
        keepAliveMs: serverOptions.keepAliveTimeout,
        idleMs: options.settings.idleTimeoutMs,
      });
    } else {
      this.#server = options.tls
        ? https.createServer({ ...serverOptions, ...options.tls, handshakeTimeout }, handler)
        : http.createServer(serverOptions, handler);
    }
    // `Expect: 100-continue`: the 100 goes out when the body is first read, after the chain accepted the request.
    this.#server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      continueOnRead(req, res);
      handler(req, res);
    });
    this.#server.setTimeout(options.settings.idleTimeoutMs);
    this.#connections = new ConnectionLimits(this.#server, options.settings.limits, this.#log);
    if (options.tls) {
      // Handshakes, for the metrics (observability/metrics): whether sessions resume, on one node or several.
      this.#server.on('secureConnection', (socket: tls.TLSSocket) => {
        if (!tlsHandshakeEvents.hasSubscribers) return;
        const event: TlsHandshakeEvent = {
          result: socket.isSessionReused() ? 'resumed' : 'full',
          protocol: socket.getProtocol() ?? '',
        };
        tlsHandshakeEvents.publish(event);
      });
      this.#server.on('tlsClientError', () => {
        if (tlsHandshakeEvents.hasSubscribers) {
          const event: TlsHandshakeEvent = { result: 'failed', protocol: '' };
          tlsHandshakeEvents.publish(event);
        }
      });
    }
    if (options.tls?.clientAuth) {
      const gate = clientCertGate(options.tls.clientAuth);
      this.#server.on('secureConnection', gate.onSecureConnection);
      this.#clientCertRefusal = gate.refusal;
    }
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#mapPort(req);
      this.#upgrade(req, socket, head);
    });
    this.#server.on('clientError', (err: Error & { code?: string }, socket) => {
      // Only an HTTP parse error gets an HTTP answer. Anything else (a TLS handshake that failed or timed out,
      // a reset) is on a socket where an HTTP answer cannot be written: `end()` on a TLS socket that never
      // completed its handshake waits for that handshake forever and keeps the descriptor (CLOSE-WAIT).
      if (!socket.writable || !err.code?.startsWith('HPE_')) return socket.destroy();
      const error =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? Errors.headerFieldsTooLarge()
          : Errors.badRequest('The request could not be parsed as HTTP/1.1');
      const { status } = error;
      const text = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
      const reqId = randomUUID();
      // The gateway's error body, as for every other refusal (nothing of the request: it was not understood).
      const body = JSON.stringify(errorBody(reqId, error));
      socket.end(
        `HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n` +
          `cache-control: no-store\r\nx-request-id: ${reqId}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      // A request Node's parser refused (control characters in a header, a malformed request line) still gets
      // its access line: with the parser's reason, and nothing of the request, which was not understood.
      this.#accessLog.info(
        {
          type: 'access',
          reqId,
          status,
          refused: err.code ?? 'parse error',
          aborted: false,
          remote: (socket as Socket).remoteAddress,
        },
        'access',
      );
    });
  }

  /**
   * Replaces the key that seals the TLS session tickets (gateway/ticket-keys); the listener's connections, port
   * mapped ones included, share it. Nothing to do without TLS.
   */
  setTicketKeys(keys: Buffer): void {
    if (this.#scheme === 'https') (this.#server as tls.Server).setTicketKeys(keys);
  }

  get server(): Server | Http2SecureServer {
    return this.#server;
  }

  get deployments(): ReadonlyMap<string, Deployment> {
    return this.#deployments;
  }

  /** Replaces (or removes, with undefined) a topology's deployment; returns the one it replaced. */
  swap(name: string, deployment: Deployment | undefined): Deployment | undefined {
    const next = new Map(this.#deployments);
    const previous = next.get(name);
    if (deployment) next.set(name, deployment);
    else next.delete(name);
    this.#deployments = next;
    return previous;
  }

  async listen(port = this.#settings.port, host = this.#settings.host): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address() as AddressInfo;
    this.#port = address.port;
    await this.#listenMapped(host);
    return address;
  }

  /**
   * Knox's topology port mapping (`gateway.port.mapping.enabled`, `gateway.port.mapping.{topology}={port}`): each
   * mapped port gets a listener of its own whose connections go to this same server (same TLS, limits and
   * handler), where a request is served as `/{gateway.path}/{topology}` + its path (see {@link #mapPort}).
   */
  async #listenMapped(host: string): Promise<void> {
    const { enabled, ports } = this.#settings.portMapping;
    if (!enabled || ports.size === 0) return;
    const byPort = new Map<number, string>();
    for (const [topology, port] of ports) {
      const listener = net.createServer((socket) => this.#server.emit('connection', socket));
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(port, host, () => {
          listener.off('error', reject);
          resolve();
        });
      });
      this.#mappedListeners.push(listener);
      byPort.set((listener.address() as AddressInfo).port, topology);
      this.#log.info({ topology, port }, 'topology port mapping listening');
    }
    this.#mappedPorts = byPort;
  }

  /**
   * On a mapped port, the request is the mapped topology's: as Knox's `PortMappingHelperHandler`, a path that does
   * not start with `/{gateway.path}/{topology}` gets it prepended, so `https://host:{port}/webhdfs/v1/?op=X` is
   * `/gateway/{topology}/webhdfs/v1/?op=X` and URLs the gateway writes (with the prefix) still work there. No
   * other topology, and no operational endpoint, is reachable on that port.
   */
  #mapPort(req: IncomingMessage): void {
    if (this.#mappedPorts.size === 0) return;
    const topology = this.#mappedPorts.get(req.socket?.localPort ?? -1);
    if (topology === undefined) return;
    const prefix = `/${this.#settings.path}/${topology}`;
    const url = req.url ?? '/';
    const rest = url.slice(prefix.length);
    if (url.startsWith(prefix) && (rest === '' || rest[0] === '/' || rest[0] === '?')) return;
    req.url = url.startsWith('/') ? `${prefix}${url}` : `${prefix}/${url}`;
  }

  /**
   * Headers on every answer, as Knox's Jetty sends them: `Server` when `gateway.server.header.enabled`, and
   * `Strict-Transport-Security` from `gateway.strict.transport.enabled`/`.option` (over TLS only, RFC 6797 §7.2;
   * a topology's WebAppSec `strict.transport` replaces it on that topology's answers).
   */
  #gatewayHeaders(res: ServerResponse): void {
    const settings = this.#settings;
    if (settings.serverHeaderEnabled) res.setHeader('Server', 'postern');
    if (settings.strictTransport.enabled && this.#scheme === 'https') {
      res.setHeader('Strict-Transport-Security', settings.strictTransport.option);
    }
  }

  /** Requests in flight (upgrades not counted). */
  get inflight(): number {
    return this.#inflight;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Applies the settings a running server can change (SIGHUP): `gateway.frontend.url`,
   * `gateway.websocket.feature.enabled`, `gateway.idle.timeout`. The path, port and TLS stay as they were.
   */
  reconfigure(settings: GatewaySettings): void {
    this.#settings = settings;
    this.#server.setTimeout(settings.idleTimeoutMs);
    this.#h2?.setStreamIdle(settings.idleTimeoutMs);
    this.#connections.apply(settings.limits);
  }

  /**
   * Stops accepting, lets requests in flight finish (within `graceMs`; then their connections are cut), then
   * retires every deployment, which closes its WebSockets with 1001 and its connection pools. Keep-alive
   * connections are closed as soon as they are idle; a request that still arrives on one is served with
   * `connection: close`. Returns how many requests were cut at the end of the grace period.
   */
  async close(graceMs = Number.POSITIVE_INFINITY): Promise<number> {
    this.#draining = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const listener of this.#mappedListeners) listener.close();
    // HTTP/2 sessions get GOAWAY: their streams in flight finish, new ones go to another connection.
    this.#h2?.closeAll();
    this.#closeIdleConnections();
    const idle = setInterval(() => this.#closeIdleConnections(), 50);
    let cut = 0;
    try {
      if (this.#inflight > 0) {
        let timer: NodeJS.Timeout | undefined;
        const drained = new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
        const expired = Number.isFinite(graceMs)
          ? new Promise<void>((resolve) => {
              timer = setTimeout(resolve, graceMs);
            })
          : new Promise<void>(() => {});
        await Promise.race([drained, expired]);
        clearTimeout(timer);
        cut = this.#inflight;
        if (cut > 0) this.#closeAllConnections();
      }
    } finally {
      clearInterval(idle);
      this.#drained = undefined;
    }
    const all = [...this.#deployments.values()];
    this.#deployments = new Map();
    await Promise.allSettled(all.map((d) => d.retire('shutdown')));
    // Upgraded sockets keep the listener open until their WebSockets are closed by the retirement above.
    this.#closeAllConnections();
    await closed;
    return cut;
  }

  /** HTTP/1.1 keep-alive connections with no request in progress (on either kind of server). */
  #closeIdleConnections(): void {
    (this.#server as Server).closeIdleConnections();
  }

  /**
   * Every connection, now. `Http2SecureServer` has no `closeAllConnections`, but tracks its HTTP/1.1 connections
   * the way `http.Server` does (its own `closeIdleConnections` is `http.Server`'s, applied the same way).
   */
  #closeAllConnections(): void {
    http.Server.prototype.closeAllConnections.call(this.#server as Server);
    this.#h2?.destroyAll();
  }

  #requestDone(): void {
    this.#inflight--;
    if (this.#inflight === 0) this.#drained?.();
  }

  /**
   * An upgrade request goes through the same match and chain as any other, with a response object bound to its
   * socket so that a refusal is a plain HTTP answer (never a 101 and then a close).
   */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A named function, not a closure: a listener made in this scope would keep the handshake's request and
    // response alive for as long as the socket lives (days, for a WebSocket).
    socket.on('error', destroyEmitter);
    const res = new ServerResponse(req);
    this.#gatewayHeaders(res);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => socket.destroy());
    const websocket = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    // A service's endpoint outside the gateway path (the CHANNELS backplane): it authenticates on its own.
    const endpoint = websocket ? this.endpoints.get(req.url?.split('?', 1)[0] ?? '') : undefined;
    if (endpoint && (endpoint.enabled?.(this.#settings) ?? true)) {
      let refused: Error | undefined;
      try {
        refused = endpoint.upgrade(
          req,
          { socket, head },
          { settings: this.#settings, detach: () => res.detachSocket(socket as Socket) },
        );
      } catch (err) {
        // A bug, not a refusal.
        refused = toGatewayError(err);
      }
      if (refused) {
        const error = refused instanceof GatewayError ? refused : Errors.forbidden();
        this.#fail(
          req,
          res,
          (socket as Socket).remoteAddress,
          randomUUID(),
          performance.now(),
          error,
          undefined,
        );
      }
      return;
    }
    if (!this.#settings.websocketFeatureEnabled || !websocket) {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      const message = websocket
        ? 'WebSocket support is disabled (gateway.websocket.feature.enabled)'
        : undefined;
      this.#fail(
        req,
        res,
        (socket as Socket).remoteAddress,
        id,
        performance.now(),
        Errors.notFound(message),
        undefined,
      );
      return;
    }
    this.#handle(req, res, { socket, head });
  }

  #handle(req: IncomingMessage, res: ServerResponse, upgrade?: UpgradeRequest): void {
    const started = performance.now();
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    const url = req.url ?? '/';
    // Now: `req.socket` is null once the request has been consumed (undici, as a body).
    const remote = req.socket?.remoteAddress;
    if (this.#draining) res.shouldKeepAlive = false;
    // Node's parser reads any `HTTP/d.d` request line; HTTP/1 connections speak HTTP/1.x only (RFC 9110 §15.6.6).
    // HTTP/2 is a request of an h2 session (gateway/http2), never a request line that says `HTTP/2.0`.
    if (req.httpVersionMajor !== 1 && !isH2Request(req)) {
      res.shouldKeepAlive = false;
      this.#fail(req, res, remote, id, started, Errors.httpVersionNotSupported(), undefined);
      return;
    }
    // HTTP/1's parser answers 431 above the limit itself (clientError); an HTTP/2 session decodes more (gateway/http2).
    if (isH2Request(req) && req.headerBytes > this.#settings.requestHeaderBufferBytes) {
      this.#fail(req, res, remote, id, started, Errors.headerFieldsTooLarge(), undefined);
      return;
    }
    const host = hostOf(req, this.#settings, this.#scheme, this.#port);
    const resolved = resolveRequest(this.#settings, this.#deployments, host.arrival, url);
    if (resolved.outcome === 'not-gateway' && this.operations?.(req, res)) return;
    if (host.refused) {
      this.#fail(req, res, remote, id, started, Errors.badRequest(`Bad request: ${host.refused}`), undefined);
      return;
    }
    const topology = 'topology' in resolved ? resolved.topology : undefined;
    const refusal = topology !== undefined ? this.#clientCertRefusal?.(req.socket, topology) : undefined;
    if (refusal) {
      this.#fail(req, res, remote, id, started, refusal, topology);
      return;
    }
    if (resolved.outcome !== 'route') {
      const error =
        resolved.outcome === 'bad-path'
          ? Errors.badPath(`The request path is not acceptable: ${resolved.reason}`)
          : resolved.outcome === 'no-route'
            ? Errors.notFound()
            : Errors.topologyNotFound();
      this.#fail(req, res, remote, id, started, error, topology);
      return;
    }
    const { deployment, route, path, query, inboundUrl, rewriteContext } = resolved;
    const served = resolved.topology;
    const ex = new GatewayExchange({
      req,
      res,
      id,
      log: this.#log,
      inboundUrl,
      path,
      query,
      rewriteContext,
      upgrade,
      trustedProxies: this.#settings.trustedProxies,
    });
    let running: Promise<void>;
    const trace = traceRequest(ex, served, route.role, route.chain, upgrade !== undefined);
    if (trace) ex.traceId = trace.traceId;
    try {
      if (upgrade) {
        running = route.upgrade(ex);
        this.#accessOnClose(upgrade.socket, req, res, ex, running, id, started, served, route.role);
        if (trace) traceUpgradeEnd(trace, running, res);
      } else {
        deployment.enter();
        this.#inflight++;
        // What this response wrote to the connection (head and body) is the socket's count now and at the end:
        // HTTP/1.1 answers a connection's requests one after another. An HTTP/2 connection interleaves its
        // streams: the response counts its own body bytes (gateway/http2).
        const h2 = isH2Request(req) ? (res as unknown as H2Response) : undefined;
        const socket = h2 ? undefined : req.socket;
        const writtenBefore = socket ? socket.bytesWritten : 0;
        res.once('close', () => {
          ex.onClientClose?.();
          deployment.leave();
          this.#requestDone();
          if (trace) endRequestTrace(trace, res.statusCode, !res.writableFinished);
          this.#access(
            req,
            res,
            ex.clientAddress,
            id,
            started,
            served,
            route.role,
            ex.user?.name,
            ex.traceId,
            h2 ? h2.bytesOut : socket ? socket.bytesWritten - writtenBefore : 0,
          );
        });
        running = route.run(ex);
      }
    } catch (err) {
      // A provider that throws instead of rejecting must not take the process down.
      running = Promise.reject(err);
    }
    running.catch((err: unknown) => {
      const error = toGatewayError(err);
      if (error.status >= 500) {
        // `error`, not `err`: pino's error serializer would add an empty stack to this plain description.
        ex.log.error({ error: describe(err), code: error.code, served, role: route.role }, error.message);
      }
      sendError(res, id, error, route.errorShape);
    });
  }

  /**
   * The access line of an upgrade, written when its socket closes (a WebSocket can live for days). Only what the
   * line needs is kept meanwhile — not the request, response or exchange of the handshake.
   */
  #accessOnClose(
    socket: Duplex,
    req: IncomingMessage,
    res: ServerResponse,
    ex: GatewayExchange,
    running: Promise<void>,
    id: string,
    started: number,
    topology: string,
    role: string,
  ): void {
    const line: AccessLine = {
      method: req.method,
      protocol: req.httpVersion,
      url: req.url ?? '',
      remote: ex.clientAddress,
      status: 0,
      finished: false,
      user: undefined,
      traceId: ex.traceId,
      upgrade: true,
    };
    const decided = () => {
      line.status = res.statusCode;
      line.finished = res.statusCode === 101 || res.writableFinished;
      line.user = ex.user?.name;
    };
    running.then(decided, () => setImmediate(decided));
    this.#accessWhenClosed(socket, line, id, started, topology, role);
  }

  /** A function of its own: the listener's closure must not share a scope that holds the request's objects. */
  #accessWhenClosed(
    socket: Duplex,
    line: AccessLine,
    id: string,
    started: number,
    topology: string,
    role: string,
  ): void {
    socket.once('close', () => this.#accessLine(line, id, started, topology, role));
  }

  #fail(
    req: IncomingMessage,
    res: ServerResponse,
    remote: string | undefined,
    id: string,
    started: number,
    error: GatewayError,
    topology: string | undefined,
  ): void {
    res.once('close', () =>
      this.#access(req, res, remote, id, started, topology, undefined, undefined, undefined),
    );
    // The client's body is not wanted; drain it so keep-alive stays usable.
    req.resume();
    sendError(res, id, error);
  }

  #access(
    req: IncomingMessage,
    res: ServerResponse,
    remote: string | undefined,
    id: string,
    started: number,
    topology: string | undefined,
    role: string | undefined,
    user: string | undefined,
    traceId: string | undefined,
    bytesOut = 0,
  ): void {
    this.#accessLine(
      {
        method: req.method,
        protocol: req.httpVersion,
        url: req.url ?? '',
        remote,
        status: res.statusCode,
        finished: res.writableFinished,
        user,
        traceId,
        upgrade: false,
        bytesIn: declaredLength(req.headers['content-length']),
        bytesOut,
      },
      id,
      started,
      topology,
      role,
    );
  }

  #accessLine(
    line: AccessLine,
    id: string,
    started: number,
    topology: string | undefined,
    role: string | undefined,
  ): void {
    const { url } = line;
    const q = url.indexOf('?');
    const ms = performance.now() - started;
    if (requestEvents.hasSubscribers) {
      requestEvents.publish({
        // Only a deployed topology's name: an unknown one comes from the URL and is no label value to keep.
        topology: role !== undefined || (topology && this.#deployments.has(topology)) ? topology : undefined,
        service: role,
        method: line.method,
        status: line.status,
        ms,
        aborted: !line.finished,
        upgrade: line.upgrade,
        bytesIn: line.bytesIn ?? 0,
        bytesOut: line.bytesOut ?? 0,
      } satisfies RequestEvent);
    }
    const access = this.#accessLines;
    if (!access.enabled()) return;
    // The query is left out: it can carry delegation tokens and encrypted gateway state.
    access.info(
      ',"type":"access"' +
        stringField(',"reqId":', id) +
        stringField(',"traceId":', line.traceId) +
        stringField(',"method":', line.method) +
        (PROTOCOL_FIELD[line.protocol] ?? stringField(',"protocol":', `HTTP/${line.protocol}`)) +
        stringField(',"path":', q < 0 ? url : url.slice(0, q)) +
        stringField(',"topology":', topology) +
        stringField(',"role":', role) +
        stringField(',"user":', line.user) +
        field(',"status":', line.status) +
        field(',"aborted":', !line.finished) +
        field(',"ms":', Math.round(ms * 100) / 100) +
        stringField(',"remote":', line.remote),
      'access',
    );
  }
}

/** What an access line says about a request. */
interface AccessLine {
  method: string | undefined;
  /** `1.1`, `1.0`, `2.0`. */
  protocol: string;
  url: string;
  remote: string | undefined;
  status: number;
  finished: boolean;
  user: string | undefined;
  traceId: string | undefined;
  upgrade: boolean;
  /** The request body's declared length (Content-Length), 0 when unknown. */
  bytesIn?: number;
  /** Bytes of the response written to the connection (head and body). */
  bytesOut?: number;
}

/** A Content-Length header's value as a number of bytes, 0 when absent or not a length. */
function declaredLength(value: string | string[] | undefined): number {
  if (value === undefined) return 0;
  const n = Number(Array.isArray(value) ? value[0] : value);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** Ends an upgrade's trace once its handshake is decided (a refusal's answer is written just after). */
function traceUpgradeEnd(trace: RequestTrace, running: Promise<void>, res: ServerResponse): void {
  running.then(
    () => endRequestTrace(trace, res.statusCode, false),
    () => setImmediate(() => endRequestTrace(trace, res.statusCode, !res.writableFinished)),
  );
}

/** An `error` listener that destroys the stream it is attached to. */
function destroyEmitter(this: Duplex): void {
  this.destroy();
}

/** Error details for the log: code and message, and the cause chain, without request data. */
function describe(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const e = err as Error & { code?: string };
  return { name: e.name, code: e.code, message: e.message, cause: e.cause ? describe(e.cause) : undefined };
}
