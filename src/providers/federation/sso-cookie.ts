/**
 * @module providers/federation/sso-cookie
 * Knox's `SSOCookieProvider` (`SSOCookieFederationFilter`): browsers carry the JWT that
 * KNOXSSO issued in a cookie (`sso.cookie.name`, default `hadoop-jwt`); without a valid one they are sent to log
 * in at `sso.authentication.provider.url?originalUrl=<this request's full URL>` (the URL encoded as one query
 * value). Without the param, the KNOXSSO endpoint of this gateway is used, as Knox derives it:
 * `{gateway}/knoxsso/api/v1/websso`.
 *
 * Verification params: `sso.token.verification.pem`, `sso.token.verification.jwks.urls` (Knox's
 * `knox.token.jwks.url(s)` are read too), `sso.expected.audiences`, `jwt.expected.issuer`,
 * `jwt.expected.sigalg` (see jwt-verifier.ts). Several cookies of the name (several domains) are tried in turn.
 * `sso.unauthenticated.path.list` (plus Knox's defaults `/favicon.ico` and `/knoxtoken/api/v1/jwks.json`)
 * names paths below the topology that pass as `anonymous`, compared exactly.
 *
 * Redirect or 401? Knox redirects every request except an XHR (`X-Requested-With: XMLHttpRequest`), and even an
 * XHR when the cookie is missing. postern redirects only what a redirect can help, a browser navigation:
 * - a WebSocket upgrade, an XHR, and any method but GET/HEAD get 401;
 * - with `Sec-Fetch-Mode`, only `navigate` is redirected (fetch/XHR/subresource requests get 401);
 * - otherwise the request is redirected when its `Accept` names `text/html` (browsers send it on navigation;
 *   curl and API clients send `* / *` or a JSON type) and gets 401 when not.
 * The 401 carries `WWW-Authenticate: KnoxSSO realm="{topology}"` (RFC 9110 requires a challenge; the scheme
 * only names what the client lacks). A CORS preflight (OPTIONS with `Access-Control-Request-Method`) without a
 * cookie passes as `anonymous`, as Knox lets it. A cookie that cannot be verified because the JWKS is
 * unreachable gives 503, not a redirect (logging in again would not help).
 *
 * With server-managed token state (`knox.token.exp.server-managed`, default gateway-site's) the cookie's token
 * must also be known to the token state, unexpired by it and enabled (KNOXSSO records the cookies it issues when
 * its own `knox.token.exp.server-managed` is on); a store that cannot answer gives 503 (token-common.ts).
 *
 * The SSO cookie is removed from the `Cookie` header forwarded to the backend. Not supported (warned):
 * `sso.idle.timeout.seconds`, `sso.use.original.url.from.header*`.
 */

import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../../config/diagnostics.ts';
import { Errors } from '../../errors.ts';
import {
  addTo,
  auditFor,
  type Exchange,
  type Filter,
  type ProviderContext,
  type ProviderFactory,
} from '../../spi/index.ts';
import { SSO_PARAMS, verifierFor } from './jwt-verifier.ts';
import {
  ANONYMOUS,
  authenticate,
  cookieValues,
  dropCookies,
  failureReason,
  isOutage,
  tokenStateCheck,
  unauthenticatedPaths,
  verificationError,
  verifyFirst,
} from './token-common.ts';

export const DEFAULT_SSO_COOKIE = 'hadoop-jwt';
/** Knox's `DEFAULT_SSO_UNAUTHENTICATED_PATHS_PARAM`. */
const DEFAULT_UNAUTHENTICATED = ['/favicon.ico', '/knoxtoken/api/v1/jwks.json'];
export const KNOXSSO_PATH = '/knoxsso/api/v1/websso';

const UNSUPPORTED = [
  'sso.idle.timeout.seconds',
  'sso.use.original.url.from.header',
  'sso.use.original.url.from.header.name',
  'sso.use.original.url.from.header.verify.domain',
  'sso.use.original.url.from.header.domain.whitelist',
];

/** Whether a redirect to the login page can help this request (see the module comment). */
export function isBrowserNavigation(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h.upgrade !== undefined) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const xhr = h['x-requested-with'];
  if (typeof xhr === 'string' && xhr.toLowerCase() === 'xmlhttprequest') return false;
  const mode = h['sec-fetch-mode'];
  if (typeof mode === 'string') return mode.toLowerCase() === 'navigate';
  const accept = h.accept;
  if (typeof accept !== 'string') return false;
  return accept.split(',').some((range) => range.split(';', 1)[0].trim().toLowerCase() === 'text/html');
}

