/**
 * @module providers/authentication/shiro/password-hash
 * Password hashes for the file realm (`postern.FileRealm`) and `postern hash-password`: scrypt (RFC 7914) with a
 * random 16-byte salt, in the self-describing form
 *
 *     scrypt$ln=15,r=8,p=1$<salt, base64url>$<32-byte key, base64url>
 *
 * where `ln` is log2 of the CPU/memory cost N. Verification recomputes the key with the stored parameters and
 * compares in constant time; parameters outside sane bounds are refused rather than computed.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** log2(N). */
  ln: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 1 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const FORMAT = /^scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{40,})$/;

interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

function derive(password: string, salt: Buffer, { ln, r, p }: ScryptParams, length: number): Promise<Buffer> {
  const N = 2 ** ln;
  return new Promise((resolve, reject) =>
    scrypt(password, salt, length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** Hashes a password into the stored form. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params, KEY_BYTES);
  return `scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Parses a stored hash; undefined when it is not one (for example a plain-text password). */
export function parsePasswordHash(text: string): ParsedHash | undefined {
  const m = FORMAT.exec(text);
  if (!m) return undefined;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 10 || params.ln > 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) {
    return undefined;
  }
  const key = Buffer.from(m[5], 'base64url');
  if (key.length < KEY_BYTES) return undefined;
  return { params, salt: Buffer.from(m[4], 'base64url'), key };
}

/** True when the password matches the parsed hash; constant time in the comparison. */
export async function verifyPassword(password: string, hash: ParsedHash): Promise<boolean> {
  const key = await derive(password, hash.salt, hash.params, hash.key.length);
  return timingSafeEqual(key, hash.key);
}

/** A hash no password matches, verified for unknown users so that they take as long as known ones. */
export const DECOY_HASH: ParsedHash = {
  params: DEFAULT_SCRYPT,
  salt: randomBytes(SALT_BYTES),
  key: randomBytes(KEY_BYTES),
};
