/**
 * TLS session resumption across nodes (`postern.tls.ticket.key.shared`, gateway/ticket-keys): two real `postern
 * start` processes with one home each (node A with two workers, node B one process) serving the same certificate,
 * reading their session ticket key from one real Redis with a 6 s rotation. A session made on either node
 * resumes on the other; at a new period both take the next key and neither reads a ticket of the period before;
 * with Redis stopped each node rotates a key of its own (and says so once), and once Redis is back they share one
 * again. Each check runs inside one period of Redis's clock (the nodes switch 0.1–1 s after a period ends) and is
 * run again when a period ended during it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { type Authority, makeAuthority } from '../helpers/pki.ts';
import { type PosternProcess, startPostern } from '../helpers/postern-process.ts';
import { type RedisFixture, startRedis } from '../helpers/redis.ts';
import { resumesSession, sessionTicket } from '../helpers/tls-session.ts';

const PERIOD_MS = 6000;
/** A check starts this long into a period: every node has switched (0.1–1 s after it began), with room for a late timer. */
const SETTLED_MS = 2000;
/** …and at least this long before the period ends (a check takes well under a second). */
const ROOM_MS = 1500;
const KEY = `postern:state:tls:ticket:${PERIOD_MS}`;

describe('TLS sessions across nodes sharing the ticket key through Redis', () => {
  let dir: string;
  let ca: Authority;
  let backend: Backend;
  let redis: RedisFixture;
  let client: Redis;
  const homes: TestHome[] = [];
  let a: PosternProcess;
  let b: PosternProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-tls-shared-'));
    ca = makeAuthority(dir, 'corp');
    backend = await startBackend((_req, res) => res.end('ok'));
    redis = await startRedis();
    client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    // Refused connections while the test has Redis stopped; the next command reconnects.
    client.on('error', () => {});
    // One certificate for both nodes, as behind a load balancer.
    const server = ca.issue({ name: 'server', cn: 'gateway', ips: ['127.0.0.1'] });
    const start = (workers: number) => {
      const home = makeHome({
        'postern.workers': workers,
        'ssl.enabled': true,
        'gateway.tls.certificate.path': server.certFile,
        'gateway.tls.key.path': server.keyFile,
        'postern.state.redis.url': redis.url,
        'postern.tls.ticket.key.shared': true,
        'postern.tls.ticket.key.rotation': `${PERIOD_MS}ms`,
        'postern.shutdown.grace': '2s',
      });
      home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
      homes.push(home);
      return startPostern(home.dir);
    };
    [a, b] = await Promise.all([start(2), start(1)]);
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    client?.disconnect();
    await redis?.close();
    await backend?.close();
    for (const h of homes) h.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Redis's clock, in ms (the nodes count their periods by it). */
  async function redisNow(): Promise<number> {
    if (client.status === 'wait') await client.connect();
    const [s, us] = await client.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  /**
   * Runs `check` inside one period: started at least SETTLED_MS after the period's start (every node has switched to
   * its key) and finished before it ended, else run again (at most four times).
   */
  async function inOnePeriod<T>(check: () => Promise<T>): Promise<T> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const now = await redisNow();
      const into = now % PERIOD_MS;
      const wait =
        into < SETTLED_MS
          ? SETTLED_MS - into
          : PERIOD_MS - into < ROOM_MS
            ? PERIOD_MS - into + SETTLED_MS
            : 0;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const period = Math.floor((await redisNow()) / PERIOD_MS);
      const result = await check();
      if (Math.floor((await redisNow()) / PERIOD_MS) === period) return result;
    }
    throw new Error('a period ended during each of four tries');
  }

  it('resumes a session made on one node on the other, both ways, and on both workers of node A', async () => {
    await inOnePeriod(async () => {
      const fromA = await sessionTicket(a.port, ca.cert);
      assert.equal(await resumesSession(b.port, ca.cert, fromA), true, "node B resumes node A's session");
      const fromB = await sessionTicket(b.port, ca.cert);
      // node:cluster hands each new connection to the next worker: three connections reach both.
      for (let i = 0; i < 3; i++) {
        assert.equal(await resumesSession(a.port, ca.cert, fromB), true, "node A resumes node B's session");
      }
    });
    // The period's key, as the nodes keep it: made once, expiring when the period ends.
    const [value, ttl] = await Promise.all([client.get(KEY), client.pttl(KEY)]);
    assert.match(value ?? '', /^\d+:[A-Za-z0-9+/]{64}$/);
    assert.equal(Buffer.from(value!.split(':')[1]!, 'base64').length, 48);
    assert.ok(ttl > 0 && ttl <= PERIOD_MS, `PTTL ${ttl}`);
  });

  it('takes the next key on every node at a new period: a ticket of the period before is read by neither', async () => {
    const { ticket, period } = await inOnePeriod(async () => ({
      ticket: await sessionTicket(a.port, ca.cert),
      period: Math.floor((await redisNow()) / PERIOD_MS),
      stored: await client.get(KEY),
    }));
    // Into the next period (or a later one), past the nodes' switch.
    while (Math.floor((await redisNow()) / PERIOD_MS) === period)
      await new Promise((r) => setTimeout(r, 200));
    await inOnePeriod(async () => {
      assert.equal(
        await resumesSession(a.port, ca.cert, ticket),
        false,
        'node A reads a ticket of a period before',
      );
      assert.equal(
        await resumesSession(b.port, ca.cert, ticket),
        false,
        'node B reads a ticket of a period before',
      );
      const fresh = await sessionTicket(b.port, ca.cert);
      assert.equal(await resumesSession(a.port, ca.cert, fresh), true);
      const [epoch] = (await client.get(KEY))!.split(':');
      assert.ok(Number(epoch) > period, `Redis holds period ${epoch}'s key, after ${period}`);
    });
  });

  it('rotates a key of its own on each node while Redis is down, and shares one again when it is back', async () => {
    const warning = 'the shared TLS session ticket key cannot be read from Redis';
    await redis.stop();
    // Each node finds out at its next period (within 7 s) and then uses a key of its own.
    const deadline = Date.now() + 20_000;
    while (!a.output().includes(warning) || !b.output().includes(warning)) {
      if (Date.now() > deadline) throw new Error(`no warning on both nodes:\n${a.output()}\n${b.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // TLS goes on, and a node resumes its own sessions; each node has its own key now, so not the other's.
    let own = false;
    for (let i = 0; i < 4 && !own; i++) {
      own = await resumesSession(b.port, ca.cert, await sessionTicket(b.port, ca.cert));
    }
    assert.equal(own, true, 'node B resumes its own session while Redis is down');
    assert.equal(await resumesSession(a.port, ca.cert, await sessionTicket(b.port, ca.cert)), false);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(a.output().split(warning).length - 1, 1, 'node A says it once');
    assert.equal(b.output().split(warning).length - 1, 1, 'node B says it once');

    await redis.start();
    // Each node asks again within 5 s; from then on a session resumes on the other node again.
    const until = Date.now() + 20_000;
    for (;;) {
      const shared = await inOnePeriod(
        async () =>
          (await resumesSession(b.port, ca.cert, await sessionTicket(a.port, ca.cert))) &&
          (await resumesSession(a.port, ca.cert, await sessionTicket(b.port, ca.cert))),
      );
      if (shared) break;
      if (Date.now() > until)
        throw new Error('the nodes did not share a key again within 20 s of Redis coming back');
      await new Promise((r) => setTimeout(r, 500));
    }
  });
});
