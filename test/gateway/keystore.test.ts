/**
 * The gateway identity from Knox's keystore settings, with keystores made by the JDK's own `keytool`: Knox's
 * default `data/security/keystores/gateway.jks` with the key `gateway-identity`, its password from the gateway alias
 * `gateway-identity-keystore-password` (made with `postern cli create-alias`), served over real TLS; and `postern
 * check` failing, as `start` does, on a wrong password, a missing key alias and a JCEKS keystore.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createCipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { checkHome } from '../../src/cli/check.ts';
import { CredentialStore } from '../../src/config/aliases.ts';
import { loadOrCreateMasterSecret } from '../../src/deploy/secrets.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const KEYTOOL = process.env.KEYTOOL_BIN ?? '/usr/bin/keytool';

/** A keystore made by keytool with one EC key entry for localhost; returns its certificate as PEM. */
function keytool(file: string, type: 'JKS' | 'JCEKS' | 'PKCS12', alias: string, password: string): Buffer {
  const common = ['-keystore', file, '-storetype', type, '-storepass', password];
  execFileSync(
    KEYTOOL,
    [
      '-genkeypair',
      '-alias',
      alias,
      '-keyalg',
      'EC',
      '-groupname',
      'secp256r1',
      '-dname',
      'CN=localhost',
      '-ext',
      'SAN=dns:localhost,ip:127.0.0.1',
      '-validity',
      '2',
      '-keypass',
      password,
      ...common,
    ],
    { stdio: 'pipe' },
  );
  return execFileSync(KEYTOOL, ['-exportcert', '-rfc', '-alias', alias, ...common], { stdio: 'pipe' });
}

