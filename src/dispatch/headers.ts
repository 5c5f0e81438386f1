/**
 * @module dispatch/headers
 * Which headers cross the gateway, in each direction.
 *
 * Hop-by-hop headers are removed as RFC 9110 §7.6.1 requires (https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1),
 * together with every header the `Connection` header names. The client's `Connection` list can only remove
 * headers the client itself sent: the X-Forwarded-* and identity headers the gateway adds are added after the
 * removal, so a client cannot strip them (the hop-by-hop injection that hono's proxy helper warns about).
 * The Knox rules decide the rest: which request headers are never forwarded
 * (Host, Authorization, Content-Length handling), which response headers are dropped (WWW-Authenticate),
 * and which backend cookies never reach the browser.
 */

/** RFC 9110 §7.6.1 plus the per-hop proxy authentication headers (RFC 9110 §11.7). */
export const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/**
 * Request headers the gateway answers itself and never forwards: the gateway sends the client its `100 Continue`
 * (RFC 9110 §10.1.1) when the dispatch starts reading the body, after the chain accepted the request
 * (spi/expect-continue), and the backend request streams the body without waiting.
 */
const ANSWERED_HERE = new Set(['expect']);

/** Knox's auth cookies that a backend must never plant in the browser through the gateway. */
export const BLOCKED_AUTH_COOKIES = ['hadoop.auth', 'hive.server2.auth', 'impala.auth'];

/**
 * Identity headers only the gateway may write (ConfigurableDispatch's actor headers, see actor-headers.ts): the
 * client's copies are dropped by every dispatch, whatever its policy.
 */
const GATEWAY_IDENTITY_HEADER = 'x-knox-actor-id';
const GATEWAY_IDENTITY_PREFIX = 'x-knox-actor-groups';

/**
 * Pre-authenticated identity headers that backends behind SSO agents and authenticating proxies believe
 * (SiteMinder's `SM_USER`, Apache's `REMOTE_USER` family, oauth2-proxy's and others' `X-Forwarded-User`). A client
 * never gets to set one for a backend: HeaderPreAuth reads its own header before dispatch, and a header the gateway
 * means to send (a federation dispatch's `SM_USER`, `requestAppendHeaders`) is added after this filter. Both
 * spellings are listed: CGI-style backends (Apache httpd, Tomcat's AJP) read `SM-USER` and `SM_USER` as one name.
 */
export const CLIENT_IDENTITY_HEADERS: ReadonlySet<string> = new Set(
  [
    'sm_user',
    'sm_universalid',
    'remote_user',
    'x_remote_user',
    'x_forwarded_user',
    'x_authenticated_user',
    'x_webauth_user',
    'x_auth_request_user',
  ].flatMap((n) => [n, n.replaceAll('_', '-')]),
);

/** What one dispatch does with headers, compiled once at deployment from its params. */
export interface HeaderPolicy {
  /** Lower-case request header names never forwarded (besides hop-by-hop). */
  requestExclude: ReadonlySet<string>;
  /** Lower-case prefixes of request header names never forwarded (renamed actor-group headers). */
  requestExcludePrefixes?: readonly string[];
  /** Fixed headers added to every backend request (`requestAppendHeaders`). */
  requestAppend: readonly [string, string][];
  /** Lower-case response header names never returned (besides hop-by-hop). */
  responseExclude: ReadonlySet<string>;
  /** Set-Cookie names dropped (lower-case); `all` drops every Set-Cookie. */
  responseCookieBlock: ReadonlySet<string> | 'all' | 'none';
}

/** Parses Knox's comma list of header names (`requestExcludeHeaders`). */
export function parseHeaderList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Knox's `responseExcludeHeaders`: a comma list where `SET-COOKIE:name1;name2` drops only those cookies.
 * Without a SET-COOKIE entry, the auth-cookie blocklist applies.
 */
export function parseResponseExclude(
  value: string,
): Pick<HeaderPolicy, 'responseExclude' | 'responseCookieBlock'> {
  const exclude = new Set<string>();
  let cookies: Set<string> | 'all' | undefined;
  for (const item of parseHeaderList(value)) {
    const colon = item.indexOf(':');
    const name = (colon < 0 ? item : item.slice(0, colon)).trim().toLowerCase();
    if (name === 'set-cookie') {
      if (colon < 0) cookies = 'all';
      else {
        const names = item
          .slice(colon + 1)
          .split(';')
          .map((s) => s.trim().toLowerCase())
          .filter(Boolean);
        cookies = new Set(names);
      }
    } else {
      exclude.add(name);
    }
  }
  return { responseExclude: exclude, responseCookieBlock: cookies ?? new Set(BLOCKED_AUTH_COOKIES) };
}

/** Knox's `requestAppendHeaders`: `H1:v1;H2:v2`. */
export function parseAppendHeaders(value: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of value.split(';')) {
    const colon = part.indexOf(':');
    if (colon <= 0) continue;
    out.push([part.slice(0, colon).trim(), part.slice(colon + 1).trim()]);
  }
  return out;
}

