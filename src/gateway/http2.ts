/**
 * @module gateway/http2
 * HTTP/2 to clients on the TLS listener (`gateway.http2.enabled`, on by default with TLS): one
 * `http2.createSecureServer({ allowHTTP1: true })` whose ALPN offers `h2` and `http/1.1`. A connection that
 * negotiates `h2` is an HTTP/2 session; one that negotiates `http/1.1` (or no ALPN at all) goes to Node's own
 * HTTP/1.1 connection handling, exactly as on `https.createServer` — the same parser, timeouts, `upgrade` event
 * (WebSockets stay on HTTP/1.1) and `clientError`, because {@link applyHttp1Options} gives the HTTP/2 server the
 * HTTP/1 options an `https.Server` would have (Node 22's HTTP/2 server leaves most of them unset: no Host check,
 * 16 KiB headers, 5 s keep-alive; Node 24 takes them as `http1Options`, to the same effect).
 *
 * Requests and responses use Node's compatibility API, so the gateway sees one request shape for both protocols.
 * Two subclasses make an HTTP/2 exchange look like the HTTP/1.1 exchange it stands for:
 * - {@link H2Request}: `rawHeaders` without pseudo-headers, `Host` taken from `:authority` (RFC 9113 §8.3.1; a
 *   request whose Host and `:authority` disagree is flagged and gets 400, see gateway/host), and a body framed
 *   by DATA frames without Content-Length reads as `Transfer-Encoding: chunked` in `headers` (never in
 *   `rawHeaders`, never forwarded): it is what the backend gets over HTTP/1.1.
 * - {@link H2Response}: connection-specific headers (`connection`, `keep-alive`, `transfer-encoding`, `upgrade`,
 *   `proxy-connection`, `http2-settings`; RFC 9113 §8.2.2) are dropped instead of throwing, the reason phrase is
 *   dropped (HTTP/2 has none), `destroyed` is the stream's, and the body bytes written are counted for the
 *   access line (HPACK-compressed header bytes are not known per stream).
 *
 * Limits (Jetty's `HTTP2ServerConnectionFactory` names in brackets; Knox itself has no HTTP/2):
 * - `SETTINGS_MAX_CONCURRENT_STREAMS` {@link MAX_CONCURRENT_STREAMS} [`maxConcurrentStreams`, 128];
 * - `gateway.httpserver.requestHeaderBuffer` [HttpConfiguration's `requestHeaderSize`, the same setting Knox
 *   maps]: a request above it is answered 431 on its stream (gateway/server, {@link H2Request.headerBytes}), as
 *   HTTP/1.1 answers it; `SETTINGS_MAX_HEADER_LIST_SIZE` is {@link sessionHeaderListSize} (larger, so that such
 *   a block is decoded), and a block beyond it, or with more than 2000 fields, resets its stream only;
 * - rapid reset (CVE-2023-44487): {@link STREAM_RESET_BURST} and {@link STREAM_RESET_RATE};
 * - no push, and no RFC 8441 extended CONNECT (`SETTINGS_ENABLE_CONNECT_PROTOCOL` 0): browsers open their
 *   WebSockets over HTTP/1.1, where the gateway's upgrade path serves them;
 * - a session with no open stream is closed (GOAWAY) after the HTTP/1 `headersTimeout` before its first request
 *   and the keep-alive timeout between requests ({@link H2Sessions}): a client that sends SETTINGS, PINGs or a
 *   header block one byte at a time never completes a request and is cut as an HTTP/1 slowloris is;
 * - `gateway.idle.timeout` is the session's idle timeout and each stream's [connector `idleTimeout`,
 *   `streamIdleTimeout`];
 * - Node's `maxSessionMemory`, `maxSessionRejectedStreams` and `maxSessionInvalidFrames` defaults stand, and
 *   nghttp2's own: at most 1000 queued PING/SETTINGS ACKs (a flood ends the session), a stream beyond
 *   `maxConcurrentStreams` once acknowledged is a connection error (test/gateway/http2-limits.test.ts).
 *
 * Response trailers reach an HTTP/2 client (dispatch/proxy-handler, dispatch/headers' filterTrailers); request
 * trailers are dropped (docs/http2.md).
 */
