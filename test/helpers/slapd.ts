/**
 * A real OpenLDAP server for tests: `/usr/sbin/slapd` (Debian `slapd`, installed by scripts/test.ts) run as the
 * current user in a temporary directory, on free loopback ports, with plain LDAP and LDAPS (a CA and a server
 * certificate for 127.0.0.1 / localhost are made with `openssl` at start), an mdb database seeded by `slapadd`
 * from {@link SEED_LDIF}, and the core, cosine, inetorgperson and nis schemas.
 *
 * The directory is Knox's demo LDAP (`dc=hadoop,dc=apache,dc=org`):
 *
 * | entry | password | groups (`groupOfNames`, `member`) |
 * |---|---|---|
 * | `uid=guest,ou=people,…` | `guest-password` | analyst |
 * | `uid=admin,ou=people,…` | `admin-password` | admin |
 * | `uid=sam,ou=people,…` | `sam-password` | analyst |
 * | `uid=tom,ou=people,…` | `tom-password` | none |
 * | `uid=nopass,ou=people,…` | none: every bind fails | none |
 * | `uid=carol,ou=contractors,ou=people,…` | `carol-password` (only found by a subtree search) | analyst, contractors |
 *
 * `cn=staff,ou=groups,…` has the group `cn=analyst` as a member (a nested group). The root DN
 * {@link SlapdFixture.rootDn} / {@link SlapdFixture.rootPassword} (one per fixture) can search everything;
 * anonymous clients can bind and nothing else (a search needs a bound, "system" user), and `userPassword` is
 * never readable.
 *
 * ```ts
 * const ldap = await startSlapd();          // ldap.url = ldap://127.0.0.1:<port>
 * after(() => ldap.close());                // kills slapd and removes the directory
 * await ldap.stop(); await ldap.start();    // the same directory and ports: for "LDAP is down" tests
 * ldap.pause(); ldap.resume();              // SIGSTOP / SIGCONT: for "LDAP hangs" tests
 * ```
 *
 * `POSTERN_TEST_KEEP_SLAPD=1` keeps the directory (its `slapd.log`, config and database) after close().
 *
 * slapd runs under a small `sh` guard reading the test process's pipe: when the test process exits in any way
 * (even SIGKILL) the pipe closes and the guard kills slapd, so no server outlives its test.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { freePort, GuardedProcess, waitUntilUp } from './guarded-process.ts';

export const SLAPD_BIN = process.env.SLAPD_BIN ?? '/usr/sbin/slapd';
export const SLAPADD_BIN = process.env.SLAPADD_BIN ?? '/usr/sbin/slapadd';
export const BASE_DN = 'dc=hadoop,dc=apache,dc=org';
export const PEOPLE_DN = `ou=people,${BASE_DN}`;
export const GROUPS_DN = `ou=groups,${BASE_DN}`;
export const ROOT_DN = `cn=admin,${BASE_DN}`;

/** The users of the seed, with their passwords (undefined: the entry has no password, so binds fail). */
export const USERS: Readonly<Record<string, { dn: string; password?: string; groups: readonly string[] }>> = {
  guest: { dn: `uid=guest,${PEOPLE_DN}`, password: 'guest-password', groups: ['analyst'] },
  admin: { dn: `uid=admin,${PEOPLE_DN}`, password: 'admin-password', groups: ['admin'] },
  sam: { dn: `uid=sam,${PEOPLE_DN}`, password: 'sam-password', groups: ['analyst'] },
  tom: { dn: `uid=tom,${PEOPLE_DN}`, password: 'tom-password', groups: [] },
  nopass: { dn: `uid=nopass,${PEOPLE_DN}`, groups: [] },
  carol: {
    dn: `uid=carol,ou=contractors,${PEOPLE_DN}`,
    password: 'carol-password',
    groups: ['analyst', 'contractors'],
  },
};

function person(uid: string, dn: string, password?: string): string {
  return [
    `dn: ${dn}`,
    'objectClass: top',
    'objectClass: person',
    'objectClass: organizationalPerson',
    'objectClass: inetOrgPerson',
    `uid: ${uid}`,
    `cn: ${uid}`,
    `sn: ${uid}`,
    ...(password ? [`userPassword: ${password}`] : []),
    '',
  ].join('\n');
}

