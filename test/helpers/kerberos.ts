/**
 * A real Kerberos realm for tests: an MIT KDC (Debian `krb5-kdc`, `/usr/sbin/krb5kdc`) with its database, config
 * and keytabs in a temporary directory, on a free loopback port, and a Kerberized backend: Debian's Apache httpd
 * (`apache2`) with `mod_auth_gssapi`, its own config in the same directory, on another free loopback port. Nothing
 * reads `/etc/krb5.conf`: every process gets `KRB5_CONFIG` (and the KDC `KRB5_KDC_PROFILE`) naming the files here.
 *
 * The realm {@link REALM} has these principals (keytabs exported with `kadmin.local -q ktadd`):
 *
 * | principal | credential |
 * |---|---|
 * | `alice`, `bob` | password {@link USER_PASSWORD} (`kinit` reads it from stdin) |
 * | `knox/localhost` (the gateway) | `knox.keytab` |
 * | `HTTP/localhost` (the backend, and postern's front door) | `http.keytab` |
 * | `other/localhost` | `other.keytab` (a keytab that does not hold the gateway's principal) |
 *
 * The backend (`httpd.url` = `http://localhost:<port>`) answers, each behind `mod_auth_gssapi` (Negotiate):
 * - `/secure/…`: 200 `ok`, with `X-Remote-User` (the authenticated principal), `X-Query` (the query string) and
 *   `X-Negotiated: yes` when the request carried `Authorization: Negotiate`;
 * - `/session/…`: the same, with mod_auth_gssapi's session kept in a cookie named `hadoop.auth` (as Hadoop's
 *   AuthenticationFilter names its own), so a client that sends the cookie back is not asked to negotiate again;
 * - `/plain/…`: the same without authentication (the benchmark's Kerberos-off row);
 * - `/ws/…`: a WebSocket upgrade proxied (mod_proxy_http, `upgrade=websocket`) to {@link KerberosOptions.wsBackend}
 *   with `X-Remote-User` added to the upgrade request.
 *
 * ```ts
 * const krb = await startKerberos();        // KDC + httpd
 * after(() => krb.close());                 // kills both, removes the directory
 * krb.kinit('alice', ccache);               // a user's ticket cache for curl --negotiate
 * await krb.stopKdc(); await krb.startKdc(); // "KDC is down" tests
 * ```
 *
 * `POSTERN_TEST_KEEP_KRB=1` keeps the directory (logs, configs) after close(). Both servers run under a small `sh`
 * guard reading the test process's pipe (as test/helpers/slapd.ts does), so no server outlives its test.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, freePort, GuardedProcess, waitUntilUp } from './guarded-process.ts';

export const REALM = 'POSTERN.TEST';
export const USER_PASSWORD = 'user-password';
export const GATEWAY_PRINCIPAL = `knox/localhost@${REALM}`;
export const BACKEND_PRINCIPAL = `HTTP/localhost@${REALM}`;
const KRB5KDC = '/usr/sbin/krb5kdc';
const KDB5_UTIL = '/usr/sbin/kdb5_util';
const KADMIN_LOCAL = '/usr/sbin/kadmin.local';
const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

export interface KerberosOptions {
  /** Maximum ticket lifetime of the gateway's principal (kadmin's syntax, e.g. `20s`); default 1 hour. */
  gatewayTicketLife?: string;
  /** A `ws://host:port` WebSocket backend for httpd's `/ws/` location. */
  wsBackend?: string;
  /** Without httpd (a test that only needs the KDC). */
  noHttpd?: boolean;
}

export interface KerberosFixture {
  readonly dir: string;
  readonly realm: string;
  /** The krb5.conf every client and server of the realm reads (`KRB5_CONFIG`). */
  readonly krb5Conf: string;
  readonly kdcPort: number;
  /** `http://localhost:<port>`: the Kerberized httpd. */
  readonly backendUrl: string;
  readonly backendPort: number;
  /** Keytab files by name: `knox`, `http`, `other`. */
  readonly keytabs: { readonly knox: string; readonly http: string; readonly other: string };
  /** An environment for realm clients: `KRB5_CONFIG` set, `KRB5CCNAME` when a cache is given. */
  env(ccache?: string): NodeJS.ProcessEnv;
  /** `kinit` as `user` (password {@link USER_PASSWORD}) into the ticket cache file `ccache`. */
  kinit(user: string, ccache: string): void;
  /** A JAAS file (Knox's krb5JAASLogin.conf) naming a keytab and principal; returns its path. */
  jaas(keytab: string, principal: string, name?: string): string;
  /** Runs `kadmin.local -q <query>` (e.g. to change a principal). */
  kadmin(query: string): string;
  readonly kdcRunning: boolean;
  startKdc(): Promise<void>;
  stopKdc(): Promise<void>;
  /** The backend's access log lines so far (`%r %>s auth=… cookie=… user=…`). */
  accessLog(): string[];
  /** The KDC's log lines so far (one `AS_REQ` / `TGS_REQ` line per ticket issued). */
  kdcLog(): string[];
  close(): Promise<void>;
}