import http from 'node:http';
import http2, {
  constants,
  type Http2SecureServer,
  type Http2Session,
  type Http2Stream,
  type SecureServerOptions,
  type ServerHttp2Stream,
} from 'node:http2';

/** Concurrent streams a client may open on one connection (nginx's and Jetty's default). */
export const MAX_CONCURRENT_STREAMS = 128;

/**
 * Streams a client may reset in a burst, and per second after it (nghttp2's token bucket, Node's
 * `streamResetBurst`/`streamResetRate`, its defaults made explicit): beyond it the session is ended with GOAWAY.
 * The rapid reset attack (CVE-2023-44487) opens and cancels streams faster than any client has reason to.
 */
export const STREAM_RESET_BURST = 1000;
export const STREAM_RESET_RATE = 33;

/**
 * `SETTINGS_MAX_HEADER_LIST_SIZE` for a gateway header limit: what a session decodes (RFC 9113's measure, 32
 * octets more per field and the pseudo-headers counted). It is larger than the limit, so that a header block
 * above the limit but below this is decoded and answered 431 on its stream, as HTTP/1.1 answers it; a block
 * beyond this resets its stream (`ENHANCE_YOUR_CALM`), the session goes on. At least Node's own default (64 KiB).
 */
export function sessionHeaderListSize(limit: number): number {
  return Math.min(Math.max(2 * limit, 65536), 0xffffffff);
}

/** What {@link applyHttp1Options} takes: the options `https.createServer` would be given. */
export interface Http1Options {
  maxHeaderSize: number;
  requestTimeout: number;
  headersTimeout: number;
  keepAliveTimeout: number;
}

/** The HTTP/1 server options Node stores on an `http.Server` (storeHTTPOptions) and reads per connection. */
const HTTP1_FIELDS = [
  'maxHeaderSize',
  'insecureHTTPParser',
  'requestTimeout',
  'headersTimeout',
  'keepAliveTimeout',
  'connectionsCheckingInterval',
  'requireHostHeader',
  'joinDuplicateHeaders',
  'rejectNonStandardBodyWrites',
  'httpAllowHalfOpen',
  'maxHeadersCount',
  'maxRequestsPerSocket',
] as const;

/**
 * Gives the HTTP/2 server's HTTP/1.1 connections the options an `https.Server` made with `options` has: Node's
 * HTTP/1 connection code reads them from the server object, and `Http2SecureServer` sets only a few.
 */
function applyHttp1Options(server: Http2SecureServer, options: Http1Options): void {
  // Never listens: it only computes Node's values (defaults included) for these options.
  const reference = new http.Server(options) as unknown as Record<string, unknown>;
  const target = server as unknown as Record<string, unknown>;
  for (const field of HTTP1_FIELDS) target[field] = reference[field];
}

/** Response headers HTTP/2 forbids (RFC 9113 §8.2.2); Node throws on all of them but `connection`. */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

type HeaderValue = string | number | readonly string[];

function allowed(name: string, value: unknown): boolean {
  const n = name.toLowerCase();
  if (CONNECTION_SPECIFIC.has(n)) return false;
  return n !== 'te' || value === 'trailers';
}

/** The request of an HTTP/2 stream, shaped as the HTTP/1.1 request it stands for (see the module comment). */
export class H2Request extends http2.Http2ServerRequest {
  /** Host and `:authority` disagree: the request is answered 400 (gateway/host). */
  readonly authorityConflict: boolean;
  /** `rawHeaders` (an accessor on the prototype, below): without pseudo-headers. */
  readonly h1RawHeaders: string[];
  /**
   * The header block measured as Node's HTTP/1 parser measures it against `maxHeaderSize`: the request target and
   * every field's name and value (with `host` for `:authority`), so that a request is too large (431) on both
   * protocols alike. RFC 9113's measure (32 more per field, pseudo-headers included) bounds the session instead.
   */
  readonly headerBytes: number;

