/**
 * @module providers/common/ldap
 * What every LDAP-backed provider (ShiroProvider's LDAP realm, HadoopGroupProvider) needs: escaping of
 * untrusted values into DNs (RFC 4514) and filters (RFC 4515), bounded connections (a connect timeout and an
 * operation timeout, so an LDAP server that is down or hangs gives an answer in bounded time), failover over a
 * space-separated URL list as JNDI does, a reusable connection bound as the "system" user, and the one rule that
 * tells "the server said no" from "the server could not be asked".
 *
 * Passwords never reach a log line or an error message here: errors carry the server's result code and the DN at
 * most.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Client, type Entry, FilterParser, ResultCodeError, type SearchOptions } from 'ldapts';

/** Escapes a value for an LDAP filter (RFC 4515 §3): `*`, `(`, `)`, `\` and NUL become `\XX`. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\u0000]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Escapes a value for one attribute value of a DN (RFC 4514 §2.4): the specials `" + , ; < > \ =`, a leading `#`
 * or space, a trailing space and NUL are escaped, so a user name cannot add RDNs or change the DN's shape.
 */
export function escapeDnValue(value: string): string {
  let out = '';
  const last = value.length - 1;
  for (let i = 0; i <= last; i++) {
    const c = value[i];
    if (c === '\u0000') out += '\\00';
    else if ('"+,;<>\\='.includes(c) || (i === 0 && (c === ' ' || c === '#')) || (i === last && c === ' '))
      out += `\\${c}`;
    else out += c;
  }
  return out;
}

/** Replaces every `{0}` of a template with the (already escaped) value. */
export function expandTemplate(template: string, value: string): string {
  return template.split('{0}').join(value);
}

/**
 * True when the text is one well-formed filter (RFC 4515), parentheses balanced (a literal parenthesis in a value
 * is written `\\28` / `\\29`, so every raw one is structure). `{0}` placeholders are allowed.
 */
export function isValidFilter(text: string): boolean {
  const filter = text.split('{0}').join('x');
  let depth = 0;
  for (const c of filter) {
    if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return false;
  }
  if (depth !== 0 || !filter.startsWith('(')) return false;
  try {
    FilterParser.parseString(filter);
    return true;
  } catch {
    return false;
  }
}

/** Why an LDAP operation did not give an answer: the caller answers 503, not 401. */
export class LdapUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LdapUnavailableError';
  }
}

/** LDAP result codes that mean "the server could not decide now", not "no". */
const TRANSIENT_CODES = new Set([
  3, // timeLimitExceeded
  11, // adminLimitExceeded
  51, // busy
  52, // unavailable
  80, // other
]);

/** True when the error is the server's definite answer (a result code), false for network, timeout, TLS. */
export function isServerAnswer(err: unknown): err is ResultCodeError {
  return err instanceof ResultCodeError && !TRANSIENT_CODES.has(err.code);
}

/** A short, secret-free description of an LDAP error for logs. */
export function describeLdapError(err: unknown): string {
  if (err instanceof ResultCodeError) return `LDAP result ${err.code} (${err.name})`;
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
}

/** Where and how to reach a directory. */
export interface LdapEndpoint {
  /** Tried in order until one connects (JNDI's space-separated `java.naming.provider.url`). */
  readonly urls: readonly string[];
  /** Trust for `ldaps://` (undefined: the system's CAs). */
  readonly ca?: string | Buffer;
  readonly connectTimeoutMs: number;
  /** Per operation (bind, search). */
  readonly timeoutMs: number;
}

/** Parses a space- (or comma-) separated list of ldap:// and ldaps:// URLs; undefined when one is not. */
export function parseLdapUrls(text: string): string[] | undefined {
  const urls = text
    .split(/[\s,]+/)
    .map((u) => u.trim())
    .filter(Boolean);
  if (urls.length === 0) return undefined;
  for (const u of urls) {
    if (!URL.canParse(u)) return undefined;
    const url = new URL(u);
    if ((url.protocol !== 'ldap:' && url.protocol !== 'ldaps:') || url.hostname === '') return undefined;
  }
  return urls;
}

/**
 * Reads a PEM trust file (a path relative to `home` is resolved against it). Throws with a readable message when
 * the file is missing or holds no PEM certificate (a Java keystore, for example).
 */
export function readPemTrust(path: string, home: string): string {
  const file = isAbsolute(path) ? path : resolve(home, path);
  const text = readFileSync(file, 'utf8');
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`${file} holds no PEM certificate (postern reads PEM trust files, not JKS or PKCS#12)`);
  }
  return text;
}