function krb5Conf(kdcPort: number): string {
  // TCP only (udp_preference_limit 1), no DNS, and a small clock skew so an expired ticket is refused at once
  // rather than five minutes later.
  return `[libdefaults]
  default_realm = ${REALM}
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
  clockskew = 2
  forwardable = true

[realms]
  ${REALM} = {
    kdc = 127.0.0.1:${kdcPort}
    admin_server = 127.0.0.1:${kdcPort}
  }

[domain_realm]
  localhost = ${REALM}
  .localhost = ${REALM}
`;
}

function kdcConf(dir: string, kdcPort: number): string {
  return `[kdcdefaults]
  kdc_ports = ${kdcPort}
  kdc_tcp_ports = ${kdcPort}

[realms]
  ${REALM} = {
    database_name = ${join(dir, 'principal')}
    key_stash_file = ${join(dir, 'stash')}
    acl_file = ${join(dir, 'kadm5.acl')}
    max_life = 1h
    max_renewable_life = 2h
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }

[logging]
  kdc = FILE:${join(dir, 'kdc.log')}
`;
}

function httpdConf(dir: string, port: number, wsBackend: string | undefined): string {
  const mods = [
    ['mpm_event_module', 'mod_mpm_event.so'],
    ['authn_core_module', 'mod_authn_core.so'],
    ['authz_core_module', 'mod_authz_core.so'],
    ['authz_user_module', 'mod_authz_user.so'],
    ['auth_gssapi_module', 'mod_auth_gssapi.so'],
    ['headers_module', 'mod_headers.so'],
    ['setenvif_module', 'mod_setenvif.so'],
    ['session_module', 'mod_session.so'],
    ['session_cookie_module', 'mod_session_cookie.so'],
    ['alias_module', 'mod_alias.so'],
    ['proxy_module', 'mod_proxy.so'],
    ['proxy_http_module', 'mod_proxy_http.so'],
  ];
  const gssapi = `    AuthType GSSAPI
    AuthName "postern test"
    GssapiCredStore keytab:${join(dir, 'http.keytab')}
    GssapiAllowedMech krb5
    GssapiBasicAuth Off
    Require valid-user`;
  const echo = `    Header always set X-Remote-User "expr=%{REMOTE_USER}"
    Header always set X-Query "expr=%{QUERY_STRING}"
    Header always set X-Negotiated "yes" "expr=%{HTTP:Authorization} =~ /^Negotiate /"`;
  return `ServerRoot ${dir}
ServerName localhost
${mods.map(([n, f]) => `LoadModule ${n} ${MODULES}/${f}`).join('\n')}
User nobody
Group nogroup
PidFile ${join(dir, 'httpd.pid')}
Listen 127.0.0.1:${port}
ErrorLog ${join(dir, 'httpd-error.log')}
LogLevel warn auth_gssapi:debug
LogFormat "%r %>s auth=%{Authorization}i cookie=%{Cookie}i user=%u" postern
CustomLog ${join(dir, 'httpd-access.log')} postern
DocumentRoot ${join(dir, 'www')}
AliasMatch ^/(secure|session|wrongkey|plain)(/.*)?$ ${join(dir, 'www', 'ok.txt')}
<Directory ${join(dir, 'www')}>
    Require all granted
</Directory>
<Location /secure>
${gssapi}
${echo}
</Location>
<Location /session>
${gssapi}
    GssapiUseSessions On
    Session On
    SessionCookieName hadoop.auth path=/session;httponly
${echo}
</Location>
<Location /plain>
${echo}
</Location>
<Location /wrongkey>
${gssapi.replace('http.keytab', 'other.keytab')}
${echo}
</Location>
${
  wsBackend
    ? `<Location /ws>
${gssapi}
    RequestHeader set X-Remote-User "expr=%{REMOTE_USER}"
    ProxyPass ${wsBackend.replace(/^ws:/, 'http:')}/ upgrade=websocket
</Location>`
    : ''
}
`;
}

