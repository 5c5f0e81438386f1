/**
 * @module config/keystore
 * The gateway's identity keystore under Knox's settings: `gateway.tls.keystore.path` (default, as Knox,
 * `data/security/keystores/gateway.jks`), `.type` (default `JKS`), the password from the gateway alias
 * `gateway.tls.keystore.password.alias`, the key `gateway.tls.key.alias` (default `gateway-identity`) with its
 * passphrase from the alias `gateway.tls.key.passphrase.alias` (else the keystore password, as keytool makes them).
 *
 * - **JKS** is read with `jks-js` (maintained, MIT; it checks the store's integrity digest with the password and
 *   decrypts the key entry), giving PEM certificate chain and key.
 * - **PKCS12** is given to Node's TLS as it is (`pfx`), after opening it once here so that a wrong password is a
 *   start-up (and `postern check`) error.
 * - **JCEKS** is refused with the command that converts it: its key entries are sealed with Sun's proprietary
 *   `PBEWithMD5AndTripleDES`, which neither Node's crypto nor `jks-js` reads.
 *
 * Every failure names the keystore and the alias the password came from, never the password.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { lazyRequire } from '../lazy-require.ts';
import { AliasResolver, keystorePassword, readMasterSecret } from './aliases.ts';
import type { GatewaySettings } from './gateway-site.ts';

type JksJs = typeof import('jks-js');
const jksJs = lazyRequire<JksJs>('jks-js');

export type KeystoreIdentity =
  | { source: string; cert: Buffer; key: Buffer }
  | { source: string; pfx: Buffer; passphrase: string | undefined };

/** Knox's default identity keystore, relative to the home. */
export const DEFAULT_KEYSTORE = join('data', 'security', 'keystores', 'gateway.jks');

type Entries = ReturnType<JksJs['toPem']>;
const JCEKS_MAGIC = 0xcececece;
const JKS_MAGIC = 0xfeedfeed;

/** The keytool command that turns a JCEKS store into PKCS#12 (its key entries use a cipher postern cannot read). */
function isJceks(type: string, data: Buffer): boolean {
  return type.trim().toUpperCase() === 'JCEKS' || (data.length >= 4 && data.readUInt32BE(0) === JCEKS_MAGIC);
}

function convertJceks(file: string, to: string): string {
  return `keytool -importkeystore -srckeystore ${file} -srcstoretype JCEKS -destkeystore ${to} -deststoretype PKCS12`;
}

/**
 * A JKS or PKCS#12 store's entries as PEM, read with jks-js (which checks the store's integrity with the
 * password). `type` is the configured type (its content decides between JKS and PKCS#12); JCEKS is refused with
 * the command that converts it to `convertTo`.
 * @throws Error saying why, never with a password
 */
function openStore(
  file: string,
  data: Buffer,
  options: { type: string; password: string; keyPassword?: string; what: string; convertTo: string },
): Entries {
  const type = options.type.trim().toUpperCase();
  const magic = data.length >= 4 ? data.readUInt32BE(0) : 0;
  if (type === 'JCEKS' || magic === JCEKS_MAGIC) {
    throw new Error(
      `postern reads ${options.what}; convert it with: ${convertJceks(file, options.convertTo)}`,
    );
  }
  if (type !== 'JKS' && type !== 'PKCS12' && type !== 'P12') {
    throw new Error(`type ${type}: postern reads ${options.what}`);
  }
  try {
    return jksJs().toPem(data, options.password, options.keyPassword ?? options.password);
  } catch (err) {
    const why = (err as Error).message;
    if (/Invalid keystore format/i.test(why)) throw new Error('the file is not a JKS or PKCS12 keystore');
    if (/Password verification failed|MAC could not be verified/i.test(why)) {
      throw new Error(`wrong keystore password (${why})`);
    }
    if (/Cannot recover key/i.test(why)) throw new Error(`wrong private key password (${why})`);
    throw new Error(why);
  }
}

/**
 * The key entry `alias` (compared case-insensitively, as Java's keystores keep aliases), or without one the
 * store's only key entry. `setting` names the property the alias came from, for the error.
 */
