/**
 * @module config/aliases
 * Knox's alias service: named secrets (passwords) kept encrypted at rest, one credential store per topology and
 * one for the gateway (cluster `__gateway`), written with `postern cli create-alias` and referred to from
 * configuration as `${ALIAS=name}`. As Knox's, a topology's lookup falls back to the gateway's store
 * (`KnoxLdapContextFactory`: the cluster's alias, else the gateway's), and alias names are case-insensitive
 * (stored lower-case, as Java keystores keep them).
 *
 * **Layout** (postern's own format; Knox's JCEKS stores are not read, see docs/aliases.md):
 * `data/security/keystores/{cluster}-credentials.json`, mode 0600, written atomically (temporary file + rename):
 * ```json
 * { "format": "postern-credentials/1", "cluster": "sandbox",
 *   "aliases": { "ldcsystempassword": { "iv": "<12 bytes, base64>", "data": "<ciphertext + 16-byte tag, base64>" } } }
 * ```
 * Each value is encrypted with AES-256-GCM under the store key, with a fresh random 96-bit IV, and with the
 * additional data `postern-credentials/1\0{cluster}\0{alias}`, so an entry moved to another alias or store fails to
 * decrypt. The store key is HKDF-SHA256 of the master secret (`data/security/master.secret`, 32 random bytes),
 * salt = the cluster name, info = `postern:credentials` (as deploy/secrets.ts `topologyKey`): a store is readable
 * only with its home's master secret, and one store's key opens no other. A value that fails to decrypt (another
 * master secret, an edited file) is an error, never an empty password.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GatewaySettings } from './gateway-site.ts';

/** The gateway's own store (Knox's `__gateway-credentials.jceks`). */
export const GATEWAY_CLUSTER = '__gateway';
const FORMAT = 'postern-credentials/1';
const ALIAS_REF = /^\s*\$\{ALIAS=([^}]+)\}\s*$/;

/** The alias a `${ALIAS=name}` value names, or undefined for any other value. */
export function aliasRef(value: string): string | undefined {
  return ALIAS_REF.exec(value)?.[1].trim();
}

/** Where a home's credential stores are. */
export function keystoresDir(home: string): string {
  return join(home, 'data', 'security', 'keystores');
}

/** The master secret file of a home. */
export function masterSecretFile(home: string): string {
  return join(home, 'data', 'security', 'master.secret');
}

/** The home's master secret, or undefined when it has none yet (nothing is created). */
export function readMasterSecret(home: string): Uint8Array | undefined {
  const file = masterSecretFile(home);
  if (!existsSync(file)) return undefined;
  const secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (secret.length < 32) throw new Error(`${file}: the master secret must hold at least 32 bytes (base64)`);
  return secret;
}

interface StoreFile {
  format: typeof FORMAT;
  cluster: string;
  aliases: Record<string, { iv: string; data: string }>;
}

const CLUSTER_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** One cluster's credential store. */
export class CredentialStore {
  readonly cluster: string;
  readonly file: string;
  readonly #key: Uint8Array;
  #data: StoreFile;

