/**
 * The redis channel layer on two in-process gateways and a real redis-server: a node holds a sharded
 * subscription exactly for the groups it has subscribers for (PUBSUB SHARDNUMSUB), messages cross once and in
 * order, and while Redis is down local subscribers still get their events and what could not reach the other
 * node is counted as dropped, not queued; after Redis comes back the nodes subscribe again by themselves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { channelNodeFor } from '../../../src/services/channels/nodes.ts';
import { REDIS_PREFIX } from '../../../src/services/channels/redis-layer.ts';
import { makeHome, startGateway, type TestHome } from '../../helpers/home.ts';
import { type RedisFixture, startRedis } from '../../helpers/redis.ts';
import { basic, Client, channelsTopology, PUBLISHERS, publish, until, writeUsers, wsUrl } from './fixture.ts';

describe('CHANNELS redis layer', () => {
  let redis: RedisFixture;
  let probe: Redis;
  const homes: TestHome[] = [];
  const gateways: Gateway[] = [];
  const clients: Client[] = [];

  before(async () => {
    redis = await startRedis();
    probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    probe.on('error', () => {});
    for (let i = 0; i < 2; i++) {
      const h = makeHome({
        'gateway.websocket.feature.enabled': true,
        'gateway.channels.layer': 'redis',
        'gateway.channels.redis.url': redis.url,
        'gateway.channels.broadcast.reconnect.min': '50',
        'gateway.channels.broadcast.reconnect.max': '300',
      });
      await writeUsers(h);
      h.write('conf/topologies/awx.xml', channelsTopology(PUBLISHERS));
      homes.push(h);
      gateways.push(await startGateway(h));
    }
  });

  after(async () => {
    for (const c of clients) c.ws.terminate();
    for (const g of gateways) await g.close();
    probe?.disconnect();
    await redis?.close();
    for (const h of homes) h.remove();
  });

  const connect = async (g: Gateway) => {
    const c = await Client.open(wsUrl(g.url, 'awx'), { authorization: basic('bob') });
    clients.push(c);
    await c.next();
    return c;
  };
  const shardSubscribers = async (key: string): Promise<number> => {
    if (probe.status !== 'ready') await probe.connect().catch(() => {});
    const reply = (await probe.call('PUBSUB', 'SHARDNUMSUB', REDIS_PREFIX + key)) as [string, number];
    return Number(reply[1]);
  };
  const connected = (g: Gateway) =>
    /postern_channels_redis_connected 1/.test(channelNodeFor(g.settings).metricsText());

  it('subscribes a node to exactly the groups it has subscribers for', async () => {
    const [a, b] = gateways;
    await until(() => connected(a) && connected(b), 10_000, 'both nodes on Redis');
    const ca = await connect(a);
    const cb = await connect(b);
    await ca.subscribe({ misc: ['both', 'only_a'] });
    await cb.subscribe({ misc: ['both'] });
    await until(async () => (await shardSubscribers('awx/misc-both')) === 2, 5000, 'two shard subscribers');
    assert.equal(await shardSubscribers('awx/misc-only_a'), 1);
    assert.equal(await shardSubscribers('awx/misc-nobody'), 0);

    const batch = Array.from({ length: 50 }, (_, i) => ({ group: 'misc-both', message: { i } }));
    assert.equal((await publish(b.url, 'awx', batch)).status, 202);
    for (const c of [ca, cb]) for (let i = 0; i < 50; i++) assert.equal((await c.next()).i, i);

    await cb.subscribe({});
    await until(async () => (await shardSubscribers('awx/misc-both')) === 1, 5000, 'b unsubscribed');
    await ca.close();
    await until(async () => (await shardSubscribers('awx/misc-only_a')) === 0, 5000, 'a unsubscribed');
  });

  it('while Redis is down, local subscribers still get events and the rest is counted as dropped; then it recovers', async () => {
    const [a, b] = gateways;
    const ca = await connect(a);
    const cb = await connect(b);
    await ca.subscribe({ misc: ['down'] });
    await cb.subscribe({ misc: ['down'] });
    await until(async () => (await shardSubscribers('awx/misc-down')) === 2, 5000, 'both subscribed');
    await redis.stop();
    await until(() => !connected(a), 10_000, 'a to notice');
    const drops = () =>
      Number(/postern_channels_redis_drops_total (\d+)/.exec(channelNodeFor(a.settings).metricsText())![1]);
    const before = drops();
    assert.equal((await publish(a.url, 'awx', { group: 'misc-down', message: { n: 'local' } })).status, 202);
    assert.deepEqual(await ca.next(), { n: 'local', group_name: 'misc' });
    assert.equal(drops(), before + 1);

    await redis.start();
    await until(() => connected(a) && connected(b), 15_000, 'both back on Redis');
    await until(async () => (await shardSubscribers('awx/misc-down')) === 2, 10_000, 'resubscribed');
    await publish(a.url, 'awx', { group: 'misc-down', message: { n: 'after' } });
    // b never got the event published while Redis was down: the next one it sees is this.
    assert.deepEqual(await cb.next(), { n: 'after', group_name: 'misc' });
    assert.deepEqual(await ca.next(), { n: 'after', group_name: 'misc' });
  });
});
