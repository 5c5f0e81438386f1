/**
 * Knox's alias service and knoxcli, end to end: `postern cli` run as a real process on a home, its credential
 * stores (encrypted with a key derived from the master secret; nothing readable in the file), Knox's lookup order
 * (the topology's store, then `__gateway`), and Knox's sandbox LDAP configuration with
 * `main.ldapRealm.contextFactory.systemPassword = ${ALIAS=ldcSystemPassword}` authenticating against a real slapd
 * once `postern cli create-alias ldcSystemPassword --cluster sandbox --value …` has run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { checkHome } from '../../src/cli/check.ts';
import { AliasResolver, CredentialStore, readMasterSecret } from '../../src/config/aliases.ts';
import { formatDiagnostic } from '../../src/config/diagnostics.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome } from '../helpers/home.ts';
import { type SlapdFixture, startSlapd } from '../helpers/slapd.ts';
import { basic, searchParams, shiroTopology } from '../providers/authentication/shiro-fixture.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function cli(home: string, args: string[], input?: string) {
  const r = spawnSync(process.execPath, [MAIN, 'cli', ...args, '--home', home], {
    encoding: 'utf8',
    input: input ?? '',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('postern cli: aliases and the master secret', () => {
  let home: TestHome;
  before(() => {
    home = makeHome();
  });
  after(() => home.remove());

  it('creates, lists and deletes aliases with knoxcli names; a secret on argv is warned about', () => {
    const made = cli(home.dir, [
      'create-alias',
      'ldcSystemPassword',
      '--cluster',
      'sandbox',
      '--value',
      's3cret-1',
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stderr, /warning: --value puts the secret on the command line/);
    const piped = cli(home.dir, ['create-alias', 'gw-only'], 'from-stdin\n');
    assert.equal(piped.code, 0, piped.stderr);
    assert.doesNotMatch(piped.stderr, /warning/);

    assert.deepEqual(
      cli(home.dir, ['list-alias', '--cluster', 'sandbox']).stdout.split('\n').filter(Boolean),
      ['Listing aliases for: sandbox', 'ldcsystempassword'],
    );
    assert.deepEqual(cli(home.dir, ['list-alias']).stdout.split('\n').filter(Boolean), [
      'Listing aliases for: __gateway',
      'gw-only',
    ]);

    const master = readMasterSecret(home.dir)!;
    assert.equal(new CredentialStore(home.dir, master, 'sandbox').get('LDCSYSTEMPASSWORD'), 's3cret-1');
    assert.equal(new CredentialStore(home.dir, master, '__gateway').get('gw-only'), 'from-stdin');

    const gone = cli(home.dir, ['delete-alias', 'gw-only']);
    assert.equal(gone.code, 0);
    const again = cli(home.dir, ['delete-alias', 'gw-only']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'postern cli delete-alias: alias gw-only does not exist in __gateway\n');
    assert.equal(cli(home.dir, ['create-alias']).code, 1);
    assert.equal(cli(home.dir, ['frobnicate']).code, 1);
  });

  it('keeps stores encrypted at rest, 0600, bound to their master secret, cluster and alias', () => {
    const file = join(home.dir, 'data/security/keystores/sandbox-credentials.json');
    const text = readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /s3cret/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const json = JSON.parse(text);
    assert.equal(json.format, 'postern-credentials/1');
    // An entry copied under another name does not decrypt.
    json.aliases.copied = json.aliases.ldcsystempassword;
    writeFileSync(file, JSON.stringify(json));
    const master = readMasterSecret(home.dir)!;
    assert.throws(() => new CredentialStore(home.dir, master, 'sandbox').get('copied'), /does not decrypt/);
    // Another master secret opens nothing.
    assert.throws(
      () => new CredentialStore(home.dir, new Uint8Array(32).fill(1), 'sandbox').get('ldcsystempassword'),
      /does not decrypt/,
    );
  });

  it("resolves an alias reference from the topology's store, then the gateway's, and names a missing alias", () => {
    const master = readMasterSecret(home.dir)!;
    new CredentialStore(home.dir, master, '__gateway').set('shared', 'gw-value');
    new CredentialStore(home.dir, master, '__gateway').set('ldcSystemPassword', 'gw-loses');
    const sandbox = new AliasResolver(home.dir, master, 'sandbox');
    assert.equal(sandbox.resolve(`\${ALIAS=ldcSystemPassword}`), 's3cret-1');
    assert.equal(sandbox.resolve(`\${ALIAS=shared}`), 'gw-value');
    assert.equal(sandbox.resolve('plain'), 'plain');
    assert.throws(
      () => sandbox.resolve(`\${ALIAS=nope}`),
      /^Error: alias nope is not defined for topology sandbox or the gateway/,
    );
  });

  it('create-master refuses to replace a master secret without --force, and warns that stores go unreadable', () => {
    const refused = cli(home.dir, ['create-master', '--generate']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /exists; --force replaces it/);
    const other = makeHome();
    try {
      const made = cli(other.dir, ['create-master'], 'a master password\n');
      assert.equal(made.code, 0, made.stderr);
      const first = readMasterSecret(other.dir);
      assert.equal(cli(other.dir, ['create-master', '--force'], 'a master password\n').code, 0);
      // The same password gives the same secret, as Knox's master password unlocks the same stores.
      assert.deepEqual(readMasterSecret(other.dir), first);
    } finally {
      other.remove();
    }
  });
});

describe("Knox's sandbox LDAP system password from an alias (real slapd)", () => {
  let ldap: SlapdFixture;
  let backend: Backend;
  let home: TestHome;
  before(async () => {
    [ldap, backend] = await Promise.all([startSlapd(), startBackend((_req, res) => res.end('ok'))]);
    home = makeHome();
    home.write(
      'conf/topologies/sandbox.xml',
      shiroTopology(
        searchParams(ldap, { 'main.ldapRealm.contextFactory.systemPassword': `\${ALIAS=ldcSystemPassword}` }),
        backend.url,
      ),
    );
  });
  after(async () => {
    home?.remove();
    await Promise.all([ldap?.close(), backend?.close()]);
  });

  it('is an error at the param until the alias exists; then users authenticate through the system search', async () => {
    const before = (await checkHome(home.dir)).filter((d) => d.severity === 'error').map(formatDiagnostic);
    // The alias first, at its param; the provider then says it cannot be used.
    assert.match(before[0], /systemPassword: alias ldcSystemPassword is not defined for topology sandbox/);
    assert.ok(
      before.every((d) => d.includes('sandbox.xml')),
      before.join('\n'),
    );

    const made = cli(home.dir, [
      'create-alias',
      'ldcSystemPassword',
      '--cluster',
      'sandbox',
      '--value',
      'guest-password',
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.deepEqual(
      (await checkHome(home.dir)).filter((d) => d.severity === 'error'),
      [],
    );

    const gateway = await startGateway(home);
    try {
      const ok = await request(`${gateway.url}/sandbox/http/x`, { headers: basic('sam', 'sam-password') });
      await ok.body.dump();
      assert.equal(ok.statusCode, 200);
      const bad = await request(`${gateway.url}/sandbox/http/x`, { headers: basic('sam', 'wrong') });
      await bad.body.dump();
      assert.equal(bad.statusCode, 401);
    } finally {
      await gateway.close();
    }
  });

  it('tests a user login and the system bind as knoxcli does (user-auth-test, system-user-auth-test)', () => {
    assert.equal(
      cli(home.dir, [
        'create-alias',
        'ldcSystemPassword',
        '--cluster',
        'sandbox',
        '--value',
        'guest-password',
      ]).code,
      0,
    );
    const ok = cli(
      home.dir,
      ['user-auth-test', '--cluster', 'sandbox', '--u', 'sam', '--g'],
      'sam-password\n',
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^LDAP authentication successful!\nsam is a member of: .+\n$/);
    const wrong = cli(home.dir, ['user-auth-test', '--cluster', 'sandbox', '--u', 'sam'], 'nope\n');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /ERR: Unable to authenticate user: sam/);
    assert.doesNotMatch(wrong.stdout + wrong.stderr, /nope|guest-password/);
    const system = cli(home.dir, ['system-user-auth-test', '--cluster', 'sandbox']);
    assert.equal(system.code, 0, system.stderr);
    assert.equal(system.stdout, 'System LDAP Bind successful.\n');
    // A wrong system password in the alias: the bind fails, and says so.
    cli(home.dir, ['create-alias', 'ldcSystemPassword', '--cluster', 'sandbox', '--value', 'not-it']);
    const bad = cli(home.dir, ['system-user-auth-test', '--cluster', 'sandbox', '--d']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /Unable to successfully bind to LDAP server with topology credentials/);
    cli(home.dir, ['create-alias', 'ldcSystemPassword', '--cluster', 'sandbox', '--value', 'guest-password']);
    const none = cli(home.dir, ['user-auth-test', '--cluster', 'nosuch', '--u', 'sam', '--p', 'x']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /Topology nosuch does not exist/);
  });
});

describe('postern cli: topologies and the gateway certificate', () => {
  let home: TestHome;
  before(() => {
    home = makeHome();
    home.write(
      'conf/topologies/good.xml',
      '<topology><gateway><provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider></gateway><service><role>HTTP</role><url>http://127.0.0.1:1/</url></service></topology>',
    );
    home.write(
      'conf/topologies/typo.xml',
      '<topology><gateway><provder><role>authentication</role></provder></gateway></topology>',
    );
  });
  after(() => home?.remove());

  it('lists, validates and redeploys topologies with knoxcli’s words', () => {
    const list = cli(home.dir, ['list-topologies']);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout, 'List of files available in the topologies directory\ngood\ntypo\n');
    const good = cli(home.dir, ['validate-topology', '--cluster', 'good']);
    assert.equal(good.code, 0, good.stdout);
    assert.match(good.stdout, /Topology file validated successfully/);
    const typo = cli(home.dir, ['validate-topology', '--path', join(home.dir, 'conf/topologies/typo.xml')]);
    assert.equal(typo.code, 1);
    assert.match(typo.stdout, /typo\.xml:1:\d+: .*provder.*\n.*Topology validation unsuccessful/s);
    const file = join(home.dir, 'conf/topologies/good.xml');
    const before = statSync(file).mtimeMs;
    const redeployed = cli(home.dir, ['redeploy', '--cluster', 'good']);
    assert.equal(redeployed.code, 0, redeployed.stderr);
    assert.ok(statSync(file).mtimeMs > before, 'the file was touched');
    assert.equal(cli(home.dir, ['redeploy', '--cluster', 'nosuch']).code, 1);
  });

  it('creates the gateway certificate for a host name and exports it as PEM and PKCS#12', () => {
    const made = cli(home.dir, ['create-cert', '--hostname', 'gw.example.org']);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(cli(home.dir, ['create-cert']).code, 1, 'refuses to replace it without --force');
    const pem = cli(home.dir, ['export-cert']);
    assert.equal(pem.code, 0, pem.stderr);
    const exported = readFileSync(join(home.dir, 'data/security/keystores/gateway-client-trust.pem'), 'utf8');
    const cert = new X509Certificate(exported);
    assert.match(cert.subject, /CN=gw\.example\.org/);
    assert.match(cert.subjectAltName ?? '', /DNS:gw\.example\.org/);
    const p12 = cli(home.dir, ['export-cert', '--type', 'PKCS12']);
    assert.equal(p12.code, 0, p12.stderr);
    const info = spawnSync(
      'openssl',
      [
        'pkcs12',
        '-in',
        join(home.dir, 'data/security/keystores/gateway-client-trust.pkcs12'),
        '-nokeys',
        '-passin',
        'pass:changeit',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(info.status, 0, info.stderr);
    assert.equal(
      new X509Certificate(info.stdout.slice(info.stdout.indexOf('-----BEGIN'))).fingerprint256,
      cert.fingerprint256,
    );
    // JKS, with Knox's password: the JDK's own keytool reads it and finds the same certificate.
    const jks = cli(home.dir, ['export-cert', '--type', 'JKS']);
    assert.equal(jks.code, 0, jks.stderr);
    const listed = spawnSync(
      'keytool',
      [
        '-list',
        '-rfc',
        '-keystore',
        join(home.dir, 'data/security/keystores/gateway-client-trust.jks'),
        '-storepass',
        'changeit',
        '-storetype',
        'JKS',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(listed.status, 0, listed.stderr + listed.stdout);
    assert.match(listed.stdout, /Alias name: gateway-identity/);
    assert.equal(
      new X509Certificate(listed.stdout.slice(listed.stdout.indexOf('-----BEGIN'))).fingerprint256,
      cert.fingerprint256,
    );
    const jceks = cli(home.dir, ['export-cert', '--type', 'JCEKS']);
    assert.equal(jceks.code, 1);
    assert.match(jceks.stderr, /keytool -importcert/);
  });
});
