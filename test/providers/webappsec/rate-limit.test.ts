/**
 * WebAppSec rate limiting: the token bucket itself (burst, refill, Retry-After, bounded memory), and end to end
 * per client address (127.0.0.1 and 127.0.0.2), 429 with Retry-After instead of Jetty's delays, the whitelist
 * (CIDR), per-connection tracking with `remotePort`, one bucket for all routes of a topology, the rate headers,
 * and bad params failing the deployment at their line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { TokenBuckets } from '../../../src/providers/common/token-buckets.ts';
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

describe('token buckets', () => {
  it('allows a burst of the rate, then one request per 1/rate seconds', () => {
    const b = new TokenBuckets(5, 30000, 100_000);
    const left = [0, 0, 0, 0, 0].map(() => b.take('a', 1000));
    assert.deepEqual(left, [4, 3, 2, 1, 0]);
    assert.equal(b.take('a', 1000), -200);
    assert.equal(b.take('a', 1100), -100);
    assert.equal(b.take('a', 1200), 0);
    assert.equal(b.take('a', 1200), -200);
    // Another key has its own bucket.
    assert.equal(b.take('b', 1200), 4);
    // A long pause refills to the burst size, not beyond.
    assert.equal(b.take('a', 60000), 4);
  });

  it('keeps at most the configured number of buckets, dropping the least recently used', () => {
    const b = new TokenBuckets(1, 30000, 3);
    for (const k of ['a', 'b', 'c']) b.take(k, 0);
    b.take('a', 10); // a is now the most recently used
    b.take('d', 20);
    assert.equal(b.size, 3);
    // b was dropped (a fresh bucket), a was kept (still empty).
    assert.equal(b.take('b', 30), 0);
    assert.ok(b.take('a', 30) < 0);
  });
});

describe('WebAppSec rate limiting', () => {
  let home: TestHome;
  let gateway: Gateway;
  let events: AuditEvent[];
  let backend: Backend;
  let other: Agent;
  const files: Record<string, string> = {};

  const topology = (name: string, params: Record<string, string>) => {
    files[name] = topologyXml({
      providers: [
        { role: 'webappsec', name: 'WebAppSec', params: { 'rate.limiting.enabled': 'true', ...params } },
        { role: 'authentication', name: 'Anonymous' },
        { role: 'identity-assertion', name: 'Default' },
      ],
      services: [{ role: 'HTTP', urls: [backend.url] }],
    });
    home.write(`conf/topologies/${name}.xml`, files[name]);
  };

  before(async () => {
    backend = await startEchoBackend();
    other = agentFrom('127.0.0.2');
    home = makeHome();
    topology('limited', {
      'rate.limiting.maxRequestsPerSec': '1',
      'rate.limiting.delayMs': '-1',
      'xframe.options.enabled': 'true',
    });
    topology('refill', { 'rate.limiting.maxRequestsPerSec': '10' });
    topology('whitelisted', {
      'rate.limiting.maxRequestsPerSec': '1',
      'rate.limiting.ipWhitelist': '127.0.0.0/31',
    });
    topology('per-connection', {
      'rate.limiting.maxRequestsPerSec': '1',
      'rate.limiting.remotePort': 'true',
      'rate.limiting.insertHeaders': 'false',
    });
    topology('bad-rate', { 'rate.limiting.maxRequestsPerSec': '0' });
    topology('bad-whitelist', { 'rate.limiting.ipWhitelist': '10.0.0.0/33' });
    ({ gateway, events } = await startAuditedGateway(home));
  });

  after(async () => {
    await gateway?.close();
    await other?.close();
    await backend?.close();
    home?.remove();
  });

  it('answers 429 with Retry-After once a client spent its budget; other clients are not affected', async () => {
    events.length = 0;
    const first = await call(`${gateway.url}/limited/http/a`);
    assert.equal(first.status, 200);
    assert.equal(first.headers['x-ratelimit-limit'], '1');
    assert.equal(first.headers['x-ratelimit-remaining'], '0');
    const before = backend.requests.length;
    // Another route of the same topology shares the bucket.
    const second = await call(`${gateway.url}/limited/http`);
    assert.equal(second.status, 429);
    assert.equal(second.headers['retry-after'], '1');
    assert.equal(second.headers['x-frame-options'], 'DENY');
    assert.equal(JSON.parse(second.text).error.code, 'POSTERN_ERR_TOO_MANY_REQUESTS');
    assert.equal(backend.requests.length, before);
    assert.equal((await call(`${gateway.url}/limited/http/a`, { dispatcher: other })).status, 200);
    assert.deepEqual(
      events.filter((e) => e.action === 'webappsec').map((e) => [e.outcome, e.reason, e.remote]),
      [['denied', 'rate limit', '127.0.0.1']],
    );
  });

  it('refills at the configured rate', async () => {
    const burst = await Promise.all(
      Array.from({ length: 20 }, () => call(`${gateway.url}/refill/http/a`).then((r) => r.status)),
    );
    const ok = burst.filter((s) => s === 200).length;
    assert.ok(ok >= 10 && ok < 20, burst.join());
    assert.equal(ok + burst.filter((s) => s === 429).length, 20, burst.join());
    await sleep(250);
    assert.equal((await call(`${gateway.url}/refill/http/a`)).status, 200);
  });

  it('never limits whitelisted addresses (CIDR)', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await call(`${gateway.url}/whitelisted/http/a`)).status, 200);
    assert.equal((await call(`${gateway.url}/whitelisted/http/a`, { dispatcher: other })).status, 200);
    assert.equal((await call(`${gateway.url}/whitelisted/http/a`, { dispatcher: other })).status, 429);
  });

  it('with remotePort, each connection has its own bucket; insertHeaders=false adds no rate headers', async () => {
    const one = new Agent();
    const two = new Agent();
    try {
      const a = await call(`${gateway.url}/per-connection/http/a`, { dispatcher: one });
      assert.equal(a.status, 200);
      assert.equal(a.headers['x-ratelimit-limit'], undefined);
      assert.equal((await call(`${gateway.url}/per-connection/http/a`, { dispatcher: two })).status, 200);
      assert.equal((await call(`${gateway.url}/per-connection/http/a`, { dispatcher: one })).status, 429);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('bad params fail the deployment at their line', () => {
    const cases: [string, string, RegExp][] = [
      ['bad-rate', 'rate.limiting.maxRequestsPerSec', /expected an integer of at least 1, found "0"/],
      ['bad-whitelist', 'rate.limiting.ipWhitelist', /10\.0\.0\.0\/33/],
    ];
    for (const [name, param, message] of cases) {
      const s = gateway.status.get(name)!;
      assert.equal(s.deployed, false, name);
      const error = s.diagnostics.find((d) => d.severity === 'error')!;
      assert.match(error.message, message);
      assert.equal(error.line, paramLine(files[name], param), name);
    }
  });
});

describe('WebAppSec rate limiting behind a load balancer (postern.trusted.proxies)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let events: AuditEvent[];
  let backend: Backend;
  /** The load balancer: connections from 127.0.0.2, which postern.trusted.proxies names. */
  let lb: Agent;

  before(async () => {
    backend = await startEchoBackend();
    lb = agentFrom('127.0.0.2');
    home = makeHome({ 'postern.trusted.proxies': '127.0.0.2' });
    home.write(
      'conf/topologies/behind.xml',
      topologyXml({
        providers: [
          {
            role: 'webappsec',
            name: 'WebAppSec',
            params: { 'rate.limiting.enabled': 'true', 'rate.limiting.maxRequestsPerSec': '1' },
          },
          { role: 'authentication', name: 'Anonymous' },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    ({ gateway, events } = await startAuditedGateway(home));
  });

  after(async () => {
    await gateway?.close();
    await lb?.close();
    await backend?.close();
    home?.remove();
  });

  const via = (forwardedFor: string, dispatcher?: Agent) =>
    call(`${gateway.url}/behind/http/a`, { headers: { 'x-forwarded-for': forwardedFor }, dispatcher });

  it('gives each client behind the balancer its own bucket, by the address the balancer forwarded for', async () => {
    events.length = 0;
    const first = await via('10.1.1.1', lb);
    assert.equal(first.status, 200);
    // The backend hears of the client and of the balancer that forwarded it.
    assert.equal(first.echo?.headers['x-forwarded-for'], '10.1.1.1, 127.0.0.2');
    assert.equal((await via('10.1.1.1', lb)).status, 429);
    // Another client through the same balancer is not limited by the first one's use.
    assert.equal((await via('10.1.1.2', lb)).status, 200);
    assert.deepEqual(
      events.filter((e) => e.action === 'webappsec').map((e) => [e.outcome, e.remote]),
      [['denied', '10.1.1.1']],
    );
  });

  it('believes only what the balancer appended: a client cannot name another address for itself', async () => {
    // The client wrote 10.9.9.9; the balancer appended the address it saw, 10.1.1.3.
    assert.equal((await via('10.9.9.9, 10.1.1.3', lb)).status, 200);
    assert.equal((await via('10.9.9.8, 10.1.1.3', lb)).status, 429);
  });

  it('ignores X-Forwarded-For from a client that is not a trusted proxy', async () => {
    assert.equal((await via('10.5.5.5')).status, 200);
    // Another claimed address from the same (untrusted) connection address: the same bucket.
    assert.equal((await via('10.5.5.6')).status, 429);
  });
});
