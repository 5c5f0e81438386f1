/**
 * HadoopGroupProvider end to end with a real slapd: the asserted user's groups come from LDAP with Hadoop's
 * LdapGroupsMapping params (inline, or from gateway-site under `gateway.group.config.`), and AclsAuthz decides
 * on them (`http.acl = *;analyst;*`), so a 200 or a 403 shows which groups the lookup found. HeaderPreAuth names
 * the user (`X-User`), so only the group lookup talks to LDAP. Also: lookup for the mapped user, LDAPS, filter
 * escaping, the cache keeping a looked-up user working while LDAP is down, 503 for the others, and deployment
 * errors at the param.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import type { Backend } from '../../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import { BASE_DN, GROUPS_DN, PEOPLE_DN, type SlapdFixture, startSlapd } from '../../helpers/slapd.ts';
import {
  type AuditEvent,
  call,
  paramLine,
  startAuditedGateway,
  startEchoBackend,
} from '../security-helpers.ts';

const M = 'hadoop.security.group.mapping';

describe('HadoopGroupProvider with LdapGroupsMapping', () => {
  let ldap: SlapdFixture;
  let home: TestHome;
  let gateway: Gateway;
  let events: AuditEvent[];
  let backend: Backend;
  const texts: Record<string, string> = {};

  const inline = (url: string, extra: Record<string, string> = {}) => ({
    [M]: 'org.apache.hadoop.security.LdapGroupsMapping',
    [`${M}.ldap.url`]: url,
    [`${M}.ldap.bind.user`]: `uid=guest,${PEOPLE_DN}`,
    [`${M}.ldap.bind.password`]: 'guest-password',
    [`${M}.ldap.base`]: BASE_DN,
    [`${M}.ldap.search.filter.user`]: '(&amp;(objectClass=inetOrgPerson)(uid={0}))',
    [`${M}.ldap.search.filter.group`]: '(objectClass=groupOfNames)',
    [`${M}.ldap.search.attr.member`]: 'member',
    [`${M}.ldap.search.attr.group.name`]: 'cn',
    [`${M}.ldap.connection.timeout.ms`]: '1000',
    [`${M}.ldap.read.timeout.ms`]: '1000',
    'hadoop.security.groups.cache.secs': '60',
    ...extra,
  });

  const write = (name: string, params: Record<string, string>) => {
    texts[name] = topologyXml({
      providers: [
        { role: 'federation', name: 'HeaderPreAuth', params: { 'preauth.custom.header': 'X-User' } },
        { role: 'identity-assertion', name: 'HadoopGroupProvider', params },
        { role: 'authorization', name: 'AclsAuthz', params: { 'http.acl': '*;analyst;*' } },
      ],
      services: [{ role: 'HTTP', urls: [backend.url] }],
    });
    home.write(`conf/topologies/${name}.xml`, texts[name]);
  };

  const as = (topology: string, user: string) =>
    call(`${gateway.url}/${topology}/http/p`, { headers: { 'X-User': user } });

  before(async () => {
    [ldap, backend] = await Promise.all([startSlapd(), startEchoBackend()]);
    home = makeHome({
      [`gateway.group.config.${M}`]: 'org.apache.hadoop.security.LdapGroupsMapping',
      [`gateway.group.config.${M}.ldap.url`]: ldap.url,
      [`gateway.group.config.${M}.ldap.bind.user`]: ldap.rootDn,
      [`gateway.group.config.${M}.ldap.bind.password`]: ldap.rootPassword,
      [`gateway.group.config.${M}.ldap.userbase`]: PEOPLE_DN,
      [`gateway.group.config.${M}.ldap.groupbase`]: GROUPS_DN,
      [`gateway.group.config.${M}.ldap.search.filter.user`]: '(uid={0})',
      [`gateway.group.config.${M}.ldap.search.filter.group`]: 'objectClass=groupOfNames',
    });
    home.write('conf/ldap-ca.pem', ldap.caPem);
    write('inline', inline(ldap.url));
    write('mapped', inline(ldap.url, { 'principal.mapping': 'bob=sam' }));
    write('central', {});
    write(
      'ldaps',
      inline(ldap.ldapsUrl, { [`${M}.ldap.ssl`]: 'true', [`${M}.ldap.ssl.truststore`]: 'conf/ldap-ca.pem' }),
    );
    write('shell', { [M]: 'org.apache.hadoop.security.NetgroupCache' });
    write('nourl', { [M]: 'org.apache.hadoop.security.LdapGroupsMapping', [`${M}.ldap.url`]: '' });
    ({ gateway, events } = await startAuditedGateway(home));
    for (const name of ['inline', 'mapped', 'central', 'ldaps']) {
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

  it('finds the groups of the asserted user in LDAP, which the ACL then uses', async () => {
    const sam = await as('inline', 'sam');
    assert.equal(sam.status, 200, sam.text);
    assert.equal(new URL(sam.echo!.url, 'http://x').searchParams.get('user.name'), 'sam');
    assert.equal((await as('inline', 'carol')).status, 200, 'a member found in a nested OU');
    assert.equal((await as('inline', 'tom')).status, 403, 'tom is in no group');
    assert.equal((await as('inline', 'admin')).status, 403, 'admin is not an analyst');
    assert.equal((await as('inline', 'nobody')).status, 403, 'an unknown user has no groups');
  });

  it('looks up the user after principal mapping', async () => {
    const res = await as('mapped', 'bob');
    assert.equal(res.status, 200);
    assert.equal(new URL(res.echo!.url, 'http://x').searchParams.get('user.name'), 'sam');
  });

  it("reads gateway-site's central group config (gateway.group.config.*)", async () => {
    assert.equal((await as('central', 'guest')).status, 200);
    assert.equal((await as('central', 'tom')).status, 403);
  });

  it('works over LDAPS with the truststore', async () => {
    assert.equal((await as('ldaps', 'carol')).status, 200);
  });

  it('escapes the user name into the user filter', async () => {
    // Unescaped, (uid=*) would match the first user (an analyst) and let these in.
    for (const user of ['*', 'g*', '*)(objectClass=*'])
      assert.equal((await as('inline', user)).status, 403, user);
  });

  it('keeps a looked-up user working from the cache while LDAP is down, and answers 503 for the others', async () => {
    assert.equal((await as('inline', 'guest')).status, 200);
    await ldap.stop();
    try {
      assert.equal((await as('inline', 'guest')).status, 200, 'cached');
      const started = Date.now();
      const sam = await as('central', 'sam');
      assert.equal(sam.status, 503);
      assert.ok(Date.now() - started < 5000);
      const unavailable = events.filter(
        (e) => e.action === 'identity-assertion' && e.outcome === 'unavailable',
      );
      assert.ok(unavailable.some((e) => e.effectiveUser === 'sam' && e.topology === 'central'));
    } finally {
      await ldap.start();
    }
    assert.equal((await as('central', 'sam')).status, 200, 'recovered');
  });

  it('fails the deployment at the param for an unsupported mapping or a missing URL', () => {
    const shell = gateway.status.get('shell')!;
    assert.equal(shell.deployed, false);
    const e1 = shell.diagnostics.find((d) => d.severity === 'error')!;
    assert.match(e1.message, /NetgroupCache is not supported/);
    assert.equal(e1.line, paramLine(texts.shell, M));
    const nourl = gateway.status.get('nourl')!;
    assert.equal(nourl.deployed, false);
    const e2 = nourl.diagnostics.find((d) => d.severity === 'error')!;
    assert.match(e2.message, /ldap\.url: the LDAP URL is required/);
    assert.equal(e2.line, paramLine(texts.nourl, `${M}.ldap.url`));
  });
});
