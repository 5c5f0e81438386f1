/**
 * Password checks as a CPU lever (providers/common/login-throttle): through a real gateway with ShiroProvider,
 * failed logins are throttled per client address and per user name (429 with `Retry-After`, audited, before any
 * password check), password checks the cache does not answer are bounded per address and second, the file realm
 * caches by default (repeated good logins cost no checks), and LDAP binds are behind the same throttle.
 * Each client is its own loopback address (127.0.0.x).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { hashPassword } from '../../../src/providers/authentication/shiro/password-hash.ts';
import type { Backend } from '../../helpers/backend.ts';
import { makeHome, type TestHome } from '../../helpers/home.ts';
import { type SlapdFixture, startSlapd } from '../../helpers/slapd.ts';
import { basic, dnTemplateParams, shiroTopology } from '../authentication/shiro-fixture.ts';
import {
  type AuditEvent,
  agentFrom,
  call,
  startAuditedGateway,
  startEchoBackend,
} from '../security-helpers.ts';

const USERS = ['alice', 'bob', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'v1', 'v2', 'v3', 'v4'];

describe('login throttle', () => {
  let home: TestHome;
  let gateway: Gateway;
  let events: AuditEvent[];
  let backend: Backend;
  let ldap: SlapdFixture;

  before(async () => {
    [ldap, backend] = await Promise.all([startSlapd(), startEchoBackend()]);
    home = makeHome({
      'postern.auth.failures.per.address': 3,
      'postern.auth.failures.per.user': 5,
      'postern.auth.failures.window': '60s',
      'postern.auth.verify.rate.per.address': 1,
    });
    // Cheap hashes (ln=10) for the test; the throttle does not care what a check costs.
    const lines = await Promise.all(
      USERS.map(
        async (u) => `  ${u}:\n    password: "${await hashPassword(`${u}-pw`, { ln: 10, r: 8, p: 1 })}"`,
      ),
    );
    home.write('conf/users.yaml', `users:\n${lines.join('\n')}\n`);
    const file = {
      'main.fileRealm': 'postern.FileRealm',
      'main.fileRealm.usersFile': 'conf/users.yaml',
      'urls./**': 'authcBasic',
    };
    home.write('conf/topologies/file.xml', shiroTopology(file, backend.url));
    home.write('conf/topologies/ldap.xml', shiroTopology(dnTemplateParams(ldap), backend.url));
    ({ gateway, events } = await startAuditedGateway(home));
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await ldap?.stop();
    home?.remove();
  });

  const get = (topology: string, from: string, user: string, password: string) =>
    call(`${gateway.url}/${topology}/http/x`, {
      headers: basic(user, password),
      dispatcher: agentFrom(from),
    });

  it('caches good logins by default: repeated ones need no password check', async () => {
    // One check per second is allowed from this address; only the first login checks, the rest hit the cache.
    for (let i = 0; i < 10; i++)
      assert.equal((await get('file', '127.0.0.2', 'alice', 'alice-pw')).status, 200);
  });

  it('refuses an address after its failed logins, with Retry-After, audited, whatever the password', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await get('file', '127.0.0.3', 'bob', `wrong-${i}`)).status, 401);
      await new Promise((r) => setTimeout(r, 1100)); // one check per second from an address
    }
    const refused = await get('file', '127.0.0.3', 'alice', 'alice-pw');
    assert.equal(refused.status, 429);
    assert.match(String(refused.headers['retry-after']), /^[1-9]\d*$/);
    assert.ok(Number(refused.headers['retry-after']) <= 60);
    assert.match(refused.text, /POSTERN_ERR_TOO_MANY_REQUESTS/);
    const audited = events.filter((e) => e.action === 'authentication' && e.outcome === 'denied');
    assert.ok(
      audited.some(
        (e) =>
          e.user === 'alice' && /throttled: too many failed logins from this address/.test(e.reason ?? ''),
      ),
      JSON.stringify(audited),
    );
    // Another address is not affected.
    assert.equal((await get('file', '127.0.0.4', 'alice', 'alice-pw')).status, 200);
  });

  it('refuses a user name after its failed logins from any address', async () => {
    // bob failed 3 times above; 2 more from other addresses make 5.
    assert.equal((await get('file', '127.0.0.5', 'bob', 'wrong')).status, 401);
    assert.equal((await get('file', '127.0.0.6', 'bob', 'wrong')).status, 401);
    const refused = await get('file', '127.0.0.7', 'bob', 'bob-pw');
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal((await get('file', '127.0.0.7', 'u1', 'u1-pw')).status, 200);
  });

  it('gives concurrent wrong passwords for one user no more password checks than the limit', async () => {
    // 10 at once from 10 addresses (one check each within their rate) for a user name nobody has: 5 failures per
    // user. Checked and counted in two steps, all 10 would pass the check before the first failure is counted
    // (an unknown user costs a full scrypt, so they overlap); each attempt is counted as it is admitted instead.
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => get('file', `127.0.0.${21 + i}`, 'mallory', `guess-${i}`)),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
    const checked = events.filter(
      (e) => e.action === 'authentication' && e.user === 'mallory' && e.reason === 'invalid credentials',
    );
    assert.equal(checked.length, 5, 'five passwords were checked');
  });

  it('counts a good login as no failure (its reserved attempt is given back)', async () => {
    // 4 password checks from one address (3 failures allowed), each good: none is left counted.
    for (const u of ['v1', 'v2', 'v3', 'v4']) {
      assert.equal((await get('file', '127.0.0.50', u, `${u}-pw`)).status, 200);
      await new Promise((r) => setTimeout(r, 1100)); // one check per second from an address
    }
    assert.equal((await get('file', '127.0.0.50', 'v1', 'v1-pw')).status, 200);
  });

  it('checks the same credentials sent at once from one address once (more than its failure limit pass)', async () => {
    // LDAP binds are not cached (Knox's default): 8 parallel calls with one good password would be 8 attempts in
    // flight, past the address's 3; sharing one check, all pass.
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => get('ldap', '127.0.0.60', 'guest', 'guest-password')),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(8).fill(200),
    );
  });

  it('bounds the password checks an address can cause per second', async () => {
    const answers = await Promise.all(
      ['u2', 'u3', 'u4', 'u5', 'u6'].map((u) => get('file', '127.0.0.8', u, `${u}-pw`)),
    );
    const statuses = answers.map((a) => a.status);
    assert.ok(statuses.includes(429), String(statuses));
    assert.ok(statuses.includes(200), String(statuses));
    assert.equal(answers.find((a) => a.status === 429)?.headers['retry-after'], '1');
  });

  it('throttles LDAP binds the same way', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await get('ldap', '127.0.0.9', 'guest', `wrong-${i}`)).status, 401);
      await new Promise((r) => setTimeout(r, 1100));
    }
    assert.equal((await get('ldap', '127.0.0.9', 'guest', 'guest-password')).status, 429);
    assert.equal((await get('ldap', '127.0.0.10', 'guest', 'guest-password')).status, 200);
  });
});
