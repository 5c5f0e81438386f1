/**
 * @module providers/federation/jwt-verifier
 * Verification of the JWTs that JWTProvider and SSOCookieProvider accept, shared by both: one verifier per
 * topology deployment and distinct configuration (`ctx.shared`), so the routes of a topology share one JWKS cache
 * and one signature cache.
 *
 * The key is, in Knox's order of precedence: a PEM (`knox.token.verification.pem` / `sso.token.verification.pem`:
 * an X.509 certificate or a public key, full PEM or only its base64 body, as Knox takes it), else one or more JWKS
 * URLs (`knox.token.jwks.url(s)`, `sso.token.verification.jwks.urls`; jose's remote key set: cached for
 * `postern.jwks.max.age` (10 min), fetched again when a token names an unknown `kid` but at most once per
 * `postern.jwks.cooldown` (30 s), each fetch bounded by `postern.jwks.timeout` (5 s)), else the gateway's own
 * signing key (security/token-keys.ts). A JWKS that cannot be fetched means the decision cannot be made: 503,
 * not 401.
 *
 * Checks, each failure a 401 (see {@link TokenRejected}):
 * - the token is a compact JWS, each segment strict base64url (no padding, no other characters), so a token has
 *   one spelling; a JWE or an unsecured `alg: none` token never is accepted;
 * - `alg` is one of `jwt.expected.sigalg` (default RS256; a comma list is accepted). Symmetric algorithms are
 *   refused at deployment: the verification key is public, so HS256 "signed" with it would be forgeable;
 * - `typ` is one of `knox.token.allowed.jws.types` (compared case-insensitively, `application/` ignored, as RFC
 *   7515 §4.1.9 says). Without the param, `JWT` or no `typ` at all is accepted; with it, only the listed types;
 * - `iss` equals `jwt.expected.issuer` (Knox's default `KNOXSSO`: set it for tokens of another issuer);
 * - `aud` contains one of the configured audiences (when any are configured);
 * - `exp` and `nbf` hold, with a clock-skew allowance of `postern.jwt.clock.skew.seconds` (default 30 s) in both
 *   directions. A token without `exp` is accepted, as Knox does (its life is then the cookie's or the client's);
 * - the principal is the claim `knox.token.principal.claim` (lower-cased, as Knox does) when the token has it,
 *   else `sub`; a token with neither, or with a control character in it, is refused.
 * Groups come from the claim `postern.jwt.groups.claim` (default `groups`): an array of strings, or one string
 * of comma-separated names. Absent means no groups.
 *
 * Signature results are cached, as Knox's `SignatureVerificationCache` does, but keyed by the SHA-256 of the
 * whole token (a token id would let a tampered token ride on its original's entry): at most
 * `jwt.verified.cache.max` (250) entries, least recently used evicted, each kept no longer than 10 minutes or
 * the token's expiry. Claims are checked on every request.
 *
 * Knox differences: Knox answers 400 for an expired, not-yet-valid or wrong-audience token and 401 for the rest;
 * postern answers 401 (RFC 6750 `invalid_token`) for all of them, since none of them authenticates anyone and a
 * client should fetch a new token. Not 403: 403 means an authenticated user is not allowed, and a token that does
 * not verify authenticates nobody.
 */
