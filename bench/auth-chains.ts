/**
 * @module bench/auth-chains
 * The security-provider rows of `npm run bench` (issue 3): what an authentication chain costs per request against
 * the Anonymous chain. Each row is postern started like the bench's `postern` row (POSTERN_LOG_LEVEL=warn, no
 * access or audit log, pinned on the server core with the backend) with one topology, `bench`, whose only
 * difference is its `<gateway>` section; wrk sends the same small GET (`/gateway/bench/http/small`) with the
 * credentials in a header on every request (`wrk -H`; wrk keeps no cookies):
 *
 * - `postern-anon`: Anonymous + Default identity assertion (the baseline; the `postern` row's chain);
 * - `postern-ldap`: ShiroProvider with KnoxLdapRealm (userDnTemplate) against a real slapd (test/helpers/slapd.ts,
 *   pinned on the server core too), `authenticationCachingEnabled` with a cacheManager, `urls./**=authcBasic`;
 *   `Authorization: Basic guest:guest-password`. The cache answers every request after the first; slapd's
 *   monitor database (`cn=Bind,cn=Operations,cn=Monitor`) says how many binds it saw. As Knox, a Basic login
 *   without a session cookie opens a session (and sends `Set-Cookie`) each time;
 * - `postern-jwt`: JWTProvider with `knox.token.verification.pem` (RS256, 2048-bit key), `Authorization: Bearer`
 *   with one token valid for a day (iss KNOXSSO, sub guest): the signature is verified once, then the verifier's
 *   signature cache (SHA-256 of the token) answers, and the claims are checked on every request.
 *
 * Rows only measured on request (`--auth-targets`), to see where the time goes:
 * - `postern-ldap-nosession`: the LDAP row with `urls./**=noSessionCreation, authcBasic` (no session per request);
 * - `postern-ldap-nocache`: the `nosession` row without the authentication cache (one LDAP bind per request);
 * - `postern-jwt-nocache`: the JWT row with `jwt.verified.cache.max=0` (an RS256 verification per request).
 * - `postern-jwt-managed`: the JWT row with server-managed token state (`knox.token.exp.server-managed=true`,
 *   the embedded SQLite store, `postern.token.state.cache.ttl` at its default 5 s): the token is recorded in the
 *   home's `data/token-state.db` before the gateway starts, and every request also checks it (known, enabled,
 *   unexpired) through the per-node cache. Its ratio to `postern-jwt` is the state check's cost.
 *
 * Per row: wrk warm-up, then the measured run (req/s, p50, p99, errors), the CPU of postern (and of slapd) per
 * request from /proc, and the ratios to `postern-anon`. With `cpuProfDir`, every row is run a second time under
 * `--cpu-prof` and summarized (bench/profile-summary.ts); the table's numbers come from the unprofiled runs.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { Agent, request } from 'undici';
import { SqliteTokenStore } from '../src/tokenstate/sqlite.ts';
import { epoch, makeKey, signToken } from '../test/helpers/jwks.ts';
import { PEOPLE_DN, SLAPADD_BIN, SLAPD_BIN, type SlapdFixture, startSlapd } from '../test/helpers/slapd.ts';
import { summarizeFile } from './profile-summary.ts';
import { markdownTable } from './table.ts';
import { parseWrkJson, type WrkJson } from './wrk-json.ts';

/** What bench/run.ts lends this module: its process management, pinning and durations. */
export interface AuthHarness {
  repo: string;
  node: string;
  tmp: string;
  loadgenCpu: string;
  serverCpu: string;
  duration: number;
  warmup: number;
  connections: number;
  /** Starts a process on the server core, tracked by run.ts (killed on exit and on Ctrl-C). */
  pinned(
    name: string,
    cmd: string,
    argv: string[],
    env?: NodeJS.ProcessEnv,
  ): { child: ChildProcess; stop(signal?: NodeJS.Signals): Promise<void> };
  /** Runs a command to completion and returns its stdout. */
  run(cmd: string, argv: string[]): Promise<string>;
  freePort(): Promise<number>;
  log(msg: string): void;
  cpuTimes(pid: number | undefined): { user: number; sys: number } | undefined;
}

export const DEFAULT_AUTH_TARGETS = ['anon', 'ldap', 'jwt'];
const KNOWN = ['anon', 'ldap', 'jwt', 'ldap-nosession', 'ldap-nocache', 'jwt-nocache', 'jwt-managed'];

