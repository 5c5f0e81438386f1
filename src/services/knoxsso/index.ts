/**
 * @module services/knoxsso
 * The issuing side of Knox's JWT federation, as services that answer in the gateway (no backend): they end the
 * chain of a topology whose providers authenticated the user (ShiroProvider, HeaderPreAuth, ...), and sign with
 * the gateway key (token-keys.ts), so JWTProvider and SSOCookieProvider verify their tokens with no key
 * configured at all. Tokens carry `iss` (default `KNOXSSO`), `sub` (the effective user after identity
 * assertion, as Knox's `request.getUserPrincipal()`), `aud` when configured, `iat`, `exp`, `jti` / `knox.id`.
 *
 * **KNOXSSO** (`KnoxSSO`, Knox's `WebSSOResource`, route `/api/v1/websso` right below the topology, which is
 * usually named `knoxsso`, as in Knox): GET or POST with `originalUrl` issues the token in a cookie and
 * redirects there (GET 307, POST 303, as Knox). Params (service
 * `<param>`s, Knox's names): `knoxsso.cookie.name` (`hadoop-jwt`), `knoxsso.token.ttl` (ms, default 900000 =
 * 15 min; -1: no `exp`), `knoxsso.token.audiences`, `knoxsso.token.issuer`, `knoxsso.cookie.secure.only`
 * (default: the gateway's `ssl.enabled`), `knoxsso.cookie.max.age` (s; default none: a session cookie),
 * `knoxsso.cookie.domain.suffix`, `knoxsso.cookie.samesite` (`Strict`), `knoxsso.redirect.whitelist.regex`
 * (see redirect-whitelist.ts), `knoxsso.expected.params`. The cookie is always HttpOnly, Path `/`; its Domain
 * is the suffix when the original host ends with it, else the original host's parent domain when it has at
 * least three labels (Knox's `Urls.getDomainName`), else none (host-only; IP addresses and `localhost`).
 * No `originalUrl` or one the whitelist refuses → 400, and no cookie is issued. The URL is never echoed.
 * As Knox, query parameters other than `originalUrl` and the expected ones are appended to it (clients that do
 * not encode `originalUrl` split its own query into separate parameters).
 *
 * With `knox.token.exp.server-managed` (service param, default gateway-site's) the cookie's token is recorded in
 * the token state as a `KNOXSSO_COOKIE` (Knox's `saveToken`); a store that cannot answer gives 503, no cookie.
 *
 * Issuance is audited as an `authentication` event of the provider `KnoxSSO` (the deployment
 * audits every dispatch besides): the user, the outcome and why (`sso cookie issued`, the whitelist refusal);
 * the token never is.
 */

import { ConfigError } from '../../config/diagnostics.ts';
import { splitList } from '../../config/values.ts';
import { Errors } from '../../errors.ts';
import type { DispatchContext, Exchange, Handler, ServiceFactory } from '../../spi/index.ts';
import { auditFor } from '../../spi/index.ts';
import {
  audiencesParam,
  boolParam,
  checkSigAlg,
  KNOX_SERVICE,
  methodAllowed,
  subjectOf,
  ttlParam,
} from '../knoxtoken/issuing.ts';
import { DEFAULT_ISSUER, issueToken, tokenKeyStore } from '../knoxtoken/keys.ts';
import {
  checkRedirect,
  compileWhitelist,
  DEFAULT_REDIRECT_WHITELIST,
  derivedWhitelist,
} from './redirect-whitelist.ts';

