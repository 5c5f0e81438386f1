/**
 * @module errors
 * The one catalog of errors that reach a client. Each has a stable code and an HTTP status; the gateway turns
 * them into a response in one place (src/gateway/respond.ts). Messages never carry a backend address or a secret.
 */

export class GatewayError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra response headers (e.g. `WWW-Authenticate` for a 401). */
  readonly headers?: Record<string, string>;
  constructor(
    code: string,
    status: number,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = status;
    this.headers = options?.headers;
  }
}

const make =
  (code: string, status: number, defaultMessage: string) =>
  (message: string = defaultMessage, options?: { cause?: unknown; headers?: Record<string, string> }) =>
    new GatewayError(code, status, message, options);

export const Errors = {
  notFound: make('POSTERN_ERR_NOT_FOUND', 404, 'No service of this topology matches the request URL'),
  topologyNotFound: make('POSTERN_ERR_TOPOLOGY_NOT_FOUND', 404, 'No topology of that name is deployed'),
  badRequest: make('POSTERN_ERR_BAD_REQUEST', 400, 'Bad request'),
  badPath: make('POSTERN_ERR_BAD_PATH', 400, 'The request path is not acceptable'),
  methodNotAllowed: make('POSTERN_ERR_METHOD_NOT_ALLOWED', 405, 'Method not allowed'),
  unauthenticated: make('POSTERN_ERR_UNAUTHENTICATED', 401, 'Authentication required'),
  forbidden: make('POSTERN_ERR_FORBIDDEN', 403, 'Forbidden'),
  tooManyRequests: make('POSTERN_ERR_TOO_MANY_REQUESTS', 429, 'Too many requests; retry later'),
  payloadTooLarge: make('POSTERN_ERR_PAYLOAD_TOO_LARGE', 413, 'The request body is too large'),
  unsupportedMediaType: make('POSTERN_ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'The request body cannot be read'),
  requestTimeout: make('POSTERN_ERR_REQUEST_TIMEOUT', 408, 'The request body did not arrive in time'),
  httpVersionNotSupported: make(
    'POSTERN_ERR_HTTP_VERSION',
    505,
    'Only HTTP/1.0 and HTTP/1.1 are served here',
  ),
  upstreamUnavailable: make('POSTERN_ERR_UPSTREAM_UNAVAILABLE', 502, 'The backend service is unavailable'),
  upstreamTimeout: make('POSTERN_ERR_UPSTREAM_TIMEOUT', 504, 'The backend service did not answer in time'),
  noRewrite: make('POSTERN_ERR_NO_REWRITE', 404, 'No rewrite rule maps this URL to a backend'),
  unavailable: make('POSTERN_ERR_UNAVAILABLE', 503, 'The topology is being deployed; retry shortly'),
  internal: make('POSTERN_ERR_INTERNAL', 500, 'Internal gateway error'),
} as const;
