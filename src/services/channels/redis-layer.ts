/**
 * @module services/channels/redis-layer
 * The `redis` channel layer, for clusters too large for a mesh: every node talks to one Redis
 * (`gateway.channels.redis.url`, Redis 7 or later) with sharded pub/sub.
 *
 * - A group is the shard channel `postern:channels:<key>`. A node `SSUBSCRIBE`s to it when the group gains its
 *   first subscriber there and `SUNSUBSCRIBE`s when it loses its last, so Redis only sends a node the groups it
 *   has subscribers for (and, on a Redis Cluster, each channel lives on one shard).
 * - A message published on a node is delivered to its own subscribers at once and `SPUBLISH`ed as
 *   `<node id>|<event json>`; a node ignores its own messages when Redis echoes them.
 * - Two connections per node (publishing, subscribed). ioredis reconnects with the layer's backoff and
 *   subscribes again to every channel after a reconnect. While Redis is unreachable, publishing drops messages
 *   for the other nodes (counted and logged once per outage, local subscribers still get them); nothing queues
 *   without bound.
 */
import type { Redis } from 'ioredis';
import { lazyRequire } from '../../lazy-require.ts';
import { type ChannelEvent, channelEvents } from '../../observability/events.ts';
import type { MetricFamily } from '../../spi/index.ts';
import { isValidKey, metricGroup } from './groups.ts';
import type { ChannelNode, Layer } from './node.ts';

const ioredis = lazyRequire<typeof import('ioredis')>('ioredis');

export const REDIS_PREFIX = 'postern:channels:';

export class RedisLayer implements Layer {
  readonly kind = 'redis';
  readonly #node: ChannelNode;
  readonly #pub: Redis;
  readonly #sub: Redis;
  #published = 0;
  #received = 0;
  #drops = 0;
  #reconnects = 0;
  #dropping = false;
  #closed = false;

  constructor(node: ChannelNode) {
    this.#node = node;
    const url = node.settings.redisUrl;
    if (!url) throw new Error('gateway.channels.redis.url is not set');
    const { reconnectMinMs, reconnectMaxMs } = node.settings;
    const options = {
      lazyConnect: true,
      connectionName: `postern-${node.id}`,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => {
        const ceiling = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(times - 1, 30));
        return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
      },
    };
    // Publishing fails at once while Redis is away (no offline queue that would grow without bound); the
    // subscribing connection queues its few (un)subscribe commands until it is back.
    this.#pub = new (ioredis().Redis)(url, { ...options, enableOfflineQueue: false });
    this.#sub = new (ioredis().Redis)(url, {
      ...options,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
    });
    for (const [name, client] of [
      ['publish', this.#pub],
      ['subscribe', this.#sub],
    ] as const) {
      client.on('error', (err: Error) =>
        node.log?.debug({ err: err.message, connection: name }, 'redis error'),
      );
      client.on('reconnecting', () => {
        this.#reconnects++;
      });
      client.on('ready', () => node.log?.info({ connection: name }, 'redis channel layer connected'));
      client.on('end', () => {
        if (!this.#closed) node.log?.warn({ connection: name }, 'redis connection ended');
      });
    }
    this.#sub.on('smessage', (channel: string, message: string) => this.#onMessage(channel, message));
  }

  start(): void {
    for (const client of [this.#pub, this.#sub]) {
      client.connect().catch((err: Error) => {
        this.#node.log?.warn({ err: err.message }, 'redis channel layer not reachable yet; retrying');
      });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([this.#pub.quit(), this.#sub.quit()]);
    this.#pub.disconnect();
    this.#sub.disconnect();
  }

  added(key: string): void {
    this.#sub.ssubscribe(REDIS_PREFIX + key).catch((err: Error) => {
      this.#node.log?.warn({ key, err: err.message }, 'redis SSUBSCRIBE failed');
    });
  }

  removed(key: string): void {
    this.#sub.sunsubscribe(REDIS_PREFIX + key).catch(() => {});
  }

  forward(key: string, text: string): void {
    if (this.#pub.status !== 'ready') {
      this.#drop(key, 'redis is not connected');
      return;
    }
    this.#published++;
    this.#pub.spublish(REDIS_PREFIX + key, `${this.#node.id}|${text}`).then(
      () => {
        this.#dropping = false;
      },
      (err: Error) => this.#drop(key, err.message),
    );
  }

  #drop(key: string, reason: string): void {
    this.#drops++;
    if (!this.#dropping) {
      this.#dropping = true;
      this.#node.log?.warn({ reason }, 'redis channel layer is down; messages for other nodes are dropped');
    }
    if (channelEvents.hasSubscribers)
      channelEvents.publish({ event: 'dropped', group: metricGroup(key), count: 1 } satisfies ChannelEvent);
  }

  #onMessage(channel: string, message: string): void {
    if (!channel.startsWith(REDIS_PREFIX)) return;
    const bar = message.indexOf('|');
    if (bar < 0 || message.slice(0, bar) === this.#node.id) return;
    const key = channel.slice(REDIS_PREFIX.length);
    const text = message.slice(bar + 1);
    if (!isValidKey(key) || !text.startsWith('{') || !text.endsWith('}')) return;
    this.#received++;
    this.#node.receive(key, text);
  }

  get connected(): boolean {
    return this.#pub.status === 'ready' && this.#sub.status === 'ready';
  }

  metrics(out: MetricFamily[]): void {
    // Each worker (and node) has its own Redis connections: its families stay its own.
    const one = (name: string, type: 'gauge' | 'counter', help: string, value: number) =>
      out.push({ name, help, type, perWorker: true, values: [{ labels: {}, value }] });
    one(
      'postern_channels_redis_connected',
      'gauge',
      'Both Redis connections are ready.',
      this.connected ? 1 : 0,
    );
    one(
      'postern_channels_redis_messages_out_total',
      'counter',
      'Messages published to Redis.',
      this.#published,
    );
    one(
      'postern_channels_redis_messages_in_total',
      'counter',
      'Messages of other nodes received from Redis.',
      this.#received,
    );
    one(
      'postern_channels_redis_drops_total',
      'counter',
      'Messages not published because Redis was unreachable.',
      this.#drops,
    );
    one('postern_channels_redis_reconnects_total', 'counter', 'Reconnections to Redis.', this.#reconnects);
  }
}