describe('identity keystores under Knox settings (keytool-made)', () => {
  const homes: TestHome[] = [];
  after(() => {
    for (const h of homes) h.remove();
  });

  function home(site: Record<string, string | boolean> = {}, password?: string): TestHome {
    const h = makeHome({ 'ssl.enabled': true, ...site });
    homes.push(h);
    h.write(
      'conf/topologies/t.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: ['http://127.0.0.1:1'] }] }),
    );
    mkdirSync(join(h.dir, 'data/security/keystores'), { recursive: true });
    if (password !== undefined) {
      const master = loadOrCreateMasterSecret(join(h.dir, 'data/security/master.secret'));
      new CredentialStore(h.dir, master, '__gateway').set('gateway-identity-keystore-password', password);
    }
    return h;
  }

  const errors = async (h: TestHome) =>
    (await checkHome(h.dir)).filter((d) => d.severity === 'error').map((d) => d.message);

  it("serves TLS from Knox's default gateway.jks, its password from the gateway alias", async () => {
    const h = home({}, 'ks-pass');
    const cert = keytool(
      join(h.dir, 'data/security/keystores/gateway.jks'),
      'JKS',
      'gateway-identity',
      'ks-pass',
    );
    assert.deepEqual(await errors(h), []);
    const gateway = await startGateway(h);
    const agent = new Agent({ connect: { ca: cert, servername: 'localhost' } });
    try {
      const res = await request(`${gateway.url}/t/none`, { dispatcher: agent });
      await res.body.dump();
      assert.equal(res.statusCode, 404);
    } finally {
      await agent.close();
      await gateway.close();
    }
  });

  it('fails check and start on a wrong keystore password, naming the keystore and the alias', async () => {
    const h = home({}, 'not-the-password');
    keytool(join(h.dir, 'data/security/keystores/gateway.jks'), 'JKS', 'gateway-identity', 'ks-pass');
    const [message] = await errors(h);
    assert.match(
      message,
      /cannot open keystore .*gateway\.jks \(type JKS, password from alias gateway-identity-keystore-password\)/,
    );
    assert.doesNotMatch(message, /not-the-password|ks-pass/);
    await assert.rejects(startGateway(h), /cannot open keystore/);
  });

  it('fails without a password alias, saying which alias to create', async () => {
    const h = home();
    keytool(join(h.dir, 'data/security/keystores/gateway.jks'), 'JKS', 'gateway-identity', 'ks-pass');
    assert.match(
      (await errors(h))[0],
      /no password: postern cli create-alias gateway-identity-keystore-password$/,
    );
  });

  it('fails on a missing gateway.tls.key.alias, listing the key entries', async () => {
    const h = home({ 'gateway.tls.key.alias': 'other' }, 'ks-pass');
    keytool(join(h.dir, 'data/security/keystores/gateway.jks'), 'JKS', 'gateway-identity', 'ks-pass');
    assert.match(
      (await errors(h))[0],
      /no key entry "other" \(gateway\.tls\.key\.alias\); key entries: gateway-identity/,
    );
  });

  it('reads a PKCS12 keystore, and refuses JCEKS with the command that converts it', async () => {
    const p12 = home(
      { 'gateway.tls.keystore.path': 'ks/g.p12', 'gateway.tls.keystore.type': 'PKCS12' },
      'ks-pass',
    );
    mkdirSync(join(p12.dir, 'ks'));
    keytool(join(p12.dir, 'ks/g.p12'), 'PKCS12', 'gateway-identity', 'ks-pass');
    assert.deepEqual(await errors(p12), []);
    const bad = home(
      { 'gateway.tls.keystore.path': 'ks/g.p12', 'gateway.tls.keystore.type': 'PKCS12' },
      'wrong',
    );
    mkdirSync(join(bad.dir, 'ks'));
    keytool(join(bad.dir, 'ks/g.p12'), 'PKCS12', 'gateway-identity', 'ks-pass');
    assert.match((await errors(bad))[0], /cannot open keystore .*g\.p12/);

    const jceks = home({ 'gateway.tls.keystore.type': 'JCEKS' }, 'ks-pass');
    keytool(join(jceks.dir, 'data/security/keystores/gateway.jks'), 'JCEKS', 'gateway-identity', 'ks-pass');
    assert.match((await errors(jceks))[0], /keytool -importkeystore .* -deststoretype PKCS12/);
  });

  it('fails when a configured keystore does not exist (no silent self-signed fallback)', async () => {
    const h = home({ 'gateway.tls.keystore.path': 'missing.jks' });
    assert.match((await errors(h))[0], /gateway\.tls\.keystore\.path: .*missing\.jks does not exist/);
  });

  /**
   * A master file as Knox's CMFMasterService writes it, made here from Knox's source (Knox's own code does not run
   * in these tests): PBKDF2WithHmacSHA1 of "masterpassphrase" (65,536 rounds, 8-byte salt, 128-bit key),
   * AES/CBC/PKCS5Padding, Base64 of "salt::iv::cipher" after a "#1.0#" line.
   */
  function knoxMasterFile(file: string, master: string): void {
    const salt = randomBytes(8);
    const iv = randomBytes(16);
    const key = pbkdf2Sync('masterpassphrase', salt, 65_536, 16, 'sha1');
    const cipher = createCipheriv('aes-128-cbc', key, iv);
    const sealed = Buffer.concat([cipher.update(master, 'utf8'), cipher.final()]);
    const line = [salt, iv, sealed].map((b) => b.toString('base64')).join('::');
    writeFileSync(file, `#1.0# Mon, Dec 01 2026 10:00:00.000\n${Buffer.from(line).toString('base64')}\n`);
  }

  it("serves a Knox installation's gateway.jks after import-knox-master, its password Knox's master secret", async () => {
    const h = home();
    const master = 'knox-master-secret-1';
    knoxMasterFile(join(h.dir, 'knox-master'), master);
    const cert = keytool(
      join(h.dir, 'data/security/keystores/gateway.jks'),
      'JKS',
      'gateway-identity',
      master,
    );
    assert.match(
      (await errors(h))[0] ?? '',
      /no password: postern cli create-alias gateway-identity-keystore-password/,
    );
    const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const run = (file: string) =>
      spawnSync(process.execPath, [main, 'cli', 'import-knox-master', file, '--home', h.dir], {
        encoding: 'utf8',
      });
    const imported = run(join(h.dir, 'knox-master'));
    assert.equal(imported.status, 0, imported.stderr);
    assert.match(
      imported.stdout,
      /gateway-identity-keystore-password has been set from Knox's master secret/,
    );
    assert.doesNotMatch(imported.stdout + imported.stderr, new RegExp(master));
    assert.deepEqual(await errors(h), []);
    const gateway = await startGateway(h);
    const agent = new Agent({ connect: { ca: cert, servername: 'localhost' } });
    try {
      const res = await request(`${gateway.url}/t/none`, { dispatcher: agent });
      await res.body.dump();
      assert.equal(res.statusCode, 404);
    } finally {
      await agent.close();
      await gateway.close();
    }
    writeFileSync(join(h.dir, 'not-master'), '#1.0# x\nbm90IGl0\n');
    const bad = run(join(h.dir, 'not-master'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /is not salt::iv::cipher|does not decrypt/);
  });
});
