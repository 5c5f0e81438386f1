/**
 * HeaderPreAuth federation end to end: the user (and groups) come from trusted headers, validators decide which
 * clients are trusted (IP validation tried from two loopback source addresses), the identity headers never reach
 * the backend, and bad params fail the deployment at the param's line.
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

describe('HeaderPreAuth federation', () => {
  let home: TestHome;
  let gateway: Gateway;
  let events: AuditEvent[];
  let backend: Backend;
  let other: Agent;
  const files: Record<string, string> = {};

  const topology = (name: string, params: Record<string, string>, acl?: Record<string, string>) => {
    const providers = [
      { role: 'federation', name: 'HeaderPreAuth', params },
      { role: 'identity-assertion', name: 'Default' },
      ...(acl ? [{ role: 'authorization', name: 'AclsAuthz', params: acl }] : []),
    ];
    files[name] = topologyXml({ providers, services: [{ role: 'HTTP', urls: [backend.url] }] });
    home.write(`conf/topologies/${name}.xml`, files[name]);
  };

  before(async () => {
    backend = await startEchoBackend();
    other = agentFrom('127.0.0.2');
    home = makeHome();
    topology('plain', {});
    topology(
      'custom',
      { 'preauth.custom.header': 'X-Remote-User', 'preauth.custom.group.header': 'X-Remote-Groups' },
      { 'http.acl': '*;admins;*' },
    );
    topology('trusted', {
      'preauth.validation.method': 'preauth.ip.validation',
      'preauth.ip.addresses': '10.1.1.1,127.0.0.1',
    });
    topology('wildcard', {
      'preauth.validation.method': 'preauth.default.validation, preauth.ip.validation',
      'preauth.ip.addresses': '127.0.0.*',
    });
    topology('cidr', {
      'preauth.validation.method': 'preauth.ip.validation',
      'preauth.ip.addresses': '127.0.0.2/32',
    });
    topology('unknown-validator', {
      'preauth.validation.method': 'preauth.ip.validation,preauth.k8s.service.account.validation',
      'preauth.ip.addresses': '127.0.0.1',
    });
    topology('no-addresses', { 'preauth.validation.method': 'preauth.ip.validation' });
    topology('bad-address', {
      'preauth.validation.method': 'preauth.ip.validation',
      'preauth.ip.addresses': '127.0.0.1,gateway.example.com',
    });
    ({ gateway, events } = await startAuditedGateway(home));
  });

  after(async () => {
    await gateway?.close();
    await other?.close();
    await backend?.close();
    home?.remove();
  });

  it('takes the user from SM_USER by default; the backend learns it only through identity assertion', async () => {
    const before = backend.requests.length;
    const res = await call(`${gateway.url}/plain/http/data?x=1`, { headers: { SM_USER: 'alice' } });
    assert.equal(res.status, 200);
    assert.equal(res.echo!.url, '/data?x=1&user.name=alice');
    assert.equal(res.echo!.headers.sm_user, undefined);
    assert.equal(backend.requests.length, before + 1);
  });

  it('answers 401 without the header, with an empty one, or with two; the backend is not called', async () => {
    const before = backend.requests.length;
    const cases: Record<string, string>[] = [{}, { SM_USER: ' ' }, { 'X-Remote-User': 'alice' }];
    for (const headers of cases) {
      const res = await call(`${gateway.url}/plain/http/data`, { headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(JSON.parse(res.text).error.code, 'POSTERN_ERR_UNAUTHENTICATED');
    }
    const twice = await call(`${gateway.url}/plain/http/data`, {
      headers: { SM_USER: ['alice', 'mallory'] },
    });
    assert.equal(twice.status, 401);
    assert.equal(backend.requests.length, before);
  });

  it('reads a custom user header and comma groups; both are removed before the backend', async () => {
    const ok = await call(`${gateway.url}/custom/http/x`, {
      headers: { 'X-Remote-User': 'bob', 'X-Remote-Groups': 'users, admins' },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.echo!.url, '/x?user.name=bob');
    assert.equal(ok.echo!.headers['x-remote-user'], undefined);
    assert.equal(ok.echo!.headers['x-remote-groups'], undefined);
    // The groups decide the ACL (*;admins;*): without admins, 403.
    const notAdmin = await call(`${gateway.url}/custom/http/x`, {
      headers: { 'X-Remote-User': 'bob', 'X-Remote-Groups': 'users' },
    });
    assert.equal(notAdmin.status, 403);
    const noGroups = await call(`${gateway.url}/custom/http/x`, { headers: { 'X-Remote-User': 'bob' } });
    assert.equal(noGroups.status, 403);
    // SM_USER means nothing to this topology.
    assert.equal((await call(`${gateway.url}/custom/http/x`, { headers: { SM_USER: 'bob' } })).status, 401);
  });

  it('IP validation trusts the listed addresses and refuses others with 403', async () => {
    const headers = { SM_USER: 'carol' };
    const fromListed = await call(`${gateway.url}/trusted/http/p`, { headers });
    assert.equal(fromListed.status, 200);
    assert.equal(fromListed.echo!.headers['x-forwarded-for'], '127.0.0.1');
    const before = backend.requests.length;
    const fromOther = await call(`${gateway.url}/trusted/http/p`, { headers, dispatcher: other });
    assert.equal(fromOther.status, 403);
    assert.equal(JSON.parse(fromOther.text).error.code, 'POSTERN_ERR_FORBIDDEN');
    assert.equal(backend.requests.length, before);
    // A missing header is still 401, from anywhere.
    assert.equal((await call(`${gateway.url}/trusted/http/p`, { dispatcher: other })).status, 401);
  });

  it('IP lists take Knox prefix wildcards and CIDR subnets', async () => {
    const headers = { SM_USER: 'dave' };
    assert.equal((await call(`${gateway.url}/wildcard/http/p`, { headers })).status, 200);
    assert.equal((await call(`${gateway.url}/wildcard/http/p`, { headers, dispatcher: other })).status, 200);
    assert.equal((await call(`${gateway.url}/cidr/http/p`, { headers })).status, 403);
    assert.equal((await call(`${gateway.url}/cidr/http/p`, { headers, dispatcher: other })).status, 200);
  });

  it('audits success, failure and denial with the user and the validator that refused', async () => {
    events.length = 0;
    await call(`${gateway.url}/trusted/http/a`, { headers: { SM_USER: 'erin' } });
    await call(`${gateway.url}/trusted/http/a`, { headers: { SM_USER: 'erin' }, dispatcher: other });
    await call(`${gateway.url}/trusted/http/a`);
    const fed = events.filter((e) => e.action === 'federation');
    assert.deepEqual(
      fed.map((e) => [e.outcome, e.user, e.reason, e.provider, e.topology, e.service]),
      [
        ['success', 'erin', undefined, 'HeaderPreAuth', 'trusted', 'HTTP'],
        ['denied', 'erin', 'preauth.ip.validation', 'HeaderPreAuth', 'trusted', 'HTTP'],
        ['failure', undefined, 'no SM_USER header', 'HeaderPreAuth', 'trusted', 'HTTP'],
      ],
    );
    assert.equal(fed[1].remote, '127.0.0.2');
  });

  it('an unknown validator, IP validation without addresses, or a bad address fail the deployment at the param', () => {
    const cases: [string, string, RegExp][] = [
      ['unknown-validator', 'preauth.validation.method', /unknown validator "preauth\.k8s\.service\.account/],
      ['no-addresses', 'preauth.validation.method', /needs preauth\.ip\.addresses/],
      ['bad-address', 'preauth.ip.addresses', /gateway\.example\.com/],
    ];
    for (const [name, param, message] of cases) {
      const status = gateway.status.get(name)!;
      assert.equal(status.deployed, false, name);
      const error = status.diagnostics.find((d) => d.severity === 'error')!;
      assert.match(error.message, message);
      assert.ok(error.file.endsWith(`${name}.xml`));
      assert.equal(error.line, paramLine(files[name], param), name);
    }
    assert.equal(gateway.status.get('plain')!.deployed, true);
  });

  it('warns when the header is believed from any address (the default validator), not when an IP list guards it', () => {
    const warnings = (name: string) =>
      gateway.status
        .get(name)!
        .diagnostics.filter((d) => d.severity === 'warning')
        .map((d) => d.message);
    assert.ok(
      warnings('plain').some((m) =>
        /preauth\.default\.validation believes the SM_USER header from any address/.test(m),
      ),
      warnings('plain').join('\n'),
    );
    assert.deepEqual(
      warnings('trusted').filter((m) => /from any address/.test(m)),
      [],
    );
  });
});
