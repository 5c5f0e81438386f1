/**
 * @module services/admin/common
 * What the admin API, the console and the live feed share: the API's base path, who the request is from, the
 * method check, and the JSON answer.
 */
import { Errors, type GatewayError } from '../../errors.ts';
import type { Exchange } from '../../spi/index.ts';

export const API = '/api/v1';

export function userOf(ex: Exchange): string | undefined {
  return ex.effectiveUser ?? ex.user?.name;
}

export function noGateway(): GatewayError {
  return Errors.unavailable('The admin API answers only in a running gateway');
}

export function sendJson(
  ex: Exchange,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  ex.res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  ex.res.end(ex.req.method === 'HEAD' ? undefined : text);
}

export function allow(ex: Exchange, methods: readonly string[]): void {
  if (!methods.includes(ex.req.method ?? '')) {
    ex.req.resume();
    throw Errors.methodNotAllowed(`Use ${methods.join(' or ')}`, { headers: { allow: methods.join(', ') } });
  }
}
