/**
 * @module providers/federation/pac4j/oidc
 * pac4j's `OidcClient` with `openid-client` (a certified OpenID Connect relying party): the authorization code
 * flow with PKCE (S256), `state` and `nonce`, against a provider found by discovery (`oidc.discoveryUri`).
 *
 * The callback is validated entirely by openid-client: `state` equal to the one sent, the authorization
 * response's `iss` (RFC 9207) when the provider sends one, the code exchanged at the token endpoint with the
 * client's credentials and the PKCE verifier, then the ID token: its signature against the provider's JWKS
 * (`enableNonRepudiationChecks`: openid-client would otherwise trust TLS alone for a token-endpoint response),
 * `iss` equal to the discovered issuer, `aud` containing `oidc.id`, `exp`/`iat` within `oidc.maxClockSkew`,
 * `nonce` equal to the one sent (and absent when none was), the algorithm `oidc.preferredJwsAlgorithm` (default
 * RS256). The profile is the ID token's claims, merged with the UserInfo endpoint's when the provider has one
 * (pac4j's profile creator calls it too; openid-client checks its `sub` is the ID token's).
 *
 * Params (Knox's, which are pac4j's property names): `oidc.id` (required), `oidc.secret`, `oidc.discoveryUri`
 * (required; plain http only to a loopback address), `oidc.useNonce` (default true), `oidc.preferredJwsAlgorithm`,
 * `oidc.maxClockSkew` (seconds, default 30), `oidc.scope` (default `openid profile email`),
 * `oidc.clientAuthenticationMethod` (`client_secret_basic` default, `client_secret_post`, `none`),
 * `oidc.customParamKey<n>` / `oidc.customParamValue<n>` (extra authorization request parameters).
 *
 * Discovery happens at the first login, and again after a failure: a provider that is down gives 503 (logged
 * once per outage by the provider), never a redirect loop.
 */
import * as oidc from 'openid-client';
import type { ParamReader } from '../../common/param-reader.ts';
import {
  clientCallbackUrl,
  type IdentityClient,
  IdpUnavailable,
  isLoopbackHost,
  LoginRefused,
  type Profile,
} from './client.ts';

export const OIDC_CLIENT = 'OidcClient';
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
const JWS_ALGS = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;

/** Seconds openid-client waits for the provider (discovery, token, UserInfo, JWKS). */
const HTTP_TIMEOUT_S = 10;

/** A request to the provider that failed for a reason a retry later may cure (network, 5xx, timeout). */
function isOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return true;
  if (err instanceof TypeError && err.message === 'fetch failed') return true;
  if (err instanceof oidc.ClientError) {
    return err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && isServerError(err.cause);
  }
  return false;
}

function isServerError(cause: unknown): boolean {
  return cause instanceof Response ? cause.status >= 500 : true;
}