/** Knox's `WebSSOResource.TOKEN_TTL_DEFAULT` (15 minutes). */
export const KNOXSSO_TTL_DEFAULT = 15 * 60_000;
/** Knox's `TokenResource.TOKEN_TTL_DEFAULT` (30 seconds). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Knox's `Urls.getDomainName`: the cookie Domain for the host the browser goes back to. */
export function cookieDomain(host: string, suffix: string | undefined): string | undefined {
  if (suffix && host.endsWith(suffix.replace(/^\./, '')))
    return suffix.startsWith('.') ? suffix : `.${suffix}`;
  if (host.startsWith('[') || /^\d+(\.\d+){3}$/.test(host)) return undefined;
  const dot = host.indexOf('.');
  if (dot < 0 || host.indexOf('.', dot + 1) < 0) return undefined;
  return host.slice(dot);
}

/**
 * `originalUrl` from the query, with the other parameters appended as Knox's `getOriginalUrlFromQueryParams`
 * does (except the expected ones and those the URL already names); undefined when absent or empty.
 */
export function originalFromQuery(query: string, expected: ReadonlySet<string>): string | undefined {
  const params = new URLSearchParams(query);
  const original = params.get('originalUrl');
  if (!original) return undefined;
  let url = original;
  for (const [name, value] of params) {
    if (name === 'originalUrl' || expected.has(name) || original.includes(`${name}=`)) continue;
    url += `${url.includes('?') ? '&' : '?'}${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
  }
  return url;
}

export const knoxSsoService: ServiceFactory = {
  name: 'KnoxSSO',
  roles: ['KNOXSSO'],
  classNames: [`${KNOX_SERVICE}knoxsso.WebSSOResource`],
  create(ctx: DispatchContext): Handler {
    const p = ctx.params;
    const cookieName = p.get('knoxsso.cookie.name')?.trim() || 'hadoop-jwt';
    if (!COOKIE_NAME.test(cookieName)) {
      throw ConfigError.at(ctx.pos, `knoxsso.cookie.name "${cookieName}" is not a valid cookie name`);
    }
    const secure = boolParam(ctx, 'knoxsso.cookie.secure.only', ctx.settings.ssl.enabled);
    const maxAgeText = p.get('knoxsso.cookie.max.age')?.trim();
    const maxAge = maxAgeText ? Number(maxAgeText) : -1;
    if (!Number.isSafeInteger(maxAge) || maxAge < -1) {
      throw ConfigError.at(ctx.pos, `knoxsso.cookie.max.age must be seconds (or -1), found "${maxAgeText}"`);
    }
    const domainSuffix = p.get('knoxsso.cookie.domain.suffix')?.trim() || undefined;
    const sameSiteText = p.get('knoxsso.cookie.samesite')?.trim() || 'Strict';
    const sameSite = ['strict', 'lax', 'none'].includes(sameSiteText.toLowerCase())
      ? sameSiteText[0].toUpperCase() + sameSiteText.slice(1).toLowerCase()
      : undefined;
    if (!sameSite) {
      throw ConfigError.at(
        ctx.pos,
        `knoxsso.cookie.samesite must be Strict, Lax or None, found "${sameSiteText}"`,
      );
    }
    if (sameSite === 'None' && !secure) {
      ctx.sink.warn(
        ctx.pos,
        'knoxsso.cookie.samesite=None without a Secure cookie: browsers will drop the cookie',
      );
    }
    const ttlMs = ttlParam(ctx, 'knoxsso.token.ttl', KNOXSSO_TTL_DEFAULT);
    const audiences = audiencesParam(ctx, 'knoxsso.token.audiences');
    const issuer = p.get('knoxsso.token.issuer')?.trim() || DEFAULT_ISSUER;
    checkSigAlg(ctx, 'knoxsso.token.sigalg');
    const expected = new Set(splitList(p.get('knoxsso.expected.params') ?? '', /,/));

    let whitelistText = p.get('knoxsso.redirect.whitelist.regex')?.trim() || undefined;
    const site = ctx.settings.dispatchWhitelist?.trim();
    if (!whitelistText && site && !['DEFAULT', 'HTTPS_ONLY'].includes(site.toUpperCase()))
      whitelistText = site;
    let fixed: RegExp[] | undefined;
    try {
      if (whitelistText) fixed = compileWhitelist(whitelistText);
    } catch (err) {
      throw ConfigError.at(ctx.pos, `knoxsso.redirect.whitelist.regex: ${(err as Error).message}`);
    }
    const loopback = compileWhitelist(DEFAULT_REDIRECT_WHITELIST);
    const derived = new Map<string, RegExp[]>();
    const whitelistFor = (ex: Exchange): RegExp[] => {
      if (fixed) return fixed;
      const host = ex.rewriteContext.inbound.host;
      let list = derived.get(host);
      if (!list) {
        const text = derivedWhitelist(host);
        list = text ? compileWhitelist(text) : loopback;
        if (derived.size < 64) derived.set(host, list);
      }
      return list;
    };

    const store = tokenKeyStore(ctx.home, ctx.settings);
    const audit = auditFor(ctx, 'authentication');
    // Knox's WebSSOResource.saveToken: with server-managed state the cookie's token is recorded (type
    // KNOXSSO_COOKIE), so SSOCookieProvider can refuse it once it is disabled or evicted.
    const managed = boolParam(ctx, 'knox.token.exp.server-managed', ctx.settings.tokenState.serverManaged);

    return async (ex) => {
      methodAllowed(ex, ['GET', 'POST']);
      ex.req.resume();
      const subject = subjectOf(ex);
      if (!subject) {
        audit(ex, 'failure', { reason: 'no authenticated user' });
        throw Errors.unauthenticated('No authenticated user to issue a token for');
      }
      const original = originalFromQuery(ex.query, expected);
      if (original === undefined) {
        audit(ex, 'failure', { reason: 'no original url' });
        throw Errors.badRequest('Original URL not found in the request (originalUrl)');
      }
      const check = checkRedirect(original, whitelistFor(ex));
      if (!check.ok) {
        audit(ex, 'denied', { reason: check.reason });
        throw Errors.badRequest(`The original URL is not allowed: ${check.reason}`);
      }
      const issued = await issueToken(await store.getOrCreate(), { subject, ttlMs, audiences, issuer });
      if (managed) {
        const tss = ctx.gateway?.tokenState;
        if (!tss) throw Errors.unavailable('Token management is not available outside a running gateway');
        const now = Date.now();
        try {
          await tss.addToken(
            {
              tokenId: issued.id,
              issueTime: now,
              expiration: issued.expiresAt ?? -1,
              maxLifetimeDuration: tss.defaultMaxLifetime,
            },
            {
              userName: subject,
              enabled: 'true',
              type: 'KNOXSSO_COOKIE',
              lastUsedAt: new Date(now).toISOString(),
            },
          );
        } catch (err) {
          throw Errors.unavailable('The token state store is unreachable; retry shortly', { cause: err });
        }
      }
      const parts = [`${cookieName}=${issued.token}`, 'Path=/'];
      const domain = cookieDomain(new URL(check.url).hostname, domainSuffix);
      if (domain) parts.push(`Domain=${domain}`);
      parts.push('HttpOnly');
      if (secure) parts.push('Secure');
      if (maxAge >= 0) parts.push(`Max-Age=${maxAge}`);
      parts.push(`SameSite=${sameSite}`);
      const status = ex.req.method === 'POST' ? 303 : 307;
      // Cookies a provider of the chain set on the response (pac4j clearing its session) are kept.
      const prior = ex.res.getHeader('set-cookie');
      const cookies = prior === undefined ? [] : Array.isArray(prior) ? prior : [String(prior)];
      ex.res.removeHeader('set-cookie');
      ex.res.writeHead(status, {
        location: check.url,
        'set-cookie': [...cookies, parts.join('; ')],
        'cache-control': 'no-store',
        'content-length': '0',
      });
      ex.res.end();
      audit(ex, 'success', { user: subject, reason: 'sso cookie issued', status });
    };
  },
};
