/**
 * @module kerberos/login
 * The gateway's own Kerberos identity towards secured backends (Knox's "secure clusters"): with
 * `gateway.hadoop.kerberos.secured=true`, the principal and keytab of the JAAS file named by
 * `java.security.auth.login.config`, and the krb5.conf of `java.security.krb5.conf`.
 *
 * MIT krb5 reads its configuration from the environment, so the login is process-wide, as Knox's JVM system
 * properties are: `KRB5_CONFIG` (the krb5.conf), `KRB5_CLIENT_KTNAME` (the keytab, MIT's client keytab) and
 * `KRB5CCNAME` (a private in-memory credential cache, never the user's or the system's). MIT's GSSAPI obtains the
 * gateway's TGT from the client keytab on first use and obtains a new one from it before the old one expires
 * (its refresh time is half the ticket's lifetime), which is the renewal Knox gets from `Krb5LoginModule`.
 *
 * A token is made per request to a backend that asks for Negotiate (dispatch/spnego caches the backend's
 * `hadoop.auth` cookie so most requests need none): `HTTP@<host>` with the host canonicalised as Hadoop's and
 * HttpClient's SPNEGO clients do, SPNEGO-wrapped (RFC 4559).
 */
import { lookup, lookupService } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { DiagnosticSink, Position } from '../config/diagnostics.ts';
import { bindingProblem, gssapi } from './gssapi.ts';
import { type KerberosLogin, readKerberosLogin } from './jaas.ts';
import { readKeytab } from './keytab.ts';
import { readKrb5Conf } from './krb5-conf.ts';

export interface KerberosSettings {
  readonly secured: boolean;
  readonly krb5Conf?: string;
  readonly loginConfig?: string;
  readonly debug: boolean;
}

/** A failure to obtain a token, by kind: the KDC could not be reached (503), or anything else (502). */
export class KerberosTokenError extends Error {
  readonly kdcUnreachable: boolean;
  constructor(message: string, kdcUnreachable: boolean) {
    super(message);
    this.name = 'KerberosTokenError';
    this.kdcUnreachable = kdcUnreachable;
  }
}

/** MIT's messages for a KDC that cannot be reached (down, refusing, or not answering in time). */
const KDC_UNREACHABLE =
  /cannot contact any KDC|connection refused|timed out|network is unreachable|cannot find KDC/i;

export interface GatewayKerberos {
  readonly login: KerberosLogin;
  /** A fresh SPNEGO token (base64) for `HTTP/<canonical host>`; rejects with a {@link KerberosTokenError}. */
  token(host: string): Promise<string>;
  /** `HTTP/<canonical host>@…` as the gateway names it in logs (the realm comes from krb5.conf). */
  servicePrincipal(host: string): Promise<string>;
}

/**
 * Checks the login (the JAAS file parses and names a keytab that holds the principal) without contacting the
 * KDC. Problems go to `sink` at the JAAS file's line and column (or at `at`, gateway-site, for a missing file).
 */
export function checkKerberosLogin(
  settings: KerberosSettings,
  sink: DiagnosticSink,
  at: Position,
): KerberosLogin | undefined {
  if (!settings.loginConfig) {
    sink.error(
      at,
      'gateway.hadoop.kerberos.secured is true but java.security.auth.login.config names no JAAS file: the gateway has no principal and keytab to log in with',
    );
    return undefined;
  }
  const login = readKerberosLogin(settings.loginConfig, sink, at);
  if (!login) return undefined;
  let principals: string[];
  try {
    principals = readKeytab(login.keytab).map((e) => e.principal);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    sink.error(login.keytabPos, `keyTab ${login.keytab} cannot be read: ${e.code ?? e.message}`);
    return undefined;
  }
  const wanted = login.principal.includes('@') ? [login.principal] : undefined;
  const held = principals.some((p) => (wanted ? p === login.principal : p.split('@')[0] === login.principal));
  if (!held) {
    sink.error(
      login.principalPos,
      `the keytab ${login.keytab} does not hold ${login.principal} (it holds ${[...new Set(principals)].join(', ') || 'nothing'})`,
    );
    return undefined;
  }
  if (settings.krb5Conf) {
    try {
      readKrb5Conf(settings.krb5Conf);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      sink.error(
        at,
        `java.security.krb5.conf: ${e.code ? `cannot read ${settings.krb5Conf}: ${e.code}` : e.message}`,
      );
      return undefined;
    }
  }
  return login;
}

