/**
 * @module services/admin/common
 * What the admin API, the console and the live feed share: the API's base path, who the request is from, the
 * method check, and the JSON answer.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { relative, sep } from 'node:path';
import type { Diagnostic } from '../../config/diagnostics.ts';
import { Errors, type GatewayError } from '../../errors.ts';
import type { Exchange, GatewayHandle, HeaderMap } from '../../spi/index.ts';

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
  writeHead(ex, status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  ex.res.end(ex.req.method === 'HEAD' ? undefined : text);
}

/**
 * Writes the status and headers through the providers' response-header filters, as a backend's answer would
 * be: a Basic login's session cookie reaches the console this way (and sign-out can end that session).
 */
export function writeHead(ex: Exchange, status: number, headers: HeaderMap): void {
  let out = headers;
  for (const filter of ex.responseHeaderFilters ?? []) out = filter(out, status);
  ex.res.writeHead(status, out as OutgoingHttpHeaders);
}

export function allow(ex: Exchange, methods: readonly string[]): void {
  if (!methods.includes(ex.req.method ?? '')) {
    ex.req.resume();
    throw Errors.methodNotAllowed(`Use ${methods.join(' or ')}`, { headers: { allow: methods.join(', ') } });
  }
}

/** A path relative to the gateway home when it lies below it (what an operator edits), else as is. */
export function homePath(gateway: GatewayHandle, file: string): string {
  const rel = relative(gateway.layout.home, file);
  return rel && !rel.startsWith('..') && !rel.startsWith(sep) ? rel.split(sep).join('/') : file;
}

/** A URL without its userinfo (a service URL may carry credentials). */
export function safeUrl(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@]*@/, '$1');
}

/** A diagnostic as the API reports it: its file relative to the home, and `at` (`file:line:column`). */
export function diagnosticJson(gateway: GatewayHandle, d: Diagnostic) {
  const file = homePath(gateway, d.file);
  return {
    severity: d.severity,
    message: d.message,
    file,
    line: d.line,
    column: d.column,
    at: `${file}:${d.line}:${d.column}`,
  };
}
