/**
 * Hadoop proxy-user impersonation in identity assertion (KNOX-2839): an inbound `doAs` is honoured only with
 * `hadoop.proxyuser.impersonation.enabled=true` and when `hadoop.proxyuser.{user}.users|groups|hosts` allow it;
 * otherwise 403, audited `denied`, and nothing reaches the backend. Impersonation comes first, then principal
 * mapping. `groups` are the impersonated user's, from the operating system as Hadoop's default group mapping
 * (`daemon` is in group `daemon` and `root` in `root` on the Linux machines the tests run on).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Agent } from 'undici';
import { actorGroups, agentFrom, type IdentityGateway, startIdentityGateway, topology } from './fixture.ts';

const RULES = {
  'hadoop.proxyuser.admin.users': 'bob, carol',
  'hadoop.proxyuser.admin.hosts': '127.0.0.1',
  'hadoop.proxyuser.ops.groups': 'daemon,wheel',
  'hadoop.proxyuser.ops.hosts': '*',
  'hadoop.proxyuser.wild.users': '*',
  'hadoop.proxyuser.wild.hosts': '10.0.0.0/8, 127.0.0.0/30',
  'hadoop.proxyuser.svc.name.users': 'bob',
  'hadoop.proxyuser.svc.name.hosts': '127.0.*',
};

describe('proxy-user impersonation', () => {
  let gw: IdentityGateway;
  let other: Agent;

  before(async () => {
    const ia = (params: Record<string, string>) => ({ role: 'identity-assertion', name: 'Default', params });
    gw = await startIdentityGateway({
      proxy: (b) =>
        topology(b, [
          ia({
            'hadoop.proxyuser.impersonation.enabled': 'true',
            ...RULES,
            'principal.mapping': 'bob=tom',
            'group.principal.mapping': 'tom=tomgroup',
          }),
        ]),
      // The rules without the flag: Knox's code defaults it to false.
      disabled: (b) => topology(b, [ia(RULES)]),
      off: (b) => topology(b, [ia({ 'hadoop.proxyuser.impersonation.enabled': 'false', ...RULES })]),
    });
    other = agentFrom('127.0.0.2');
  });

  after(async () => {
    await other?.close();
    await gw?.close();
  });

  const denials = () => gw.audit.filter((e) => e.action === 'identity-assertion' && e.outcome === 'denied');

  it('an allowed doAs becomes the user, then principal mapping applies to it', async () => {
    const before = gw.audit.length;
    const echo = await gw.get('proxy', '/p?op=OPEN&doAs=bob', 'admin', { groups: ['admins'] });
    assert.equal(echo.status, 200);
    assert.equal(echo.url, '/p?op=OPEN&user.name=tom');
    // group.principal.mapping is keyed by the final name; the authenticated user's groups stay.
    assert.deepEqual(actorGroups(echo.headers), ['admins', 'tomgroup']);
    const event = gw.audit.slice(before).find((e) => e.action === 'identity-assertion')!;
    assert.equal(event.outcome, 'success');
    assert.equal(event.user, 'admin');
    assert.equal(event.effectiveUser, 'tom');
    assert.match(event.reason!, /doAs/);
  });

  it('reads doAs whatever the case or encoding of its name', async () => {
    assert.equal((await gw.get('proxy', '/p?DOAS=carol', 'admin')).url, '/p?user.name=carol');
    assert.equal((await gw.get('proxy', '/p?do%41s=carol', 'admin')).url, '/p?user.name=carol');
    assert.equal((await gw.get('proxy', '/p?doAs=carol&doas=carol', 'admin')).url, '/p?user.name=carol');
  });

  it('a user not in users is refused with 403, audited, and the backend sees nothing', async () => {
    const seen = gw.backend.requests.length;
    const before = denials().length;
    const echo = await gw.get('proxy', '/p?doAs=dave', 'admin');
    assert.equal(echo.status, 403);
    assert.equal(echo.code, 'POSTERN_ERR_FORBIDDEN');
    assert.equal(gw.backend.requests.length, seen);
    const event = denials()[before];
    assert.equal(event.user, 'admin');
    assert.equal(event.effectiveUser, 'dave');
    assert.equal(event.reason, 'User: admin is not allowed to impersonate dave');
  });

  it('a user with no proxyuser rules cannot impersonate anyone', async () => {
    assert.equal((await gw.get('proxy', '/p?doAs=bob', 'eve')).status, 403);
    // Naming oneself is no impersonation.
    assert.equal((await gw.get('proxy', '/p?doAs=eve', 'eve')).url, '/p?user.name=eve');
  });

  it('hosts restricts the client address', async () => {
    assert.equal((await gw.get('proxy', '/p?doAs=bob', 'admin')).status, 200);
    const before = denials().length;
    const refused = await gw.get('proxy', '/p?doAs=bob', 'admin', { dispatcher: other });
    assert.equal(refused.status, 403);
    assert.equal(denials()[before].reason, 'Unauthorized connection for super-user: admin from IP 127.0.0.2');
    // The same user may still call without doAs from there.
    assert.equal((await gw.get('proxy', '/p', 'admin', { dispatcher: other })).url, '/p?user.name=admin');
  });

  it('users=* with CIDR hosts', async () => {
    assert.equal((await gw.get('proxy', '/p?doAs=zed', 'wild')).url, '/p?user.name=zed');
    assert.equal(
      (await gw.get('proxy', '/p?doAs=zed', 'wild', { dispatcher: other })).url,
      '/p?user.name=zed',
    );
    const far = agentFrom('127.0.0.5');
    try {
      assert.equal((await gw.get('proxy', '/p?doAs=zed', 'wild', { dispatcher: far })).status, 403);
    } finally {
      await far.close();
    }
  });

  it('a proxy user whose name has dots, with a prefix host rule', async () => {
    assert.equal(
      (await gw.get('proxy', '/p?doAs=bob', 'svc.name', { dispatcher: other })).url,
      '/p?user.name=tom',
    );
    assert.equal((await gw.get('proxy', '/p?doAs=carol', 'svc.name')).status, 403);
  });

  it("groups allows the members of the groups, by the impersonated user's groups", async () => {
    assert.equal((await gw.get('proxy', '/p?doAs=daemon', 'ops')).url, '/p?user.name=daemon');
    // root is not in daemon or wheel; an unknown user is in no group.
    assert.equal((await gw.get('proxy', '/p?doAs=root', 'ops')).status, 403);
    assert.equal((await gw.get('proxy', '/p?doAs=no-such-user-xyz', 'ops')).status, 403);
    // The groups of the impersonating user do not count.
    assert.equal((await gw.get('proxy', '/p?doAs=root', 'ops', { groups: ['daemon'] })).status, 403);
  });

  it('an empty or ambiguous doAs is a bad request', async () => {
    assert.equal((await gw.get('proxy', '/p?doAs=', 'admin')).status, 400);
    assert.equal((await gw.get('proxy', '/p?doAs', 'admin')).status, 400);
    assert.equal((await gw.get('proxy', '/p?doAs=bob&DOAS=carol', 'admin')).status, 400);
  });

  it('without hadoop.proxyuser.impersonation.enabled=true, doAs is removed and the user stays who they are', async () => {
    for (const t of ['disabled', 'off']) {
      const echo = await gw.get(t, '/p?doAs=bob&x=1', 'admin');
      assert.equal(echo.status, 200, t);
      assert.equal(echo.url, '/p?x=1&user.name=admin', t);
    }
  });
});
