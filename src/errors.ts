/**
 * @module errors
 * The one catalog of what a client can be told went wrong: the HTTP errors (each a stable code, a status and a
 * default message) and the WebSocket close codes. The gateway turns a {@link GatewayError} into a response in one
 * place and one shape (src/gateway/respond.ts); a WebSocket is closed with a {@link CloseCodes} name, never a bare
 * number. Messages never carry a backend address or a secret. A module that needs a new error adds it here, so
 * the codes a client can meet are all listed in this file (test/errors/catalog.test.ts checks nothing else makes
 * one).
 */

export class GatewayError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra response headers (e.g. `WWW-Authenticate` for a 401). */
  readonly headers?: Record<string, string>;
  /**
   * Fields written beside `error` in the body (the admin API's `diagnostics` of a topology that does not deploy).
   * Never `error` itself; never anything secret.
   */
  readonly details?: Readonly<Record<string, unknown>>;
  constructor(
    code: string,
    status: number,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string>; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = status;
    this.headers = options?.headers;
    this.details = options?.details;
  }
}

/** One entry of the catalog: its code, its HTTP status and the message used when the caller gives none. */
export interface CatalogEntry {
  readonly code: string;
  readonly status: number;
  readonly message: string;
}

/** Every HTTP error a client can get from the gateway, by name. */
export const Catalog = {
  notFound: {
    code: 'POSTERN_ERR_NOT_FOUND',
    status: 404,
    message: 'No service of this topology matches the request URL',
  },
  topologyNotFound: {
    code: 'POSTERN_ERR_TOPOLOGY_NOT_FOUND',
    status: 404,
    message: 'No topology of that name is deployed',
  },
  badRequest: { code: 'POSTERN_ERR_BAD_REQUEST', status: 400, message: 'Bad request' },
  badPath: { code: 'POSTERN_ERR_BAD_PATH', status: 400, message: 'The request path is not acceptable' },
  rewriteDecrypt: {
    code: 'POSTERN_ERR_REWRITE_DECRYPT',
    status: 400,
    message: 'The request carries an encrypted parameter that is not valid',
  },
  invalidTopology: {
    code: 'POSTERN_ERR_INVALID_TOPOLOGY',
    status: 400,
    message: 'The topology does not deploy',
  },
  unauthenticated: { code: 'POSTERN_ERR_UNAUTHENTICATED', status: 401, message: 'Authentication required' },
  forbidden: { code: 'POSTERN_ERR_FORBIDDEN', status: 403, message: 'Forbidden' },
  clientCertRequired: {
    code: 'POSTERN_ERR_CLIENT_CERT_REQUIRED',
    status: 403,
    message: 'A client certificate the gateway trusts is required for this topology',
  },
  methodNotAllowed: { code: 'POSTERN_ERR_METHOD_NOT_ALLOWED', status: 405, message: 'Method not allowed' },
  /** The Accept header names no media type the URL can answer with (Knox's Jersey resources answer 406). */
  notAcceptable: {
    code: 'POSTERN_ERR_NOT_ACCEPTABLE',
    status: 406,
    message: 'None of the media types the request accepts can be produced here',
  },
  conflict: {
    code: 'POSTERN_ERR_CONFLICT',
    status: 409,
    message: 'The request conflicts with the state of the gateway',
  },
  payloadTooLarge: {
    code: 'POSTERN_ERR_PAYLOAD_TOO_LARGE',
    status: 413,
    message: 'The request body is too large',
  },
  unsupportedMediaType: {
    code: 'POSTERN_ERR_UNSUPPORTED_MEDIA_TYPE',
    status: 415,
    message: 'The request body is not of a type this URL accepts',
  },
  /** A request body that stalled or trickled below the minimum rate (postern.request.body.*). */
  requestTimeout: {
    code: 'POSTERN_ERR_REQUEST_TIMEOUT',
    status: 408,
    message: 'The request body did not arrive in time',
  },
  rangeNotSatisfiable: {
    code: 'POSTERN_ERR_RANGE_NOT_SATISFIABLE',
    status: 416,
    message: 'The requested range is not within the file',
  },
  /** HTTP/2's counterpart of HTTP/1's 431 (gateway.httpserver.requestHeaderBuffer; gateway/http2). */
  headerFieldsTooLarge: {
    code: 'POSTERN_ERR_HEADER_FIELDS_TOO_LARGE',
    status: 431,
    message: 'The request header fields are too large',
  },
  tooManyRequests: {
    code: 'POSTERN_ERR_TOO_MANY_REQUESTS',
    status: 429,
    message: 'Too many requests; retry later',
  },
  internal: { code: 'POSTERN_ERR_INTERNAL', status: 500, message: 'Internal gateway error' },
  upstreamUnavailable: {
    code: 'POSTERN_ERR_UPSTREAM_UNAVAILABLE',
    status: 502,
    message: 'The backend service is unavailable',
  },
  /** The backend answered a WebSocket handshake with something else than 101: its status (≥ 400) or 502. */
  upstreamRefusedUpgrade: {
    code: 'POSTERN_ERR_UPSTREAM_REFUSED_UPGRADE',
    status: 502,
    message: 'The backend refused the WebSocket handshake',
  },
  /**
   * A Kerberos-secured backend refused the gateway's fresh SPNEGO token (clock skew, a wrong service principal, a
   * keytab the backend does not share): the log says which; the gateway never retries it.
   */
  upstreamAuthRefused: {
    code: 'POSTERN_ERR_UPSTREAM_AUTH',
    status: 502,
    message: "The backend refused the gateway's Kerberos authentication",
  },
  /** The gateway could not obtain a Kerberos ticket for a secured backend (its KDC does not answer). */
  kerberosUnavailable: {
    code: 'POSTERN_ERR_KERBEROS_UNAVAILABLE',
    status: 503,
    message: 'The gateway could not obtain Kerberos credentials for the backend; retry shortly',
  },
  unavailable: {
    code: 'POSTERN_ERR_UNAVAILABLE',
    status: 503,
    message: 'The topology is being deployed; retry shortly',
  },
  /**
   * One service of a topology did not deploy (the topology serves its others): what went wrong, by kind. The
   * gateway log, the admin API and `postern check` give the diagnostics; the client gets the code and the role.
   */
  serviceNotDeployed: {
    code: 'POSTERN_ERR_SERVICE_NOT_DEPLOYED',
    status: 503,
    message: 'This service of the topology did not deploy',
  },
  serviceNoDefinition: {
    code: 'POSTERN_ERR_SERVICE_NO_DEFINITION',
    status: 503,
    message: 'This service did not deploy: the gateway has no service definition for it',
  },
  serviceDispatchUnavailable: {
    code: 'POSTERN_ERR_SERVICE_DISPATCH',
    status: 503,
    message: 'This service did not deploy: its dispatch is not available',
  },
  serviceBadUrl: {
    code: 'POSTERN_ERR_SERVICE_URL',
    status: 503,
    message: 'This service did not deploy: its backend URL is not usable',
  },
  serviceApplication: {
    code: 'POSTERN_ERR_SERVICE_APPLICATION',
    status: 503,
    message: 'This application of the topology did not deploy: its files are missing or unusable',
  },
  serviceBadRoute: {
    code: 'POSTERN_ERR_SERVICE_ROUTE',
    status: 503,
    message: 'This service did not deploy: one of its routes is not usable',
  },
  upstreamTimeout: {
    code: 'POSTERN_ERR_UPSTREAM_TIMEOUT',
    status: 504,
    message: 'The backend service did not answer in time',
  },
  /** A Knox API postern does not provide yet (the request names it; the message says what instead). */
  notImplemented: {
    code: 'POSTERN_ERR_NOT_IMPLEMENTED',
    status: 501,
    message: 'This API is not implemented by postern',
  },
  /** A request line of another HTTP version than 1.0 or 1.1 (`HTTP/2.0` on the HTTP/1 listener). */
  httpVersionNotSupported: {
    code: 'POSTERN_ERR_HTTP_VERSION',
    status: 505,
    message: 'Only HTTP/1.0 and HTTP/1.1 are served here',
  },
  noRewrite: {
    code: 'POSTERN_ERR_NO_REWRITE',
    status: 404,
    message: 'No rewrite rule maps this URL to a backend',
  },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorName = keyof typeof Catalog;

export interface ErrorOptions {
  cause?: unknown;
  headers?: Record<string, string>;
  details?: Record<string, unknown>;
  /** Another status than the entry's (only {@link Catalog.upstreamRefusedUpgrade} relays the backend's). */
  status?: number;
}

type Maker = (message?: string, options?: ErrorOptions) => GatewayError;

const make =
  (entry: CatalogEntry): Maker =>
  (message = entry.message, options) =>
    new GatewayError(entry.code, options?.status ?? entry.status, message, options);

/** `Errors.notFound('...')`: a {@link GatewayError} of the catalog, with the given message or the default. */
export const Errors = Object.fromEntries(
  Object.entries(Catalog).map(([name, entry]) => [name, make(entry)]),
) as { readonly [K in ErrorName]: Maker };

const byCode = new Map<string, CatalogEntry>(Object.values(Catalog).map((e) => [e.code, e]));

/**
 * The error of the catalog entry with this code (a failed service's diagnostic carries one), with the entry's
 * message; {@link Catalog.internal} for a code the catalog does not list.
 */
export function errorOfCode(code: string | undefined, options?: ErrorOptions): GatewayError {
  return make((code !== undefined && byCode.get(code)) || Catalog.internal)(undefined, options);
}

/**
 * The WebSocket close codes postern sends (RFC 6455 §7.4.1, and 4008 in the private range as AWX's channels use
 * it). Close a socket with one of these names, never a bare number.
 */
export const CloseCodes = {
  /** 1000: the purpose of the connection is fulfilled (a backplane link to itself). */
  normal: 1000,
  /** 1001: the gateway (or the topology, or the peer node) is going away, or the connection was idle too long. */
  goingAway: 1001,
  /** 1002: a peer broke the WebSocket framing rules (RFC 6455 §5: an unmasked client frame, a reserved bit…). */
  protocolError: 1002,
  /** 1007: a text message (or close reason) that is not UTF-8. */
  invalidPayload: 1007,
  /** 1008: a policy violation: the credential that authenticated the connection expired. */
  policyViolation: 1008,
  /** 1009: a message larger than the configured limit. */
  messageTooBig: 1009,
  /** 1011: the other leg of a proxied connection failed, or did not take a write in time. */
  internalError: 1011,
  /** 4008: a slow consumer: more bytes waited to be sent than its bound allows. */
  slowConsumer: 4008,
} as const;

export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];

/**
 * The client went away (closed its connection) while the gateway was still working for it: the reason with which
 * the backend exchange is aborted. It is told apart from a backend failure by its class (or its {@link code}),
 * never by its message. Nobody is answered: it never becomes a response.
 */
export class ClientGoneError extends Error {
  static readonly CODE = 'POSTERN_CLIENT_GONE';
  readonly code = ClientGoneError.CODE;
  constructor(options?: { cause?: unknown }) {
    super('The client closed the connection', options);
    this.name = 'ClientGoneError';
  }
}

/** Whether `err` says the client went away (a {@link ClientGoneError}, also across a copy that kept its code). */
export function isClientGone(err: unknown): boolean {
  return (
    err instanceof ClientGoneError ||
    (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === ClientGoneError.CODE)
  );
}