/** Names listed in a `Connection` header value, lower-case. */
function connectionTokens(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

/** True for `Forwarded` and the `X-Forwarded-*` family (the client's claims about where a request came from). */
function isForwardedHeader(name: string): boolean {
  return name === 'forwarded' || name.startsWith('x-forwarded-');
}

/**
 * Builds the backend request's headers from the client's raw headers. Keeps only the first value of a repeated
 * header, as Knox does, except for `Cookie`, whose repeats are joined with `; ` (RFC 9113 §8.2.3 semantics).
 * `Forwarded` and `X-Forwarded-*` are kept only when `fromTrustedProxy` (the client's address is in
 * `postern.trusted.proxies`): from anyone else they are claims the gateway cannot check, and the gateway writes
 * its own.
 */
export function forwardRequestHeaders(
  rawHeaders: readonly string[],
  policy: HeaderPolicy,
  fromTrustedProxy = false,
): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  let dropped: string[] | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (name === 'connection') {
      dropped = connectionTokens(rawHeaders[i + 1]);
      continue;
    }
    if (HOP_BY_HOP.has(name) || ANSWERED_HERE.has(name) || policy.requestExclude.has(name)) continue;
    if (name === GATEWAY_IDENTITY_HEADER || name.startsWith(GATEWAY_IDENTITY_PREFIX)) continue;
    if (CLIENT_IDENTITY_HEADERS.has(name)) continue;
    if (!fromTrustedProxy && isForwardedHeader(name)) continue;
    if (policy.requestExcludePrefixes?.some((p) => name.startsWith(p))) continue;
    const value = rawHeaders[i + 1];
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (name === 'cookie') out[name] = `${seen}; ${value}`;
  }
  if (dropped) for (const name of dropped) delete out[name];
  for (const [name, value] of policy.requestAppend) out[name.toLowerCase()] = value;
  return out;
}

/**
 * The response headers the client may see: a new object without hop-by-hop headers, the headers `Connection`
 * names, excluded headers and blocked cookies. Built in one pass; the backend's object is not modified.
 */
export function filterResponseHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  policy: HeaderPolicy,
): Record<string, string | string[] | undefined> {
  const connection = headers.connection;
  const named = typeof connection === 'string' ? connectionTokens(connection) : undefined;
  const out: Record<string, string | string[] | undefined> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || policy.responseExclude.has(name)) continue;
    if (named?.includes(name)) continue;
    if (name === 'set-cookie') {
      const kept = keptCookies(value, policy.responseCookieBlock);
      if (kept !== undefined) out[name] = kept;
      continue;
    }
    out[name] = value;
  }
  return out;
}

/**
 * Fields a trailer may not carry (RFC 9110 §6.5.1: framing, routing, authentication, request modifiers, response
 * control, payload processing), or that make no sense after the body. HTTP/2 refuses the connection-specific ones.
 */
const NOT_IN_TRAILERS = new Set([
  'content-length',
  'content-encoding',
  'content-type',
  'content-range',
  'host',
  'authorization',
  'www-authenticate',
  'set-cookie',
  'cookie',
  'cache-control',
  'expect',
  'max-forwards',
  'pragma',
  'range',
  'age',
  'date',
  'expires',
  'location',
  'retry-after',
  'vary',
  'warning',
  'http2-settings',
]);

/**
 * The backend's response trailers an HTTP/2 client gets (dispatch/proxy-handler): without hop-by-hop fields,
 * fields RFC 9110 forbids in trailers, pseudo-header names, and what the dispatch's policy drops from headers.
 */
export function filterTrailers(
  trailers: Readonly<Record<string, string | string[] | undefined>>,
  policy: HeaderPolicy,
): Record<string, string | string[]> | undefined {
  let out: Record<string, string | string[]> | undefined;
  for (const name in trailers) {
    const value = trailers[name];
    if (value === undefined || name[0] === ':' || HOP_BY_HOP.has(name) || NOT_IN_TRAILERS.has(name)) continue;
    if (policy.responseExclude.has(name)) continue;
    out ??= {};
    out[name] = value;
  }
  return out;
}

function keptCookies(
  value: string | string[],
  block: HeaderPolicy['responseCookieBlock'],
): string | string[] | undefined {
  if (block === 'none') return value;
  if (block === 'all') return undefined;
  const kept = (Array.isArray(value) ? value : [value]).filter(
    (c) => !block.has(cookieName(c).toLowerCase()),
  );
  return kept.length === 0 ? undefined : kept;
}

/** True when a Set-Cookie value plants a cookie of the block list (Knox's auth cookies by default). */
export function isBlockedSetCookie(setCookie: string, block: HeaderPolicy['responseCookieBlock']): boolean {
  if (block === 'none') return false;
  if (block === 'all') return true;
  return block.has(cookieName(setCookie).toLowerCase());
}

function cookieName(setCookie: string): string {
  const eq = setCookie.indexOf('=');
  return (eq < 0 ? setCookie : setCookie.slice(0, eq)).trim();
}
