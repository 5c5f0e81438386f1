/**
 * ShiroProvider configuration: params that cannot be used stop the deployment with an error at the `<param>`
 * naming it (no LDAP server is needed to find them), plus the pieces the provider is built from: Ant path
 * patterns of `urls.*`, DN and filter escaping, the session store and the authentication cache.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { AuthenticationCache } from '../../../src/providers/authentication/shiro/auth-cache.ts';
import { SessionStore } from '../../../src/providers/authentication/shiro/sessions.ts';
import { antMatcher, parseUrlRule } from '../../../src/providers/authentication/shiro/urls.ts';
import { escapeDnValue, escapeFilterValue, parseLdapUrls } from '../../../src/providers/common/ldap.ts';
import { makeHome, startGateway, type TestHome } from '../../helpers/home.ts';
import { paramLine } from '../security-helpers.ts';
import { KNOX_LDAP_REALM, shiroTopology } from './shiro-fixture.ts';

const LDAP = {
  'main.ldapRealm': KNOX_LDAP_REALM,
  'main.ldapRealm.userDnTemplate': 'uid={0},ou=people,dc=example,dc=com',
  'main.ldapRealm.contextFactory.url': 'ldap://127.0.0.1:1',
  'urls./**': 'authcBasic',
};

/** Topology name → [params, the param the error must point at, what the message must say]. */
const BROKEN: Record<string, [Record<string, string>, string, RegExp]> = {
  pam: [
    { 'main.pamRealm': 'org.apache.knox.gateway.shirorealm.KnoxPamRealm', 'urls./**': 'authcBasic' },
    'main.pamRealm',
    /main\.pamRealm: realm class org\.apache\.knox\.gateway\.shirorealm\.KnoxPamRealm is not supported/,
  ],
  nourl: [
    { ...LDAP, 'main.ldapRealm.contextFactory.url': '' },
    'main.ldapRealm.contextFactory.url',
    /contextFactory\.url: the LDAP URL is required/,
  ],
  httpurl: [
    { ...LDAP, 'main.ldapRealm.contextFactory.url': 'http://ldap.example.com' },
    'main.ldapRealm.contextFactory.url',
    /expected ldap:\/\/ or ldaps:\/\/ URLs/,
  ],
  template: [
    { ...LDAP, 'main.ldapRealm.userDnTemplate': 'uid=guest,ou=people' },
    'main.ldapRealm.userDnTemplate',
    /has no \{0\}/,
  ],
  mechanism: [
    { ...LDAP, 'main.ldapRealm.contextFactory.authenticationMechanism': 'DIGEST-MD5' },
    'main.ldapRealm.contextFactory.authenticationMechanism',
    /only "simple"/,
  ],
  alias: [
    {
      ...LDAP,
      'main.ldapRealm.contextFactory.systemUsername': 'cn=admin',
      'main.ldapRealm.contextFactory.systemPassword': `\${ALIAS=ldcSystemPassword}`,
    },
    'main.ldapRealm.contextFactory.systemPassword',
    /alias ldcSystemPassword is not defined for topology alias or the gateway \(postern cli create-alias ldcSystemPassword --cluster alias\)/,
  ],
  filter: [{ 'urls./http/**': 'authc', ...LDAP }, 'urls./http/**', /"authc" is not supported/],
  timeout: [{ ...LDAP, sessionTimeout: 'soon' }, 'sessionTimeout', /expected minutes/],
  groups: [
    { ...LDAP, 'main.ldapRealm.authorizationEnabled': 'true' },
    'main.ldapRealm.authorizationEnabled',
    /groupSearchBase or searchBase/,
  ],
  realms: [{ ...LDAP, 'main.securityManager.realms': '$nope' }, 'main.securityManager.realms', /\$nope/],
  userfilter: [
    {
      ...LDAP,
      'main.ldapRealm.searchBase': 'dc=example,dc=com',
      'main.ldapRealm.userSearchFilter': '(&(uid={0})',
    },
    'main.ldapRealm.userSearchFilter',
    /not a valid LDAP filter/,
  ],
};

describe('ShiroProvider configuration', () => {
  let home: TestHome;
  let gateway: Gateway;
  const texts: Record<string, string> = {};

  before(async () => {
    home = makeHome();
    for (const [name, [params]] of Object.entries(BROKEN)) {
      texts[name] = shiroTopology(params, 'http://127.0.0.1:9');
      home.write(`conf/topologies/${name}.xml`, texts[name]);
    }
    texts.good = shiroTopology(
      { ...LDAP, 'main.ldapRealm.principalRegex': '(.*)', sessionTimeout: '-1' },
      'http://127.0.0.1:9',
    );
    home.write('conf/topologies/good.xml', texts.good);
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    home?.remove();
  });

  for (const [name, [, param, message]] of Object.entries(BROKEN)) {
    it(`${name}: the deployment fails at ${param}`, () => {
      const status = gateway.status.get(name)!;
      assert.equal(status.deployed, false);
      const errors = status.diagnostics.filter((d) => d.severity === 'error');
      const error = errors.find((d) => message.test(d.message));
      assert.ok(error, JSON.stringify(errors));
      assert.ok(error.file.endsWith(`${name}.xml`));
      assert.equal(error.line, paramLine(texts[name], param));
    });
  }

  it('deploys a valid configuration and warns about Knox properties it ignores', () => {
    const status = gateway.status.get('good')!;
    assert.equal(status.deployed, true, JSON.stringify(status.diagnostics));
    const warning = status.diagnostics.find((d) => d.severity === 'warning')!;
    assert.match(warning.message, /main\.ldapRealm\.principalRegex: not supported by postern; ignored/);
    assert.equal(warning.line, paramLine(texts.good, 'main.ldapRealm.principalRegex'));
  });
});

