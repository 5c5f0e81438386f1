/**
 * @module providers/federation/jwt
 * Knox's `JWTProvider` (`JWTFederationFilter`): the user is the subject of a signed JWT the
 * client presents, checked by the shared verifier (jwt-verifier.ts: key, algorithm, type, issuer, audience, expiry).
 *
 * Where the token is looked for, in Knox's order:
 * 1. with `knox.token.use.cookie=true`, the cookie `knox.token.cookie.name` (default `hadoop-jwt`). When such
 *    cookies are present and none verifies, the request is refused without looking further, as Knox does;
 * 2. `Authorization: Bearer <jwt>`;
 * 3. `Authorization: Basic` with the user name `Token` (any case) and the JWT as the password (BI tools), or
 *    the user name `Passcode` and a passcode token as the password; a Bearer value that is not a JWT is taken
 *    as a passcode too (Knox's KNOX-3109);
 * 4. the query parameter named by `knox.token.query.param.name` (none by default).
 *
 * With server-managed token state (`knox.token.exp.server-managed`, default gateway-site's
 * `gateway.knox.token.exp.server-managed`) every token is also checked against the gateway's token state, as
 * Knox's `AbstractJWTFilter` does: unknown (revoked, evicted) → 401, expired by the state's expiration (which a
 * renewal extends past the token's `exp`) → 401, disabled → 401, the store unreachable → 503 (token-common.ts
 * `TokenStateCheck`; answers come from a per-node cache of `postern.token.state.cache.ttl`). A passcode token
 * (Knox's `base64(base64(tokenId)::base64(passcode))`) authenticates the user it was issued to when its passcode
 * matches the stored keyed hash; without server-managed state it is refused with 401, as Knox does.
 * `jwt.unauthenticated.path.list` (plus Knox's default `/knoxtoken/api/v1/jwks.json`) names paths below the
 * topology that pass as `anonymous`, compared exactly.
 *
 * Answers: no token → 401 with `WWW-Authenticate: Bearer realm="{topology}"`; a token that does not verify
 * (garbage, tampered, expired, not yet valid, wrong issuer, audience, algorithm or type) → 401 with
 * `error="invalid_token"`; JWKS unreachable → 503. The user gets the token's groups claim and the session ends
 * at `exp` (a proxied WebSocket is closed then).
 *
 * The token never reaches the backend: the Authorization header that carried it is removed (PassAllHeaders
 * would forward it), the token cookie is removed from the forwarded `Cookie` header, and the token query
 * parameter is removed from the backend URL. The audit log gets the outcome and a reason, never the token.
 */

import { ConfigError } from '../../config/diagnostics.ts';
import { parseBoolean } from '../../config/values.ts';
import { Errors } from '../../errors.ts';
import {
  addTo,
  auditFor,
  type Exchange,
  type Filter,
  type ProviderContext,
  type ProviderFactory,
} from '../../spi/index.ts';
import { basicCredentials, bearerToken } from '../common/credentials.ts';
import { JWT_PARAMS, type VerifiedToken, verifierFor } from './jwt-verifier.ts';
import {
  ANONYMOUS,
  authenticate,
  cookieValues,
  dropAuthorization,
  dropCookies,
  failureReason,
  isOutage,
  queryValue,
  tokenStateCheck,
  unauthenticatedPaths,
  verificationError,
  verifyFirst,
  verifyFor,
  withoutQueryParam,
} from './token-common.ts';

/** Knox's `AuthFilterUtils.DEFAULT_AUTH_UNAUTHENTICATED_PATHS_PARAM`. */
const DEFAULT_UNAUTHENTICATED = ['/knoxtoken/api/v1/jwks.json'];
export const DEFAULT_TOKEN_COOKIE = 'hadoop-jwt';

type WireToken = { token: string; from: 'header' | 'query' } | { passcode: string } | undefined;

/** Knox's `isJWT`: three dot-separated parts. */
const looksLikeJwt = (value: string) => value.split('.').length === 3;

