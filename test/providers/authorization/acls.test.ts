/**
 * AclsAuthz and PathAclsAuthz end to end. Users and groups come from HeaderPreAuth headers, identity assertion
 * maps `guest` to `mapped` (the ACL sees the effective user), and clients connect from 127.0.0.1 or 127.0.0.2 to
 * exercise the IP part: AND and OR modes (with OR's "`*` counts as false"), the admin placeholders, no ACL = open,
 * no user = 401, audit events, and malformed ACLs failing the deployment at their param.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Agent } from 'undici';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import type { Backend } from '../../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import {
  type AuditEvent,
  agentFrom,
  call,
  paramLine,
  startAuditedGateway,
  startEchoBackend,
} from '../security-helpers.ts';

describe('AclsAuthz and PathAclsAuthz', () => {
  let home: TestHome;
  let gateway: Gateway;
  let events: AuditEvent[];
  let backend: Backend;
  let other: Agent;
  const files: Record<string, string> = {};

  const topology = (name: string, params: Record<string, string>, provider = 'AclsAuthz') => {
    files[name] = topologyXml({
      providers: [
        {
          role: 'federation',
          name: 'HeaderPreAuth',
          params: { 'preauth.custom.header': 'X-User', 'preauth.custom.group.header': 'X-Groups' },
        },
        { role: 'identity-assertion', name: 'Default', params: { 'principal.mapping': 'guest=mapped' } },
        { role: 'authorization', name: provider, params },
      ],
      services: [{ role: 'HTTP', urls: [backend.url] }],
    });
    home.write(`conf/topologies/${name}.xml`, files[name]);
  };

  /** The status of a GET as `user` (groups comma-separated), from 127.0.0.1 or, with `remote`, 127.0.0.2. */
  const status = async (topo: string, user: string, groups = '', remote = false, path = '/http/r') => {
    const headers: Record<string, string> = { 'X-User': user };
    if (groups) headers['X-Groups'] = groups;
    const res = await call(`${gateway.url}/${topo}${path}`, {
      headers,
      dispatcher: remote ? other : undefined,
    });
    return res.status;
  };

  before(async () => {
    backend = await startEchoBackend();
    other = agentFrom('127.0.0.2');
    home = makeHome({ 'gateway.knox.admin.users': 'root,ops', 'gateway.knox.admin.groups': 'wheel' });
    topology('and', { 'HTTP.acl': 'alice, mapped;*;127.0.0.1' });
    topology('effective', { 'http.acl': 'guest;*;*' });
    topology('or', { 'http.acl': 'alice;admins;127.0.0.2', 'acl.mode': 'OR' });
    topology('or-star', { 'http.acl': '*;admins;*', 'acl.mode': 'AND', 'http.acl.mode': 'or' });
    topology('and-groups', { 'http.acl': '*;admins,ops;127.0.*' });
    topology('admins', { 'http.acl': 'KNOX_ADMIN_USERS;KNOX_ADMIN_GROUPS;*', 'acl.mode': 'OR' });
    topology('admins-and', { 'http.acl': 'KNOX_ADMIN_USERS,carol;*;*' });
    topology('open', { 'webhdfs.acl': 'nobody;*;*' });
    topology('two-parts', { 'http.acl': 'alice;admins' });
    topology('bad-mode', { 'http.acl': 'alice;*;*', 'http.acl.mode': 'XOR' });
    topology('empty-and', { 'http.acl': 'alice;;*' });
    topology('empty-or', { 'http.acl': 'alice;;', 'acl.mode': 'OR' });
    topology('bad-ip', { 'http.acl': 'alice;*;localhost' });
    topology(
      'paths',
      {
        'http.admin.path.acl': '/gateway/paths/http/admin/**;root;*;*',
        'http.public.path.acl': '*://*:*/**/http/public/**;*;*;*',
        'path.acl': '*://*:*/**/http/**;*;staff;*',
      },
      'PathAclsAuthz',
    );
    topology(
      'paths-strict',
      { 'http.admin.path.acl': '/gateway/paths-strict/http/admin/**;*;*;*' },
      'PathAclsAuthz',
    );
    topology(
      'paths-or',
      { 'http.path.acl': '/gateway/paths-or/http/**;alice;admins;*', 'http.path.acl.mode': 'OR' },
      'PathAclsAuthz',
    );
    topology('paths-bad', { 'http.x.path.acl': 'no-pattern' }, 'PathAclsAuthz');
    // A chain with authorization alone: no provider establishes a user.
    files.bare = `<?xml version="1.0"?>
<topology>
  <gateway>
    <provider><role>authorization</role><name>AclsAuthz</name><enabled>true</enabled>
      <param><name>http.acl</name><value>*;*;*</value></param>
    </provider>
    <chain><name>bare</name><provider-ref><role>authorization</role><name>AclsAuthz</name></provider-ref></chain>
  </gateway>
  <service><role>HTTP</role><url>${backend.url}</url><chain-ref><name>bare</name></chain-ref></service>
</topology>
`;
    home.write('conf/topologies/bare.xml', files.bare);
    ({ gateway, events } = await startAuditedGateway(home));
  });

  after(async () => {
    await gateway?.close();
    await other?.close();
    await backend?.close();
    home?.remove();
  });

  it('AND mode: user, group and address must all match (names compare case-insensitively)', async () => {
    assert.equal(await status('and', 'alice'), 200);
    assert.equal(await status('and', 'alice', '', true), 403);
    assert.equal(await status('and', 'bob'), 403);
    assert.equal(await status('and-groups', 'bob', 'users,ops'), 200);
    assert.equal(await status('and-groups', 'bob', 'users,ops', true), 200);
    assert.equal(await status('and-groups', 'bob', 'users'), 403);
    assert.equal(await status('and-groups', 'bob'), 403);
  });

  it('the ACL sees the effective user after identity assertion', async () => {
    // guest is asserted as "mapped": the "and" ACL names mapped, the "effective" ACL names guest.
    assert.equal(await status('and', 'guest'), 200);
    assert.equal(await status('effective', 'guest'), 403);
    assert.equal(await status('effective', 'mapped'), 403);
  });

  it('OR mode: any concrete part admits; a * part counts as false; the role mode beats acl.mode', async () => {
    assert.equal(await status('or', 'alice'), 200);
    assert.equal(await status('or', 'bob', 'admins'), 200);
    assert.equal(await status('or', 'bob', '', true), 200);
    assert.equal(await status('or', 'bob'), 403);
    assert.equal(await status('or-star', 'bob', 'admins'), 200);
    assert.equal(await status('or-star', 'bob', 'users'), 403);
    assert.equal(await status('or-star', 'bob', '', true), 403);
  });

  it('KNOX_ADMIN_USERS and KNOX_ADMIN_GROUPS stand for gateway-site admin users and groups', async () => {
    assert.equal(await status('admins', 'root'), 200);
    assert.equal(await status('admins', 'ops'), 200);
    assert.equal(await status('admins', 'bob', 'wheel'), 200);
    assert.equal(await status('admins', 'bob', 'users'), 403);
    assert.equal(await status('admins', 'KNOX_ADMIN_USERS'), 403);
    assert.equal(await status('admins-and', 'carol'), 200);
    assert.equal(await status('admins-and', 'ops'), 200);
    assert.equal(await status('admins-and', 'bob'), 403);
  });

  it('a service without an ACL is open and gets no authorization filter', async () => {
    assert.equal(await status('open', 'anyone'), 200);
    const chain = gateway.server.deployments.get('open')!.routes[0].chain;
    assert.ok(!chain.some((c) => c.startsWith('authorization/')), chain.join(' → '));
    const warning = gateway.status
      .get('open')!
      .diagnostics.find((d) => d.severity === 'warning' && /no service of role/.test(d.message))!;
    assert.match(warning.message, /no service of role "webhdfs"/);
    assert.equal(warning.line, paramLine(files.open, 'webhdfs.acl'));
  });

  it('answers 401 when no provider established a user', async () => {
    assert.deepEqual(gateway.server.deployments.get('bare')!.routes[0].chain, [
      'authorization/AclsAuthz',
      'rewrite/url-rewrite',
      'dispatch/configurable',
    ]);
    events.length = 0;
    const res = await call(`${gateway.url}/bare/http/r`);
    assert.equal(res.status, 401);
    assert.equal(JSON.parse(res.text).error.code, 'POSTERN_ERR_UNAUTHENTICATED');
    assert.deepEqual(
      events.map((e) => [e.action, e.outcome, e.reason]),
      [['authorization', 'failure', 'no authenticated user']],
    );
  });

  it('audits allow and deny with the effective user', async () => {
    events.length = 0;
    await status('and', 'guest');
    await status('and', 'bob');
    const authz = events.filter((e) => e.action === 'authorization');
    assert.deepEqual(
      authz.map((e) => [e.outcome, e.user, e.effectiveUser, e.reason, e.provider]),
      [
        ['success', 'guest', 'mapped', undefined, 'AclsAuthz'],
        ['denied', 'bob', undefined, 'acl http.acl', 'AclsAuthz'],
      ],
    );
  });

  it('malformed ACLs and modes fail the deployment at their param; an empty part is fine in OR mode', () => {
    const cases: [string, string, RegExp][] = [
      ['two-parts', 'http.acl', /exactly 3 ";"-separated parts .* found 2/],
      ['bad-mode', 'http.acl.mode', /expected AND or OR, found "XOR"/],
      ['empty-and', 'http.acl', /groups part is empty/],
      ['bad-ip', 'http.acl', /localhost/],
      ['paths-bad', 'http.x.path.acl', /not a path ACL/],
    ];
    for (const [name, param, message] of cases) {
      const s = gateway.status.get(name)!;
      assert.equal(s.deployed, false, name);
      const error = s.diagnostics.find((d) => d.severity === 'error')!;
      assert.match(error.message, message);
      assert.ok(error.file.endsWith(`${name}.xml`));
      assert.equal(error.line, paramLine(files[name], param), name);
    }
    assert.equal(gateway.status.get('empty-or')!.deployed, true);
  });

  it('an empty part in OR mode matches nobody', async () => {
    assert.equal(await status('empty-or', 'alice'), 200);
    assert.equal(await status('empty-or', 'bob', 'admins'), 403);
  });

  it('PathAclsAuthz: the most specific matching pattern decides; a path no rule matches is denied', async () => {
    assert.equal(await status('paths', 'root', '', false, '/http/admin/x'), 200);
    assert.equal(await status('paths', 'bob', 'staff', false, '/http/admin/x'), 403);
    assert.equal(await status('paths', 'bob', '', false, '/http/public/x?q=1'), 200);
    assert.equal(await status('paths', 'bob', 'staff', false, '/http/other'), 200);
    assert.equal(await status('paths', 'bob', '', false, '/http/other'), 403);
    assert.equal(await status('paths-strict', 'bob', '', false, '/http/admin/a/b'), 200);
    assert.equal(await status('paths-strict', 'bob', '', false, '/http/elsewhere'), 403);
    assert.equal(await status('paths-or', 'alice', '', false, '/http/a'), 200);
    assert.equal(await status('paths-or', 'bob', 'admins', false, '/http/a'), 200);
    assert.equal(await status('paths-or', 'bob', '', false, '/http/a'), 403);
  });
});
