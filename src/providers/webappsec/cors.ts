/**
 * @module providers/webappsec/cors
 * WebAppSec's CORS feature (`cors.*`), with the behaviour and defaults of the
 * `com.thetransactioncompany.cors.CORSFilter` Knox configures, and the Fetch standard's rules
 * (https://fetch.spec.whatwg.org/#http-cors-protocol).
 *
 * A request is classified by its `Origin` header:
 * - none, or the gateway's own origin: not a CORS request; it goes on when `cors.allowGenericHttpRequests`
 *   (default true), else 403.
 * - `OPTIONS` with `Access-Control-Request-Method`: a preflight. The gateway answers it (204) and it never
 *   reaches authentication or the backend: origin not allowed → 403, requested method not in
 *   `cors.supportedMethods` → 405, a requested header not in `cors.supportedHeaders` → 403, malformed → 400.
 * - anything else: an actual CORS request. Origin not allowed → 403, method not supported → 405; otherwise it
 *   goes on, and the response (the backend's, or the gateway's own error) carries the CORS headers.
 *
 * Params and defaults: `cors.allowOrigin` (`*`; a space- or comma-separated list of origins), `cors.allowSubdomains`
 * (false: with it, `https://a.example.com` is allowed by `https://example.com`, same scheme and port),
 * `cors.supportedMethods` (`GET, POST, HEAD, OPTIONS`), `cors.supportedHeaders` (`*`: any; a preflight's requested
 * headers are echoed), `cors.exposedHeaders` (none), `cors.supportsCredentials` (true), `cors.maxAge` (-1: no
 * `Access-Control-Max-Age`), `cors.tagRequests` (false; accepted and checked, but it only sets servlet request
 * attributes in Knox, which never reach a backend, so it changes nothing here).
 *
 * `Access-Control-Allow-Origin` is the request's origin whenever credentials are supported: the Fetch standard
 * forbids `*` together with `Access-Control-Allow-Credentials: true`, so with Knox's defaults (`*` and credentials)
 * every origin is echoed; `*` is sent only when any origin is allowed without credentials. `Vary: Origin` is on
 * every response of a CORS-enabled route (merged into the backend's `Vary`), so a cache never serves one origin's
 * answer to another. The backend's own `Access-Control-*` response headers are dropped: the gateway's policy is
 * the one the browser sees (two `Access-Control-Allow-Origin` headers would fail every request).
 *
 * The origin `null` (sandboxed frames, `file:` pages) is allowed only when listed; `*` does not cover it, since
 * echoing `null` with credentials would admit any sandboxed page. A malformed Origin is refused (403).
 *
 * WebSocket upgrades go through the same checks: browsers send `Origin` on every upgrade and no preflight, so an
 * upgrade from an origin that is not allowed is refused with 403 before any backend is contacted (the defence
 * against cross-site WebSocket hijacking).
 */
import { Errors } from '../../errors.ts';
import { addTo, type Exchange, type HeaderMap } from '../../spi/index.ts';
import type { ParamReader } from '../common/param-reader.ts';
import { deleteHeaders, type Feature, ownOrigin, type Verdict } from './feature.ts';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

interface ParsedOrigin {
  /** Canonical form: `scheme://host[:port]`, lower case, default port dropped; or the text for opaque ones. */
  text: string;
  scheme: string;
  hostname: string;
  port: string;
}

/** The canonical origin, or undefined when the text is not an origin (`null` is kept as `null`). */
export function parseOrigin(text: string): ParsedOrigin | undefined {
  const t = text.trim();
  if (t === 'null') return { text: 'null', scheme: '', hostname: '', port: '' };
  if (!URL.canParse(t)) return undefined;
  const url = new URL(t);
  if (url.username || url.password || url.search || url.hash) return undefined;
  if (url.pathname !== '' && url.pathname !== '/') return undefined;
  if (url.origin === 'null') {
    // A non-special scheme (chrome-extension://id): no hierarchy, so only an exact match can allow it.
    return { text: t.toLowerCase().replace(/\/$/, ''), scheme: url.protocol, hostname: '', port: '' };
  }
  return { text: url.origin, scheme: url.protocol, hostname: url.hostname, port: url.port };
}

export interface Cors {
  readonly feature: Feature;
  /** True when the origin (as sent) is allowed by `cors.allowOrigin` / `cors.allowSubdomains`. */
  allows(origin: string): boolean;
}