function wireToken(ex: Exchange, queryParam: string | undefined): WireToken {
  const headers = ex.req.headers;
  const bearer = bearerToken(headers);
  if (bearer !== undefined)
    return looksLikeJwt(bearer) ? { token: bearer, from: 'header' } : { passcode: bearer };
  const basic = basicCredentials(headers);
  if (basic) {
    const user = basic.username.toLowerCase();
    if (user === 'token' && basic.password !== '') return { token: basic.password, from: 'header' };
    if (user === 'passcode') return { passcode: basic.password };
  }
  if (queryParam !== undefined) {
    const value = queryValue(ex.query, queryParam);
    if (value) return { token: value, from: 'query' };
  }
  return undefined;
}

export const jwtProvider: ProviderFactory = {
  role: 'federation',
  name: 'JWTProvider',
  create(ctx: ProviderContext): Filter {
    const p = ctx.params;
    const verifier = verifierFor(ctx, JWT_PARAMS);
    const unauthenticated = unauthenticatedPaths(
      p.get('jwt.unauthenticated.path.list'),
      DEFAULT_UNAUTHENTICATED,
    );
    const queryParam = p.get('knox.token.query.param.name')?.trim() || undefined;
    const useCookieText = p.get('knox.token.use.cookie')?.trim() || 'false';
    const useCookie = parseBoolean(useCookieText);
    if (useCookie === undefined) {
      throw ConfigError.at(ctx.pos, `knox.token.use.cookie must be true or false, found "${useCookieText}"`);
    }
    const cookieName = p.get('knox.token.cookie.name')?.trim() || DEFAULT_TOKEN_COOKIE;
    const dropCookie = dropCookies(new Set([cookieName]));
    const challenge = `Bearer realm="${ctx.topology.name}"`;
    const stripQuery =
      queryParam === undefined ? undefined : (url: string) => withoutQueryParam(url, queryParam);
    const audit = auditFor(ctx, 'federation');
    const state = tokenStateCheck(ctx);

    const refuse = (ex: Exchange, err: unknown) => {
      audit(ex, isOutage(err) ? 'unavailable' : 'failure', { reason: failureReason(err) });
      return verificationError(err, challenge);
    };

    return async (ex, next) => {
      // Whatever authenticates the request, the configured token carriers never reach the backend.
      if (stripQuery) addTo(ex, 'targetEdits', stripQuery);
      if (useCookie) addTo(ex, 'requestHeaderFilters', dropCookie);

      if (unauthenticated.has(ex.path)) {
        ex.user = ANONYMOUS;
        ex.authMethod = 'anonymous';
        audit(ex, 'success', { user: ANONYMOUS.name, reason: 'unauthenticated path' });
        return next();
      }

      if (useCookie) {
        const values = cookieValues(ex.req.headers, cookieName);
        if (values.length > 0) {
          const result = await verifyFirst(ex, verifier, values, state);
          if ('failure' in result) throw refuse(ex, result.failure);
          authenticate(ex, result.verified, 'cookie');
          audit(ex, 'success', { reason: 'jwt cookie' });
          return next();
        }
      }

      const found = wireToken(ex, queryParam);
      if (found === undefined) {
        audit(ex, 'failure', { reason: 'no token' });
        throw Errors.unauthenticated('A bearer token is required', {
          headers: { 'www-authenticate': challenge },
        });
      }
      if ('passcode' in found) {
        if (!state) {
          audit(ex, 'failure', { reason: 'passcode without server-managed token state' });
          // Knox's TOKEN_STATE_SERVICE_DISABLED_ERROR.
          throw Errors.unauthenticated(
            'Error in token provider config: passcode use with knox.token.exp.server-managed set to false.',
            { headers: { 'www-authenticate': `${challenge}, error="invalid_token"` } },
          );
        }
        let verified: VerifiedToken;
        try {
          verified = await state.passcode(found.passcode);
        } catch (err) {
          throw refuse(ex, err);
        }
        authenticate(ex, verified, 'jwt');
        addTo(ex, 'requestHeaderFilters', dropAuthorization);
        audit(ex, 'success', { reason: 'passcode' });
        return next();
      }
      let verified: VerifiedToken;
      try {
        verified = await verifyFor(ex, verifier, found.token, state);
      } catch (err) {
        throw refuse(ex, err);
      }
      authenticate(ex, verified, 'jwt');
      if (found.from === 'header') addTo(ex, 'requestHeaderFilters', dropAuthorization);
      audit(ex, 'success', { reason: found.from === 'query' ? 'jwt query parameter' : 'jwt' });
      return next();
    };
  },
};
