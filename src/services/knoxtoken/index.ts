/**
 * @module services/knoxtoken
 * The KNOXTOKEN service's two resources, answered by the gateway (no backend) and signed with the gateway key
 * (keys.ts), so JWTProvider verifies their tokens with no key configured at all:
 *
 * **KNOXTOKEN** (`KnoxToken`, Knox's `TokenResource`, route `/knoxtoken/api/v1/token`): GET or POST answers
 * `{"access_token", "token_id", "token_type": "Bearer", "expires_in"}` (+ `target_url` with
 * `knox.token.target.url`). As Knox, `expires_in` is the expiry time in ms since the epoch (not a duration;
 * -1 for a token without expiry). Params: `knox.token.ttl` (ms, default 30000, as Knox), `knox.token.audiences`,
 * `knox.token.issuer`.
 *
 * **JWKS** (`KnoxJWKS`, Knox's `JWKSResource`, route `/knoxtoken/api/v1/jwks.json`): the gateway's public key
 * set `{"keys": [{kty, n, e, kid, alg: RS256, use: sig}]}`; public, its route pins the Anonymous provider.
 *
 * Issuance is audited as an `authentication` event of the provider `KnoxToken`: the user and the outcome; the
 * token never is.
 */

import { Errors } from '../../errors.ts';
import type { DispatchContext, Handler, ServiceFactory } from '../../spi/index.ts';
import { auditFor } from '../../spi/index.ts';
import { audiencesParam, checkSigAlg, KNOX_SERVICE, methodAllowed, subjectOf, ttlParam } from './issuing.ts';
import { DEFAULT_ISSUER, issueToken, tokenKeyStore } from './keys.ts';

/** Knox's `TokenResource.TOKEN_TTL_DEFAULT` (30 seconds). */
export const KNOXTOKEN_TTL_DEFAULT = 30_000;

export const knoxTokenService: ServiceFactory = {
  name: 'KnoxToken',
  roles: ['KNOXTOKEN'],
  classNames: [`${KNOX_SERVICE}knoxtoken.TokenResource`],
  create(ctx: DispatchContext): Handler {
    const ttlMs = ttlParam(ctx, 'knox.token.ttl', KNOXTOKEN_TTL_DEFAULT);
    const audiences = audiencesParam(ctx, 'knox.token.audiences');
    const issuer = ctx.params.get('knox.token.issuer')?.trim() || DEFAULT_ISSUER;
    const targetUrl = ctx.params.get('knox.token.target.url')?.trim() || undefined;
    checkSigAlg(ctx, 'knox.token.sigalg');
    const store = tokenKeyStore(ctx.home);
    const audit = auditFor(ctx, 'authentication');
    return async (ex) => {
      methodAllowed(ex, ['GET', 'POST']);
      ex.req.resume();
      const subject = subjectOf(ex);
      if (!subject) {
        audit(ex, 'failure', { reason: 'no authenticated user' });
        throw Errors.unauthenticated('No authenticated user to issue a token for');
      }
      const issued = await issueToken(await store.getOrCreate(), { subject, ttlMs, audiences, issuer });
      const body = JSON.stringify({
        access_token: issued.token,
        token_id: issued.id,
        token_type: 'Bearer',
        expires_in: issued.expiresAt ?? -1,
        ...(targetUrl ? { target_url: targetUrl } : {}),
      });
      ex.res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        pragma: 'no-cache',
      });
      ex.res.end(body);
      audit(ex, 'success', { user: subject, reason: 'token issued', status: 200 });
    };
  },
};

export const knoxJwksService: ServiceFactory = {
  name: 'KnoxJWKS',
  roles: ['KNOXTOKEN'],
  classNames: [`${KNOX_SERVICE}knoxtoken.JWKSResource`],
  create(ctx: DispatchContext): Handler {
    const store = tokenKeyStore(ctx.home);
    return async (ex) => {
      methodAllowed(ex, ['GET', 'HEAD']);
      const keys = await store.getOrCreate();
      const body = JSON.stringify({ keys: [keys.jwk] });
      ex.res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'public, max-age=300',
      });
      ex.res.end(ex.req.method === 'HEAD' ? undefined : body);
    };
  },
};
