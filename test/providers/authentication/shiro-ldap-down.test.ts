/**
 * ShiroProvider when the directory fails: slapd stopped (connection refused) or frozen (SIGSTOP: connections open,
 * nothing answers). The answer is 503 within the configured connect and read timeouts, never 200 and never a
 * hang; the authentication cache keeps a recent login working without LDAP (and only the exact password); the
 * pooled system-user connection recovers when slapd comes back. The tests run in order on one slapd.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import type { Backend } from '../../helpers/backend.ts';
import { makeHome, type TestHome } from '../../helpers/home.ts';
import { type SlapdFixture, startSlapd } from '../../helpers/slapd.ts';
import { type AuditEvent, call, startAuditedGateway, startEchoBackend } from '../security-helpers.ts';
import { basic, dnTemplateParams, searchParams, shiroTopology } from './shiro-fixture.ts';

const READ_TIMEOUT_MS = 1000;
const timeouts = {
  'main.ldapRealm.contextFactory.connectTimeout': '1000',
  'main.ldapRealm.contextFactory.readTimeout': String(READ_TIMEOUT_MS),
};

describe('ShiroProvider when LDAP is down or hangs', () => {
  let ldap: SlapdFixture;
  let home: TestHome;
  let gateway: Gateway;
  let events: AuditEvent[];
  let backend: Backend;

  const get = async (topology: string, user: string, password: string) => {
    const started = Date.now();
    const res = await call(`${gateway.url}/${topology}/http/p`, { headers: basic(user, password) });
    return { status: res.status, ms: Date.now() - started, res };
  };

  before(async () => {
    [ldap, backend] = await Promise.all([startSlapd(), startEchoBackend()]);
    home = makeHome();
    const write = (name: string, params: Record<string, string>) =>
      home.write(`conf/topologies/${name}.xml`, shiroTopology(params, backend.url));
    write(
      'cached',
      dnTemplateParams(ldap, {
        ...timeouts,
        'main.ldapRealm.authenticationCachingEnabled': 'true',
        'main.cacheManager': 'org.apache.knox.gateway.shirorealm.KnoxCacheManager',
        'main.securityManager.cacheManager': '$cacheManager',
        'main.cacheManager.timeToLiveSeconds': '60',
      }),
    );
    write('uncached', dnTemplateParams(ldap, timeouts));
    write('pooled', searchParams(ldap, timeouts));
    ({ gateway, events } = await startAuditedGateway(home));
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await ldap?.close();
    home?.remove();
  });

  it('logs in while the directory is up', async () => {
    assert.equal((await get('cached', 'sam', 'sam-password')).status, 200);
    assert.equal((await get('uncached', 'sam', 'sam-password')).status, 200);
    assert.equal((await get('pooled', 'carol', 'carol-password')).status, 200);
  });

  it('answers 503 at once when LDAP refuses connections, except for a login the cache holds', async () => {
    await ldap.stop();
    const uncached = await get('uncached', 'sam', 'sam-password');
    assert.equal(uncached.status, 503);
    assert.ok(uncached.ms < 1500, `${uncached.ms} ms`);
    assert.match(uncached.res.text, /POSTERN_ERR_UNAVAILABLE/);

    // The same login within the cache's TTL needs no bind.
    const cached = await get('cached', 'sam', 'sam-password');
    assert.equal(cached.status, 200);
    assert.equal(new URL(cached.res.echo!.url, 'http://x').searchParams.get('user.name'), 'sam');
    // The cache holds that password only: another one must be checked, and cannot be.
    assert.equal((await get('cached', 'sam', 'another-password')).status, 503);
    assert.equal((await get('cached', 'tom', 'tom-password')).status, 503);
    assert.equal((await get('pooled', 'carol', 'carol-password')).status, 503);

    const unavailable = events.filter((e) => e.action === 'authentication' && e.outcome === 'unavailable');
    assert.ok(unavailable.some((e) => e.user === 'sam' && e.topology === 'uncached'));
    assert.ok(!JSON.stringify(events).includes('another-password'));
  });

  it('recovers when LDAP is back, the pooled system connection included', async () => {
    await ldap.start();
    assert.equal((await get('pooled', 'carol', 'carol-password')).status, 200);
    assert.equal((await get('uncached', 'tom', 'tom-password')).status, 200);
    // A restart while the pooled connection is idle: it is reopened and bound again on next use.
    await ldap.stop();
    await ldap.start();
    assert.equal((await get('pooled', 'sam', 'sam-password')).status, 200);
  });

  it('answers 503 within the read timeout when LDAP accepts connections but never answers', async () => {
    ldap.pause();
    try {
      const [plain, pooled] = await Promise.all([
        get('uncached', 'sam', 'sam-password'),
        get('pooled', 'carol', 'carol-password'),
      ]);
      for (const [which, r] of [
        ['uncached', plain],
        ['pooled', pooled],
      ] as const) {
        // Said in full: this once answered 200 in a full run (not reproduced in 40 runs alone under CPU load).
        assert.equal(r.status, 503, `${which} after ${r.ms} ms: ${r.res.text.slice(0, 300)}`);
        assert.ok(r.ms >= READ_TIMEOUT_MS - 50 && r.ms < READ_TIMEOUT_MS * 3, `${r.ms} ms`);
      }
    } finally {
      ldap.resume();
    }
    assert.equal((await get('uncached', 'sam', 'sam-password')).status, 200);
    assert.equal((await get('pooled', 'carol', 'carol-password')).status, 200);
  });
});
