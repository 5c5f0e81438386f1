/**
 * Gateway-to-gateway federation over mutual TLS, with two `postern start` processes on
 * loopback and a backend behind the cloud one: a user who logs in on-prem reaches the backend as themselves (HTTP
 * and WebSocket); a client cannot name another user to the cloud; the cloud refuses at the TLS handshake a
 * caller without a certificate or with one from another CA, and answers 403 with an audit event to a forged
 * header over a connection its truststore accepts but from the wrong certificate or the wrong address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Agent } from 'undici';
import {
  basic,
  type Federation,
  federatedSocket,
  get,
  HEADER,
  rawTls,
  startFederation,
} from './federation-fixture.ts';

/** Waits (bounded) for an audit event the cloud writes asynchronously. */
async function auditEvent(
  f: Federation,
  match: (e: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown> | undefined> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = f.cloudAudit().find(match);
    if (found || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('HeaderPreAuthFederationDispatch: on-prem → cloud over mutual TLS (loopback)', () => {
  let f: Federation;
  let user: Agent;

  before(async () => {
    f = await startFederation({
      cloudBind: '127.0.0.1',
      cloudAddress: '127.0.0.1',
      onpremBind: '127.0.0.1',
      onpremAddress: '127.0.0.1',
      backendBind: '127.0.0.1',
      trustedSource: '127.0.0.1',
    });
    user = f.agent();
  });

  after(async () => {
    await f?.close();
  });

  it('a user authenticated on-prem reaches the backend behind the cloud as themselves', async () => {
    const r = await get(`${f.onpremUrl}/onprem/http/reports?year=2026`, user, {
      authorization: basic('alice', 'alice-secret'),
    });
    assert.equal(r.status, 200, r.body);
    assert.ok(r.seen);
    // The cloud's identity assertion names the user once; the on-prem one's user.name did not pass through.
    assert.deepEqual(r.seen.user, ['alice']);
    assert.match(r.seen.url, /^\/reports\?/);
    assert.match(r.seen.url, /year=2026/);
    // The cloud's HeaderPreAuth consumed the header; the user's credentials never left the on-prem gateway.
    assert.equal(r.seen.headers[HEADER], undefined);
    assert.equal(r.seen.headers.authorization, undefined);
  });

  it('sends the effective user (after on-prem identity assertion)', async () => {
    const r = await get(`${f.onpremUrl}/onprem/http/x`, user, { authorization: basic('bob', 'bob-secret') });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.seen?.user, ['robert']);
  });

  it('never passes on a copy of the header the client sent', async () => {
    const r = await get(`${f.onpremUrl}/onprem/http/x`, user, {
      authorization: basic('bob', 'bob-secret'),
      [HEADER]: 'alice',
      AWS_HEADER: 'admin',
    });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.seen?.user, ['robert']);
  });

  it('authenticates on-prem first: bad credentials never reach the cloud', async () => {
    const before = f.backendRequests.length;
    const r = await get(`${f.onpremUrl}/onprem/http/x`, user, {
      authorization: basic('alice', 'wrong'),
      [HEADER]: 'alice',
    });
    assert.equal(r.status, 401);
    assert.equal(f.backendRequests.length, before);
  });

  it('without use-two-way-ssl the cloud refuses the on-prem gateway at the handshake: 502', async () => {
    const r = await get(`${f.onpremUrl}/oneway/http/x`, user, {
      authorization: basic('alice', 'alice-secret'),
    });
    assert.equal(r.status, 502);
  });

  it('WebSockets federate too, as the user, with the client’s header copies dropped', async () => {
    const url = `${f.onpremUrl.replace('https:', 'wss:')}/onprem/echo/ws/room?ch=1`;
    const alice = await federatedSocket(url, {
      ca: f.ca.cert,
      headers: { authorization: basic('alice', 'alice-secret') },
    });
    assert.deepEqual(alice.first?.user, ['alice']);
    assert.match(alice.first?.url ?? '', /^\/ws\/room\?/);
    assert.equal(alice.first?.headers[HEADER], undefined);
    assert.equal(alice.echo, 'echo: hello through two gateways');

    const bob = await federatedSocket(url, {
      ca: f.ca.cert,
      headers: { authorization: basic('bob', 'bob-secret'), [HEADER]: 'alice' },
    });
    assert.deepEqual(bob.first?.user, ['robert']);

    const nobody = await federatedSocket(url, { ca: f.ca.cert, headers: { [HEADER]: 'alice' } });
    assert.equal(nobody.status, 401);
  });

  it('a direct request to the cloud without a client certificate is refused at the TLS handshake', async () => {
    const url = new URL(f.cloudUrl);
    const r = await rawTls(
      { host: url.hostname, port: Number(url.port), ca: f.ca.cert, servername: 'localhost' },
      '/gateway/cloud/http/x',
      { [HEADER]: 'alice' },
    );
    assert.equal(r.data, '', 'no HTTP answer');
    assert.match(r.error ?? '', /CERTIFICATE_REQUIRED|ECONNRESET|EPIPE/);
    await assert.rejects(get(`${f.cloudUrl}/http/x`, f.agent(), { [HEADER]: 'alice' }));
  });

  it('a client certificate from another CA is refused at the TLS handshake, whatever name it bears', async () => {
    const url = new URL(f.cloudUrl);
    const r = await rawTls(
      {
        host: url.hostname,
        port: Number(url.port),
        ca: f.ca.cert,
        servername: 'localhost',
        cert: f.impostor.cert,
        key: f.impostor.key,
      },
      '/gateway/cloud/http/x',
      { [HEADER]: 'alice' },
    );
    assert.equal(r.data, '', 'no HTTP answer');
    await assert.rejects(
      get(`${f.cloudUrl}/http/x`, f.agent({ identity: f.impostor }), { [HEADER]: 'alice' }),
    );
    // The same request with the on-prem gateway's certificate is answered (the control for the two above).
    const control = await get(`${f.cloudUrl}/http/x`, f.agent({ identity: f.onpremCert }), {
      [HEADER]: 'alice',
    });
    assert.equal(control.status, 200, control.body);
    assert.deepEqual(control.seen?.user, ['alice']);
  });

  it('a forged header over another certificate of the same CA: 403 and an audit event', async () => {
    const before = f.backendRequests.length;
    const r = await get(`${f.cloudUrl}/http/x`, f.agent({ identity: f.rogue }), { [HEADER]: 'alice' });
    assert.equal(r.status, 403);
    assert.equal(f.backendRequests.length, before);
    const event = await auditEvent(
      f,
      (e) => e.outcome === 'denied' && e.reason === 'preauth.client.cert.validation' && e.user === 'alice',
    );
    assert.ok(event, 'audit event for the refused header');
    assert.equal(event.action, 'federation');
    assert.equal(event.topology, 'cloud');
  });

  it('a forged header with the gateway’s own certificate from another address: 403 and an audit event', async () => {
    const r = await get(
      `${f.cloudUrl}/http/x`,
      f.agent({ identity: f.onpremCert, localAddress: '127.0.0.2' }),
      {
        [HEADER]: 'mallory',
      },
    );
    assert.equal(r.status, 403);
    const event = await auditEvent(
      f,
      (e) => e.outcome === 'denied' && e.reason === 'preauth.ip.validation' && e.user === 'mallory',
    );
    assert.ok(event, 'audit event for the refused address');
    assert.equal(event.remote, '127.0.0.2');
  });

  it('a trusted connection without the header: 401 and an audit event', async () => {
    const r = await get(`${f.cloudUrl}/http/x`, f.agent({ identity: f.onpremCert }));
    assert.equal(r.status, 401);
    assert.ok(await auditEvent(f, (e) => e.outcome === 'failure' && e.action === 'federation'));
  });
});
