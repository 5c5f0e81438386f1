/**
 * @module providers/federation/token-common
 * What JWTProvider and SSOCookieProvider share: Knox's unauthenticated-path lists, reading every cookie of one
 * name, keeping the credential away from the backend (cookie, Authorization, query parameter), and turning a
 * verification result into the exchange's user or into the error the client gets.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Errors, type GatewayError } from '../../errors.ts';
import {
  type AuthMethod,
  type Exchange,
  type HeaderFilter,
  type HeaderMap,
  type Principal,
  type ProviderContext,
  type TokenRecord,
  TokenStateUnavailable,
} from '../../spi/index.ts';
import { withoutCookies } from '../common/credentials.ts';
import { isUpgrade } from '../webappsec/feature.ts';
import {
  KeysUnavailable,
  serverManagedParam,
  TokenRejected,
  type TokenVerifier,
  type VerifiedToken,
} from './jwt-verifier.ts';

export const ANONYMOUS: Principal = Object.freeze({
  name: 'anonymous',
  groups: Object.freeze([]) as readonly string[],
});

/**
 * Knox's `*.unauthenticated.path.list`: paths below the topology (`/favicon.ico`), separated by `;` or `,`,
 * compared exactly with the request path (no prefix, no pattern: a looser match would be an authentication
 * bypass). The defaults are always included, as Knox does.
 */
export function unauthenticatedPaths(value: string | undefined, defaults: readonly string[]): Set<string> {
  const set = new Set<string>();
  for (const raw of [...defaults, ...(value ?? '').split(/[;,]/)]) {
    const p = raw.trim();
    if (p === '') continue;
    set.add(p.startsWith('/') ? p : `/${p}`);
  }
  return set;
}

/** Every value of the cookies with this name, in order (a browser can hold several, for several domains). */
export function cookieValues(headers: IncomingHttpHeaders, name: string): string[] {
  const header = headers.cookie;
  if (!header) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (value !== '') values.push(value);
    if (values.length >= 8) break;
  }
  return values;
}

/** A request header filter that removes the named cookies from the forwarded `Cookie` header. */
export function dropCookies(names: ReadonlySet<string>): HeaderFilter {
  return (headers: HeaderMap) => {
    const value = headers.cookie;
    if (value === undefined) return headers;
    const joined = Array.isArray(value) ? value.join('; ') : value;
    const kept = withoutCookies(joined, names);
    const out = { ...headers };
    if (kept === undefined) delete out.cookie;
    else out.cookie = kept;
    return out;
  };
}

/** A request header filter that removes `Authorization` (it carried the token; PassAllHeadersDispatch keeps it). */
export const dropAuthorization: HeaderFilter = (headers: HeaderMap) => {
  if (headers.authorization === undefined) return headers;
  const out = { ...headers };
  delete out.authorization;
  return out;
};

function decodeName(raw: string): string {
  const plain = raw.replaceAll('+', ' ');
  try {
    return decodeURIComponent(plain);
  } catch {
    return plain;
  }
}

/** The first value of a query parameter (form-decoded), or undefined. */
export function queryValue(query: string, name: string): string | undefined {
  if (query === '') return undefined;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if (decodeName(eq < 0 ? part : part.slice(0, eq)) !== name) continue;
    return eq < 0 ? '' : decodeName(part.slice(eq + 1));
  }
  return undefined;
}

/**
 * The URL without the query parameters of this name, compared case-insensitively (a backend that reads `Token`
 * and `token` alike must not get a copy of the credential).
 */
export function withoutQueryParam(url: string, name: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  const lower = name.toLowerCase();
  const kept = query.split('&').filter((part) => {
    if (part === '') return false;
    const eq = part.indexOf('=');
    return decodeName(eq < 0 ? part : part.slice(0, eq)).toLowerCase() !== lower;
  });
  return `${url.slice(0, q)}${kept.length > 0 ? `?${kept.join('&')}` : ''}${hash < 0 ? '' : url.slice(hash)}`;
}

/**
 * Verifies a token for this request. A WebSocket lives until its token's `exp` exactly (the relay closes it then
 * with 1008), without the clock-skew allowance that verification grants: a token past its `exp` but within the
 * allowance still authenticates an HTTP request, but on an upgrade it would open a socket only to close it at
 * once — a 101 followed by a close. Such an upgrade is refused as expired instead, before any backend is contacted.
 * @throws TokenRejected, KeysUnavailable (see TokenVerifier.verify)
 */
export async function verifyFor(
  ex: Exchange,
  verifier: TokenVerifier,
  token: string,
  state?: TokenStateCheck,
): Promise<VerifiedToken> {
  let verified = await verifier.verify(token);
  if (state) verified = await state.jwt(verified);
  if (verified.expiresAt !== undefined && verified.expiresAt <= Date.now() && isUpgrade(ex)) {
    throw new TokenRejected('expired token');
  }
  return verified;
}

/**
 * The first of several candidate tokens (a browser may send the same cookie more than once, e.g. for two paths)
 * that verifies. When none does, the failure to report: a JWKS outage once seen wins over a rejected token,
 * since it says the check could not be made at all.
 */