function group(cn: string, members: string[]): string {
  return [
    `dn: cn=${cn},${GROUPS_DN}`,
    'objectClass: top',
    'objectClass: groupOfNames',
    `cn: ${cn}`,
    ...members.map((m) => `member: ${m}`),
    '',
  ].join('\n');
}

/** The directory every fixture starts with (see the module comment). */
export const SEED_LDIF = [
  `dn: ${BASE_DN}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\ndc: hadoop\no: Hadoop\n`,
  `dn: ${PEOPLE_DN}\nobjectClass: top\nobjectClass: organizationalUnit\nou: people\n`,
  `dn: ou=contractors,${PEOPLE_DN}\nobjectClass: top\nobjectClass: organizationalUnit\nou: contractors\n`,
  `dn: ${GROUPS_DN}\nobjectClass: top\nobjectClass: organizationalUnit\nou: groups\n`,
  ...Object.entries(USERS).map(([uid, u]) => person(uid, u.dn, u.password)),
  group('admin', [USERS.admin.dn]),
  group('analyst', [USERS.guest.dn, USERS.sam.dn, USERS.carol.dn]),
  group('contractors', [USERS.carol.dn]),
  group('staff', [`cn=analyst,${GROUPS_DN}`]),
].join('\n');

export interface SlapdOptions {
  /** Extra LDIF appended to {@link SEED_LDIF} (entries under {@link BASE_DN}). */
  extraLdif?: string;
  /** LDIF that replaces {@link SEED_LDIF} (entries under {@link BASE_DN}), e.g. Knox's demo `users.ldif` as it is. */
  ldif?: string;
  /** The plain LDAP port (default: a free one), e.g. Knox's demo LDAP port 33389 that Knox's topologies name. */
  port?: number;
  /** How long start() waits for slapd to answer (default 15 s). */
  startTimeoutMs?: number;
}

export interface SlapdFixture {
  /** `ldap://127.0.0.1:<port>` */
  readonly url: string;
  /** `ldaps://127.0.0.1:<port>`, with a certificate for 127.0.0.1 and localhost signed by {@link caPem}. */
  readonly ldapsUrl: string;
  readonly port: number;
  readonly ldapsPort: number;
  /** The test CA (PEM) that signed the LDAPS certificate; `caFile` is the same on disk. */
  readonly caPem: string;
  readonly caFile: string;
  readonly baseDn: string;
  readonly rootDn: string;
  readonly rootPassword: string;
  /** The temporary directory (config, database, certificates). */
  readonly dir: string;
  /** Whether slapd runs now. */
  readonly running: boolean;
  /** Starts slapd again on the same ports and database after {@link stop} (resolves once it answers). */
  start(): Promise<void>;
  /** Kills slapd (SIGKILL: connections drop at once) and waits until it is gone. */
  stop(): Promise<void>;
  /** Freezes slapd (SIGSTOP): connections open but nothing answers. */
  pause(): void;
  resume(): void;
  /** Stops slapd and removes its directory. */
  close(): Promise<void>;
}

function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=postern test CA',
  );
  ssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  );
}

function slapdConf(dir: string, rootPassword: string): string {
  const schema = ['core', 'cosine', 'inetorgperson', 'nis'].map(
    (s) => `include /etc/ldap/schema/${s}.schema`,
  );
  return `${schema.join('\n')}
pidfile ${join(dir, 'slapd.pid')}
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile ${join(dir, 'ca.pem')}
TLSCertificateFile ${join(dir, 'server.pem')}
TLSCertificateKeyFile ${join(dir, 'server.key')}

database mdb
maxsize 16777216
suffix "${BASE_DN}"
rootdn "${ROOT_DN}"
rootpw ${rootPassword}
directory ${join(dir, 'db')}
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by anonymous auth by * none
`;
}

