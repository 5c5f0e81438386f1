/**
 * The Default identity assertion end to end: the effective user reaches the backend
 * as `user.name`, or `doAs` on a Kerberos-secured cluster; the client's impersonation parameters never do, in any
 * case or encoding; `principal.mapping` and `group.principal.mapping`; `impersonation.params` from the provider
 * and from the topology service; the legacy name Pseudo; NoImpersonationProvider; audit of a mapped identity.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { offlineKerberosSite } from '../../helpers/kerberos.ts';
import { actorGroups, type IdentityGateway, startIdentityGateway, topology } from './fixture.ts';

describe('Default identity assertion', () => {
  let gw: IdentityGateway;
  let kerberos: IdentityGateway;
  const krbDir = mkdtempSync(join(tmpdir(), 'postern-krb-offline-'));

  before(async () => {
    const ia = (name: string, params?: Record<string, string>) => ({
      role: 'identity-assertion',
      name,
      params,
    });
    gw = await startIdentityGateway({
      plain: (b) => topology(b, [ia('Default')]),
      mapped: (b) =>
        topology(b, [
          ia('Default', {
            'principal.mapping': 'guest, alice=hdfs;mary=alice2',
            'group.principal.mapping': '*=users;hdfs=admin,ops',
          }),
        ]),
      scrub: (b) =>
        topology(b, [ia('Default', { 'impersonation.params': 'DelegationUID' })], {
          'impersonation.params': 'proxyUser',
        }),
      pseudo: (b) => topology(b, [ia('Pseudo', { 'principal.mapping': 'guest=hdfs' })]),
      noimp: (b) => topology(b, [ia('NoImpersonationProvider', { 'principal.mapping': 'guest=hdfs' })]),
      nodoas: (b) => topology(b, [ia('NoDoAsProvider')]),
      // No authentication provider: identity assertion sees no user.
      anonymous: (b) =>
        topology(b, [ia('Default')]).replace(
          /<provider>\s*<role>authentication<\/role>[\s\S]*?<\/provider>/,
          '',
        ),
    });
    kerberos = await startIdentityGateway(
      {
        mapped: (b) => topology(b, [ia('Default', { 'principal.mapping': 'guest=hdfs' })]),
        noimp: (b) => topology(b, [ia('NoImpersonationProvider')]),
      },
      // A login that is valid on disk: secured=true deploys only with one (the echo backend never asks for it).
      offlineKerberosSite(krbDir),
    );
  });

  after(async () => {
    await gw?.close();
    await kerberos?.close();
    rmSync(krbDir, { recursive: true, force: true });
  });

  it('sends the authenticated user as user.name and keeps the other parameters in order', async () => {
    const echo = await gw.get('plain', '/v1/files?op=LIST&recursive=true', 'alice');
    assert.equal(echo.status, 200);
    assert.equal(echo.url, '/v1/files?op=LIST&recursive=true&user.name=alice');
  });

  it('encodes the user in the query', async () => {
    const echo = await gw.get('plain', '/x', 'jo&hn=1 %');
    assert.deepEqual(echo.query.getAll('user.name'), ['jo&hn=1 %']);
    assert.equal(echo.query.get('hn'), null);
  });

  it('never forwards a client-supplied doAs or user.name, whatever its case, encoding or count', async () => {
    const spoofed = [
      'doAs=root',
      'DOAS=root',
      'doas=root',
      'user.name=root',
      'User.Name=root',
      'USER.NAME=root',
      'user%2Ename=root',
      'user%2ename=root',
      'do%41s=root',
      'doAs',
      'user.name=',
      'doAs=root&doAs=admin',
    ];
    for (const spoof of spoofed) {
      const echo = await gw.get('plain', `/p?a=1&${spoof}&b=2`, 'alice');
      assert.equal(echo.url, '/p?a=1&b=2&user.name=alice', spoof);
    }
  });

  it('with gateway.hadoop.kerberos.secured the effective user goes as doAs, and no user.name', async () => {
    const echo = await kerberos.get(
      'mapped',
      '/p?op=LISTSTATUS&user.name=jack&User.Name=jill&DOas=admin&doas=root',
      'guest',
    );
    assert.equal(echo.url, '/p?op=LISTSTATUS&doAs=hdfs');
  });

  it('principal.mapping maps listed users and leaves the others', async () => {
    assert.equal((await gw.get('mapped', '/p', 'guest')).query.get('user.name'), 'hdfs');
    assert.equal((await gw.get('mapped', '/p', 'alice')).query.get('user.name'), 'hdfs');
    assert.equal((await gw.get('mapped', '/p', 'mary')).query.get('user.name'), 'alice2');
    assert.equal((await gw.get('mapped', '/p', 'bob')).query.get('user.name'), 'bob');
  });

  it('group.principal.mapping adds groups for authorization, keyed by the mapped name, never in the query', async () => {
    const hdfs = await gw.get('mapped', '/p', 'guest', { groups: ['staff'] });
    assert.deepEqual(actorGroups(hdfs.headers), ['staff', 'admin', 'ops', 'users']);
    // The actor ID is the authenticated user, as in Knox; the mapped one is the query's.
    assert.equal(hdfs.headers['x-knox-actor-id'], 'guest');
    assert.deepEqual([...hdfs.query.keys()], ['user.name']);
    const bob = await gw.get('mapped', '/p', 'bob');
    assert.deepEqual(actorGroups(bob.headers), ['users']);
    const plain = await gw.get('plain', '/p', 'bob', { groups: ['a', 'b'] });
    assert.deepEqual(actorGroups(plain.headers), ['a', 'b']);
    // Each group once, in first-seen order: repeated by the realm, or mapped to a group the user has.
    const repeated = await gw.get('plain', '/p', 'bob', { groups: ['a', 'b', 'a', 'c', 'b'] });
    assert.deepEqual(actorGroups(repeated.headers), ['a', 'b', 'c']);
    const overlap = await gw.get('mapped', '/p', 'guest', { groups: ['ops', 'staff', 'users'] });
    assert.deepEqual(actorGroups(overlap.headers), ['ops', 'staff', 'users', 'admin']);
  });

  it('impersonation.params from the provider and from the topology service are removed too', async () => {
    const echo = await gw.get(
      'scrub',
      '/p?DelegationUID=drwho&delegationuid=x&PROXYUSER=root&keep=1&doAs=a',
      'alice',
    );
    assert.equal(echo.url, '/p?keep=1&user.name=alice');
    // Without the param, DelegationUID is an ordinary parameter.
    assert.equal(
      (await gw.get('plain', '/p?DelegationUID=drwho', 'alice')).url,
      '/p?DelegationUID=drwho&user.name=alice',
    );
  });

  it('answers to its legacy name Pseudo', async () => {
    assert.equal((await gw.get('pseudo', '/p?doAs=x', 'guest')).url, '/p?user.name=hdfs');
  });

  it('NoImpersonationProvider maps the identity but sends neither doAs nor user.name', async () => {
    const echo = await gw.get('noimp', '/p?a=1&doAs=root&user.name=root', 'guest', { groups: ['g'] });
    assert.equal(echo.url, '/p?a=1');
    assert.equal(echo.headers['x-knox-actor-id'], 'guest');
    assert.deepEqual(actorGroups(echo.headers), ['g']);
    assert.equal((await gw.get('noimp', '/p?user.name=root', 'guest')).url, '/p');
    assert.equal((await gw.get('nodoas', '/p?doAs=root&x', 'guest')).url, '/p?x');
    assert.equal((await kerberos.get('noimp', '/p?doAs=root', 'guest')).url, '/p');
  });

  it('refuses a request without an authenticated user (401) and forwards nothing', async () => {
    const seen = gw.backend.requests.length;
    const echo = await gw.get('anonymous', '/p');
    assert.equal(echo.status, 401);
    assert.equal(echo.code, 'POSTERN_ERR_UNAUTHENTICATED');
    assert.equal(gw.backend.requests.length, seen);
  });

  it('audits a mapped identity, and not an unchanged one', async () => {
    const before = gw.audit.length;
    await gw.get('mapped', '/audited', 'mary');
    await gw.get('mapped', '/audited', 'bob');
    const events = gw.audit.slice(before).filter((e) => e.action === 'identity-assertion');
    assert.equal(events.length, 1);
    assert.equal(events[0].outcome, 'success');
    assert.equal(events[0].user, 'mary');
    assert.equal(events[0].effectiveUser, 'alice2');
    assert.equal(events[0].provider, 'Default');
    assert.equal(events[0].topology, 'mapped');
  });
});
