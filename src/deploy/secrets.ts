/**
 * @module deploy/secrets
 * The gateway's master secret (`data/security/master.secret`, 32 random bytes made on first start, readable by
 * the owner only) and the per-topology keys derived from it with HKDF-SHA256. A topology's key encrypts the
 * queries that rewrite rules hide in gateway URLs (`encrypt-query`), so one topology cannot read another's.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function loadOrCreateMasterSecret(file: string): Uint8Array {
  if (existsSync(file)) {
    const secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (secret.length < 32)
      throw new Error(`${file}: the master secret must hold at least 32 bytes (base64)`);
    return secret;
  }
  const secret = randomBytes(32);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${secret.toString('base64')}\n`, { mode: 0o600 });
  return secret;
}

export function topologyKey(master: Uint8Array, topology: string, purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', master, Buffer.from(topology, 'utf8'), `postern:${purpose}`, 32));
}
