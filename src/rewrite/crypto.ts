/**
 * @module rewrite/crypto
 * The cipher behind `encrypt-query`/`decrypt-query` and `encrypt`/`decrypt` steps.
 *
 * Knox encrypts with a per-cluster password (aliases `encryptQueryString`, `encryptedUrl`) and AES in CBC mode; the
 * token only has to round-trip through the same gateway, so postern is free to choose something sounder:
 * AES-256-GCM, which also authenticates (a flipped bit is detected instead of decrypting to garbage that the
 * backend would receive). Keys are derived with HKDF-SHA256 from the deployment secret, one per topology and per
 * purpose, so a token minted for one topology or one step kind is useless in another.
 *
 * Token layout, base64url without padding: `iv (12 bytes) | ciphertext | tag (16 bytes)`.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Shorter secrets are refused: HKDF cannot add entropy that is not there. */
export const MIN_SECRET_BYTES = 16;

/** What a key is for; part of the HKDF info and of the GCM associated data. */
export type CipherPurpose = 'encrypt-query' | 'encrypt';

export interface TokenCipher {
  encrypt(plain: string): string;
  /** The clear text, or `undefined` if the token is malformed or fails authentication. */
  decrypt(token: string): string | undefined;
}

/**
 * Builds the cipher of one topology and purpose. Done once at deployment.
 * @throws {RangeError} when the secret is shorter than {@link MIN_SECRET_BYTES}.
 */
export function createTokenCipher(secret: Uint8Array, topology: string, purpose: CipherPurpose): TokenCipher {
  if (secret.byteLength < MIN_SECRET_BYTES) {
    throw new RangeError(`The rewrite secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  const info = Buffer.from(`postern rewrite ${purpose}\u0000${topology}`, 'utf8');
  const key = Buffer.from(hkdfSync('sha256', secret, Buffer.from('postern/rewrite/v1', 'utf8'), info, 32));
  const aad = Buffer.from(purpose, 'utf8');
  return {
    encrypt(plain: string): string {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
    },
    decrypt(token: string): string | undefined {
      // Node's base64url decoder skips characters outside the alphabet; refuse them instead, so that a token
      // with junk appended is not accepted as the same token.
      if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
      const raw = Buffer.from(token, 'base64url');
      if (raw.byteLength < IV_BYTES + TAG_BYTES) return undefined;
      const iv = raw.subarray(0, IV_BYTES);
      const tag = raw.subarray(raw.byteLength - TAG_BYTES);
      const body = raw.subarray(IV_BYTES, raw.byteLength - TAG_BYTES);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAAD(aad);
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
  };
}