function newClient(endpoint: LdapEndpoint, url: string, autoRebind: boolean): Client {
  // ldapts speaks TLS whenever tlsOptions are given, even to an ldap:// URL: give them to ldaps:// only.
  const tlsOptions: ConnectionOptions | undefined = url.startsWith('ldaps:')
    ? { ca: endpoint.ca, minVersion: 'TLSv1.2' }
    : undefined;
  return new Client({
    url,
    connectTimeout: endpoint.connectTimeoutMs,
    timeout: endpoint.timeoutMs,
    strictDN: true,
    autoRebind,
    ...(tlsOptions ? { tlsOptions } : {}),
  });
}

/** Closes a client without waiting on a server that may not answer. */
export function release(client: Client | undefined): void {
  if (client) void client.unbind().catch(() => {});
}

/**
 * A new connection bound as `dn`, trying each URL in turn while the failure is about reaching the server.
 * @throws the server's ResultCodeError when it refuses the bind (wrong password, no such entry), or
 * LdapUnavailableError when no server could be asked.
 */
export async function bindAs(
  endpoint: LdapEndpoint,
  dn: string,
  password: string,
  options: { autoRebind?: boolean } = {},
): Promise<Client> {
  let last: unknown;
  for (const url of endpoint.urls) {
    const client = newClient(endpoint, url, options.autoRebind ?? false);
    try {
      await client.bind(dn, password);
      return client;
    } catch (err) {
      release(client);
      if (isServerAnswer(err)) throw err;
      last = err;
    }
  }
  throw new LdapUnavailableError(`no LDAP server answered: ${describeLdapError(last)}`, { cause: last });
}

/** Runs a search, turning anything but a definite server answer into LdapUnavailableError. */
export async function search(client: Client, base: string, options: SearchOptions): Promise<Entry[]> {
  try {
    const { searchEntries } = await client.search(base, options);
    return searchEntries;
  } catch (err) {
    if (isServerAnswer(err)) throw err;
    throw new LdapUnavailableError(`LDAP search failed: ${describeLdapError(err)}`, { cause: err });
  }
}

/** The values of one attribute of an entry, as strings (attribute names compare case-insensitively). */
export function attributeValues(entry: Entry, name: string): string[] {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(entry)) {
    if (key.toLowerCase() !== wanted || key === 'dn') continue;
    const list = Array.isArray(value) ? value : [value];
    return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
  }
  return [];
}

/**
 * One connection bound as a service ("system") user, reused by every request of a deployment, opened on first use
 * and opened again after it breaks (the directory restarted, an operation timed out). Without credentials it is an
 * anonymous connection.
 */
export class SystemConnection {
  readonly #endpoint: LdapEndpoint;
  readonly #dn: string;
  readonly #password: string;
  #client?: Promise<Client>;
  #closed = false;

  constructor(endpoint: LdapEndpoint, credentials?: { dn: string; password: string }) {
    this.#endpoint = endpoint;
    this.#dn = credentials?.dn ?? '';
    this.#password = credentials?.password ?? '';
  }

  /**
   * Runs `op` on the connection. A connection the server closed while idle is opened again and bound again
   * transparently (ldapts `autoRebind`); one that fails under `op` (timeout, reset) is dropped, so the next call
   * starts over from the first URL.
   * @throws LdapUnavailableError, or the server's ResultCodeError
   */
  async run<T>(op: (client: Client) => Promise<T>): Promise<T> {
    const pending = this.#connect();
    let client: Client;
    try {
      client = await pending;
    } catch (err) {
      this.#drop(pending);
      if (isServerAnswer(err)) {
        throw new LdapUnavailableError(`the LDAP system user cannot bind: ${describeLdapError(err)}`, {
          cause: err,
        });
      }
      throw err;
    }
    try {
      return await op(client);
    } catch (err) {
      if (isServerAnswer(err)) throw err;
      this.#drop(pending);
      throw err instanceof LdapUnavailableError
        ? err
        : new LdapUnavailableError(`LDAP operation failed: ${describeLdapError(err)}`, { cause: err });
    }
  }

  #connect(): Promise<Client> {
    if (this.#closed) return Promise.reject(new LdapUnavailableError('the LDAP connection is closed'));
    this.#client ??= bindAs(this.#endpoint, this.#dn, this.#password, { autoRebind: true });
    return this.#client;
  }

  #drop(pending: Promise<Client>): void {
    if (this.#client !== pending) return;
    this.#client = undefined;
    pending.then(release, () => {});
  }

  close(): void {
    this.#closed = true;
    const pending = this.#client;
    this.#client = undefined;
    pending?.then(release, () => {});
  }
}