import { createHash, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import {
  compactVerify,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
} from 'jose';
import { ConfigError } from '../../config/diagnostics.ts';
import { parseBoolean, parseDurationMs, parseNonNegativeInt, splitList } from '../../config/values.ts';
import { DEFAULT_ISSUER, type TokenKeyStore, tokenKeyStore } from '../../services/knoxtoken/keys.ts';
import type { ProviderContext } from '../../spi/index.ts';

export type RejectReason =
  | 'malformed token'
  | 'algorithm not accepted'
  | 'token type not accepted'
  | 'bad signature'
  | 'unknown signing key'
  | 'expired token'
  | 'token not yet valid'
  | 'issuer not accepted'
  | 'audience not accepted'
  | 'no principal'
  | 'unknown token'
  | 'token disabled'
  | 'invalid passcode';

/** The token does not authenticate anyone (401). The reason is safe to log and to show. */
export class TokenRejected extends Error {
  readonly reason: RejectReason;
  constructor(reason: RejectReason) {
    super(reason);
    this.name = 'TokenRejected';
    this.reason = reason;
  }
}

/** The keys needed to decide could not be fetched (503). */
export class KeysUnavailable extends Error {
  constructor(options?: { cause?: unknown }) {
    super('the token issuer keys (JWKS) could not be fetched', options);
    this.name = 'KeysUnavailable';
  }
}

export interface VerifiedToken {
  principal: string;
  groups: readonly string[];
  /** `exp` in ms since the epoch; undefined for a token without expiry. */
  expiresAt: number | undefined;
  /** Knox's token id (`knox.id`, else `jti`), when the token has one. */
  tokenId?: string;
}

export type KeySource =
  | { kind: 'key'; key: KeyObject }
  | { kind: 'gateway'; store: TokenKeyStore }
  | { kind: 'jwks'; urls: readonly URL[]; timeoutMs: number; cooldownMs: number; maxAgeMs: number };

export interface VerifierOptions {
  keys: KeySource;
  algorithms: readonly string[];
  issuer: string;
  /** Undefined: any audience (or none) is accepted. */
  audiences?: readonly string[];
  /** Normalized (lower case, no `application/`); undefined: `jwt` or no `typ`. */
  allowedTypes?: ReadonlySet<string>;
  principalClaim?: string;
  groupsClaim: string;
  clockSkewSeconds: number;
  cacheMax: number;
  /**
   * Server-managed token state (`knox.token.exp.server-managed`): the expiry is the token state's, which a renewal
   * moves past the token's `exp`, so `exp` is not checked here (token-common.ts `TokenStateCheck` checks both).
   */
  serverManaged?: boolean;
}

const ASYMMETRIC: Record<string, (key: KeyObject) => boolean> = {
  RS256: (k) => k.asymmetricKeyType === 'rsa',
  RS384: (k) => k.asymmetricKeyType === 'rsa',
  RS512: (k) => k.asymmetricKeyType === 'rsa',
  PS256: (k) => k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss',
  PS384: (k) => k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss',
  PS512: (k) => k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss',
  ES256: (k) => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1',
  ES384: (k) => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'secp384r1',
  ES512: (k) => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'secp521r1',
  EdDSA: (k) => k.asymmetricKeyType === 'ed25519',
  Ed25519: (k) => k.asymmetricKeyType === 'ed25519',
};

/** Tokens longer than this are not parsed (no header allows them anyway). */
const MAX_TOKEN_LENGTH = 64 * 1024;
/**
 * A compact JWS: three base64url segments without padding (RFC 7515 §2, §7.1). jose's decoder also takes `=`
 * padding, so without this check `token + '=='` would verify as a second spelling of the same token.
 */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Longest time a signature result is trusted without checking again. */
const CACHE_TTL_MS = 10 * 60_000;

/** A JWKS fetch that failed below HTTP semantics (refused, reset, DNS, non-200). */
class JwksFetchFailed extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JwksFetchFailed';
  }
}

const jwksFetch = async (
  url: string,
  init: { headers: Headers; method: 'GET'; redirect: 'manual'; signal: AbortSignal },
): Promise<Response> => {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    // jose turns an abort into JWKSTimeout by its name: let it through.
    if ((err as Error)?.name === 'TimeoutError') throw err;
    throw new JwksFetchFailed('JWKS fetch failed', { cause: err });
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    throw new JwksFetchFailed(`JWKS answered ${res.status}`);
  }
  return res;
};

/** RFC 7515 §4.1.9: `typ` compares case-insensitively and `application/` may be omitted. */
export function normalizeType(typ: string): string {
  const t = typ.trim().toLowerCase();
  return t.startsWith('application/') ? t.slice('application/'.length) : t;
}

function hasControl(text: string): boolean {
  return /[\u0000-\u001f\u007f]/.test(text);
}

export class TokenVerifier {
  readonly #o: VerifierOptions;
  readonly #remote: ReturnType<typeof createRemoteJWKSet>[] = [];
  /** sha256(token) → trusted until (ms). Map order is recency order. */
  readonly #verified = new Map<string, number>();