/**
 * Where gateway-site sets `name` (the line and column of its `<name>`), for problems about the file it names;
 * the file's start when it does not say (a default).
 */
export function sitePosition(file: string | undefined, name: string): Position {
  const at = { file: file ?? 'conf/gateway-site.xml', line: 1, column: 1 };
  if (!file) return at;
  try {
    const lines = readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes(`<name>${name}</name>`));
    if (i >= 0) return { file, line: i + 1, column: lines[i].indexOf('<name>') + 1 };
  } catch {}
  return at;
}

/**
 * GSSAPI calls run on libuv's thread pool (four threads by default, shared with fs and dns.lookup); one that
 * waits on a KDC that does not answer holds its thread for MIT's whole timeout. At most two run at once, so a
 * hanging KDC never takes the pool; the others wait their turn.
 */
class Slots {
  readonly #max: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(max: number) {
    this.#max = max;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#max) await new Promise<void>((r) => this.#waiting.push(r));
    this.#running++;
    try {
      return await fn();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}
const gssCalls = new Slots(2);
/** How long a request waits for its token (a turn and the call) before it is answered 503. */
const TOKEN_DEADLINE_MS = 15_000;

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new KerberosTokenError(`no Kerberos token within ${ms} ms (the KDC does not answer)`, true)),
      ms,
    );
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

let current: { key: string; kerberos: GatewayKerberos } | undefined;

/**
 * The gateway's Kerberos login for these settings, set up once per process (and again when the settings name
 * other files). Problems go to `sink`; undefined when Kerberos cannot work (the binding is not built, the JAAS
 * file or keytab is wrong).
 */
export function gatewayKerberos(
  settings: KerberosSettings,
  sink: DiagnosticSink,
  at: Position,
): GatewayKerberos | undefined {
  const login = checkKerberosLogin(settings, sink, at);
  if (!login) return undefined;
  const problem = bindingProblem();
  if (problem) {
    sink.error(at, `gateway.hadoop.kerberos.secured is true but ${problem}`);
    return undefined;
  }
  // Another JAAS file, keytab or krb5.conf is a new login, with a new (empty) credential cache.
  const key = JSON.stringify([
    settings.loginConfig,
    login.principal,
    login.keytab,
    settings.krb5Conf,
    settings.debug,
  ]);
  if (current?.key === key) return current.kerberos;
  if (settings.krb5Conf) process.env.KRB5_CONFIG = settings.krb5Conf;
  process.env.KRB5_CLIENT_KTNAME = `FILE:${login.keytab}`;
  // A cache of the gateway's own, in memory: a redeployment with another principal starts from an empty one.
  process.env.KRB5CCNAME = `MEMORY:postern-${process.pid}-${Date.now()}`;
  if (settings.debug) process.env.KRB5_TRACE = '/dev/stderr';
  else delete process.env.KRB5_TRACE;
  const binding = gssapi();
  const kerberos: GatewayKerberos = {
    login,
    async token(host) {
      const canonical = await canonicalHost(host);
      const make = async () => {
        try {
          const client = await binding.initializeClient(`HTTP@${canonical}`, {
            principal: login.principal,
            mechOID: binding.GSS_MECH_OID_SPNEGO,
          });
          return await client.step('');
        } catch (err) {
          const message = (err as Error).message;
          throw new KerberosTokenError(message, KDC_UNREACHABLE.test(message));
        }
      };
      return withDeadline(gssCalls.run(make), TOKEN_DEADLINE_MS);
    },
    async servicePrincipal(host) {
      return `HTTP/${await canonicalHost(host)}`;
    },
  };
  current = { key, kerberos };
  return kerberos;
}

const canonical = new Map<string, { name: Promise<string>; until: number }>();
const CANONICAL_TTL_MS = 5 * 60_000;

/**
 * The host's canonical name as Java's `InetAddress.getCanonicalHostName()` gives it to HttpClient's SPNEGO scheme:
 * the name the host's address resolves back to, lower-cased; the host itself when it has no such name (or is an
 * address with no name). Cached for five minutes.
 */
export function canonicalHost(host: string): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  const hit = canonical.get(bare);
  if (hit && hit.until > Date.now()) return hit.name;
  const name = (async () => {
    try {
      const { address } = isIP(bare) ? { address: bare } : await lookup(bare);
      const { hostname } = await lookupService(address, 0);
      return hostname && hostname !== address ? hostname.toLowerCase() : bare;
    } catch {
      return bare;
    }
  })();
  canonical.set(bare, { name, until: Date.now() + CANONICAL_TTL_MS });
  return name;
}