describe('Shiro urls patterns', () => {
  it('matches Ant patterns segment by segment', () => {
    const cases: [string, string, boolean][] = [
      ['/**', '/', true],
      ['/**', '/a/b/c', true],
      ['**', '/a', true],
      ['/http/public/**', '/http/public', true],
      ['/http/public/**', '/http/public/a/b', true],
      ['/http/public/**', '/http/publicity', false],
      ['/http/*/status', '/http/x/status', true],
      ['/http/*/status', '/http/x/y/status', false],
      ['/http/**/status', '/http/x/y/status', true],
      ['/http/**/status', '/http/status', true],
      ['/api/v?', '/api/v1', true],
      ['/api/v?', '/api/v12', false],
      ['/a.b', '/aXb', false],
      ['/webhdfs/v1/tmp', '/webhdfs/v1/tmp', true],
      ['/webhdfs/v1/tmp', '/webhdfs/v1/tmp/x', false],
    ];
    for (const [pattern, path, expected] of cases) {
      assert.equal(antMatcher(pattern)(path), expected, `${pattern} ~ ${path}`);
    }
  });

  it('reads filter chain definitions', () => {
    const rule = parseUrlRule('/x/**', 'noSessionCreation, authcBasic, roles[admin, "ops"]');
    assert.ok(typeof rule !== 'string');
    assert.deepEqual([rule.anon, rule.noSessionCreation, rule.roles], [false, true, ['admin', 'ops']]);
    assert.equal(typeof parseUrlRule('/x', 'anon, authcBasic'), 'string');
    assert.equal(typeof parseUrlRule('/x', 'authcBasic[permissive]'), 'string');
  });
});

describe('LDAP escaping', () => {
  it('escapes filter values (RFC 4515)', () => {
    assert.equal(escapeFilterValue('*)(uid=*'), '\\2a\\29\\28uid=\\2a');
    assert.equal(escapeFilterValue('a\\b\u0000'), 'a\\5cb\\00');
    assert.equal(escapeFilterValue('José'), 'José');
  });

  it('escapes DN values (RFC 4514)', () => {
    assert.equal(escapeDnValue('carol,ou=contractors'), 'carol\\,ou\\=contractors');
    assert.equal(escapeDnValue(' #lead'), '\\ #lead');
    assert.equal(escapeDnValue('#x'), '\\#x');
    assert.equal(escapeDnValue('trail '), 'trail\\ ');
    assert.equal(escapeDnValue('a+b"c;d<e>f\\'), 'a\\+b\\"c\\;d\\<e\\>f\\\\');
  });

  it('reads JNDI-style URL lists', () => {
    assert.deepEqual(parseLdapUrls('ldap://a:389 ldaps://b:636'), ['ldap://a:389', 'ldaps://b:636']);
    assert.equal(parseLdapUrls('ldap://a:389 http://b'), undefined);
    assert.equal(parseLdapUrls('  '), undefined);
  });
});

describe('session store and authentication cache', () => {
  it('expires idle sessions, restarts the idle timer on use, and stays bounded', () => {
    let now = 1_000_000;
    const store = new SessionStore({ timeoutMs: 1000, maxSessions: 3, now: () => now });
    const user = { name: 'u', groups: [] };
    const a = store.create(user);
    assert.match(a.id, /^[A-Za-z0-9_-]{43}$/);
    now += 900;
    assert.ok(store.touch(a.id));
    now += 900;
    assert.ok(store.touch(a.id), 'used 900 ms ago');
    now += 1001;
    assert.equal(store.touch(a.id), undefined, 'idle for longer than the timeout');
    const ids = [1, 2, 3, 4].map(() => store.create(user).id);
    assert.equal(store.size, 3);
    assert.equal(store.touch(ids[0]), undefined, 'the oldest went');
    assert.ok(store.touch(ids[3]));
    assert.equal(store.touch('not-an-id'), undefined);
  });

  it('caches a login for its TTL, for the exact password only', () => {
    let now = 0;
    const cache = new AuthenticationCache({ ttlMs: 100, maxEntries: 2, now: () => now });
    const user = { name: 'sam', groups: ['g'] };
    cache.set('realm', 'sam', 'pw', user);
    assert.equal(cache.get('realm', 'sam', 'pw'), user);
    assert.equal(cache.get('realm', 'sam', 'pw2'), undefined);
    assert.equal(cache.get('other', 'sam', 'pw'), undefined);
    assert.equal(cache.get('realm', 'sa', 'mpw'), undefined, 'user and password are not just concatenated');
    now = 100;
    assert.equal(cache.get('realm', 'sam', 'pw'), undefined);
  });
});