/** A keytab file's bytes (format 0x0502) holding `principal` (`a/b@REALM`) with a random AES-256 key. */
export function keytabBytes(principal: string, kvno = 1): Buffer {
  const [name, realm] = principal.split('@');
  const str = (s: string) => {
    const b = Buffer.from(s);
    const out = Buffer.alloc(2 + b.length);
    out.writeUInt16BE(b.length);
    b.copy(out, 2);
    return out;
  };
  const components = name.split('/');
  const head = Buffer.alloc(2);
  head.writeUInt16BE(components.length);
  const tail = Buffer.alloc(4 + 4 + 1 + 2 + 2);
  tail.writeUInt32BE(1, 0); // KRB5_NT_PRINCIPAL
  tail.writeUInt32BE(Math.floor(Date.now() / 1000), 4);
  tail.writeUInt8(kvno, 8);
  tail.writeUInt16BE(18, 9); // aes256-cts-hmac-sha1-96
  tail.writeUInt16BE(32, 11);
  const entry = Buffer.concat([head, str(realm), ...components.map(str), tail, randomBytes(32)]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(entry.length);
  return Buffer.concat([Buffer.from([5, 2]), size, entry]);
}

/**
 * gateway-site properties for a Kerberos-secured gateway whose login is valid on disk (a JAAS file, a keytab
 * holding {@link GATEWAY_PRINCIPAL}, a krb5.conf) but with no KDC: for tests of what `secured` changes besides
 * SPNEGO (doAs), against backends that never ask for Negotiate.
 */
export function offlineKerberosSite(dir: string): Record<string, string | boolean> {
  mkdirSync(dir, { recursive: true });
  const keytab = join(dir, 'knox.keytab');
  writeFileSync(keytab, keytabBytes(GATEWAY_PRINCIPAL));
  const krb5 = join(dir, 'krb5.conf');
  writeFileSync(krb5, krb5Conf(9));
  const jaas = join(dir, 'krb5JAASLogin.conf');
  writeFileSync(
    jaas,
    `com.sun.security.jgss.initiate {\n  ${'com.sun.security.auth.module.Krb5LoginModule'} required useKeyTab=true keyTab="${keytab}" principal="${GATEWAY_PRINCIPAL}" storeKey=true useTicketCache=false;\n};\n`,
  );
  return {
    'gateway.hadoop.kerberos.secured': true,
    'java.security.krb5.conf': krb5,
    'java.security.auth.login.config': jaas,
  };
}

/** Starts a KDC (and httpd unless told not to); resolves once both answer. */
export async function startKerberos(options: KerberosOptions = {}): Promise<KerberosFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-krb-'));
  // httpd's children run as nobody: they must read their config, keytab and files.
  chmodSync(dir, 0o755);
  const [kdcPort, backendPort] = [await freePort(), await freePort()];
  const fixture = new Kerberos(dir, kdcPort, backendPort, options);
  try {
    fixture.create(options);
    await fixture.startKdc();
    if (!options.noHttpd) await fixture.startHttpd();
  } catch (err) {
    await fixture.close();
    throw err;
  }
  return fixture;
}

class Kerberos implements KerberosFixture {
  readonly dir: string;
  readonly realm = REALM;
  readonly krb5Conf: string;
  readonly kdcPort: number;
  readonly backendPort: number;
  readonly backendUrl: string;
  readonly keytabs: { knox: string; http: string; other: string };
  readonly #kdc = new GuardedProcess('krb5kdc', 'KILL');
  // TERM: httpd's parent takes its children with it only when it is terminated, not killed.
  readonly #httpd = new GuardedProcess('httpd', 'TERM');
  readonly #kdcEnv: NodeJS.ProcessEnv;