  constructor(options: VerifierOptions) {
    this.#o = options;
    if (options.keys.kind === 'jwks') {
      for (const url of options.keys.urls) {
        this.#remote.push(
          createRemoteJWKSet(url, {
            timeoutDuration: options.keys.timeoutMs,
            cooldownDuration: options.keys.cooldownMs,
            cacheMaxAge: options.keys.maxAgeMs,
            [customFetch]: jwksFetch,
          }),
        );
      }
    }
  }

  /**
   * Verifies a compact JWT.
   * @throws TokenRejected when the token does not authenticate; KeysUnavailable when the JWKS cannot be fetched
   */
  async verify(token: string, now: number = Date.now()): Promise<VerifiedToken> {
    if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
      throw new TokenRejected('malformed token');
    }
    let header: ReturnType<typeof decodeProtectedHeader>;
    let payload: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      payload = decodeJwt(token);
    } catch {
      throw new TokenRejected('malformed token');
    }
    if (typeof header.alg !== 'string' || !this.#o.algorithms.includes(header.alg)) {
      throw new TokenRejected('algorithm not accepted');
    }
    this.#checkType(header.typ);
    // Claims first: a token that would be refused anyway costs no signature check and no JWKS fetch.
    const verified = this.#checkClaims(payload, now);
    const key = createHash('sha256').update(token).digest('base64url');
    const until = this.#verified.get(key);
    if (until !== undefined && until > now) {
      this.#verified.delete(key);
      this.#verified.set(key, until);
      return verified;
    }
    if (until !== undefined) this.#verified.delete(key);
    await this.#verifySignature(token);
    const trustedUntil = this.#o.serverManaged ? undefined : verified.expiresAt;
    this.#remember(key, Math.min(now + CACHE_TTL_MS, trustedUntil ?? Number.POSITIVE_INFINITY));
    return verified;
  }

  #checkType(typ: unknown): void {
    if (typ !== undefined && typeof typ !== 'string') throw new TokenRejected('token type not accepted');
    const allowed = this.#o.allowedTypes;
    if (allowed === undefined) {
      if (typ === undefined || normalizeType(typ) === 'jwt') return;
      throw new TokenRejected('token type not accepted');
    }
    if (typ === undefined || !allowed.has(normalizeType(typ)))
      throw new TokenRejected('token type not accepted');
  }

  #checkClaims(payload: JWTPayload, now: number): VerifiedToken {
    const o = this.#o;
    const seconds = now / 1000;
    const { exp, nbf, iss, aud } = payload;
    if (exp !== undefined && (typeof exp !== 'number' || !Number.isFinite(exp))) {
      throw new TokenRejected('malformed token');
    }
    if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf))) {
      throw new TokenRejected('malformed token');
    }
    if (exp !== undefined && !o.serverManaged && seconds >= exp + o.clockSkewSeconds) {
      throw new TokenRejected('expired token');
    }
    if (nbf !== undefined && seconds + o.clockSkewSeconds < nbf)
      throw new TokenRejected('token not yet valid');
    if (iss !== o.issuer) throw new TokenRejected('issuer not accepted');
    if (o.audiences) {
      const given = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
      if (!given.some((a) => typeof a === 'string' && o.audiences!.includes(a))) {
        throw new TokenRejected('audience not accepted');
      }
    }
    let principal: string | undefined;
    if (o.principalClaim) {
      const claimed = payload[o.principalClaim];
      if (typeof claimed === 'string' && claimed !== '') principal = claimed.toLowerCase();
    }
    if (principal === undefined && typeof payload.sub === 'string' && payload.sub !== '')
      principal = payload.sub;
    if (principal === undefined || principal.length > 1024 || hasControl(principal)) {
      throw new TokenRejected('no principal');
    }
    const id = payload['knox.id'] ?? payload.jti;
    return {
      principal,
      groups: groupsOf(payload[o.groupsClaim]),
      expiresAt: exp === undefined ? undefined : exp * 1000,
      ...(typeof id === 'string' && id !== '' ? { tokenId: id } : {}),
    };
  }

  async #verifySignature(token: string): Promise<void> {
    const o = this.#o;
    const options = { algorithms: [...o.algorithms] };
    if (o.keys.kind !== 'jwks') {
      const key = o.keys.kind === 'key' ? o.keys.key : o.keys.store.load()?.publicKey;
      if (!key) throw new TokenRejected('unknown signing key');
      try {
        await compactVerify(token, key, options);
        return;
      } catch (err) {
        const kind = classify(err);
        throw new TokenRejected(kind === 'unavailable' ? 'bad signature' : kind);
      }
    }
    let unavailable: unknown;
    let reason: RejectReason = 'unknown signing key';
    for (const set of this.#remote) {
      try {
        await compactVerify(token, set, options);
        return;
      } catch (err) {
        if (err instanceof errors.JWKSMultipleMatchingKeys) {
          for await (const candidate of err as unknown as AsyncIterable<KeyObject>) {
            try {
              await compactVerify(token, candidate, options);
              return;
            } catch {
              // try the next key with this kid/alg
            }
          }
          reason = 'bad signature';
          continue;
        }
        const kind = classify(err);
        if (kind === 'unavailable') unavailable = err;
        else if (reason === 'unknown signing key') reason = kind;
      }
    }
    if (unavailable !== undefined) throw new KeysUnavailable({ cause: unavailable });
    throw new TokenRejected(reason);
  }

  #remember(key: string, until: number): void {
    if (this.#o.cacheMax <= 0) return;
    this.#verified.set(key, until);
    while (this.#verified.size > this.#o.cacheMax) {
      const oldest = this.#verified.keys().next().value!;
      this.#verified.delete(oldest);
    }
  }
}

