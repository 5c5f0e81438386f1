/**
 * @module kerberos/auth-token
 * Hadoop's signed authentication token, the value of the `hadoop.auth` cookie (hadoop-auth's `AuthToken` and
 * `Signer`): `u=<short name>&p=<principal>&t=<type>&e=<expiry, epoch ms>` followed by `&s=<signature>`, the
 * signature being the standard base64 of HMAC-SHA256 over the text before `&s=` with the signature secret. The
 * cookie carries it in double quotes. A service with the same secret (`signature.secret`) accepts the other's
 * cookies, as Hadoop's daemons sharing a secret do.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface AuthToken {
  /** The short (auth_to_local) name. */
  readonly user: string;
  readonly principal: string;
  readonly type: string;
  /** Epoch milliseconds. */
  readonly expires: number;
}

const KNOWN = new Set(['u', 'p', 't', 'e', 'i']);

function signature(secret: Uint8Array, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('base64');
}

/** The signed token text (without quotes). Names may not hold `&` (Hadoop refuses them too). */
export function signToken(token: AuthToken, secret: Uint8Array): string {
  for (const v of [token.user, token.principal, token.type]) {
    if (v === '' || v.includes('&')) throw new Error('a token field is empty or holds "&"');
  }
  const text = `u=${token.user}&p=${token.principal}&t=${token.type}&e=${token.expires}`;
  return `${text}&s=${signature(secret, text)}`;
}

/**
 * The token of a cookie value (quoted or not) when its signature is one of `secrets`' and it is well formed;
 * a string saying why not otherwise. Expiry is the caller's to check.
 */
export function verifyToken(value: string, secrets: readonly Uint8Array[]): AuthToken | string {
  const signed =
    value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  const at = signed.lastIndexOf('&s=');
  if (at < 0) return 'not a signed token';
  const text = signed.slice(0, at);
  const given = Buffer.from(signed.slice(at + 3), 'utf8');
  const valid = secrets.some((secret) => {
    const expected = Buffer.from(signature(secret, text), 'utf8');
    // Constant time over equal lengths; a signature of another length is simply not ours.
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!valid) return 'invalid signature';
  const fields = new Map<string, string>();
  for (const part of text.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return 'malformed token';
    const key = part.slice(0, eq);
    if (!KNOWN.has(key) || fields.has(key)) return 'malformed token';
    fields.set(key, part.slice(eq + 1));
  }
  const [u, p, t, e] = ['u', 'p', 't', 'e'].map((k) => fields.get(k));
  if (!u || !p || !t || e === undefined || !/^-?\d+$/.test(e)) return 'malformed token';
  return { user: u, principal: p, type: t, expires: Number(e) };
}
