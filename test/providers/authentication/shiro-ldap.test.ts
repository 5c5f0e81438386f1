/**
 * ShiroProvider with the LDAP realm, end to end: a real gateway, a real slapd (test/helpers/slapd.ts) and an
 * echo backend. userDnTemplate and search-based logins (plain LDAP and LDAPS), group lookup, every 401 case with
 * Knox's challenge, DN and filter injection attempts, anon paths, roles, the session cookie (reuse, unknown,
 * expired, never forwarded), and the audit trail without passwords.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import type { Backend } from '../../helpers/backend.ts';
import { makeHome, type TestHome } from '../../helpers/home.ts';
import { GROUPS_DN, PEOPLE_DN, type SlapdFixture, startSlapd } from '../../helpers/slapd.ts';
import { type AuditEvent, call, startAuditedGateway, startEchoBackend } from '../security-helpers.ts';
import {
  basic,
  CHALLENGE,
  dnTemplateParams,
  searchParams,
  setCookie,
  shiroTopology,
} from './shiro-fixture.ts';

describe('ShiroProvider with an LDAP realm', () => {
  let ldap: SlapdFixture;
  let home: TestHome;
  let gateway: Gateway;
  let events: AuditEvent[];
  let backend: Backend;

  const url = (topology: string, path = '/http/p') => `${gateway.url}/${topology}${path}`;

  before(async () => {
    [ldap, backend] = await Promise.all([startSlapd(), startEchoBackend()]);
    // Many failed logins from one address, on purpose: the login throttle has its own test (login-throttle.test.ts).
    home = makeHome({ 'postern.auth.failures.per.address': 0, 'postern.auth.failures.per.user': 0 });
    home.write('conf/ldap-ca.pem', ldap.caPem);
    const groups = {
      'main.ldapRealm.authorizationEnabled': 'true',
      'main.ldapRealm.groupSearchBase': GROUPS_DN,
    };
    const rules = {
      'urls./http/public/**': 'anon',
      'urls./http/admin/**': 'authcBasic, roles[admin]',
    };
    const write = (name: string, params: Record<string, string>) =>
      home.write(`conf/topologies/${name}.xml`, shiroTopology(params, backend.url));
    // Param order matters for urls.*: the specific rules come before dnTemplateParams' catch-all.
    write('dn', { ...rules, ...groups, ...dnTemplateParams(ldap) });
    write('short', dnTemplateParams(ldap, { sessionTimeout: '1s' }));
    write('template', {
      'urls./http/**': 'authcBasic, roles[analyst]',
      ...searchParams(ldap, { 'main.ldapRealm.memberAttributeValueTemplate': `uid={0},${PEOPLE_DN}` }),
    });
    write('search', {
      'urls./http/analysts/**': 'roles[analyst]',
      ...searchParams(ldap, {
        'main.ldapRealm.contextFactory.url': ldap.ldapsUrl,
        'main.ldapRealm.contextFactory.truststorePath': 'conf/ldap-ca.pem',
      }),
    });
    // LDAPS without trust in the test CA: the server's certificate must be refused.
    write('untrusted', dnTemplateParams(ldap, { 'main.ldapRealm.contextFactory.url': ldap.ldapsUrl }));
    ({ gateway, events } = await startAuditedGateway(home));
    for (const name of ['dn', 'short', 'template', 'search', 'untrusted']) {
      assert.equal(
        gateway.status.get(name)?.deployed,
        true,
        JSON.stringify(gateway.status.get(name)?.diagnostics),
      );
    }
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await ldap?.close();
    home?.remove();
  });

  it('logs in with the userDnTemplate and the backend sees user.name', async () => {
    const res = await call(url('dn'), { headers: basic('guest', 'guest-password') });
    assert.equal(res.status, 200, res.text);
    assert.equal(new URL(res.echo!.url, 'http://x').searchParams.get('user.name'), 'guest');
    assert.equal(res.echo!.headers.authorization, undefined, 'the Basic credentials are not forwarded');
  });

  it('answers 401 with the BASIC challenge to every missing or wrong credential, and never reaches the backend', async () => {
    const before = backend.requests.length;
    const cases: [string, Record<string, string>][] = [
      ['wrong password', basic('guest', 'not-the-password')],
      ['unknown user', basic('nobody', 'guest-password')],
      ['entry without a password', basic('nopass', 'anything')],
      ['empty password (an anonymous bind would succeed)', basic('guest', '')],
      ['no header', {}],
      ['malformed header', { authorization: 'Basic !!!not-base64' }],
      ['no colon', { authorization: `Basic ${Buffer.from('guest').toString('base64')}` }],
      ['other scheme', { authorization: 'Bearer abc' }],
    ];
    for (const [what, headers] of cases) {
      const res = await call(url('dn'), { headers });
      assert.equal(res.status, 401, what);
      assert.equal(res.headers['www-authenticate'], CHALLENGE, what);
      assert.equal(setCookie(res.headers, 'KNOXSESSIONID'), undefined, `${what}: no session`);
    }
    assert.equal(backend.requests.length, before);
  });

  it('escapes the user name into the DN: a name cannot point the bind at another entry', async () => {
    // Unescaped, uid={0},ou=people,... would become carol's real DN uid=carol,ou=contractors,ou=people,...
    const res = await call(url('dn'), { headers: basic('carol,ou=contractors', 'carol-password') });
    assert.equal(res.status, 401);
  });

  it('looks groups up when authorizationEnabled: roles[admin] lets admin in and keeps guest out', async () => {
    const admin = await call(url('dn', '/http/admin/x'), { headers: basic('admin', 'admin-password') });
    assert.equal(admin.status, 200, admin.text);
    const guest = await call(url('dn', '/http/admin/x'), { headers: basic('guest', 'guest-password') });
    assert.equal(guest.status, 403);
  });

  it('matches group members with memberAttributeValueTemplate when given, instead of the bound DN', async () => {
    const sam = await call(url('template'), { headers: basic('sam', 'sam-password') });
    assert.equal(sam.status, 200, sam.text);
    // carol logs in (the search finds her under ou=contractors) but the template names uid=carol,ou=people,...,
    // which no group lists; the search topology, without a template, finds her in analyst.
    const carol = await call(url('template'), { headers: basic('carol', 'carol-password') });
    assert.equal(carol.status, 403);
  });

  it('lets an anon path through without credentials, as anonymous, and only that path', async () => {
    const res = await call(url('dn', '/http/public/page'));
    assert.equal(res.status, 200);
    assert.equal(new URL(res.echo!.url, 'http://x').searchParams.get('user.name'), 'anonymous');
    const near = await call(url('dn', '/http/publicity'));
    assert.equal(near.status, 401);
  });

  it('finds a user in a nested OU by a system-user search over LDAPS, with its groups', async () => {
    const carol = await call(url('search', '/http/analysts/x'), {
      headers: basic('carol', 'carol-password'),
    });
    assert.equal(carol.status, 200, carol.text);
    assert.equal(new URL(carol.echo!.url, 'http://x').searchParams.get('user.name'), 'carol');
    const sam = await call(url('search'), { headers: basic('sam', 'sam-password') });
    assert.equal(sam.status, 200);
    const tom = await call(url('search', '/http/analysts/x'), { headers: basic('tom', 'tom-password') });
    assert.equal(tom.status, 403, 'tom is in no group');
    const wrong = await call(url('search'), { headers: basic('carol', 'guest-password') });
    assert.equal(wrong.status, 401);
  });

  it('escapes the user name into the search filter: wildcards and filter injection fail', async () => {
    for (const name of ['*', 'g*', '*)(uid=*', 'guest)(|(uid=*', 'gu\\2a']) {
      const res = await call(url('search'), { headers: basic(name, 'guest-password') });
      assert.equal(res.status, 401, name);
    }
  });

  it('refuses an LDAPS server whose certificate it does not trust (503, not a login)', async () => {
    const res = await call(url('untrusted'), { headers: basic('guest', 'guest-password') });
    assert.equal(res.status, 503);
  });

  it('opens a session: the cookie alone authenticates the next request and is not forwarded', async () => {
    const first = await call(url('dn'), { headers: basic('sam', 'sam-password') });
    assert.equal(first.status, 200);
    const cookie = setCookie(first.headers, 'KNOXSESSIONID');
    assert.ok(cookie, 'a session cookie is set');
    assert.match(cookie, /^KNOXSESSIONID=[A-Za-z0-9_-]{43}; /);
    assert.match(cookie, /; Path=\/gateway\/dn(;|$)/);
    assert.match(cookie, /; HttpOnly/);
    assert.doesNotMatch(cookie, /; Secure/, 'plain http: not Secure');
    const pair = cookie.split(';')[0];

    const second = await call(url('dn'), { headers: { cookie: `theme=dark; ${pair}; lang=en` } });
    assert.equal(second.status, 200, second.text);
    assert.equal(new URL(second.echo!.url, 'http://x').searchParams.get('user.name'), 'sam');
    assert.equal(second.echo!.headers.cookie, 'theme=dark; lang=en');
    assert.equal(setCookie(second.headers, 'KNOXSESSIONID'), undefined, 'no new session');

    const onlySession = await call(url('dn'), { headers: { cookie: pair } });
    assert.equal(onlySession.echo!.headers.cookie, undefined);

    // Basic credentials of another user win over the session.
    const other = await call(url('dn'), { headers: { cookie: pair, ...basic('guest', 'guest-password') } });
    assert.equal(new URL(other.echo!.url, 'http://x').searchParams.get('user.name'), 'guest');
  });

  it('answers 401 to an unknown session id and clears the cookie', async () => {
    const forged = `KNOXSESSIONID=${randomBytes(32).toString('base64url')}`;
    for (const cookie of [forged, 'KNOXSESSIONID=garbage']) {
      const res = await call(url('dn'), { headers: { cookie } });
      assert.equal(res.status, 401);
      assert.equal(res.headers['www-authenticate'], CHALLENGE);
      assert.match(setCookie(res.headers, 'KNOXSESSIONID') ?? '', /^KNOXSESSIONID=; Max-Age=0/);
    }
  });

  it('ends a session after sessionTimeout without use', async () => {
    const first = await call(url('short'), { headers: basic('tom', 'tom-password') });
    const pair = setCookie(first.headers, 'KNOXSESSIONID')!.split(';')[0];
    assert.equal((await call(url('short'), { headers: { cookie: pair } })).status, 200);
    await new Promise((r) => setTimeout(r, 1300));
    const late = await call(url('short'), { headers: { cookie: pair } });
    assert.equal(late.status, 401);
  });

  it('audits each outcome with the user and never a password or session id', async () => {
    const from = events.length;
    await call(url('dn'), { headers: basic('admin', 'admin-password') });
    await call(url('dn'), { headers: basic('admin', 'wrong-admin-pw') });
    const mine = events.slice(from).filter((e) => e.action === 'authentication');
    assert.deepEqual(
      mine.map((e) => [e.outcome, e.user, e.provider, e.topology]),
      [
        ['success', 'admin', 'ShiroProvider', 'dn'],
        ['failure', 'admin', 'ShiroProvider', 'dn'],
      ],
    );
    assert.equal(mine[1].reason, 'invalid credentials');
    const all = JSON.stringify(events);
    for (const secret of [
      'admin-password',
      'wrong-admin-pw',
      'guest-password',
      'carol-password',
      'KNOXSESSIONID=',
    ]) {
      assert.ok(!all.includes(secret), `the audit trail holds ${secret}`);
    }
    assert.ok(events.some((e) => e.outcome === 'failure' && e.reason === 'unknown or expired session'));
  });
});