function keyEntry(entries: Entries, alias: string | undefined, setting?: string): KeyPair {
  const keyAliases = Object.entries(entries)
    .filter(([, e]) => 'key' in e && e.key && 'cert' in e && e.cert)
    .map(([a]) => a);
  let found: string | undefined;
  if (alias !== undefined) {
    const wanted = alias.toLowerCase();
    found = Object.keys(entries).find((a) => a.toLowerCase() === wanted);
    if (found === undefined || !keyAliases.includes(found)) {
      throw new Error(
        `${found === undefined ? 'no key entry' : 'no private key in the entry'} "${alias}"${setting ? ` (${setting})` : ''}; key entries: ${keyAliases.join(', ') || 'none'}`,
      );
    }
  } else if (keyAliases.length === 1) {
    found = keyAliases[0];
  } else {
    throw new Error(
      keyAliases.length === 0
        ? 'it holds no private key entry'
        : `it holds several key entries (${keyAliases.join(', ')}): name one`,
    );
  }
  const entry = entries[found] as { key: string; cert: string };
  // The entry's own certificate: the first of its chain.
  const cert = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(entry.cert)?.[0];
  if (!cert) throw new Error(`the entry "${found}" has no certificate`);
  return { alias: found, key: entry.key, cert: `${cert}\n`, chain: entry.cert };
}

/**
 * The identity from the keystore, or undefined when no keystore is configured and Knox's default one does not
 * exist (the caller then uses PEM files or generates an identity).
 * @throws Error naming the keystore for a missing configured file, a wrong password, a missing alias, JCEKS
 */
export function readIdentityKeystore(settings: GatewaySettings, home: string): KeystoreIdentity | undefined {
  const ssl = settings.ssl;
  const path = ssl.keystorePath ?? DEFAULT_KEYSTORE;
  const file = isAbsolute(path) ? path : resolve(home, path);
  if (!existsSync(file)) {
    if (ssl.keystorePath) throw new Error(`gateway.tls.keystore.path: ${file} does not exist`);
    return undefined;
  }
  const type = ssl.keystoreType.trim().toUpperCase();
  const password = keystorePassword(settings, home);
  const failed = (why: string) =>
    new Error(
      `cannot open keystore ${file} (type ${type}, password from alias ${ssl.keystorePasswordAlias}): ${why}`,
    );
  const data = readFileSync(file);
  if (type === 'PKCS12' || type === 'P12') {
    try {
      createSecureContext({ pfx: data, passphrase: password });
    } catch (err) {
      throw failed((err as Error).message);
    }
    return { source: file, pfx: data, passphrase: password };
  }
  if (type === 'JCEKS') {
    throw failed(
      `JCEKS key entries use a Sun-proprietary cipher postern cannot read; convert it with: ${convertJceks(file, 'gateway.p12')}`,
    );
  }
  if (type !== 'JKS') throw failed('postern reads JKS and PKCS12 keystores');
  // jks-js reports a file of another kind with an internal error; say what the file is instead.
  const magic = data.length >= 4 ? data.readUInt32BE(0) : 0;
  if (magic === JCEKS_MAGIC)
    throw failed('the file is a JCEKS keystore: set gateway.tls.keystore.type to JCEKS');
  if (magic !== JKS_MAGIC) throw failed('the file is not a JKS keystore');
  if (password === undefined) {
    throw failed(`no password: postern cli create-alias ${ssl.keystorePasswordAlias}`);
  }
  const keyPassword =
    new AliasResolver(home, readMasterSecret(home)).lookup(ssl.keyPassphraseAlias) ?? password;
  let entry: KeyPair;
  try {
    const entries = openStore(file, data, {
      type,
      password,
      keyPassword,
      what: 'JKS and PKCS12 keystores',
      convertTo: 'gateway.p12',
    });
    entry = keyEntry(entries, ssl.keyAlias, 'gateway.tls.key.alias');
  } catch (err) {
    throw failed((err as Error).message);
  }
  return { source: file, cert: Buffer.from(entry.chain), key: Buffer.from(entry.key) };
}

/** Where a truststore is configured: the setting naming its path, its type and its password alias. */
export interface TrustStoreSetting {
  /** The property naming the path (`gateway.truststore.path`), for errors. */
  readonly key: string;
  readonly path: string;
  readonly type: string;
  readonly passwordAlias: string;
}

/**
 * A truststore's certificates as PEM: a PEM file as it is, or the trusted certificates of a JKS or PKCS#12 store
 * (jks-js, which checks the store's integrity with the password), the password from the gateway alias the
 * setting names (Knox: `gateway-truststore-password`, `gateway-httpclient-truststore-password`). The file's
 * content decides PEM; the type decides between JKS and PKCS#12. A JCEKS store is refused with the command that
 * converts it.
 * @throws Error naming the property, the file and what to do
 */