function classify(err: unknown): RejectReason | 'unavailable' {
  if (
    err instanceof JwksFetchFailed ||
    err instanceof errors.JWKSTimeout ||
    err instanceof errors.JWKSInvalid
  ) {
    return 'unavailable';
  }
  if (err instanceof errors.JWKSNoMatchingKey) return 'unknown signing key';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return 'algorithm not accepted';
  }
  if (err instanceof errors.JWSInvalid) return 'malformed token';
  // A JWKS answer that is not JSON is reported by jose as a generic JOSEError.
  if (err instanceof errors.JOSEError && err.code === 'ERR_JOSE_GENERIC') return 'unavailable';
  return 'bad signature';
}

function groupsOf(value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [];
  const groups: string[] = [];
  for (const g of list) {
    if (typeof g !== 'string') continue;
    const name = g.trim();
    if (name !== '' && !hasControl(name)) groups.push(name);
    if (groups.length >= 1000) break;
  }
  return groups;
}

/**
 * A public key from Knox's PEM param: a full PEM (CERTIFICATE, PUBLIC KEY, RSA PUBLIC KEY), or only the base64
 * body of a certificate or of a SubjectPublicKeyInfo.
 * @throws Error when the text is none of these, or holds a private key
 */
export function parsePublicKey(text: string): KeyObject {
  const t = text.trim();
  if (/PRIVATE KEY/.test(t)) throw new Error('holds a private key; give the certificate or the public key');
  if (t.includes('-----BEGIN')) {
    if (/-----BEGIN CERTIFICATE-----/.test(t)) return new X509Certificate(t).publicKey;
    return createPublicKey(t);
  }
  const body = t.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new Error('is neither PEM nor base64');
  const der = Buffer.from(body, 'base64');
  try {
    return new X509Certificate(der).publicKey;
  } catch {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  }
}

/** The param names one provider reads (JWTProvider and SSOCookieProvider name the same things differently). */
export interface VerifierParamNames {
  pem: string;
  jwks: readonly string[];
  audiences: string;
  principalClaim?: string;
}

export const JWT_PARAMS: VerifierParamNames = {
  pem: 'knox.token.verification.pem',
  jwks: ['knox.token.jwks.url', 'knox.token.jwks.urls'],
  audiences: 'knox.token.audiences',
  principalClaim: 'knox.token.principal.claim',
};

export const SSO_PARAMS: VerifierParamNames = {
  pem: 'sso.token.verification.pem',
  jwks: ['sso.token.verification.jwks.urls', 'knox.token.jwks.url', 'knox.token.jwks.urls'],
  audiences: 'sso.expected.audiences',
};

function durationParam(ctx: ProviderContext, name: string, fallback: number): number {
  const text = ctx.params.get(name);
  if (text === undefined) return fallback;
  const ms = parseDurationMs(text);
  if (ms === undefined)
    throw ConfigError.at(ctx.pos, `${name} must be a duration in ms (or 30s, 5m), found "${text}"`);
  return ms;
}

/** `knox.token.exp.server-managed`, defaulting to gateway-site's `gateway.knox.token.exp.server-managed` (Knox's `TokenUtils`). */
export function serverManagedParam(ctx: ProviderContext): boolean {
  const text = ctx.params.get('knox.token.exp.server-managed')?.trim();
  if (text === undefined || text === '') return ctx.settings.tokenState.serverManaged;
  const value = parseBoolean(text);
  if (value === undefined) {
    throw ConfigError.at(ctx.pos, `knox.token.exp.server-managed must be true or false, found "${text}"`);
  }
  return value;
}

function intParam(ctx: ProviderContext, name: string, fallback: number): number {
  const text = ctx.params.get(name);
  if (text === undefined) return fallback;
  const n = parseNonNegativeInt(text);
  if (n === undefined)
    throw ConfigError.at(ctx.pos, `${name} must be a non-negative integer, found "${text}"`);
  return n;
}

