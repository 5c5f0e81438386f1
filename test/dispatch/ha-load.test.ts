/**
 * HA under a bounded load loop while backends are killed and restarted (one at a time, so at least one is
 * always up): every idempotent request succeeds, non-idempotent ones either succeed or fail cleanly with 502
 * (and all succeed with `failoverNonIdempotentRequestEnabled`), load balancing reaches every backend, and the
 * run leaves no socket, file descriptor or backend request behind.
 */
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { readdirSync, readlinkSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.ts';
import type { BackendHealthEvent } from '../../src/observability/events.ts';
import { type Answer, call, type Node, startNode } from '../helpers/cluster.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

function fds(): { total: number; sockets: number } {
  let sockets = 0;
  const list = readdirSync('/proc/self/fd');
  for (const fd of list) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // closed while listing
    }
  }
  return { total: list.length, sockets };
}

/**
 * Lets closing sockets finish closing, then measures: waits at most 5 s for the socket count to reach `target`
 * (without one, until it has not changed for 300 ms).
 */
async function settle(target?: number): Promise<{ total: number; sockets: number }> {
  const deadline = Date.now() + 5000;
  let last = -1;
  let stable = 0;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = fds().sockets;
    if (target !== undefined ? now <= target : now === last && ++stable >= 3) break;
    if (now !== last) stable = 0;
    last = now;
  }
  return fds();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function haTopology(urls: string[], ha: string): string {
  return topologyXml({
    providers: [
      { role: 'authentication', name: 'Anonymous' },
      { role: 'identity-assertion', name: 'Default' },
      { role: 'ha', name: 'HaProvider', params: { HTTP: ha } },
    ],
    services: [{ role: 'HTTP', urls }],
  });
}

type Kind = 'get' | 'put' | 'delete' | 'active' | 'post' | 'post-retry';
const KINDS: Kind[] = ['get', 'put', 'delete', 'active', 'post', 'post-retry'];

describe('HA under load with backends killed and restarted', () => {
  let home: TestHome;
  let gateway: Gateway;
  let nodes: Node[];
  const down: BackendHealthEvent[] = [];
  const onEvent = (e: unknown) => {
    if ((e as BackendHealthEvent).state === 'down') down.push(e as BackendHealthEvent);
  };

  before(async () => {
    diagnostics_channel.subscribe('postern:backend-health', onEvent);
    nodes = await Promise.all(['A', 'B', 'C'].map((n) => startNode(n)));
    const urls = nodes.map((n) => n.url);
    // A request cut on one backend after another (the chaos below kills them in turn) runs out of attempts only
    // after 11 cuts: on a starved machine a slow request can see a few kill cycles.
    const attempts = 'maxFailoverAttempts=10;failoverSleep=0';
    const lb = `enableLoadBalancing=true;${attempts};failureCooldown=50`;
    home = makeHome();
    home.write('conf/topologies/lb.xml', haTopology(urls, lb));
    home.write('conf/topologies/active.xml', haTopology(urls, attempts));
    home.write(
      'conf/topologies/retry.xml',
      haTopology(urls, `${lb};failoverNonIdempotentRequestEnabled=true`),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    diagnostics_channel.unsubscribe('postern:backend-health', onEvent);
    await gateway?.close();
    await Promise.all(nodes.map((n) => n.kill()));
    home?.remove();
  });

  function send(kind: Kind, i: number): Promise<Answer> {
    const port = gateway.port;
    const path = `/slow/${i}`;
    switch (kind) {
      case 'get':
        return call(port, 'GET', `/gateway/lb/http${path}`);
      case 'put':
        return call(port, 'PUT', `/gateway/lb/http${path}`, { body: Buffer.alloc(300, i) });
      case 'delete':
        return call(port, 'DELETE', `/gateway/lb/http${path}`);
      case 'active':
        return call(port, 'GET', `/gateway/active/http${path}`);
      case 'post':
        return call(port, 'POST', `/gateway/lb/http${path}`, { body: Buffer.alloc(200, i) });
      case 'post-retry':
        return call(port, 'POST', `/gateway/retry/http${path}`, { body: Buffer.alloc(200, i) });
    }
  }

  /** `total` requests from `concurrency` workers; outcomes by kind and status, and who answered. */
  async function load(total: number, concurrency: number) {
    const outcomes = new Map<string, number>();
    const servedBy = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const kind = KINDS[i % KINDS.length];
        const r = await send(kind, i);
        const key = `${kind} ${r.status}${r.code ? ` ${r.code}` : ''}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        if (r.status === 200) {
          assert.equal(r.json?.bytes, kind === 'put' ? 300 : kind.startsWith('post') ? 200 : 0, r.text);
          if (kind === 'get') servedBy.set(r.json!.name, (servedBy.get(r.json!.name) ?? 0) + 1);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { outcomes, servedBy };
  }

  it('loses no retriable request, fails the others cleanly, and leaks nothing', async () => {
    await load(300, 12);
    const baseline = await settle();

    let running = true;
    let kills = 0;
    const chaos = (async () => {
      for (let k = 0; running; k++) {
        const victim = nodes[k % nodes.length];
        await victim.kill();
        kills++;
        await sleep(15 + (k % 4) * 10);
        await victim.restart();
        await sleep(30);
      }
    })();
    const total = 1800;
    const { outcomes, servedBy } = await load(total, 12).finally(() => {
      running = false;
    });
    await chaos;

    const count = (prefix: string) =>
      [...outcomes].filter(([k]) => k.startsWith(prefix)).reduce((n, [, v]) => n + v, 0);
    const per = total / KINDS.length;
    for (const kind of ['get', 'put', 'delete', 'active', 'post-retry'] as const) {
      assert.equal(outcomes.get(`${kind} 200`), per, `${kind}: ${JSON.stringify([...outcomes])}`);
    }
    // A POST cut in flight is not repeated: it fails with a clean 502, never anything else.
    assert.equal(
      (outcomes.get('post 200') ?? 0) + (outcomes.get('post 502 POSTERN_ERR_UPSTREAM_UNAVAILABLE') ?? 0),
      per,
      JSON.stringify([...outcomes]),
    );
    assert.equal(count(''), total);
    // The run did exercise failover, and balancing reached every backend.
    assert.ok(kills >= 6, `only ${kills} kills during the run`);
    assert.ok(down.length > 0, 'no backend was ever seen down');
    for (const n of nodes) assert.ok((servedBy.get(n.name) ?? 0) > 0, `${n.name} served nothing`);

    for (let i = 0; i < 50 && nodes.some((n) => n.open > 0); i++) await sleep(20);
    assert.deepEqual(
      nodes.map((n) => n.open),
      [0, 0, 0],
      'every backend request finished',
    );
    const end = await settle(baseline.sockets);
    assert.ok(end.sockets - baseline.sockets <= 2, `sockets ${baseline.sockets} → ${end.sockets}`);
    assert.ok(end.total - baseline.total <= 2, `fds ${baseline.total} → ${end.total}`);
  });
});