export interface AuthRow {
  target: string;
  chain: string;
  rps: number;
  small: WrkJson;
  /** µs of CPU per measured request, postern (user, sys) and slapd (user+sys; LDAP rows only). */
  cpu: { user: number; sys: number; slapd?: number };
  /** Binds slapd completed for this target (readiness check, warm-up and run); LDAP rows only. */
  ldapBinds?: number;
}

export interface AuthReport {
  header: string;
  rows: AuthRow[];
  skipped: string[];
  profiles: string[];
}

const BASE_PATH = '/gateway/bench/http/';
const USER = 'guest';
const PASSWORD = 'guest-password';
const agent = new Agent();

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function provider(role: string, name: string, params: Record<string, string> = {}): string {
  const ps = Object.entries(params)
    .map(([n, v]) => `\n      <param><name>${xml(n)}</name><value>${xml(v)}</value></param>`)
    .join('');
  return `    <provider><role>${role}</role><name>${name}</name><enabled>true</enabled>${ps}\n    </provider>\n`;
}

interface Chain {
  target: string;
  chain: string;
  providers: string;
  header?: string;
  ldap: boolean;
  /** Runs on the home before the gateway starts (the managed row records its token there). */
  prepare?(dir: string): Promise<void>;
}

function ldapParams(ldap: SlapdFixture, rule: string, cache: boolean): Record<string, string> {
  return {
    'main.ldapRealm': 'org.apache.knox.gateway.shirorealm.KnoxLdapRealm',
    'main.ldapContextFactory': 'org.apache.knox.gateway.shirorealm.KnoxLdapContextFactory',
    'main.ldapRealm.contextFactory': '$ldapContextFactory',
    'main.ldapRealm.userDnTemplate': `uid={0},${PEOPLE_DN}`,
    'main.ldapRealm.contextFactory.url': ldap.url,
    'main.ldapRealm.contextFactory.authenticationMechanism': 'simple',
    ...(cache
      ? {
          'main.ldapRealm.authenticationCachingEnabled': 'true',
          'main.cacheManager': 'org.apache.knox.gateway.shirorealm.KnoxCacheManager',
          'main.securityManager.cacheManager': '$cacheManager',
        }
      : {}),
    'urls./**': rule,
  };
}

