/**
 * @module services/knox-admin/send
 * How every Knox Admin API answer is written: its status, media type and body, never cached, never sniffed, and
 * no body to a HEAD request.
 */
import type { Exchange } from '../../spi/index.ts';

export const JSON_TYPE = 'application/json';

export function send(
  ex: Exchange,
  status: number,
  type: string | undefined,
  body?: string,
  headers: Record<string, string> = {},
): void {
  ex.res.writeHead(status, {
    ...(type && { 'content-type': type }),
    ...(body !== undefined && { 'content-length': Buffer.byteLength(body) }),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  ex.res.end(ex.req.method === 'HEAD' || body === undefined ? undefined : body);
}
