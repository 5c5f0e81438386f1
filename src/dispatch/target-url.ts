/**
 * @module dispatch/target-url
 * String operations on the backend URL the rewrite produced, for the request path: splitting it into origin and
 * request target, and editing its query. A WHATWG `URL` would re-parse and re-serialize the whole URL for each
 * edit; these touch only the part they change and leave the rewrite's encoding as it is.
 */
import { Errors } from '../errors.ts';

/** `http://h:1/a/b?q` → origin `http://h:1`, path `/a/b?q` (fragment dropped; an empty path becomes `/`). */
export function splitTarget(url: string): { origin: string; path: string } | undefined {
  const scheme = url.indexOf('://');
  if (scheme <= 0) return undefined;
  let end = url.length;
  for (let i = scheme + 3; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x2f || c === 0x3f || c === 0x23) {
      end = i;
      break;
    }
  }
  if (end === scheme + 3) return undefined;
  let path = url.slice(end);
  const hash = path.indexOf('#');
  if (hash >= 0) path = path.slice(0, hash);
  if (path === '' || path.charCodeAt(0) === 0x3f) path = `/${path}`;
  return { origin: url.slice(0, end), path };
}

/** A query component as form decoding reads it (`+` is a space); broken percent-encoding is left as it is. */
export function decodeQueryComponent(raw: string): string {
  const plain = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  if (!plain.includes('%')) return plain;
  try {
    return decodeURIComponent(plain);
  } catch {
    return plain;
  }
}

/**
 * Removes every query parameter whose decoded name is in `drop` (compared in lower case: Hadoop reads `doAs`
 * and `doas` alike), then appends `append` (already encoded, `name=value`) when given. A query left empty is
 * removed with its `?`.
 */
export function replaceQueryParams(url: string, drop: ReadonlySet<string>, append?: string): string {
  const hash = url.indexOf('#');
  const fragment = hash < 0 ? '' : url.slice(hash);
  const base = hash < 0 ? url : url.slice(0, hash);
  const q = base.indexOf('?');
  if (q < 0) return append === undefined ? url : `${base}?${append}${fragment}`;
  const kept: string[] = [];
  for (const part of base.slice(q + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeQueryComponent(eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    if (!drop.has(name)) kept.push(part);
  }
  if (append !== undefined) kept.push(append);
  return kept.length === 0
    ? `${base.slice(0, q)}${fragment}`
    : `${base.slice(0, q)}?${kept.join('&')}${fragment}`;
}

/** Methods the gateway never forwards (RFC 9110 §9.3.6–9.3.8: TRACE reflects, CONNECT tunnels; TRACK is IIS's TRACE). */
export const REFUSED_METHODS: ReadonlySet<string> = new Set(['TRACE', 'CONNECT', 'TRACK']);

/**
 * The backend URL of a request that reached its dispatch: the rewrite's target with the providers' edits applied.
 * Throws the gateway's answer when there is none to forward to (a refused method, no rewrite rule).
 */
export function backendTarget(ex: {
  readonly req: { readonly method?: string };
  readonly target?: string;
  readonly targetEdits?: ((url: string) => string)[];
}): string {
  const method = ex.req.method ?? 'GET';
  if (REFUSED_METHODS.has(method)) throw Errors.methodNotAllowed(`Method ${method} is not forwarded`);
  if (ex.target === undefined) throw Errors.noRewrite();
  let url = ex.target;
  if (ex.targetEdits) for (const edit of ex.targetEdits) url = edit(url);
  // A registry-only service URL (hdfs://, rpc://, thrift://) serves rewrite functions; nothing is sent there.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1].toLowerCase();
  if (scheme !== undefined && !['http', 'https', 'ws', 'wss'].includes(scheme)) {
    throw Errors.upstreamUnavailable('The service of this route has no HTTP URL to forward to');
  }
  return url;
}
