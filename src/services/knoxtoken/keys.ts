/**
 * @module services/knoxtoken/keys
 * The gateway's token signing key: an RSA key pair (RS256) that the KNOXSSO and KNOXTOKEN services sign with, and
 * the key JWTProvider and SSOCookieProvider verify with when a topology names neither a PEM nor a JWKS URL (Knox
 * verifies with the gateway's own signing key in that case, too).
 *
 * The private key lives in the home's `data/security/token-signing-key.pem` (PKCS#8 PEM, mode 0600, made on first
 * use). Its public half is published as a JWK whose `kid` is its RFC 7638 thumbprint, so the id changes whenever
 * the key does. Nothing is generated while a topology is only compiled (`postern check`): the verifier reads the
 * file when it exists, and only issuing creates it.
 *
 * A key file replaced while the gateway runs is picked up at the next start (the loaded key is kept in memory).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import type { GatewaySettings } from '../../config/gateway-site.ts';
import { readSigningKey } from '../../config/keystore.ts';
import { homeLayout } from '../../gateway/home.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

export const TOKEN_KEY_FILE = 'token-signing-key.pem';
/** The only algorithm the gateway signs with. */
export const SIGNING_ALGORITHM = 'RS256';
/** Knox's default `iss` of the tokens it issues (`JWTokenAttributes.DEFAULT_ISSUER`). */
export const DEFAULT_ISSUER = 'KNOXSSO';

export interface PublicJwk {
  kty: string;
  n: string;
  e: string;
  kid: string;
  alg: string;
  use: 'sig';
}

export interface TokenKeys {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly kid: string;
  /** The public key as a JWK (with `kid`, `alg`, `use`), ready for a JWK set. */
  readonly jwk: PublicJwk;
}

/** RFC 7638 thumbprint (SHA-256, base64url) of an RSA public key. */
function thumbprint(jwk: JsonWebKey): string {
  const canonical = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  return createHash('sha256').update(canonical).digest('base64url');
}

function fromPrivateKey(privateKey: KeyObject): TokenKeys {
  if (privateKey.asymmetricKeyType !== 'rsa') throw new Error('the token signing key must be an RSA key');
  const publicKey = createPublicKey(privateKey);
  const raw = publicKey.export({ format: 'jwk' });
  const kid = thumbprint(raw);
  const jwk: PublicJwk = { kty: 'RSA', n: raw.n!, e: raw.e!, kid, alg: SIGNING_ALGORITHM, use: 'sig' };
  return { privateKey, publicKey, kid, jwk };
}

/** One store per security directory, shared by every deployment of the process. */
export class TokenKeyStore {
  readonly file: string;
  /** The key from a signing keystore (`gateway.signing.keystore.name`), instead of the key file; never created. */
  readonly #fromKeystore: (() => string) | undefined;
  #keys: TokenKeys | undefined;
  #creating: Promise<TokenKeys> | undefined;

  constructor(file: string, fromKeystore?: () => string) {
    this.file = file;
    this.#fromKeystore = fromKeystore;
  }

  /** The keys when the key file exists (read once), else undefined. Never creates anything. */
  load(): TokenKeys | undefined {
    if (this.#keys) return this.#keys;
    if (this.#fromKeystore) {
      this.#keys = fromPrivateKey(createPrivateKey(this.#fromKeystore()));
      return this.#keys;
    }
    let pem: string;
    try {
      pem = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    this.#keys = fromPrivateKey(createPrivateKey(pem));
    return this.#keys;
  }

  /** The keys, generating the key pair on first use (2048-bit RSA, written with mode 0600). */
  getOrCreate(): Promise<TokenKeys> {
    const loaded = this.load();
    if (loaded) return Promise.resolve(loaded);
    this.#creating ??= this.#create().finally(() => {
      this.#creating = undefined;
    });
    return this.#creating;
  }

  async #create(): Promise<TokenKeys> {
    const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    mkdirSync(join(this.file, '..'), { recursive: true, mode: 0o700 });
    try {
      // `wx`: another process (or an earlier start) that got there first wins; its key is the one used.
      writeFileSync(this.file, pem, { mode: 0o600, flag: 'wx' });
      chmodSync(this.file, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const keys = this.load();
    if (!keys) throw new Error(`${this.file}: the token signing key could not be read back`);
    return keys;
  }
}

const stores = new Map<string, TokenKeyStore>();

/**
 * The token key store of a gateway home: the signing keystore gateway-site names (`gateway.signing.keystore.name`,
 * config/keystore.ts), else postern's own `{home}/data/security/token-signing-key.pem`.
 */
export function tokenKeyStore(home: string, settings?: Pick<GatewaySettings, 'signing'>): TokenKeyStore {
  const signing = settings?.signing;
  if (signing?.keystoreName) {
    const keystore = { ...signing, keystoreName: signing.keystoreName };
    const file = join(homeLayout(home).security, 'keystores', keystore.keystoreName);
    const key = `${file}#${keystore.keyAlias}`;
    let store = stores.get(key);
    if (!store) {
      store = new TokenKeyStore(file, () => readSigningKey(keystore, home));
      stores.set(key, store);
    }
    return store;
  }
  const file = join(homeLayout(home).security, TOKEN_KEY_FILE);
  let store = stores.get(file);
  if (!store) {
    store = new TokenKeyStore(file);
    stores.set(file, store);
  }
  return store;
}

export interface IssueOptions {
  subject: string;
  /** Lifetime in ms; -1 issues a token without `exp` (Knox's `ttl=-1`). */
  ttlMs: number;
  audiences?: readonly string[];
  issuer?: string;
  /** Expiry in ms since the epoch, instead of now + `ttlMs` (KNOXTOKEN computes it for the token state too). */
  expiresAt?: number;
  /** The issue time (ms) when the caller fixed it; default now. */
  issuedAt?: number;
  /** More claims (`groups`, Knox's `managed.token`). */
  claims?: Record<string, unknown>;
}

export interface IssuedToken {
  token: string;
  /** The token's id (`jti`, also Knox's `knox.id` claim). */
  id: string;
  /** `exp` in ms since the epoch, or undefined for a token without expiry. */
  expiresAt?: number;
}

/** Signs a JWT with the gateway key: header `{alg: RS256, kid, typ: JWT}`, claims iss/sub/aud/iat/exp/jti. */
export async function issueToken(keys: TokenKeys, options: IssueOptions): Promise<IssuedToken> {
  const now = options.issuedAt ?? Date.now();
  const id = crypto.randomUUID();
  const jwt = new SignJWT({ ...options.claims, 'knox.id': id })
    .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: keys.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? DEFAULT_ISSUER)
    .setSubject(options.subject)
    .setIssuedAt(Math.floor(now / 1000))
    .setJti(id);
  if (options.audiences && options.audiences.length > 0) {
    jwt.setAudience(options.audiences.length === 1 ? options.audiences[0] : [...options.audiences]);
  }
  let expiresAt: number | undefined;
  if (options.expiresAt !== undefined || options.ttlMs >= 0) {
    const exp = Math.floor((options.expiresAt ?? now + options.ttlMs) / 1000);
    jwt.setExpirationTime(exp);
    expiresAt = exp * 1000;
  }
  return { token: await jwt.sign(keys.privateKey), id, expiresAt };
}
