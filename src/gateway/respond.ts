/**
 * @module gateway/respond
 * The one place where an error becomes an HTTP response, in the one shape every client-facing error has (the
 * admin API's included):
 *
 * ```json
 * {"error": {"status": 404, "code": "POSTERN_ERR_NOT_FOUND", "message": "…", "requestId": "…"}, …details}
 * ```
 *
 * `details` are the error's extra fields beside `error` (the admin API's `diagnostics`). Never a backend
 * address, a stack or a secret.
 */
import type { ServerResponse } from 'node:http';
import { Errors, GatewayError } from '../errors.ts';
import type { ErrorShape } from './error-shape.ts';

/** The body of every error response. */
export interface ErrorBody {
  error: { status: number; code: string; message: string; requestId: string };
  [detail: string]: unknown;
}

export function toGatewayError(err: unknown): GatewayError {
  return err instanceof GatewayError ? err : Errors.internal(undefined, { cause: err });
}

/** The body {@link sendError} writes for `error`. */
export function errorBody(requestId: string, error: GatewayError): ErrorBody {
  return {
    ...error.details,
    error: { status: error.status, code: error.code, message: error.message, requestId },
  };
}

/**
 * Writes the error response, or cuts the connection when a response has already started. `shape` is the route's
 * own error format (gateway/error-shape: WebHDFS's RemoteException); then the code goes in `x-postern-error`.
 */
export function sendError(
  res: ServerResponse,
  requestId: string,
  error: GatewayError,
  shape?: ErrorShape,
): void {
  if (res.destroyed) return;
  if (res.headersSent) {
    if (!res.destroyed) res.destroy();
    return;
  }
  const shaped = shape?.(error, requestId, res.req);
  const body = shaped?.body ?? JSON.stringify(errorBody(requestId, error));
  res.writeHead(error.status, {
    'content-type': shaped ? shaped.contentType : 'application/json; charset=utf-8',
    ...(shaped ? { 'x-postern-error': error.code, ...shaped.headers } : {}),
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
    ...error.headers,
  });
  res.end(body);
}