async function chains(names: string[], ldap: SlapdFixture | undefined): Promise<Chain[]> {
  const basic = `Authorization: Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const key = names.some((n) => n.startsWith('jwt')) ? await makeKey('bench', 'RS256') : undefined;
  const token = key
    ? await signToken(key, { claims: { sub: USER, iss: 'KNOXSSO', exp: epoch(24 * 3600) } })
    : undefined;
  const out: Chain[] = [];
  for (const name of names) {
    const target = `postern-${name}`;
    switch (name) {
      case 'anon':
        out.push({
          target,
          chain: 'Anonymous',
          providers: provider('authentication', 'Anonymous'),
          ldap: false,
        });
        break;
      case 'ldap':
      case 'ldap-nosession':
      case 'ldap-nocache': {
        if (!ldap) continue;
        const rule = name === 'ldap' ? 'authcBasic' : 'noSessionCreation, authcBasic';
        const cache = name !== 'ldap-nocache';
        out.push({
          target,
          chain: `ShiroProvider KnoxLdapRealm, ${cache ? 'auth cache' : 'no cache'}, urls./**=${rule}`,
          providers: provider('authentication', 'ShiroProvider', ldapParams(ldap, rule, cache)),
          header: basic,
          ldap: true,
        });
        break;
      }
      case 'jwt':
      case 'jwt-nocache': {
        const params: Record<string, string> = { 'knox.token.verification.pem': key!.spki };
        if (name === 'jwt-nocache') params['jwt.verified.cache.max'] = '0';
        out.push({
          target,
          chain: `JWTProvider RS256 PEM, ${name === 'jwt' ? 'signature cache' : 'no signature cache'}`,
          providers: provider('federation', 'JWTProvider', params),
          header: `Authorization: Bearer ${token}`,
          ldap: false,
        });
        break;
      }
      case 'jwt-managed': {
        // Signed with the same kind of key, checked with the same PEM, plus the token state.
        const id = crypto.randomUUID();
        const managed = await signToken(key!, {
          claims: { sub: USER, iss: 'KNOXSSO', exp: epoch(24 * 3600), jti: id, 'knox.id': id },
        });
        out.push({
          target,
          chain: 'JWTProvider RS256 PEM, signature cache, server-managed state (SQLite, 5 s cache)',
          providers: provider('federation', 'JWTProvider', {
            'knox.token.verification.pem': key!.spki,
            'knox.token.exp.server-managed': 'true',
          }),
          header: `Authorization: Bearer ${managed}`,
          ldap: false,
          async prepare(dir) {
            const store = new SqliteTokenStore(join(dir, 'data', 'token-state.db'));
            const now = Date.now();
            await store.add({
              tokenId: id,
              issueTime: now,
              expiration: now + 24 * 3600_000,
              maxLifetime: -1,
              metadata: { userName: USER, enabled: 'true', type: 'JWT' },
            });
            await store.close();
          },
        });
        break;
      }
      default:
        throw new Error(`unknown auth target "${name}" (${KNOWN.join(', ')})`);
    }
  }
  return out;
}

function home(h: AuthHarness, name: string, c: Chain, backendPort: number, port: number): string {
  const dir = join(h.tmp, name);
  mkdirSync(join(dir, 'conf', 'topologies'), { recursive: true });
  const prop = (n: string, v: string) => `  <property><name>${n}</name><value>${v}</value></property>\n`;
  writeFileSync(
    join(dir, 'conf', 'gateway-site.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>\n<configuration>\n${prop('gateway.port', String(port))}${prop(
      'gateway.host',
      '127.0.0.1',
    )}${prop('ssl.enabled', 'false')}${prop('postern.workers', '1')}</configuration>\n`,
  );
  writeFileSync(
    join(dir, 'conf', 'topologies', 'bench.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>
<topology>
  <gateway>
${c.providers}${provider('identity-assertion', 'Default')}  </gateway>
  <service>
    <role>HTTP</role>
    <url>http://127.0.0.1:${backendPort}</url>
  </service>
</topology>
`,
  );
  return dir;
}

function headerObject(header: string | undefined): Record<string, string> {
  if (!header) return {};
  const i = header.indexOf(':');
  return { [header.slice(0, i).trim().toLowerCase()]: header.slice(i + 1).trim() };
}

async function waitReady(
  url: string,
  header: string | undefined,
  proc: { child: ChildProcess },
): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = '';
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${url}: postern exited (${proc.child.exitCode})`);
    try {
      const res = await request(url, { dispatcher: agent, headers: headerObject(header) });
      await res.body.dump();
      if (res.statusCode === 200) return;
      last = `status ${res.statusCode}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within 60 s (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function wrk(
  h: AuthHarness,
  url: string,
  header: string | undefined,
  seconds: number,
): Promise<WrkJson> {
  const argv = ['-c', h.loadgenCpu, 'wrk', '--latency', '-t1', `-c${h.connections}`, `-d${seconds}s`];
  argv.push('--timeout', '5s', '-s', join(h.repo, 'bench', 'wrk-report.lua'));
  if (header) argv.push('-H', header);
  const out = await h.run('taskset', [...argv, url]);
  return parseWrkJson(out);
}

// ---------------------------------------------------------------------------------------------------------------
// slapd: the test fixture, plus its monitor database (to count binds) and pinned on the server core.

interface Directory {
  ldap: SlapdFixture;
  pid: number | undefined;
  binds(): Promise<number | undefined>;
  close(): Promise<void>;
}

async function startDirectory(h: AuthHarness): Promise<Directory> {
  const ldap = await startSlapd();
  // The fixture's slapd.conf, with the monitor backend (built into Debian's slapd) readable by the root DN; then
  // a restart on the same ports and database.
  const conf = join(ldap.dir, 'slapd.conf');
  writeFileSync(
    conf,
    `${readFileSync(conf, 'utf8')}\ndatabase monitor\naccess to * by dn.exact="${ldap.rootDn}" read by * none\n`,
  );
  await ldap.stop();
  await ldap.start();
  let pid: number | undefined;
  try {
    pid = Number(readFileSync(join(ldap.dir, 'slapd.pid'), 'utf8').trim());
    await h.run('taskset', ['-a', '-p', '-c', h.serverCpu, String(pid)]);
  } catch (err) {
    h.log(`could not pin slapd on core ${h.serverCpu}: ${(err as Error).message}`);
  }
  return {
    ldap,
    pid,
    async binds() {
      const client = new Client({ url: ldap.url, timeout: 2000, connectTimeout: 2000 });
      try {
        await client.bind(ldap.rootDn, ldap.rootPassword);
        const { searchEntries } = await client.search('cn=Bind,cn=Operations,cn=Monitor', {
          scope: 'base',
          attributes: ['monitorOpCompleted'],
        });
        return Number(searchEntries[0]?.monitorOpCompleted);
      } catch (err) {
        h.log(`slapd monitor unreadable: ${(err as Error).message}`);
        return undefined;
      } finally {
        await client.unbind().catch(() => {});
      }
    },
    close: () => ldap.close(),
  };
}

// ---------------------------------------------------------------------------------------------------------------

async function startPostern(
  h: AuthHarness,
  c: Chain,
  backendPort: number,
  cpuProfDir?: string,
): Promise<{ url: string; pid: number | undefined; stop(): Promise<void> }> {
  const port = await h.freePort();
  const name = cpuProfDir ? `${c.target}-profile` : c.target;
  const dir = home(h, name, c, backendPort, port);
  await c.prepare?.(dir);
  const node = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const proc = h.pinned(
    name,
    h.node,
    [...node, join(h.repo, 'src', 'cli', 'main.ts'), 'start', '--home', dir],
    {
      POSTERN_LOG_LEVEL: 'warn',
      POSTERN_ACCESS_LOG: 'silent',
      POSTERN_AUDIT_LOG: 'silent',
    },
  );
  const url = `http://127.0.0.1:${port}${BASE_PATH}small`;
  await waitReady(url, c.header, proc);
  return { url, pid: proc.child.pid, stop: () => proc.stop('SIGINT') };
}

/** Runs every selected row; LDAP rows are skipped (and said so) when slapd is not installed. */
export async function runAuthRows(
  h: AuthHarness,
  backendPort: number,
  options: { targets: readonly string[]; cpuProfDir?: string },
): Promise<AuthReport> {
  const names = [...options.targets];
  for (const n of names)
    if (!KNOWN.includes(n)) throw new Error(`unknown auth target "${n}" (${KNOWN.join(', ')})`);
  const skipped: string[] = [];
  let dir: Directory | undefined;
  if (names.some((n) => n.startsWith('ldap'))) {
    if (!existsSync(SLAPD_BIN) || !existsSync(SLAPADD_BIN)) {
      const msg = `slapd is not installed (${SLAPD_BIN}; apt-get install slapd ldap-utils): no LDAP row`;
      h.log(msg);
      skipped.push(...names.filter((n) => n.startsWith('ldap')).map((n) => `postern-${n}: ${msg}`));
    } else {
      dir = await startDirectory(h);
      h.log(`slapd ${dir.ldap.url} (pid ${dir.pid ?? '?'}) for the LDAP rows`);
    }
  }
  const rows: AuthRow[] = [];
  const profiles: string[] = [];
  try {
    for (const c of await chains(names, dir?.ldap)) {
      const binds0 = c.ldap ? await dir?.binds() : undefined;
      const t = await startPostern(h, c, backendPort);
      try {
        h.log(`${c.target}: warm-up ${h.warmup}s, small ${h.duration}s (c=${h.connections}) …`);
        await wrk(h, t.url, c.header, h.warmup);
        const slapdPid = c.ldap ? dir?.pid : undefined;
        const [p0, s0] = [h.cpuTimes(t.pid), h.cpuTimes(slapdPid)];
        const small = await wrk(h, t.url, c.header, h.duration);
        const [p1, s1] = [h.cpuTimes(t.pid), h.cpuTimes(slapdPid)];
        const per = (a?: { user: number; sys: number }, b?: { user: number; sys: number }) =>
          a && b && small.requests > 0
            ? { user: (b.user - a.user) / small.requests, sys: (b.sys - a.sys) / small.requests }
            : { user: Number.NaN, sys: Number.NaN };
        const proxy = per(p0, p1);
        const slapd = c.ldap ? per(s0, s1) : undefined;
        const binds1 = c.ldap ? await dir?.binds() : undefined;
        rows.push({
          target: c.target,
          chain: c.chain,
          rps: small.requests / (small.duration_us / 1e6),
          small,
          cpu: { ...proxy, ...(slapd ? { slapd: slapd.user + slapd.sys } : {}) },
          // The second read's own bind is in its count.
          ...(binds0 !== undefined && binds1 !== undefined ? { ldapBinds: binds1 - binds0 - 1 } : {}),
        });
      } finally {
        await t.stop();
      }
      if (options.cpuProfDir) {
        const profDir = mkdtempSync(join(options.cpuProfDir, `${c.target}-`));
        const p = await startPostern(h, c, backendPort, profDir);
        h.log(`${c.target}: --cpu-prof, warm-up ${h.warmup}s + ${h.duration}s …`);
        const ready = Date.now();
        await wrk(h, p.url, c.header, h.warmup);
        const skipMs = Date.now() - ready;
        const r = await wrk(h, p.url, c.header, h.duration);
        await p.stop();
        const rps = Math.round(r.requests / (r.duration_us / 1e6)).toLocaleString('en-US');
        profiles.push(
          readdirSync(profDir).some((f) => f.endsWith('.cpuprofile'))
            ? `${c.target} under --cpu-prof (${rps} req/s; npx node bench/profile-summary.ts ${profDir} --skip-ms ${skipMs})\n` +
                summarizeFile(profDir, { skipMs })
            : `${c.target}: no profile was written to ${profDir}`,
        );
      }
    }
  } finally {
    await dir?.close();
  }
  const header =
    `security-provider chains — postern (warn, no access/audit log) + backend on core ${h.serverCpu}` +
    `${dir ? ' (slapd too)' : ''}, wrk -t1 -c${h.connections} on core ${h.loadgenCpu}, GET ${BASE_PATH}small ` +
    `with the credentials in a header, warm-up ${h.warmup}s, ${h.duration}s each`;
  return { header, rows, skipped, profiles };
}

const ms = (us: number) => (us / 1000).toFixed(2);
const fmtRps = (r: number) => Math.round(r).toLocaleString('en-US');
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '—');