export function buildCors(params: ParamReader): Cors {
  const allowGeneric = params.bool('cors.allowGenericHttpRequests', true);
  const allowSubdomains = params.bool('cors.allowSubdomains', false);
  const credentials = params.bool('cors.supportsCredentials', true);
  const maxAge = params.int('cors.maxAge', -1, -1);
  params.bool('cors.tagRequests', false);

  let anyOrigin = false;
  const origins: ParsedOrigin[] = [];
  for (const entry of params.list('cors.allowOrigin', '*', /[\s,]+/)) {
    if (entry === '*') {
      anyOrigin = true;
      continue;
    }
    const parsed = parseOrigin(entry);
    if (parsed) origins.push(parsed);
    else params.error('cors.allowOrigin', `"${entry}" is not an origin (scheme://host[:port]) or *`);
  }
  const exact = new Set(origins.map((o) => o.text));

  const methods = params
    .list('cors.supportedMethods', 'GET, POST, HEAD, OPTIONS', /[\s,]+/)
    .map((m) => m.toUpperCase());
  for (const m of methods)
    if (!TOKEN.test(m)) params.error('cors.supportedMethods', `"${m}" is not a method`);
  const methodSet = new Set(methods);
  const allowMethods = methods.join(', ');

  const headerList = params.list('cors.supportedHeaders', '*', /[\s,]+/);
  const anyHeader = headerList.includes('*');
  const headers = headerList.filter((h) => h !== '*');
  for (const h of headers)
    if (!TOKEN.test(h)) params.error('cors.supportedHeaders', `"${h}" is not a header name`);
  const headerSet = new Set(headers.map((h) => h.toLowerCase()));
  const allowHeaders = headers.join(', ');

  const exposed = params.list('cors.exposedHeaders', '', /[\s,]+/);
  for (const h of exposed)
    if (!TOKEN.test(h)) params.error('cors.exposedHeaders', `"${h}" is not a header name`);
  const exposeHeaders = exposed.join(', ');

  const allowed = (origin: ParsedOrigin): boolean => {
    if (exact.has(origin.text)) return true;
    if (origin.text === 'null') return false;
    if (anyOrigin) return true;
    if (!allowSubdomains || !origin.hostname) return false;
    for (const o of origins) {
      if (
        o.scheme === origin.scheme &&
        o.port === origin.port &&
        origin.hostname.endsWith(`.${o.hostname}`)
      ) {
        return true;
      }
    }
    return false;
  };

  /** The CORS headers of a response to an allowed origin. */
  const allowOriginHeaders = (ex: Exchange, origin: string): void => {
    const res = ex.res;
    if (credentials) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
    } else {
      res.setHeader('access-control-allow-origin', anyOrigin ? '*' : origin);
    }
  };

  const corsOwned = (headers: HeaderMap): HeaderMap => {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase().startsWith('access-control-')) delete headers[key];
    }
    const vary = headers.vary ?? headers.Vary;
    if (vary !== undefined) {
      deleteHeaders(headers, VARY);
      const list = (Array.isArray(vary) ? vary.join(', ') : vary).trim();
      const names = list.split(',').map((v) => v.trim().toLowerCase());
      headers.vary =
        names.includes('*') || names.includes('origin') ? list : list ? `${list}, Origin` : 'Origin';
    }
    return headers;
  };

  const refuse = (error: ReturnType<typeof Errors.forbidden>, reason: string): Verdict => ({ error, reason });

  const feature: Feature = {
    name: 'cors',
    run(ex): Verdict {
      const { req, res } = ex;
      res.setHeader('vary', 'Origin');
      addTo(ex, 'responseHeaderFilters', corsOwned);
      const header = req.headers.origin;
      if (header === undefined || isSameOrigin(ex, header)) {
        return allowGeneric
          ? undefined
          : refuse(Errors.forbidden('Only CORS requests are allowed here'), 'cors generic request');
      }
      const origin = parseOrigin(header);
      if (!origin || !allowed(origin)) {
        return refuse(Errors.forbidden('CORS origin not allowed'), 'cors origin');
      }
      const method = (req.method ?? 'GET').toUpperCase();
      const requested = req.headers['access-control-request-method'];
      if (method === 'OPTIONS' && requested !== undefined) {
        const wanted = requested.trim().toUpperCase();
        if (!TOKEN.test(wanted)) {
          return refuse(Errors.badRequest('Malformed Access-Control-Request-Method'), 'cors preflight');
        }
        if (!methodSet.has(wanted)) {
          return refuse(Errors.methodNotAllowed(`CORS method ${wanted} not supported`), 'cors method');
        }
        const asked = (req.headers['access-control-request-headers'] ?? '')
          .split(',')
          .map((h) => h.trim())
          .filter((h) => h !== '');
        for (const h of asked) {
          if (!TOKEN.test(h)) {
            return refuse(Errors.badRequest('Malformed Access-Control-Request-Headers'), 'cors preflight');
          }
          if (!anyHeader && !headerSet.has(h.toLowerCase())) {
            return refuse(Errors.forbidden(`CORS request header ${h} not supported`), 'cors header');
          }
        }
        allowOriginHeaders(ex, header.trim());
        res.setHeader('access-control-allow-methods', allowMethods);
        const allowList = anyHeader ? asked.join(', ') : allowHeaders;
        if (allowList) res.setHeader('access-control-allow-headers', allowList);
        if (maxAge > 0) res.setHeader('access-control-max-age', String(maxAge));
        req.resume();
        res.writeHead(204, { 'x-request-id': ex.id });
        res.end();
        return 'answered';
      }
      if (!methodSet.has(method)) {
        return refuse(Errors.methodNotAllowed(`CORS method ${method} not supported`), 'cors method');
      }
      allowOriginHeaders(ex, header.trim());
      if (exposeHeaders) res.setHeader('access-control-expose-headers', exposeHeaders);
      return undefined;
    },
  };

  return {
    feature,
    allows(origin) {
      const parsed = parseOrigin(origin);
      return parsed !== undefined && allowed(parsed);
    },
  };
}

const VARY = new Set(['vary']);

/** True when the origin is the gateway's own, as this request reached it (then it is not a CORS request). */
export function isSameOrigin(ex: Exchange, origin: string): boolean {
  const own = ownOrigin(ex);
  const mine = own === undefined ? undefined : parseOrigin(own)?.text;
  return mine !== undefined && parseOrigin(origin)?.text === mine;
}