  constructor(
    stream: ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    options: unknown,
    rawHeaders: string[],
  ) {
    // @ts-expect-error Node passes (stream, headers, options, rawHeaders); the typings name only three.
    super(stream, headers, options, rawHeaders);
    const raw: string[] = [];
    let host: string | undefined;
    let hosts = 0;
    const path = headers[':path'];
    let bytes = typeof path === 'string' ? path.length : 0;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i];
      if (name[0] === ':') continue;
      bytes += name.length + rawHeaders[i + 1].length;
      if (name === 'host') {
        hosts++;
        host = rawHeaders[i + 1];
      }
      raw.push(name, rawHeaders[i + 1]);
    }
    const authority = headers[':authority'];
    this.authorityConflict = typeof authority === 'string' && hosts > 0 && (hosts > 1 || host !== authority);
    if (typeof authority === 'string' && hosts === 0) {
      raw.push('host', authority);
      headers.host = authority;
      bytes += 4 + authority.length;
    }
    this.headerBytes = bytes;
    // A body without a declared length: HTTP/1.1 would have framed it as chunked.
    if (!stream.endAfterHeaders && headers['content-length'] === undefined) {
      headers['transfer-encoding'] = 'chunked';
    }
    this.h1RawHeaders = raw;
  }
}
// Node's `rawHeaders` is an accessor; the typings call it a field, which a subclass may not redefine as one.
Object.defineProperty(H2Request.prototype, 'rawHeaders', {
  get(this: H2Request) {
    return this.h1RawHeaders;
  },
});

/** The response of an HTTP/2 stream: HTTP/1-only headers dropped, body bytes counted (module comment). */
export class H2Response extends http2.Http2ServerResponse {
  /** Body bytes handed to the stream. */
  bytesOut = 0;

  override setHeader(name: string, value: HeaderValue): this {
    if (allowed(name, value)) super.setHeader(name, value);
    return this;
  }

  override appendHeader(name: string, value: string | string[]): this {
    if (allowed(name, value)) super.appendHeader(name, value);
    return this;
  }

  // @ts-expect-error One implementation for writeHead's overloads, as Node's own.
  override writeHead(
    statusCode: number,
    message?: string | http.OutgoingHttpHeaders | http.OutgoingHttpHeader[],
    headers?: http.OutgoingHttpHeaders | http.OutgoingHttpHeader[],
  ): this {
    const given = typeof message === 'object' ? message : headers;
    if (given === undefined) return super.writeHead(statusCode);
    if (Array.isArray(given)) {
      const kept: [string, http.OutgoingHttpHeader][] = [];
      if (given.length > 0 && Array.isArray(given[0])) {
        for (const [n, v] of given as unknown as [string, http.OutgoingHttpHeader][])
          if (allowed(n, v)) kept.push([n, v]);
      } else {
        for (let i = 0; i < given.length; i += 2) {
          const n = String(given[i]);
          if (allowed(n, given[i + 1])) kept.push([n, given[i + 1] as http.OutgoingHttpHeader]);
        }
      }
      return super.writeHead(statusCode, kept as unknown as http.OutgoingHttpHeaders);
    }
    const kept: http.OutgoingHttpHeaders = {};
    for (const name of Object.keys(given)) {
      const value = (given as http.OutgoingHttpHeaders)[name];
      if (value !== undefined && allowed(name, value)) kept[name] = value;
    }
    return super.writeHead(statusCode, kept);
  }

  override write(chunk: string | Uint8Array, encoding?: unknown, cb?: unknown): boolean {
    this.bytesOut += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    // @ts-expect-error Passed on as given.
    return super.write(chunk, encoding, cb);
  }
}
// Node's compatibility response has no `destroyed`; the gateway asks it of every response (the stream's).
Object.defineProperty(H2Response.prototype, 'destroyed', {
  get(this: H2Response) {
    return this.stream.destroyed;
  },
});

/** Whether a request came over HTTP/2 (not an HTTP/1 request line that says `HTTP/2.0`). */
export function isH2Request(req: unknown): req is H2Request {
  return req instanceof H2Request;
}