/** The rows, then their ratios to postern-anon, then notes (chains, errors, binds, skipped rows). */
export function authTable(report: AuthReport): string {
  const { rows } = report;
  const cpu = (r: AuthRow) => r.cpu.user + r.cpu.sys;
  const anon = rows.find((r) => r.target === 'postern-anon');
  const head = ['target', 'small req/s', 'p50 ms', 'p99 ms', 'CPU µs/req'];
  if (anon) head.push('req/s ÷ anon', 'p50 ÷ anon', 'p99 ÷ anon', 'CPU µs vs anon');
  const body = rows.map((r) => {
    const cells = [r.target, fmtRps(r.rps), ms(r.small.p50), ms(r.small.p99), cpu(r).toFixed(0)];
    if (anon) {
      const d = cpu(r) - cpu(anon);
      cells.push(
        ratio(r.rps, anon.rps),
        ratio(r.small.p50, anon.small.p50),
        ratio(r.small.p99, anon.small.p99),
        `${d >= 0 ? '+' : ''}${d.toFixed(0)}`,
      );
    }
    return cells;
  });
  const notes: string[] = [];
  for (const r of rows) {
    const w = r.small;
    const errs = w.connect + w.read + w.write + w.status + w.timeout;
    if (errs > 0) {
      notes.push(
        `! ${r.target}: ${errs} errors (connect ${w.connect}, read ${w.read}, write ${w.write}, ` +
          `non-2xx/3xx ${w.status}, timeout ${w.timeout})`,
      );
    }
  }
  notes.push(`chains: ${rows.map((r) => `${r.target} = ${r.chain}`).join('; ')}`);
  notes.push(
    `CPU per request, µs user+sys of postern: ${rows
      .map((r) => `${r.target} ${r.cpu.user.toFixed(0)}+${r.cpu.sys.toFixed(0)}`)
      .join(', ')}`,
  );
  const ldap = rows.filter((r) => r.cpu.slapd !== undefined || r.ldapBinds !== undefined);
  if (ldap.length > 0) {
    notes.push(
      `LDAP binds slapd completed during each target's life (readiness check, warm-up, run), and slapd CPU per request: ${ldap
        .map(
          (r) =>
            `${r.target} ${r.ldapBinds === undefined ? '?' : fmtRps(r.ldapBinds)} binds for ${fmtRps(r.small.requests)} measured requests, ` +
            `${r.cpu.slapd?.toFixed(1) ?? '?'} µs`,
        )
        .join('; ')}`,
    );
  }
  for (const s of report.skipped) notes.push(`skipped ${s}`);
  return [markdownTable(head, body), '', ...notes].join('\n');
}