export async function verifyFirst(
  ex: Exchange,
  verifier: TokenVerifier,
  tokens: readonly string[],
  state?: TokenStateCheck,
): Promise<{ verified: VerifiedToken } | { failure: unknown }> {
  let failure: unknown;
  for (const token of tokens) {
    try {
      return { verified: await verifyFor(ex, verifier, token, state) };
    } catch (err) {
      if (!(failure instanceof KeysUnavailable || failure instanceof TokenStateUnavailable)) failure = err;
    }
  }
  return { failure };
}

/** Sets the exchange's user from a verified token. */
export function authenticate(ex: Exchange, token: VerifiedToken, method: AuthMethod): void {
  ex.user = { name: token.principal, groups: token.groups };
  ex.authMethod = method;
  if (token.expiresAt !== undefined) ex.credentialExpiresAt = token.expiresAt;
}

/** The client's error for a verification failure: 401 with a challenge, or 503 when the JWKS is unreachable. */
export function verificationError(err: unknown, challenge: string): GatewayError {
  if (err instanceof TokenStateUnavailable) {
    return Errors.unavailable('The token state cannot be checked now; retry shortly', {
      cause: err,
      headers: { 'retry-after': '5' },
    });
  }
  if (err instanceof KeysUnavailable) {
    return Errors.unavailable('The keys needed to verify the token could not be fetched; retry shortly', {
      cause: err,
      headers: { 'retry-after': '5' },
    });
  }
  if (err instanceof TokenRejected) {
    return Errors.unauthenticated(`The token is not valid: ${err.reason}`, {
      headers: { 'www-authenticate': `${challenge}, error="invalid_token"` },
    });
  }
  return Errors.internal(undefined, { cause: err });
}

/** The audit reason of a verification failure (never the token). */
export function failureReason(err: unknown): string {
  if (err instanceof TokenRejected) return err.reason;
  if (err instanceof KeysUnavailable) return 'jwks unreachable';
  if (err instanceof TokenStateUnavailable) return 'token state unreachable';
  return 'verification error';
}

/** Whether a failure is the gateway's (503: JWKS or token state unreachable), not the client's. */
export function isOutage(err: unknown): boolean {
  return err instanceof KeysUnavailable || err instanceof TokenStateUnavailable;
}

/**
 * Knox's server-managed checks of `AbstractJWTFilter.validateToken` (JWT) and its passcode form, against the
 * gateway's token state (`ctx.gateway.tokenState`, answered from its bounded cache): the token must be known
 * (not revoked or evicted), unexpired by the server's clock (the state's expiration, which renewals move; the
 * token's own `exp` when the state has none), and enabled. Failures are TokenRejected (401); a store that cannot
 * answer is TokenStateUnavailable (503, fail closed).
 */
export interface TokenStateCheck {
  /** The verified JWT, its expiry replaced by the server's. */
  jwt(verified: VerifiedToken): Promise<VerifiedToken>;
  /** Knox's passcode token (`base64(base64(id)::base64(passcode))`): the user it was issued to. */
  passcode(value: string): Promise<VerifiedToken>;
}

/** The provider's state check when `knox.token.exp.server-managed` is on (param, else gateway-site), or undefined. */
export function tokenStateCheck(ctx: ProviderContext): TokenStateCheck | undefined {
  if (!serverManagedParam(ctx)) return undefined;
  const service = () => {
    const tss = ctx.gateway?.tokenState;
    if (!tss) throw new TokenStateUnavailable('no token state service outside a running gateway');
    return tss;
  };
  const current = async (
    tokenId: string | undefined,
    ownExpiry: number | undefined,
  ): Promise<{ record: TokenRecord; expiresAt: number | undefined }> => {
    if (tokenId === undefined) throw new TokenRejected('unknown token');
    const record = await service().check(tokenId);
    if (!record) throw new TokenRejected('unknown token');
    const expiresAt = record.expiration > 0 ? record.expiration : ownExpiry;
    if (expiresAt !== undefined && Date.now() >= expiresAt) throw new TokenRejected('expired token');
    if (record.metadata.enabled !== 'true') throw new TokenRejected('token disabled');
    return { record, expiresAt };
  };
  return {
    async jwt(verified) {
      const { expiresAt } = await current(verified.tokenId, verified.expiresAt);
      return { ...verified, expiresAt };
    },
    async passcode(value) {
      const parsed = parsePasscode(value);
      if (!parsed) throw new TokenRejected('malformed token');
      const { record, expiresAt } = await current(parsed.tokenId, undefined);
      if (!service().passcodeMatches(record, parsed.passcode)) throw new TokenRejected('invalid passcode');
      const user = record.metadata.userName;
      if (!user) throw new TokenRejected('no principal');
      return { principal: user, groups: [], expiresAt, tokenId: parsed.tokenId };
    },
  };
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** `base64(base64(tokenId) + "::" + base64(passcode))` → its two parts, or undefined. */
export function parsePasscode(value: string): { tokenId: string; passcode: string } | undefined {
  if (value.length > 1024 || !BASE64.test(value)) return undefined;
  const inner = Buffer.from(value, 'base64').toString('utf8');
  const parts = inner.split('::');
  if (parts.length !== 2 || !BASE64.test(parts[0]) || !BASE64.test(parts[1])) return undefined;
  const tokenId = Buffer.from(parts[0], 'base64').toString('utf8');
  const passcode = Buffer.from(parts[1], 'base64').toString('utf8');
  if (tokenId === '' || passcode === '') return undefined;
  return { tokenId, passcode };
}