  constructor(home: string, master: Uint8Array, cluster: string) {
    if (!CLUSTER_NAME.test(cluster)) throw new Error(`"${cluster}" is not a topology name`);
    this.cluster = cluster;
    this.file = join(keystoresDir(home), `${cluster}-credentials.json`);
    // The same derivation as deploy/secrets.ts `topologyKey(master, cluster, 'credentials')`.
    this.#key = new Uint8Array(
      hkdfSync('sha256', master, Buffer.from(cluster, 'utf8'), 'postern:credentials', 32),
    );
    this.#data = { format: FORMAT, cluster, aliases: {} };
    if (existsSync(this.file)) {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as StoreFile;
      if (parsed.format !== FORMAT || parsed.cluster !== cluster || typeof parsed.aliases !== 'object') {
        throw new Error(`${this.file} is not a ${FORMAT} store of ${cluster}`);
      }
      this.#data = parsed;
    }
  }

  #aad(alias: string): Buffer {
    return Buffer.from(`${FORMAT}\0${this.cluster}\0${alias}`, 'utf8');
  }

  /** Alias names, sorted. */
  list(): string[] {
    return Object.keys(this.#data.aliases).sort();
  }

  has(alias: string): boolean {
    return Object.hasOwn(this.#data.aliases, alias.toLowerCase());
  }

  /** The secret, or undefined when the alias is not in this store. @throws when it does not decrypt */
  get(alias: string): string | undefined {
    const name = alias.toLowerCase();
    const entry = Object.hasOwn(this.#data.aliases, name) ? this.#data.aliases[name] : undefined;
    if (!entry) return undefined;
    try {
      const data = Buffer.from(entry.data, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(entry.iv, 'base64'));
      decipher.setAAD(this.#aad(name));
      decipher.setAuthTag(data.subarray(data.length - 16));
      return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new Error(
        `alias ${name} of ${this.cluster} does not decrypt: the store was written with another master secret, or altered`,
      );
    }
  }

  set(alias: string, value: string): void {
    const name = alias.toLowerCase();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(this.#aad(name));
    const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    this.#data.aliases[name] = { iv: iv.toString('base64'), data: data.toString('base64') };
    this.#save();
  }

  /** Removes the alias; false when it was not there. */
  delete(alias: string): boolean {
    const name = alias.toLowerCase();
    if (!Object.hasOwn(this.#data.aliases, name)) return false;
    delete this.#data.aliases[name];
    this.#save();
    return true;
  }

  #save(): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify(this.#data, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, this.file);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}

/**
 * Resolves `${ALIAS=name}` values for one topology: its own store, then the gateway's (Knox's order). Any other
 * value is returned unchanged.
 */
export class AliasResolver {
  readonly #home: string;
  readonly #master: Uint8Array | undefined;
  readonly #topology: string | undefined;
  readonly #stores = new Map<string, CredentialStore | null>();

  /** @param topology undefined for gateway-site's aliases (the gateway's store alone) */
  constructor(home: string, master: Uint8Array | undefined, topology?: string) {
    this.#home = home;
    this.#master = master;
    this.#topology = topology;
  }

  #store(cluster: string): CredentialStore | undefined {
    if (!this.#master) return undefined;
    let store = this.#stores.get(cluster);
    if (store === undefined) {
      const file = join(keystoresDir(this.#home), `${cluster}-credentials.json`);
      store = existsSync(file) ? new CredentialStore(this.#home, this.#master, cluster) : null;
      this.#stores.set(cluster, store);
    }
    return store ?? undefined;
  }

  /** The secret of `alias`, or undefined when neither store has it. @throws when a store does not decrypt */
  lookup(alias: string): string | undefined {
    if (this.#topology !== undefined && CLUSTER_NAME.test(this.#topology)) {
      const own = this.#store(this.#topology)?.get(alias);
      if (own !== undefined) return own;
    }
    return this.#store(GATEWAY_CLUSTER)?.get(alias);
  }

  /**
   * `value` with its alias resolved: a `${ALIAS=name}` value becomes the secret.
   * @throws Error naming the alias (never a secret) when it is in no store
   */
  resolve(value: string): string {
    const alias = aliasRef(value);
    if (alias === undefined) return value;
    const secret = this.lookup(alias);
    if (secret === undefined) {
      const where = this.#topology ? `topology ${this.#topology} or the gateway` : 'the gateway';
      throw new Error(
        `alias ${alias} is not defined for ${where} (postern cli create-alias ${alias}${this.#topology ? ` --cluster ${this.#topology}` : ''})`,
      );
    }
    return secret;
  }
}

/**
 * The identity keystore's password, as Knox finds it: the gateway alias `gateway.tls.keystore.password.alias`
 * names (`postern cli create-alias gateway-identity-keystore-password`); else, for installations made before
 * aliases, the POSTERN_KEYSTORE_PASSWORD environment variable.
 */
export function keystorePassword(settings: GatewaySettings, home: string): string | undefined {
  const fromAlias = new AliasResolver(home, readMasterSecret(home)).lookup(
    settings.ssl.keystorePasswordAlias,
  );
  return fromAlias ?? process.env.POSTERN_KEYSTORE_PASSWORD;
}
