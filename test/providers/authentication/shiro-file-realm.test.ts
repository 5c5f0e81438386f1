/**
 * ShiroProvider with postern's file realm: users and scrypt hashes in YAML, the hash made by the real
 * `postern hash-password` command, logins and groups end to end, and the deployment refusing plain-text passwords
 * with an error at their line that does not repeat them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import {
  hashPassword,
  parsePasswordHash,
  verifyPassword,
} from '../../../src/providers/authentication/shiro/password-hash.ts';
import type { Backend } from '../../helpers/backend.ts';
import { makeHome, type TestHome } from '../../helpers/home.ts';
import {
  type AuditEvent,
  call,
  paramLine,
  startAuditedGateway,
  startEchoBackend,
} from '../security-helpers.ts';
import { basic, CHALLENGE, shiroTopology } from './shiro-fixture.ts';

const CLI = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

/** Runs `postern hash-password` with the given standard input. */
function hashWithCli(input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'hash-password'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

const fileRealm = (usersFile: string, extra: Record<string, string> = {}) => ({
  'main.fileRealm': 'postern.FileRealm',
  'main.fileRealm.usersFile': usersFile,
  ...extra,
  'urls./**': 'authcBasic',
});

describe('ShiroProvider with postern.FileRealm', () => {
  let home: TestHome;
  let gateway: Gateway;
  let events: AuditEvent[];
  let backend: Backend;
  let plainTopology: string;
  let missingTopology: string;

  before(async () => {
    backend = await startEchoBackend();
    home = makeHome();
    const cli = await hashWithCli('alice-password\n');
    assert.equal(cli.code, 0, cli.stderr);
    const aliceHash = cli.stdout.trim();
    assert.ok(!cli.stdout.includes('alice-password'));
    const bobHash = await hashPassword('bob: pass with spaces');
    home.write(
      'conf/users.yaml',
      `users:\n  alice:\n    password: "${aliceHash}"\n    groups: [analyst, admin]\n  bob:\n    password: '${bobHash}'\n`,
    );
    home.write(
      'conf/users-plain.yaml',
      `users:\n  carl:\n    password: '${bobHash}'\n  dora:\n    password: hunter2\n    groups: [x]\n`,
    );
    const write = (name: string, text: string) => {
      home.write(`conf/topologies/${name}.xml`, text);
      return text;
    };
    write(
      'files',
      shiroTopology(
        { 'urls./http/admin/**': 'authcBasic, roles[admin]', ...fileRealm('conf/users.yaml') },
        backend.url,
      ),
    );
    plainTopology = write('plain', shiroTopology(fileRealm('conf/users-plain.yaml'), backend.url));
    missingTopology = write('missing', shiroTopology(fileRealm('conf/no-such-users.yaml'), backend.url));
    ({ gateway, events } = await startAuditedGateway(home));
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('logs in a user whose hash postern hash-password made, with the groups of the file', async () => {
    const res = await call(`${gateway.url}/files/http/p`, { headers: basic('alice', 'alice-password') });
    assert.equal(res.status, 200, res.text);
    assert.equal(new URL(res.echo!.url, 'http://x').searchParams.get('user.name'), 'alice');
    const admin = await call(`${gateway.url}/files/http/admin/x`, {
      headers: basic('alice', 'alice-password'),
    });
    assert.equal(admin.status, 200);
    const bob = await call(`${gateway.url}/files/http/p`, { headers: basic('bob', 'bob: pass with spaces') });
    assert.equal(bob.status, 200);
    const bobAdmin = await call(`${gateway.url}/files/http/admin/x`, {
      headers: basic('bob', 'bob: pass with spaces'),
    });
    assert.equal(bobAdmin.status, 403, 'bob has no groups');
  });

  it('answers 401 to a wrong password and to an unknown user', async () => {
    for (const [user, password] of [
      ['alice', 'alice-passwor'],
      ['alice', ''],
      ['mallory', 'alice-password'],
    ]) {
      const res = await call(`${gateway.url}/files/http/p`, { headers: basic(user, password) });
      assert.equal(res.status, 401, `${user}/${password}`);
      assert.equal(res.headers['www-authenticate'], CHALLENGE);
    }
    assert.ok(events.some((e) => e.outcome === 'failure' && e.user === 'mallory'));
    assert.ok(!JSON.stringify(events).includes('alice-passwor'));
  });

  it('refuses a plain-text password at deployment, at its line in the users file, without repeating it', () => {
    const status = gateway.status.get('plain')!;
    assert.equal(status.deployed, false);
    const inFile = status.diagnostics.find((d) => d.file.endsWith('users-plain.yaml'));
    assert.ok(inFile, JSON.stringify(status.diagnostics));
    assert.equal(inFile.line, 5, "the line of dora's password");
    assert.match(inFile.message, /dora/);
    assert.match(inFile.message, /postern hash-password/);
    assert.ok(!JSON.stringify(status.diagnostics).includes('hunter2'));
    const atParam = status.diagnostics.find((d) => d.file.endsWith('plain.xml'))!;
    assert.equal(atParam.line, paramLine(plainTopology, 'main.fileRealm.usersFile'));
  });

  it('fails the deployment when the users file is missing, at the param naming it', () => {
    const status = gateway.status.get('missing')!;
    assert.equal(status.deployed, false);
    const error = status.diagnostics.find((d) => d.severity === 'error')!;
    assert.equal(error.line, paramLine(missingTopology, 'main.fileRealm.usersFile'));
    assert.match(error.message, /main\.fileRealm\.usersFile.*ENOENT/);
  });

  it('hash-password refuses an empty password', async () => {
    const cli = await hashWithCli('\n');
    assert.equal(cli.code, 1);
    assert.equal(cli.stdout, '');
  });

  it('hashes are salted and verified against their own parameters only', async () => {
    const a = await hashPassword('same', { ln: 10, r: 8, p: 1 });
    const b = await hashPassword('same', { ln: 10, r: 8, p: 1 });
    assert.notEqual(a, b);
    assert.match(a, /^scrypt\$ln=10,r=8,p=1\$/);
    assert.equal(await verifyPassword('same', parsePasswordHash(a)!), true);
    assert.equal(await verifyPassword('Same', parsePasswordHash(a)!), false);
    assert.equal(parsePasswordHash('hunter2'), undefined);
    assert.equal(parsePasswordHash(a.replace('ln=10', 'ln=40')), undefined, 'absurd cost refused');
  });
});