/** A short reason for the audit and the log: openid-client's message and its cause's (claim names, no values). */
export function reasonOf(err: unknown): string {
  if (err instanceof oidc.AuthorizationResponseError) return `the provider answered ${err.error}`;
  if (err instanceof oidc.ResponseBodyError) return `the token endpoint answered ${err.error}`;
  if (!(err instanceof Error)) return 'unexpected failure';
  const cause =
    err.cause instanceof Error && err.cause.message !== err.message ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

export function createOidcClient(
  params: ParamReader,
  callbackBase: string,
  resolveSecret: (value: string) => string,
): IdentityClient | undefined {
  const clientId = params.text('oidc.id');
  if (!clientId) params.error('oidc.id', 'the OpenID Connect client id is required');
  // Knox resolves `${ALIAS=name}` in every pac4j param; the secret is the one that holds a password.
  let secret = params.text('oidc.secret');
  if (secret) {
    try {
      secret = resolveSecret(secret);
    } catch (err) {
      params.error('oidc.secret', (err as Error).message);
    }
  }
  const discoveryText = params.text('oidc.discoveryUri');
  let discoveryUri: URL | undefined;
  if (!discoveryText) {
    params.error('oidc.discoveryUri', 'the provider discovery URI is required');
  } else if (!URL.canParse(discoveryText) || !/^https?:$/.test(new URL(discoveryText).protocol)) {
    params.error('oidc.discoveryUri', `expected an absolute http(s) URL, found "${discoveryText}"`);
  } else {
    discoveryUri = new URL(discoveryText);
    if (discoveryUri.protocol === 'http:' && !isLoopbackHost(discoveryUri.hostname)) {
      params.error(
        'oidc.discoveryUri',
        'plain http is accepted only to a loopback address: tokens and the client secret would travel in clear',
      );
    }
  }
  const useNonce = params.bool('oidc.useNonce', true);
  if (!useNonce) {
    params.warn(
      'oidc.useNonce',
      'false: ID tokens are not bound to the login by a nonce (PKCE and state still are)',
    );
  }
  const alg = params.text('oidc.preferredJwsAlgorithm') || 'RS256';
  if (!JWS_ALGS.test(alg)) {
    params.error(
      'oidc.preferredJwsAlgorithm',
      `expected an asymmetric JWS algorithm such as RS256, found "${alg}"`,
    );
  }
  const clockSkew = params.int('oidc.maxClockSkew', 30, 0, { max: 3600 });
  const scope = params.text('oidc.scope') || 'openid profile email';
  if (!scope.split(/\s+/).includes('openid'))
    params.error('oidc.scope', `must include openid, found "${scope}"`);
  const authText = params.text('oidc.clientAuthenticationMethod') || 'client_secret_basic';
  const authMethod = AUTH_METHODS.find((m) => m === authText.toLowerCase());
  if (!authMethod) {
    params.error(
      'oidc.clientAuthenticationMethod',
      `expected one of ${AUTH_METHODS.join(', ')}, found "${authText}"`,
    );
  } else if (authMethod !== 'none' && !secret) {
    params.error('oidc.secret', `the client secret is required with ${authMethod}`);
  }
  const responseType = params.text('oidc.responseType');
  if (responseType && responseType !== 'code') {
    params.error(
      'oidc.responseType',
      `only the authorization code flow (code) is supported, found "${responseType}"`,
    );
  }
  const custom: [string, string][] = [];
  for (let i = 1; i <= 20; i++) {
    const key = params.text(`oidc.customParamKey${i}`);
    if (key) custom.push([key, params.text(`oidc.customParamValue${i}`) ?? '']);
  }
  const reserved = new Set([
    'state',
    'nonce',
    'code_challenge',
    'code_challenge_method',
    'redirect_uri',
    'client_id',
  ]);
  for (const [key] of custom) {
    if (reserved.has(key)) params.error('oidc.customParamKey', `"${key}" is set by the client itself`);
  }
  if (params.failed || !clientId || !discoveryUri || !authMethod) return undefined;

  const callbackUrl = clientCallbackUrl(callbackBase, OIDC_CLIENT);
  const clientAuth =
    authMethod === 'none'
      ? oidc.None()
      : authMethod === 'client_secret_post'
        ? oidc.ClientSecretPost(secret)
        : oidc.ClientSecretBasic(secret);
  const insecure = discoveryUri.protocol === 'http:';
  const server = discoveryUri;

  /**
   * openid-client sends as `redirect_uri` to the token endpoint the URL the callback arrived at, less its query;
   * Knox's callback URL has its query (`?pac4jCallback=true&client_name=OidcClient`), and the provider insists on
   * the very URI of the authorization request. This fetch puts it back, for the token endpoint only.
   */
  let tokenEndpoint: string | undefined;
  const customFetch: oidc.CustomFetch = (url, options) => {
    if (
      url === tokenEndpoint &&
      options.body instanceof URLSearchParams &&
      options.body.has('redirect_uri')
    ) {
      options.body.set('redirect_uri', callbackUrl);
    }
    return fetch(url, options as RequestInit);
  };

  let configuration: Promise<oidc.Configuration> | undefined;
  const discover = (): Promise<oidc.Configuration> => {
    configuration ??= oidc
      .discovery(
        server,
        clientId,
        { id_token_signed_response_alg: alg, [oidc.clockTolerance]: clockSkew },
        clientAuth,
        {
          timeout: HTTP_TIMEOUT_S,
          [oidc.customFetch]: customFetch,
          execute: [...(insecure ? [oidc.allowInsecureRequests] : []), oidc.enableNonRepudiationChecks],
        },
      )
      .then((config) => {
        tokenEndpoint = config.serverMetadata().token_endpoint;
        return config;
      });
    return configuration.catch((err: unknown) => {
      configuration = undefined;
      throw new IdpUnavailable(`OpenID Connect discovery at ${server.origin} failed: ${reasonOf(err)}`, {
        cause: err,
      });
    });
  };

  return {
    name: OIDC_CLIENT,
    callbackUrl,
    postCallback: false,
    async start() {
      const config = await discover();
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = useNonce ? oidc.randomNonce() : '';
      const query: Record<string, string> = Object.fromEntries(custom);
      Object.assign(query, {
        redirect_uri: callbackUrl,
        scope,
        response_type: 'code',
        state,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      if (useNonce) query.nonce = nonce;
      const location = oidc.buildAuthorizationUrl(config, query).href;
      return { location, pending: { state, nonce, verifier } };
    },
    async callback(ex, pending) {
      const config = await discover();
      const current = new URL(callbackUrl);
      current.search = ex.query;
      try {
        const tokens = await oidc.authorizationCodeGrant(config, current, {
          pkceCodeVerifier: pending.verifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce || undefined,
          idTokenExpected: true,
        });
        const claims = tokens.claims();
        if (!claims) throw new LoginRefused('no ID token');
        let attributes: Record<string, unknown> = { ...claims };
        if (config.serverMetadata().userinfo_endpoint) {
          const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
          attributes = { ...info, ...claims };
        }
        return { client: OIDC_CLIENT, id: claims.sub, attributes } satisfies Profile;
      } catch (err) {
        if (err instanceof LoginRefused) throw err;
        if (isOutage(err))
          throw new IdpUnavailable(`the provider did not answer: ${reasonOf(err)}`, { cause: err });
        throw new LoginRefused(reasonOf(err), { cause: err });
      }
    },
  };
}