/** Starts a seeded slapd; resolves once it answers on both ports. */
export async function startSlapd(options: SlapdOptions = {}): Promise<SlapdFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-slapd-'));
  const rootPassword = randomBytes(12).toString('hex');
  try {
    mkdirSync(join(dir, 'db'));
    makeCertificates(dir);
    const conf = join(dir, 'slapd.conf');
    writeFileSync(conf, slapdConf(dir, rootPassword));
    const ldif = join(dir, 'seed.ldif');
    // slapadd wants `version: 1` before anything else; Knox's users.ldif has its licence comment first (ApacheDS,
    // Knox's demo LDAP, does not mind). The line says nothing else: drop it.
    const seed = options.ldif?.replace(/^version:\s*1\s*$/m, '') ?? SEED_LDIF;
    writeFileSync(ldif, `${seed}\n${options.extraLdif ?? ''}`);
    execFileSync(SLAPADD_BIN, ['-q', '-f', conf, '-l', ldif], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const [port, ldapsPort] = [options.port ?? (await freePort()), await freePort()];
  const fixture = new Slapd(dir, port, ldapsPort, rootPassword, options.startTimeoutMs ?? 15_000);
  try {
    await fixture.start();
  } catch (err) {
    await fixture.close();
    throw err;
  }
  return fixture;
}

class Slapd implements SlapdFixture {
  readonly dir: string;
  readonly port: number;
  readonly ldapsPort: number;
  readonly url: string;
  readonly ldapsUrl: string;
  readonly caPem: string;
  readonly caFile: string;
  readonly baseDn = BASE_DN;
  readonly rootDn = ROOT_DN;
  /**
   * Made for this fixture: the start-up check binds with it, so a port another test's slapd took meanwhile (after
   * a stop, before the start) fails the start instead of passing for this one.
   */
  readonly rootPassword: string;
  readonly #startTimeoutMs: number;
  readonly #server = new GuardedProcess('slapd', 'KILL');

  constructor(dir: string, port: number, ldapsPort: number, rootPassword: string, startTimeoutMs: number) {
    this.rootPassword = rootPassword;
    this.dir = dir;
    this.port = port;
    this.ldapsPort = ldapsPort;
    this.url = `ldap://127.0.0.1:${port}`;
    this.ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
    this.caFile = join(dir, 'ca.pem');
    this.caPem = readFileSync(this.caFile, 'utf8');
    this.#startTimeoutMs = startTimeoutMs;
  }

  get running(): boolean {
    return this.#server.running;
  }

  async start(): Promise<void> {
    if (this.#server.running) return;
    const log = join(this.dir, 'slapd.log');
    // slapd in the foreground (-d 0), so that the guard holds it.
    const urls = `${this.url}/ ${this.ldapsUrl}/`;
    await this.#server.start([SLAPD_BIN, '-d', '0', '-f', join(this.dir, 'slapd.conf'), '-h', urls], { log });
    await waitUntilUp(
      this.#server,
      async () => (await this.#answers(this.url)) && (await this.#answers(this.ldapsUrl)),
      {
        timeoutMs: this.#startTimeoutMs,
        intervalMs: 25,
        log,
        what: `slapd on ${this.url}`,
      },
    );
  }

  async stop(): Promise<void> {
    if (!this.#server.running) return;
    this.resume();
    await this.#server.stop();
  }

  pause(): void {
    this.#server.signal('SIGSTOP');
  }

  resume(): void {
    this.#server.signal('SIGCONT');
  }

  async close(): Promise<void> {
    await this.stop();
    if (!process.env.POSTERN_TEST_KEEP_SLAPD) rmSync(this.dir, { recursive: true, force: true });
  }

  /** True when slapd answers a bind as the root DN at the URL. */
  async #answers(url: string): Promise<boolean> {
    // ldapts speaks TLS whenever tlsOptions are given, even to an ldap:// URL.
    const tls = url.startsWith('ldaps:') ? { tlsOptions: { ca: this.caPem } } : {};
    const client = new Client({ url, connectTimeout: 1000, timeout: 1000, ...tls });
    try {
      await client.bind(ROOT_DN, this.rootPassword);
      return true;
    } catch {
      return false;
    } finally {
      await client.unbind().catch(() => {});
    }
  }
}
