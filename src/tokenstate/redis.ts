/**
 * @module tokenstate/redis
 * postern's shared token state in Redis (`gateway.service.tokenstate.impl=redis`,
 * `postern.token.state.redis.url`), for nodes that share a Redis rather than a database. Knox's two tables as
 * keys under `knox:tokens:`:
 * - `knox:tokens:t:{id}`: a hash, `issue_time`, `expiration`, `max_lifetime` and `md:{name}` per metadata entry;
 * - `knox:tokens:all`: a sorted set of every id, scored by expiration (+inf for none), which eviction ranges over;
 * - `knox:tokens:md:{name}:{value}`: the ids with that metadata (`userName`, `createdBy`), for the listings.
 * Multi-key changes run in MULTI/EXEC. Commands fail at once while Redis is unreachable (no offline queue), so a
 * token check fails closed instead of waiting.
 */
import type { Redis } from 'ioredis';
import { lazyRequire } from '../lazy-require.ts';
import type { TokenRecord } from '../spi/index.ts';
import { byIssueTime, type TokenStore } from './store.ts';

const ioredis = lazyRequire<typeof import('ioredis')>('ioredis');

const P = 'knox:tokens:';
const INDEXED = new Set(['userName', 'createdBy']);
const tokenKey = (id: string) => `${P}t:${id}`;
const mdKey = (name: string, value: string) => `${P}md:${name}:${value}`;
const score = (expiration: number) => (expiration > 0 ? String(expiration) : '+inf');

function parse(id: string, h: Record<string, string>): TokenRecord | undefined {
  if (h.issue_time === undefined) return undefined;
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k.startsWith('md:')) metadata[k.slice(3)] = v;
  return {
    tokenId: id,
    issueTime: Number(h.issue_time),
    expiration: Number(h.expiration),
    maxLifetime: Number(h.max_lifetime),
    metadata,
  };
}

export class RedisTokenStore implements TokenStore {
  readonly backend = 'RedisTokenStateService';
  readonly persistent = true;
  readonly #redis: Redis;

  constructor(url: string, password: string | undefined, onError: (err: Error) => void) {
    this.#redis = new (ioredis().Redis)(url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      commandTimeout: 5000,
      retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      ...(password !== undefined ? { password } : {}),
    });
    this.#redis.on('error', onError);
  }

  /** Resolves once connected (or rejects after `ms`): the first command must not fail for a slow connect. */
  async #connected(ms = 5000): Promise<void> {
    const r = this.#redis;
    if (r.status === 'ready') return;
    if (r.status !== 'connecting' && r.status !== 'connect' && r.status !== 'wait') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        r.off('ready', done);
        r.off('end', done);
        resolve();
      }
      r.once('ready', done);
      r.once('end', done);
    });
  }

  async add(rec: TokenRecord): Promise<void> {
    await this.#connected();
    const m = this.#redis.multi();
    const fields: Record<string, string> = {
      issue_time: String(rec.issueTime),
      expiration: String(rec.expiration),
      max_lifetime: String(rec.maxLifetime),
    };
    for (const [k, v] of Object.entries(rec.metadata)) {
      fields[`md:${k}`] = v;
      if (INDEXED.has(k)) m.sadd(mdKey(k, v), rec.tokenId);
    }
    m.hset(tokenKey(rec.tokenId), fields);
    m.zadd(`${P}all`, score(rec.expiration), rec.tokenId);
    await m.exec();
  }

  async get(tokenId: string): Promise<TokenRecord | undefined> {
    await this.#connected();
    return parse(tokenId, await this.#redis.hgetall(tokenKey(tokenId)));
  }

  async setExpiration(tokenId: string, expiration: number): Promise<boolean> {
    await this.#connected();
    // Only an existing token: XX on the sorted set, and the hash field written after checking it exists.
    const key = tokenKey(tokenId);
    if ((await this.#redis.exists(key)) === 0) return false;
    await this.#redis
      .multi()
      .hset(key, 'expiration', String(expiration))
      .zadd(`${P}all`, 'XX', score(expiration), tokenId)
      .exec();
    return true;
  }

  async setMetadata(tokenId: string, entries: Readonly<Record<string, string>>): Promise<boolean> {
    await this.#connected();
    const current = await this.get(tokenId);
    if (!current) return false;
    const m = this.#redis.multi();
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(entries)) {
      fields[`md:${k}`] = v;
      if (INDEXED.has(k)) {
        const old = current.metadata[k];
        if (old !== undefined && old !== v) m.srem(mdKey(k, old), tokenId);
        m.sadd(mdKey(k, v), tokenId);
      }
    }
    m.hset(tokenKey(tokenId), fields);
    await m.exec();
    return true;
  }

  async #removeAll(records: readonly TokenRecord[]): Promise<void> {
    if (records.length === 0) return;
    const m = this.#redis.multi();
    for (const rec of records) {
      m.del(tokenKey(rec.tokenId));
      m.zrem(`${P}all`, rec.tokenId);
      for (const k of INDEXED) {
        const v = rec.metadata[k];
        if (v !== undefined) m.srem(mdKey(k, v), rec.tokenId);
      }
    }
    await m.exec();
  }

  async remove(tokenId: string): Promise<boolean> {
    const rec = await this.get(tokenId);
    if (!rec) return false;
    await this.#removeAll([rec]);
    return true;
  }

  async #records(ids: readonly string[]): Promise<TokenRecord[]> {
    if (ids.length === 0) return [];
    const p = this.#redis.pipeline();
    for (const id of ids) p.hgetall(tokenKey(id));
    const results = (await p.exec()) ?? [];
    const out: TokenRecord[] = [];
    results.forEach(([err, h], i) => {
      if (err) throw err;
      const rec = parse(ids[i], h as Record<string, string>);
      if (rec) out.push(rec);
    });
    return out.sort(byIssueTime);
  }

  async list(filter?: { name: string; value: string }): Promise<TokenRecord[]> {
    await this.#connected();
    let ids: string[];
    if (!filter) ids = await this.#redis.zrange(`${P}all`, '0', '-1');
    else if (INDEXED.has(filter.name)) ids = await this.#redis.smembers(mdKey(filter.name, filter.value));
    else {
      const all = await this.#records(await this.#redis.zrange(`${P}all`, '0', '-1'));
      return all.filter((r) => r.metadata[filter.name] === filter.value);
    }
    return this.#records(ids);
  }

  async removeExpired(before: number): Promise<string[]> {
    await this.#connected();
    // Scores are expirations; tokens without one are +inf and never in range.
    const ids = await this.#redis.zrangebyscore(`${P}all`, '(0', `(${before}`);
    const records = await this.#records(ids);
    await this.#removeAll(records);
    return records.map((r) => r.tokenId);
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