/** The HTTP/2 server's options: TLS, ALPN with HTTP/1.1 fallback, and the limits of the module comment. */
export function createH2Server(
  tls: SecureServerOptions,
  http1: Http1Options,
  handler: (req: H2Request | http.IncomingMessage, res: H2Response | http.ServerResponse) => void,
): Http2SecureServer {
  const server = http2.createSecureServer(
    {
      ...tls,
      allowHTTP1: true,
      noDelay: true,
      settings: {
        maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
        maxHeaderListSize: sessionHeaderListSize(http1.maxHeaderSize),
        enablePush: false,
        // RFC 8441 (WebSockets over HTTP/2) is not offered: browsers open their WebSockets over HTTP/1.1.
        enableConnectProtocol: false,
      },
      streamResetBurst: STREAM_RESET_BURST,
      streamResetRate: STREAM_RESET_RATE,
      // Header fields per request as HTTP/1's parser allows (Node's HTTP/2 default is 128, which a browser's
      // cookie crumbs can reach); their total size is bounded by maxHeaderListSize.
      maxHeaderListPairs: 2000,
      Http2ServerRequest: H2Request as unknown as typeof http2.Http2ServerRequest,
      Http2ServerResponse: H2Response as unknown as typeof http2.Http2ServerResponse,
    },
    handler as never,
  );
  applyHttp1Options(server, http1);
  return server;
}

/**
 * The open HTTP/2 sessions of a server: closed when they hold no stream for too long (module comment), sent
 * GOAWAY at shutdown, cut at the end of the grace period.
 */
export class H2Sessions {
  readonly #open = new Set<Http2Session>();
  #firstMs: number;
  #betweenMs: number;
  #streamIdleMs: number;
  #closing = false;

  constructor(server: Http2SecureServer, limits: { headersMs: number; keepAliveMs: number; idleMs: number }) {
    this.#firstMs = limits.headersMs;
    this.#betweenMs = limits.keepAliveMs;
    this.#streamIdleMs = limits.idleMs;
    server.on('session', (session: Http2Session) => this.#track(session));
    // A session error (a protocol violation, a reset) ends that session; it is no process error.
    server.on('sessionError', () => {});
  }

  /** Applies a changed idle timeout (SIGHUP) to streams opened from now on. */
  setStreamIdle(ms: number): void {
    this.#streamIdleMs = ms;
  }

  get size(): number {
    return this.#open.size;
  }

  /**
   * GOAWAY to every session: streams in flight finish, no new ones are accepted, then each session closes (Node 24's
   * `server.close()` does it too; Node 22's does not, and neither covers a session that arrives after it).
   */
  closeAll(): void {
    this.#closing = true;
    for (const s of this.#open) if (!s.closed) s.close();
  }

  /** Cuts every session now. */
  destroyAll(): void {
    for (const s of this.#open) s.destroy();
  }

  #track(session: Http2Session): void {
    this.#open.add(session);
    if (this.#closing) session.close();
    let streams = 0;
    let timer: NodeJS.Timeout | undefined = setTimeout(closeIdle, this.#firstMs, session);
    timer.unref();
    session.on('stream', (stream: Http2Stream) => {
      streams++;
      clearTimeout(timer);
      timer = undefined;
      if (this.#streamIdleMs > 0) stream.setTimeout(this.#streamIdleMs, cancelStream);
      stream.once('close', () => {
        streams--;
        if (streams === 0 && !session.closed && !session.destroyed) {
          timer = setTimeout(closeIdle, this.#betweenMs, session);
          timer.unref();
        }
      });
    });
    session.once('close', () => {
      clearTimeout(timer);
      this.#open.delete(session);
    });
  }
}

function closeIdle(session: Http2Session): void {
  if (!session.closed && !session.destroyed) session.close();
}

/** A stream idle for `gateway.idle.timeout`: reset it (the session and its other streams go on). */
function cancelStream(this: Http2Stream): void {
  this.close(constants.NGHTTP2_CANCEL);
}