export function readTrustStore(setting: TrustStoreSetting, home: string): Buffer {
  const file = isAbsolute(setting.path) ? setting.path : resolve(home, setting.path);
  if (!existsSync(file)) throw new Error(`${setting.key}: ${file} does not exist`);
  const data = readFileSync(file);
  if (data.subarray(0, 64).toString('latin1').includes('-----BEGIN')) return data;
  const type = setting.type.trim().toUpperCase();
  const failed = (why: string) =>
    new Error(`${setting.key}: cannot open truststore ${file} (type ${type}): ${why}`);
  const password = new AliasResolver(home, readMasterSecret(home)).lookup(setting.passwordAlias);
  let entries: Entries;
  try {
    if (password === undefined && !isJceks(type, data)) {
      throw new Error(`no password: postern cli create-alias ${setting.passwordAlias}`);
    }
    entries = openStore(file, data, {
      type,
      password: password ?? '',
      what: 'JKS, PKCS12 and PEM truststores',
      convertTo: 'truststore.p12',
    });
  } catch (err) {
    throw failed((err as Error).message);
  }
  const pems = Object.values(entries)
    .map((e) => ('ca' in e && e.ca ? e.ca : 'cert' in e ? e.cert : undefined))
    .filter((pem): pem is string => typeof pem === 'string' && pem.includes('-----BEGIN'));
  if (pems.length === 0) throw failed('it holds no certificate');
  return Buffer.from(pems.join('\n'));
}

/** The signing keystore Knox's `gateway.signing.*` settings name. */
export interface SigningKeystoreSetting {
  readonly keystoreName: string;
  readonly keystoreType: string;
  readonly keyAlias: string;
  readonly keystorePasswordAlias: string;
  readonly keyPassphraseAlias: string;
}

/**
 * The private key (PEM) of the signing keystore: `data/security/keystores/{name}`, JKS or PKCS#12, the passwords
 * from the gateway aliases the settings name.
 * @throws Error naming the keystore and what to do
 */
export function readSigningKey(setting: SigningKeystoreSetting, home: string): string {
  const file = resolve(home, 'data', 'security', 'keystores', setting.keystoreName);
  const failed = (why: string) =>
    new Error(`gateway.signing.keystore.name: cannot open signing keystore ${file}: ${why}`);
  if (!existsSync(file)) throw failed('it does not exist');
  const aliases = new AliasResolver(home, readMasterSecret(home));
  const password = aliases.lookup(setting.keystorePasswordAlias);
  try {
    if (password === undefined && !isJceks(setting.keystoreType, readFileSync(file))) {
      throw new Error(`no password: postern cli create-alias ${setting.keystorePasswordAlias}`);
    }
    return readKeyPair(file, {
      type: setting.keystoreType,
      password: password ?? '',
      keyPassword: aliases.lookup(setting.keyPassphraseAlias) ?? password,
      alias: setting.keyAlias,
      aliasSetting: 'gateway.signing.key.alias',
      convertTo: 'signing.p12',
    }).key;
  } catch (err) {
    throw failed((err as Error).message);
  }
}

/** One key entry of a keystore: its alias as stored, its private key and its certificate (PEM). */
export interface KeyPair {
  readonly alias: string;
  readonly key: string;
  /** The entry's own certificate (the first of its chain). */
  readonly cert: string;
  /** The entry's whole certificate chain (PEM), as a TLS server sends it. */
  readonly chain: string;
}

/**
 * The key entry `alias` (compared case-insensitively, as Java's keystores keep aliases) of a JKS or PKCS#12
 * keystore, read with jks-js (which checks the store's integrity with the password); without an alias, the
 * store's only key entry. `type` is the configured keystore type: JKS and PKCS12 are read (by their content),
 * JCEKS is refused with the command that converts it.
 * @throws Error saying what is wrong (never a password): a missing file, JCEKS, not a keystore, a wrong store or
 *   key password, no such alias, an alias that is not a key entry, no key entry, several without an alias
 */
export function readKeyPair(
  file: string,
  options: {
    type?: string;
    password: string;
    keyPassword?: string;
    alias?: string;
    /** The property naming the alias, for the error. */
    aliasSetting?: string;
    /** The file name in the JCEKS conversion command. */
    convertTo?: string;
  },
): KeyPair {
  if (!existsSync(file)) throw new Error('the file does not exist');
  const entries = openStore(file, readFileSync(file), {
    type: options.type ?? 'JKS',
    password: options.password,
    keyPassword: options.keyPassword,
    what: 'JKS and PKCS12 keystores',
    convertTo: options.convertTo ?? 'keystore.p12',
  });
  return keyEntry(entries, options.alias, options.aliasSetting);
}