  constructor(dir: string, kdcPort: number, backendPort: number, options: KerberosOptions) {
    this.dir = dir;
    this.kdcPort = kdcPort;
    this.backendPort = backendPort;
    this.backendUrl = `http://localhost:${backendPort}`;
    this.krb5Conf = join(dir, 'krb5.conf');
    this.keytabs = {
      knox: join(dir, 'knox.keytab'),
      http: join(dir, 'http.keytab'),
      other: join(dir, 'other.keytab'),
    };
    this.#kdcEnv = {
      PATH: process.env.PATH,
      KRB5_CONFIG: this.krb5Conf,
      KRB5_KDC_PROFILE: join(dir, 'kdc.conf'),
    };
    writeFileSync(this.krb5Conf, krb5Conf(kdcPort));
    writeFileSync(join(dir, 'kdc.conf'), kdcConf(dir, kdcPort));
    writeFileSync(join(dir, 'kadm5.acl'), '');
    mkdirSync(join(dir, 'www'));
    // The backend's replay cache, written by its children (user nobody).
    mkdirSync(join(dir, 'rcache'));
    chmodSync(join(dir, 'rcache'), 0o1777);
    writeFileSync(join(dir, 'www', 'ok.txt'), 'ok\n');
    writeFileSync(join(dir, 'httpd.conf'), httpdConf(dir, backendPort, options.wsBackend));
  }

  create(options: KerberosOptions): void {
    execFileSync(KDB5_UTIL, ['create', '-s', '-r', REALM, '-P', 'master-secret'], {
      env: this.#kdcEnv,
      stdio: 'pipe',
    });
    for (const user of ['alice', 'bob']) this.kadmin(`addprinc -pw ${USER_PASSWORD} ${user}`);
    const life = options.gatewayTicketLife ? `-maxlife ${options.gatewayTicketLife} ` : '';
    this.kadmin(`addprinc -randkey ${life}knox/localhost`);
    this.kadmin('addprinc -randkey HTTP/localhost');
    this.kadmin('addprinc -randkey other/localhost');
    this.kadmin(`ktadd -k ${this.keytabs.knox} knox/localhost`);
    this.kadmin(`ktadd -k ${this.keytabs.http} HTTP/localhost`);
    this.kadmin(`ktadd -k ${this.keytabs.other} other/localhost`);
    // The backend's children (user nobody) read its keytab; a test realm's keys are no secret.
    chmodSync(this.keytabs.http, 0o644);
    chmodSync(this.keytabs.other, 0o644);
  }

  kadmin(query: string): string {
    return execFileSync(KADMIN_LOCAL, ['-r', REALM, '-q', query], {
      env: this.#kdcEnv,
      stdio: 'pipe',
    }).toString();
  }

  env(ccache?: string): NodeJS.ProcessEnv {
    return {
      ...process.env,
      KRB5_CONFIG: this.krb5Conf,
      ...(ccache ? { KRB5CCNAME: `FILE:${ccache}` } : {}),
    };
  }

  kinit(user: string, ccache: string): void {
    const r = spawnSync('kinit', [user], { env: this.env(ccache), input: `${USER_PASSWORD}\n` });
    if (r.status !== 0) throw new Error(`kinit ${user} failed: ${r.stderr.toString()}`);
  }

  jaas(keytab: string, principal: string, name = 'krb5JAASLogin.conf'): string {
    const file = join(this.dir, name);
    writeFileSync(
      file,
      `com.sun.security.jgss.initiate {
    com.sun.security.auth.module.Krb5LoginModule required
    renewTGT=false
    doNotPrompt=true
    useKeyTab=true
    keyTab="${keytab}"
    principal="${principal}"
    storeKey=true
    useTicketCache=false;
};
`,
    );
    return file;
  }

  get kdcRunning(): boolean {
    return this.#kdc.running;
  }

  async startKdc(): Promise<void> {
    if (this.#kdc.running) return;
    await this.#kdc.start([KRB5KDC, '-n', '-r', REALM], {
      env: this.#kdcEnv,
      log: join(this.dir, 'kdc.out'),
    });
    await this.#waitFor(this.kdcPort, this.#kdc, 'kdc.log');
  }

  async stopKdc(): Promise<void> {
    await this.#kdc.stop();
  }

  async startHttpd(): Promise<void> {
    await this.#httpd.start([APACHE, '-f', join(this.dir, 'httpd.conf'), '-DFOREGROUND'], {
      env: { ...this.#kdcEnv, KRB5RCACHEDIR: join(this.dir, 'rcache') },
      log: join(this.dir, 'httpd.out'),
    });
    await this.#waitFor(this.backendPort, this.#httpd, 'httpd-error.log');
  }

  accessLog(): string[] {
    return this.#lines('httpd-access.log');
  }

  kdcLog(): string[] {
    return this.#lines('kdc.log');
  }

  #lines(name: string): string[] {
    try {
      return readFileSync(join(this.dir, name), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  #waitFor(port: number, server: GuardedProcess, log: string): Promise<void> {
    return waitUntilUp(server, () => accepts(port), {
      timeoutMs: 15_000,
      intervalMs: 25,
      log: [log, 'kdc.out', 'httpd.out'].map((f) => join(this.dir, f)),
      what: `${server.name} on port ${port}`,
    });
  }

  async close(): Promise<void> {
    await this.#httpd.stop();
    await this.#kdc.stop();
    if (!process.env.POSTERN_TEST_KEEP_KRB) rmSync(this.dir, { recursive: true, force: true });
  }
}