/** The URL the browser asked for, as the gateway's public URL (with `gateway.frontend.url` when set). */
export function originalUrl(ex: Exchange): string {
  return `${ex.rewriteContext.gatewayUrl}${ex.path}${ex.query ? `?${ex.query}` : ''}`;
}

export const ssoCookieProvider: ProviderFactory = {
  role: 'federation',
  name: 'SSOCookieProvider',
  create(ctx: ProviderContext): Filter {
    const p = ctx.params;
    const verifier = verifierFor(ctx, SSO_PARAMS);
    const cookieName = p.get('sso.cookie.name')?.trim() || DEFAULT_SSO_COOKIE;
    const unauthenticated = unauthenticatedPaths(
      p.get('sso.unauthenticated.path.list'),
      DEFAULT_UNAUTHENTICATED,
    );
    const configuredLogin = p.get('sso.authentication.provider.url')?.trim() || undefined;
    if (configuredLogin !== undefined) {
      if (!URL.canParse(configuredLogin) || !/^https?:$/.test(new URL(configuredLogin).protocol)) {
        throw ConfigError.at(
          ctx.pos,
          `sso.authentication.provider.url must be an absolute http(s) URL, found "${configuredLogin}"`,
        );
      }
    }
    for (const name of UNSUPPORTED) {
      if (p.has(name))
        ctx.sink.warn(ctx.pos, `${name} is not supported by postern's SSOCookieProvider; ignored`);
    }
    const topologySuffix = `/${ctx.topology.name}`;
    const loginBase = (ex: Exchange): string => {
      if (configuredLogin) return configuredLogin;
      const gw = ex.rewriteContext.gatewayUrl;
      const root = gw.endsWith(topologySuffix) ? gw.slice(0, -topologySuffix.length) : gw;
      return `${root}${KNOXSSO_PATH}`;
    };
    const dropCookie = dropCookies(new Set([cookieName]));
    const challenge = `KnoxSSO realm="${ctx.topology.name}"`;
    const audit = auditFor(ctx, 'federation');
    const state = tokenStateCheck(ctx);

    /** Redirects a browser to log in, or refuses anything else with 401. */
    const loginOrRefuse = (ex: Exchange, reason: string, err?: unknown): Promise<void> => {
      if (!isBrowserNavigation(ex.req)) {
        audit(ex, 'failure', { reason });
        throw err
          ? verificationError(err, challenge)
          : Errors.unauthenticated('A valid SSO cookie is required', {
              headers: { 'www-authenticate': challenge },
            });
      }
      const base = loginBase(ex);
      const location = `${base}${base.includes('?') ? '&' : '?'}originalUrl=${encodeURIComponent(originalUrl(ex))}`;
      audit(ex, 'failure', { reason: `${reason}; redirected to log in` });
      ex.req.resume();
      ex.res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': '0' });
      ex.res.end();
      return Promise.resolve();
    };

    return async (ex, next) => {
      addTo(ex, 'requestHeaderFilters', dropCookie);
      if (unauthenticated.has(ex.path)) {
        ex.user = ANONYMOUS;
        ex.authMethod = 'anonymous';
        audit(ex, 'success', { user: ANONYMOUS.name, reason: 'unauthenticated path' });
        return next();
      }
      const values = cookieValues(ex.req.headers, cookieName);
      if (values.length === 0) {
        if (ex.req.method === 'OPTIONS' && ex.req.headers['access-control-request-method'] !== undefined) {
          ex.user = ANONYMOUS;
          ex.authMethod = 'anonymous';
          audit(ex, 'success', { user: ANONYMOUS.name, reason: 'cors preflight' });
          return next();
        }
        return loginOrRefuse(ex, 'no sso cookie');
      }
      const result = await verifyFirst(ex, verifier, values, state);
      if ('failure' in result) {
        const { failure } = result;
        if (isOutage(failure)) {
          audit(ex, 'unavailable', { reason: failureReason(failure) });
          throw verificationError(failure, challenge);
        }
        return loginOrRefuse(ex, failureReason(failure), failure);
      }
      authenticate(ex, result.verified, 'cookie');
      audit(ex, 'success', { reason: 'sso cookie' });
      return next();
    };
  },
};
