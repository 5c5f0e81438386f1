/**
 * @module spi/exchange
 * One request as it travels through a route's chain: what providers read and what they leave for the dispatch.
 * Part of the plugin contract (src/spi): it imports nothing of the runtime.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { RewriteContext } from '../rewrite/types.ts';

export interface Principal {
  name: string;
  groups: readonly string[];
}

/**
 * How the user was authenticated: `basic` (Authorization: Basic, checked against a realm), `session` (the
 * session cookie a ShiroProvider issued), `jwt` (a bearer token, Basic `Token:` or a token query parameter),
 * `cookie` (an SSO JWT cookie), `header` (trusted pre-authenticated header), `client-cert`, `anonymous`. Channels
 * need it (the `xrftoken` check applies only to cookie-authenticated connections).
 */
export type AuthMethod =
  | 'basic'
  | 'session'
  | 'jwt'
  | 'cookie'
  | 'header'
  | 'client-cert'
  | 'anonymous'
  | 'kerberos';

/** The raw connection of a WebSocket upgrade request, given to the route's upgrade handler. */
export interface UpgradeRequest {
  readonly socket: Duplex;
  /** Bytes the client sent after the handshake's headers. */
  readonly head: Buffer;
}

/** One request as it travels through a route's chain. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly id: string;
  readonly log: Logger;
  /**
   * The client's address, taken when the request started: the connection's peer, or, when the peer is one of
   * `postern.trusted.proxies`, the client it forwarded for (X-Forwarded-For read from the right:
   * gateway/client-address.ts). Every policy on addresses decides on this. `req.socket` is null once something
   * (undici, as a request body) has consumed the request, so read this, never `req.socket`.
   */
  readonly clientAddress: string | undefined;
  /** The connection's peer (a load balancer's address behind one): what X-Forwarded-For gets appended. */
  readonly peerAddress: string | undefined;
  /** The request URL as the client sent it, made absolute with the gateway's public scheme and host. */
  readonly inboundUrl: string;
  /** Path below the topology, starting with `/` (decoded form is never used for routing). */
  readonly path: string;
  /** Raw query string without `?` ('' when absent). */
  readonly query: string;
  /** What rewrite functions need about this request. */
  readonly rewriteContext: RewriteContext;
  /**
   * Set when the request is a WebSocket upgrade: the client's socket and the bytes after its headers. A refusal is
   * still written to {@link res} (a plain HTTP answer on the socket, never a 101 and then a close).
   */
  readonly upgrade?: UpgradeRequest;
  /** The backend URL, set by the rewrite provider (inbound `request.url`). */
  target?: string;
  /** Edits applied to the target URL just before dispatch, in order (identity assertion adds `user.name`). */
  targetEdits?: ((url: string) => string)[];
  /** Set by the dispatch while a backend exchange runs; the server calls it when the client goes away. */
  onClientClose?: () => void;
  /** The request's trace id when tracing is on (for log lines; set by the server before the chain runs). */
  traceId?: string;
  /** The authenticated user (authentication or federation providers set it). */
  user?: Principal;
  /** How {@link user} was authenticated (set with it). */
  authMethod?: AuthMethod;
  /**
   * When the credential that authenticated the user stops being valid (ms since the epoch): a JWT's `exp`. A
   * proxied WebSocket is closed with 1008 at that moment. (A session's idle timeout is not such an end.)
   */
  credentialExpiresAt?: number;
  /**
   * Set by an authentication provider that authenticated the request with a session, or opened one for it: ends
   * that session now (a sign-out: its cookie is refused from then on) and returns the `Set-Cookie` value that
   * clears the cookie.
   */
  endSession?: () => string;
  /** The identity asserted to the backend (identity-assertion providers set it). */
  effectiveUser?: string;
  /**
   * Set with {@link effectiveUser} when proxy-user impersonation (`doAs`) made it another user: the authenticated
   * user acting for it (Knox's primary principal; KNOXTOKEN records it as the token's `createdBy`).
   */
  impersonatedBy?: string;
  /**
   * The groups used for authorization: the user's groups plus those identity assertion maps or looks up
   * (`group.principal.mapping`, HadoopGroupProvider). Unset means {@link user}'s groups.
   */
  effectiveGroups?: readonly string[];
  /** Request headers to add to the backend request. */
  addRequestHeaders?: [string, string][];
  /** Response header rewriters (rewrite provider's `response.headers` bindings); each returns the new map. */
  responseHeaderFilters?: HeaderFilter[];
  /** Request header rewriters (rewrite provider's `request.headers` bindings); each returns the new map. */
  requestHeaderFilters?: HeaderFilter[];
  /** The response body's rewrite (rewrite provider: `response.body`, and Knox's filters by content type). */
  responseBody?: BodyRewrite;
  /** The request body's rewrite (rewrite provider: `request.body` bindings). */
  requestBody?: BodyRewrite;
}

/** A body's rewrite pipeline: write the original into `input`, read the rewritten body from `output`. */
export interface BodyStreams {
  readonly input: Writable;
  readonly output: Readable;
  /** Called once if decoding or encoding fails (a body that is not what its Content-Encoding says). */
  onError(listener: (err: Error) => void): void;
  /** Tears the pipeline down (the client or the backend went away). */
  destroy(): void;
  /**
   * The output is the input byte for byte (the pipeline only looks at the body: the leak guard's `report` mode),
   * so the backend's Content-Length and validators stay and the headers need not wait for the body.
   */
  readonly unchanged?: boolean;
}

/**
 * Rewrites a body as it streams. `open` is given the body's headers (Content-Type, Content-Encoding) and returns
 * the streams to pass it through, or `undefined` when it goes unchanged.
 */
export interface BodyRewrite {
  open(headers: HeaderMap): BodyStreams | undefined;
}

export type HeaderMap = Record<string, string | string[] | undefined>;
/** Edits a header map; response header filters are also given the response's status (NiFi edits only a 302's). */
export type HeaderFilter = (headers: HeaderMap, status?: number) => HeaderMap;

/** Appends to one of the exchange's optional lists, creating it on first use. */
export function addTo<
  K extends 'targetEdits' | 'requestHeaderFilters' | 'responseHeaderFilters' | 'addRequestHeaders',
>(ex: Exchange, key: K, item: NonNullable<Exchange[K]>[number]): void {
  const list = ex[key] as unknown[] | undefined;
  if (list) list.push(item);
  else (ex as unknown as Record<string, unknown[]>)[key] = [item];
}
