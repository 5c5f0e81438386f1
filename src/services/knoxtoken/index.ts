/**
 * @module services/knoxtoken
 * The KNOXTOKEN service's two resources, answered by the gateway (no backend) and signed with the gateway key
 * (keys.ts), so JWTProvider verifies their tokens with no key configured at all:
 *
 * **KNOXTOKEN** (`KnoxToken`, Knox's `TokenResource` and `TokenResourceV2`, routes `/knoxtoken/api/v1/token…`
 * and `/knoxtoken/api/v2/token…`): issuing, and with server-managed state renewal, revocation, enabling and
 * listing (token-resource.ts). GET or POST answers `{"access_token", "token_id", "managed", "token_type":
 * "Bearer", "expires_in"}` (+ `target_url`, `passcode`, …). As Knox, `expires_in` is the expiry time in ms since
 * the epoch (not a duration; -1 for a token without expiry). Params: `knox.token.ttl` (ms, default 30000, as
 * Knox), `knox.token.audiences`, `knox.token.issuer`, `knox.token.exp.server-managed` and the rest in
 * token-resource.ts.
 *
 * **JWKS** (`KnoxJWKS`, Knox's `JWKSResource`, route `/knoxtoken/api/v1/jwks.json`): the gateway's public key
 * set `{"keys": [{kty, n, e, kid, alg: RS256, use: sig}]}`; public, its route pins the Anonymous provider.
 *
 * Issuance is audited as an `authentication` event of the provider `KnoxToken`: the user and the outcome; the
 * token never is.
 */

import type { DispatchContext, Handler, ServiceFactory } from '../../spi/index.ts';
import { KNOX_SERVICE, methodAllowed } from './issuing.ts';
import { tokenKeyStore } from './keys.ts';
import { tokenResource } from './token-resource.ts';

export { KNOXTOKEN_TTL_DEFAULT } from './token-resource.ts';

export const knoxTokenService: ServiceFactory = {
  name: 'KnoxToken',
  roles: ['KNOXTOKEN'],
  classNames: [`${KNOX_SERVICE}knoxtoken.TokenResource`, `${KNOX_SERVICE}knoxtoken.TokenResourceV2`],
  create: tokenResource,
};

export const knoxJwksService: ServiceFactory = {
  name: 'KnoxJWKS',
  roles: ['KNOXTOKEN'],
  classNames: [`${KNOX_SERVICE}knoxtoken.JWKSResource`],
  create(ctx: DispatchContext): Handler {
    const store = tokenKeyStore(ctx.home, ctx.settings);
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
