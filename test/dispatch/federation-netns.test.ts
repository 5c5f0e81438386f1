/**
 * The federation of federation.test.ts with each gateway in a network namespace of its own, so that the cloud's
 * IP allow-list sees distinct addresses: the on-prem gateway reaches the cloud from 10.201.0.1 (the only address
 * the cloud believes the header from); the test reaches the on-prem gateway over 10.201.1.0/24 and the cloud
 * directly over 10.201.2.0/24, where even the on-prem gateway's own certificate is not enough.
 *
 *   test (root ns) 10.201.1.1 ── 10.201.1.2 [on-prem ns] 10.201.0.1 ── 10.201.0.2 [cloud ns] 10.201.2.2 ── 10.201.2.1 backend (root ns)
 *
 * Needs root and iproute2 (`ip netns add`); elsewhere the suite is skipped with the reason.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import {
  basic,
  type Federation,
  federatedSocket,
  get,
  HEADER,
  startFederation,
} from './federation-fixture.ts';

const tag = `${process.pid % 100000}`;
const NS = { onprem: `pfo-${tag}`, cloud: `pfc-${tag}` };

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why namespaces cannot be made here, or undefined when they can. */
function namespaceProblem(): string | undefined {
  const probe = `pfp-${tag}`;
  try {
    ip('netns', 'add', probe);
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim();
    return `network namespaces cannot be created here (needs root and iproute2; "ip netns add" said: ${stderr})`;
  }
  try {
    ip('netns', 'del', probe);
  } catch {}
  return undefined;
}

/** Two namespaces and three veth pairs, as drawn above. */
function buildNetwork(): void {
  ip('netns', 'add', NS.onprem);
  ip('netns', 'add', NS.cloud);
  const link = (a: string, aNs: string | undefined, aAddr: string, b: string, bNs: string, bAddr: string) => {
    ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
    if (aNs) ip('link', 'set', a, 'netns', aNs);
    ip('link', 'set', b, 'netns', bNs);
    const inNs = (ns: string | undefined, ...args: string[]) => (ns ? ip('-n', ns, ...args) : ip(...args));
    inNs(aNs, 'addr', 'add', `${aAddr}/24`, 'dev', a);
    inNs(bNs, 'addr', 'add', `${bAddr}/24`, 'dev', b);
    inNs(aNs, 'link', 'set', a, 'up');
    inNs(bNs, 'link', 'set', b, 'up');
  };
  link(`pf${tag}a`, NS.onprem, '10.201.0.1', `pf${tag}b`, NS.cloud, '10.201.0.2');
  link(`pf${tag}c`, undefined, '10.201.1.1', `pf${tag}d`, NS.onprem, '10.201.1.2');
  link(`pf${tag}e`, undefined, '10.201.2.1', `pf${tag}f`, NS.cloud, '10.201.2.2');
  for (const ns of [NS.onprem, NS.cloud]) ip('-n', ns, 'link', 'set', 'lo', 'up');
}

function removeNetwork(): void {
  // Deleting a namespace deletes the veth ends in it, and with them their peers in the root namespace.
  for (const ns of [NS.onprem, NS.cloud]) {
    try {
      ip('netns', 'del', ns);
    } catch {}
  }
}

const problem = namespaceProblem();

describe('federation between two network namespaces: the IP allow-list with distinct addresses', {
  skip: problem,
}, () => {
  let f: Federation;

  before(async () => {
    buildNetwork();
    f = await startFederation({
      cloudBind: '0.0.0.0',
      cloudAddress: '10.201.0.2',
      onpremBind: '0.0.0.0',
      onpremAddress: '10.201.1.2',
      backendBind: '10.201.2.1',
      trustedSource: '10.201.0.1',
      extraIps: ['10.201.2.2'],
      cloudNetns: NS.cloud,
      onpremNetns: NS.onprem,
    });
  });

  after(async () => {
    await f?.close();
    removeNetwork();
  });

  it('a user authenticated on-prem reaches the backend as themselves, through both namespaces', async () => {
    const r = await get(`${f.onpremUrl}/onprem/http/data`, f.agent(), {
      authorization: basic('alice', 'alice-secret'),
      [HEADER]: 'admin',
    });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.seen?.user, ['alice']);
    // Each hop's address: the test's as the on-prem gateway saw it, the on-prem gateway's as the cloud saw it.
    assert.equal(r.seen?.headers['x-forwarded-for'], '10.201.1.1, 10.201.0.1');
  });

  it('WebSockets federate across the namespaces', async () => {
    const ws = await federatedSocket(`${f.onpremUrl.replace('https:', 'wss:')}/onprem/echo/ws`, {
      ca: f.ca.cert,
      headers: { authorization: basic('bob', 'bob-secret') },
    });
    assert.deepEqual(ws.first?.user, ['robert']);
    assert.equal(ws.echo, 'echo: hello through two gateways');
  });

  it('the on-prem gateway’s own certificate from an address outside the allow-list: 403 and an audit event', async () => {
    const cloudDirect = f.cloudUrl.replace('10.201.0.2', '10.201.2.2');
    const before = f.backendRequests.length;
    const r = await get(`${cloudDirect}/http/data`, f.agent({ identity: f.onpremCert }), {
      [HEADER]: 'alice',
    });
    assert.equal(r.status, 403);
    assert.equal(f.backendRequests.length, before);
    const deadline = Date.now() + 10_000;
    let event: Record<string, unknown> | undefined;
    while (!event && Date.now() < deadline) {
      event = f
        .cloudAudit()
        .find(
          (e) => e.outcome === 'denied' && e.reason === 'preauth.ip.validation' && e.remote === '10.201.2.1',
        );
      if (!event) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(event, 'audit event naming the refused address');
    assert.equal(event.user, 'alice');
  });

  it('without a client certificate the cloud refuses the caller at the handshake', async () => {
    const cloudDirect = f.cloudUrl.replace('10.201.0.2', '10.201.2.2');
    await assert.rejects(get(`${cloudDirect}/http/data`, f.agent(), { [HEADER]: 'alice' }));
  });
});
