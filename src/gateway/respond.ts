/**
 * @module gateway/respond
 * The one place where an error becomes an HTTP response: JSON with the error code, the message and the request
 * id, and never a backend address, a stack or a secret.
 */
import type { ServerResponse } from 'node:http';
import { Errors, GatewayError } from '../errors.ts';
import type { ErrorShape } from './error-shape.ts';

export function toGatewayError(err: unknown): GatewayError {
  return err instanceof GatewayError ? err : Errors.internal(undefined, { cause: err });
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
  const shaped = shape?.(error, requestId);
  const body =
    shaped?.body ??
    JSON.stringify({
      error: { status: error.status, code: error.code, message: error.message, requestId },
    });
  res.writeHead(error.status, {
    'content-type': shaped ? shaped.contentType : 'application/json; charset=utf-8',
    ...(shaped ? { 'x-postern-error': error.code } : {}),
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
    ...error.headers,
  });
  res.end(body);
}
