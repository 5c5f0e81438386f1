/**
 * HA dispatch (HaProvider) end to end: real backends killed and restarted under a real gateway. The active URL
 * and its move to the back on failure, idempotent and non-idempotent failover (connect errors, requests cut in
 * flight, `failoverNonIdempotentRequestEnabled`), the replay buffer, sticky sessions with `noFallback`, the
 * User-Agent exemption from load balancing, passive cool-down and active health checks with their events on
 * `postern:backend-health`, redirects from a second URL, and WebSocket upgrades failing over at connect time.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { backendHealth } from '../../src/dispatch/ha/service.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import type { BackendHealthEvent } from '../../src/observability/events.ts';
import { closedPort } from '../helpers/backend.ts';
import { call, type Node, startNode } from '../helpers/cluster.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A topology of one HTTP service over `urls` with the HaProvider value `ha` (and service params). */
function haTopology(urls: string[], ha: string, params: Record<string, string> = {}): string {
  return topologyXml({
    providers: [
      { role: 'authentication', name: 'Anonymous' },
      { role: 'identity-assertion', name: 'Default' },
      { role: 'ha', name: 'HaProvider', params: { HTTP: ha } },
    ],
    services: [{ role: 'HTTP', urls, params }],
  });
}

describe('HA dispatch', () => {
  let home: TestHome;
  let gateway: Gateway;
  let a: Node;
  let b: Node;
  let c: Node;
  let dead: string;
  const events: BackendHealthEvent[] = [];
  const onEvent = (e: unknown) => events.push(e as BackendHealthEvent);

  const get = (topology: string, path = '/x', headers?: Record<string, string>) =>
    call(gateway.port, 'GET', `/gateway/${topology}/http${path}`, { headers });
  const names = async (topology: string, n: number, headers?: Record<string, string>) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await get(topology, `/n${i}`, headers);
      assert.equal(r.status, 200, r.text);
      out.push(r.json!.name);
    }
    return out;
  };
  const eventsFor = (topology: string, url: string, since = 0) =>
    events
      .slice(since)
      .filter((e) => e.topology === topology && e.url === url)
      .map((e) => `${e.state}:${e.source}`);
  async function eventually(what: string, check: () => boolean): Promise<void> {
    for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(check(), what);
  }

  before(async () => {
    diagnostics_channel.subscribe('postern:backend-health', onEvent);
    [a, b, c] = await Promise.all([startNode('A'), startNode('B'), startNode('C')]);
    dead = `http://127.0.0.1:${await closedPort()}`;
    home = makeHome({ 'gateway.websocket.feature.enabled': true });
    const plain = 'enabled=true;failoverSleep=0;failureCooldown=0';
    const balanced = 'enableLoadBalancing=true;failoverSleep=0;failureCooldown=0';
    const topologies: Record<string, string> = {
      failover: haTopology([a.url, b.url], plain),
      post: haTopology([a.url, b.url], plain),
      'post-refused': haTopology([dead, b.url], plain),
      'post-retry': haTopology([a.url, b.url], `${plain};failoverNonIdempotentRequestEnabled=true`),
      'post-retry-big': haTopology([a.url, b.url], `${plain};failoverNonIdempotentRequestEnabled=true`, {
        replayBufferSize: '1',
      }),
      'replay-small': haTopology([dead, b.url], plain, { replayBufferSize: '1' }),
      'replay-big': haTopology([dead, b.url], plain, { replayBufferSize: '1' }),
      'replay-chunked-small': haTopology([dead, b.url], plain, { replayBufferSize: '1' }),
      'replay-chunked-big': haTopology([dead, b.url], plain, { replayBufferSize: '1' }),
      exhausted: haTopology(
        [dead, dead.replace(/\d+$/, String(await closedPort()))],
        `${plain};maxFailoverAttempts=2`,
      ),
      none: haTopology([a.url, b.url], 'enabled=false'),
      balanced: haTopology([a.url, b.url, c.url], balanced),
      sticky: haTopology([a.url, b.url, c.url], `${balanced};enableStickySession=true`),
      named: haTopology([a.url, b.url], `${balanced};enableStickySession=true;stickySessionCookieName=ROUTE`),
      nofallback: haTopology([a.url, b.url], `${balanced};enableStickySession=true;noFallback=true`),
      cooldown: haTopology([a.url, b.url], 'enableLoadBalancing=true;failoverSleep=0;failureCooldown=60000'),
      checked: haTopology(
        [a.url, b.url],
        `${balanced};healthCheckPath=/health;healthCheckInterval=40;healthCheckTimeout=1000`,
      ),
      based: haTopology([`${dead}/one`, `${b.url}/two`], plain),
      ws: haTopology([a.url, b.url], plain),
    };
    for (const [name, xml] of Object.entries(topologies)) home.write(`conf/topologies/${name}.xml`, xml);
    gateway = await startGateway(home);
  });

  after(async () => {
    diagnostics_channel.unsubscribe('postern:backend-health', onEvent);
    await gateway?.close();
    await Promise.all([a, b, c].map((n) => n?.restart().then(() => n.kill())));
    home?.remove();
  });

  it('sends to the first URL until it fails, then to the next; the failed one goes to the back', async () => {
    assert.deepEqual(await names('failover', 3), ['A', 'A', 'A']);
    await a.kill();
    assert.deepEqual(await names('failover', 3), ['B', 'B', 'B']);
    assert.deepEqual(eventsFor('failover', a.url), ['down:request']);
    // Restarted, A does not take the traffic back: it is at the end of the list now.
    await a.restart();
    assert.deepEqual(await names('failover', 3), ['B', 'B', 'B']);
    await b.kill();
    assert.deepEqual(await names('failover', 3), ['A', 'A', 'A']);
    assert.deepEqual(eventsFor('failover', a.url), ['down:request', 'up:request']);
    assert.deepEqual(eventsFor('failover', b.url), ['down:request']);
    await b.restart();
  });

  it('without HA for the role, only the first URL is used and a dead one is a 502', async () => {
    await a.kill();
    const r = await get('none');
    assert.equal(r.status, 502);
    assert.equal(r.code, 'POSTERN_ERR_UPSTREAM_UNAVAILABLE');
    await a.restart();
    assert.deepEqual(await names('none', 2), ['A', 'A']);
  });

  it('gives up after maxFailoverAttempts with a 502 that names no backend', async () => {
    const r = await get('exhausted');
    assert.equal(r.status, 502);
    assert.equal(r.code, 'POSTERN_ERR_UPSTREAM_UNAVAILABLE');
    assert.doesNotMatch(r.text, /127\.0\.0\.1/);
  });

  it('moves the target to the chosen URL, base path included, and its redirects back through the rules', async () => {
    const r = await get('based', '/p/q?x=1');
    assert.equal(r.status, 200);
    assert.equal(r.json!.name, 'B');
    assert.match(r.json!.url, /^\/two\/p\/q\?x=1/);
    // B's absolute Location is on B's URL; the outbound rules know the first URL: it is moved there first.
    const moved = await get('based', '/redirect?y=2');
    assert.equal(moved.status, 302);
    assert.match(
      moved.headers.location ?? '',
      new RegExp(`^http://127\\.0\\.0\\.1:${gateway.port}/gateway/based/http/elsewhere\\?y=2`),
    );
  });

  it('does not fail over a POST cut in flight (502); the next backend never sees it', async () => {
    const before = b.received.length;
    const answer = call(gateway.port, 'POST', '/gateway/post/http/hold-post', { body: Buffer.alloc(100, 1) });
    await a.arrival('/hold-post');
    await a.kill();
    const r = await answer;
    assert.equal(r.status, 502);
    assert.equal(r.code, 'POSTERN_ERR_UPSTREAM_UNAVAILABLE');
    assert.equal(b.received.slice(before).filter((x) => x.url.startsWith('/hold-post')).length, 0);
    await a.restart();
  });

  it('fails a POST over after a connect error: the backend never saw it', async () => {
    const r = await call(gateway.port, 'POST', '/gateway/post-refused/http/p', {
      body: Buffer.alloc(100, 1),
    });
    assert.equal(r.status, 200);
    assert.deepEqual([r.json!.name, r.json!.method, r.json!.bytes], ['B', 'POST', 100]);
  });

  it('with failoverNonIdempotentRequestEnabled, replays a POST cut in flight on the next URL', async () => {
    const answer = call(gateway.port, 'POST', '/gateway/post-retry/http/hold-retry', {
      body: Buffer.alloc(700, 2),
    });
    await a.arrival('/hold-retry');
    await a.kill();
    // B holds it too (the same path), so the replay is seen there with its whole body; then B lets go.
    const replayed = await b.arrival('/hold-retry');
    assert.equal(replayed.method, 'POST');
    assert.equal(replayed.bytes, 700);
    await b.kill();
    assert.equal((await answer).status, 502);
    await Promise.all([a.restart(), b.restart()]);
  });

  it('does not replay a body over replayBufferSize, even when enabled', async () => {
    const before = b.received.length;
    const answer = call(gateway.port, 'POST', '/gateway/post-retry-big/http/hold-big', {
      body: Buffer.alloc(4096, 3),
    });
    const first = await a.arrival('/hold-big');
    assert.equal(first.bytes, 4096);
    await a.kill();
    const r = await answer;
    assert.equal(r.status, 502);
    assert.equal(b.received.slice(before).filter((x) => x.url.startsWith('/hold-big')).length, 0);
    await a.restart();
  });

  for (const chunked of [false, true]) {
    const kind = chunked ? 'chunked ' : '';
    it(`replays a ${kind}PUT body within replayBufferSize on the next URL`, async () => {
      const body = Buffer.alloc(1000, 4);
      const topology = chunked ? 'replay-chunked-small' : 'replay-small';
      const r = await call(gateway.port, 'PUT', `/gateway/${topology}/http/small`, { body, chunked });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual([r.json!.name, r.json!.bytes], ['B', 1000]);
      assert.deepEqual(eventsFor(topology, dead), ['down:request']);
    });

    it(`does not fail over a ${kind}PUT body over replayBufferSize`, async () => {
      const before = b.received.length;
      const topology = chunked ? 'replay-chunked-big' : 'replay-big';
      const r = await call(gateway.port, 'PUT', `/gateway/${topology}/http/big`, {
        body: Buffer.alloc(5000, 5),
        chunked,
      });
      assert.equal(r.status, 502);
      assert.equal(b.received.slice(before).filter((x) => x.url.startsWith('/big')).length, 0);
      // The URL still failed and went to the back: the next request goes to B.
      const next = await call(gateway.port, 'PUT', `/gateway/${topology}/http/big`, {
        body: Buffer.alloc(5000, 5),
        chunked,
      });
      assert.deepEqual([next.status, next.json?.bytes], [200, 5000]);
    });
  }

  it('load balancing spreads requests round-robin over the URLs', async () => {
    const seen = await names('balanced', 9);
    assert.deepEqual(
      ['A', 'B', 'C'].map((n) => seen.filter((s) => s === n).length),
      [3, 3, 3],
    );
  });

  it('a User-Agent on disableLoadBalancingForUserAgents is not balanced and gets no sticky cookie', async () => {
    const ua = { 'user-agent': 'Foo ClouderaODBCDriverforApacheHive/2.6' };
    const seen = await names('sticky', 4, ua);
    assert.equal(new Set(seen).size, 1, seen.join());
    const r = await get('sticky', '/ua', ua);
    assert.equal(r.headers['set-cookie'], undefined);
  });

  it('sticky sessions: the cookie is set, honoured, kept from the backend, and moved when its URL dies', async () => {
    const first = await get('sticky', '/s');
    const cookie = first.headers['set-cookie']?.[0] ?? '';
    const name = first.json!.name;
    const node = { A: a, B: b, C: c }[name]!;
    assert.equal(cookie, `KNOX_BACKEND-HTTP=${sha256(node.url)}; Path=/gateway/sticky; HttpOnly`);
    const pair = cookie.split(';')[0];
    const headers = { cookie: `other=1; ${pair}` };
    const again = await names('sticky', 6, headers);
    assert.deepEqual(again, Array(6).fill(name));
    // The client's own cookies reach the backend; the gateway's does not.
    const last = node.received.filter((r) => r.url.startsWith('/n')).at(-1)!;
    assert.equal(last.headers.cookie, 'other=1');
    // Honoured requests get no new cookie.
    assert.equal((await get('sticky', '/s2', headers)).headers['set-cookie'], undefined);

    await node.kill();
    const moved = await get('sticky', '/s3', headers);
    assert.equal(moved.status, 200);
    assert.notEqual(moved.json!.name, name);
    const other = { A: a, B: b, C: c }[moved.json!.name]!;
    assert.equal(moved.headers['set-cookie']?.[0].split(';')[0], `KNOX_BACKEND-HTTP=${sha256(other.url)}`);
    await node.restart();
  });

  it('stickySessionCookieName names the cookie (with -ROLE appended)', async () => {
    const r = await get('named', '/n');
    assert.match(
      r.headers['set-cookie']?.[0] ?? '',
      /^ROUTE-HTTP=[0-9a-f]{64}; Path=\/gateway\/named; HttpOnly$/,
    );
  });

  it('noFallback: a request pinned to a dead URL gets 502; one without the cookie is served', async () => {
    const first = await get('nofallback', '/f');
    const pair = first.headers['set-cookie']![0].split(';')[0];
    const node = first.json!.name === 'A' ? a : b;
    await node.kill();
    for (let i = 0; i < 2; i++) {
      const r = await get('nofallback', '/f', { cookie: pair });
      assert.equal(r.status, 502);
      assert.equal(r.code, 'POSTERN_ERR_UPSTREAM_UNAVAILABLE');
    }
    const free = await get('nofallback', '/g');
    assert.equal(free.status, 200);
    assert.notEqual(free.json!.name, node.name);
    await node.restart();
  });

  it('passive health: a URL that failed is skipped for failureCooldown while another is up', async () => {
    await a.kill();
    // Round-robin reaches A within two requests; it fails over to B.
    assert.deepEqual(await names('cooldown', 2), ['B', 'B']);
    assert.deepEqual(eventsFor('cooldown', a.url), ['down:request']);
    await a.restart();
    // Up again, but inside its cool-down: balancing passes it over.
    assert.deepEqual(await names('cooldown', 6), Array(6).fill('B'));
    assert.deepEqual(
      backendHealth()
        .filter((h) => h.topology === 'cooldown')
        .map((h) => `${h.url === a.url ? 'A' : 'B'}:${h.state}`),
      ['A:down', 'B:up'],
    );
  });

  it('active health check: a failing URL is marked down without a request, and comes back up', async () => {
    // Other tests killed A and B while the check ran: wait until it has seen both up again.
    const checked = () => backendHealth().filter((h) => h.topology === 'checked');
    await eventually('both checked up', () => checked().every((h) => h.state === 'up'));
    const since = events.length;
    b.sick = true;
    await eventually('B down by the check', () => eventsFor('checked', b.url, since).includes('down:check'));
    const down = events.slice(since).find((e) => e.topology === 'checked' && e.url === b.url)!;
    assert.deepEqual([down.service, down.source, down.reason], ['HTTP', 'check', 'status 503']);
    assert.deepEqual(await names('checked', 4), ['A', 'A', 'A', 'A']);
    b.sick = false;
    await eventually('B up again', () => eventsFor('checked', b.url).at(-1) === 'up:check');
    const seen = await names('checked', 4);
    assert.ok(seen.includes('B'), seen.join());
    // A backend that is gone is found by the check as well.
    await b.kill();
    await eventually('B down (refused)', () => eventsFor('checked', b.url).at(-1) === 'down:check');
    // Refused, or cut if the kill caught a check in flight.
    const gone = events.filter((e) => e.topology === 'checked' && e.url === b.url).at(-1)!;
    assert.match(gone.reason ?? '', /^(ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET)$/);
    await b.restart();
    await eventually('B up after restart', () => eventsFor('checked', b.url).at(-1) === 'up:check');
  });

  it('a WebSocket upgrade fails over to the next URL at connect time', async () => {
    await a.kill();
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/gateway/ws/http/socket`);
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (d) => resolve(String(d)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_q, res) => reject(new Error(`refused ${res.statusCode}`)));
    });
    assert.equal(first, 'hello from B');
    ws.send('ping');
    assert.equal(
      await new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d)))),
      'ping',
    );
    ws.close();
    assert.deepEqual(eventsFor('ws', a.url), ['down:request']);
    await a.restart();
    // With every URL down, the upgrade is a clean 502, not a 101 and a close.
    await Promise.all([a.kill(), b.kill()]);
    const status = await new Promise<number>((resolve, reject) => {
      const w = new WebSocket(`ws://127.0.0.1:${gateway.port}/gateway/ws/http/socket`);
      w.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      w.once('open', () => reject(new Error('opened')));
      w.once('error', reject);
    });
    assert.equal(status, 502);
    await Promise.all([a.restart(), b.restart()]);
  });
});
