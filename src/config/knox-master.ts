/**
 * @module config/knox-master
 * Knox's persisted master secret (`data/security/master`, written by Knox's `CMFMasterService`), read so a Knox
 * installation's keystores open in postern. Knox's format, from its source: a first line `#1.0# <date>`, then one
 * Base64 line that decodes to `base64(salt)::base64(iv)::base64(cipher)`; the cipher is AES/CBC/PKCS5Padding with
 * a 128-bit key derived by PBKDF2WithHmacSHA1 (65,536 iterations) from the fixed passphrase `masterpassphrase` and
 * the salt (`ConfigurableEncryptor` defaults). The file is protected by its permissions, not by that passphrase.
 *
 * Knox's JCEKS credential stores (`__gateway-credentials.jceks`, `{topology}-credentials.jceks`) are not read:
 * each alias is a secret-key entry sealed as a Java-serialized `SealedObject` under Sun's proprietary
 * `PBEWithMD5AndTripleDES` key protector, which neither Node's crypto nor a maintained npm package reads, and no
 * JDK tool prints a secret-key entry's value. Their aliases are made again with `postern cli create-alias` (docs/aliases.md).
 */
import { createDecipheriv, pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';

const PASSPHRASE = 'masterpassphrase';
const ITERATIONS = 65_536;

/**
 * The master password in Knox's master file.
 * @throws Error saying what is wrong with the file (not Knox's format, or it does not decrypt)
 */
export function readKnoxMaster(file: string): string {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  if (!lines[0]?.startsWith('#1.0#') || !lines[1]) {
    throw new Error(`${file} is not a Knox master file (expected "#1.0# …" and one Base64 line)`);
  }
  const parts = Buffer.from(lines[1].trim(), 'base64').toString('utf8').split('::');
  if (parts.length !== 3) throw new Error(`${file}: the second line is not salt::iv::cipher`);
  const [salt, iv, cipher] = parts.map((p) => Buffer.from(p, 'base64'));
  const key = pbkdf2Sync(PASSPHRASE, salt, ITERATIONS, 16, 'sha1');
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, iv);
    return Buffer.concat([decipher.update(cipher), decipher.final()]).toString('utf8');
  } catch {
    throw new Error(
      `${file} does not decrypt with Knox's master passphrase (a file of another Knox version?)`,
    );
  }
}