/**
 * The verifier for a provider's params, shared by every route of the deployment that has the same
 * configuration. Configuration errors fail the deployment (a provider that cannot verify must not let requests
 * through).
 */
export function verifierFor(ctx: ProviderContext, names: VerifierParamNames): TokenVerifier {
  const p = ctx.params;
  const algorithms = splitList(p.get('jwt.expected.sigalg') ?? 'RS256', /,/);
  if (algorithms.length === 0) throw ConfigError.at(ctx.pos, 'jwt.expected.sigalg is empty');
  for (const alg of algorithms) {
    if (!ASYMMETRIC[alg]) {
      throw ConfigError.at(
        ctx.pos,
        /^HS/i.test(alg) || alg.toLowerCase() === 'none'
          ? `jwt.expected.sigalg "${alg}" is refused: tokens must be signed with an asymmetric key`
          : `jwt.expected.sigalg "${alg}" is not a supported JWS algorithm`,
      );
    }
  }

  let keys: KeySource;
  let keyId: string;
  const pem = p.get(names.pem);
  const jwksUrls = names.jwks.flatMap((n) => splitList(p.get(n) ?? '', /,/));
  if (pem !== undefined && pem.trim() !== '') {
    let key: KeyObject;
    try {
      key = parsePublicKey(pem);
    } catch (err) {
      throw ConfigError.at(ctx.pos, `${names.pem} ${(err as Error).message}`);
    }
    for (const alg of algorithms) {
      if (!ASYMMETRIC[alg](key)) {
        throw ConfigError.at(
          ctx.pos,
          `${names.pem} holds a ${key.asymmetricKeyType} key, which cannot verify ${alg} (jwt.expected.sigalg)`,
        );
      }
    }
    if (jwksUrls.length > 0) {
      ctx.sink.warn(ctx.pos, `both ${names.pem} and a JWKS URL are set; the PEM is used, as Knox does`);
    }
    keys = { kind: 'key', key };
    keyId = `pem:${key.export({ format: 'der', type: 'spki' }).toString('base64')}`;
  } else if (jwksUrls.length > 0) {
    const urls: URL[] = [];
    for (const u of jwksUrls) {
      if (!URL.canParse(u) || !/^https?:$/.test(new URL(u).protocol)) {
        throw ConfigError.at(ctx.pos, `JWKS URL "${u}" is not an absolute http(s) URL`);
      }
      urls.push(new URL(u));
    }
    keys = {
      kind: 'jwks',
      urls,
      timeoutMs: durationParam(ctx, 'postern.jwks.timeout', 5000),
      cooldownMs: durationParam(ctx, 'postern.jwks.cooldown', 30_000),
      maxAgeMs: durationParam(ctx, 'postern.jwks.max.age', 600_000),
    };
    keyId = `jwks:${JSON.stringify([urls.map((u) => u.href), keys.timeoutMs, keys.cooldownMs, keys.maxAgeMs])}`;
  } else {
    keys = { kind: 'gateway', store: tokenKeyStore(ctx.home, ctx.settings) };
    keyId = `gateway:${keys.store.file}`;
  }

  const audienceText = p.get(names.audiences);
  const audiences = audienceText === undefined ? undefined : splitList(audienceText, /,/);
  const typesText = p.get('knox.token.allowed.jws.types');
  const allowedTypes =
    typesText === undefined ? undefined : new Set(splitList(typesText, /,/).map(normalizeType));
  const principalClaim = names.principalClaim ? p.get(names.principalClaim)?.trim() || undefined : undefined;
  const options: VerifierOptions = {
    keys,
    algorithms,
    issuer: p.get('jwt.expected.issuer') ?? DEFAULT_ISSUER,
    audiences: audiences && audiences.length > 0 ? audiences : undefined,
    allowedTypes,
    principalClaim,
    groupsClaim: p.get('postern.jwt.groups.claim')?.trim() || 'groups',
    clockSkewSeconds: intParam(ctx, 'postern.jwt.clock.skew.seconds', 30),
    cacheMax: intParam(ctx, 'jwt.verified.cache.max', 250),
    serverManaged: serverManagedParam(ctx),
  };
  const signature = JSON.stringify([
    keyId,
    options.algorithms,
    options.issuer,
    options.audiences,
    typesText,
    options.principalClaim,
    options.groupsClaim,
    options.clockSkewSeconds,
    options.cacheMax,
    options.serverManaged,
  ]);
  const id = createHash('sha256').update(signature).digest('base64url');
  return ctx.shared(`federation/jwt-verifier:${id}`, () => new TokenVerifier(options));
}
