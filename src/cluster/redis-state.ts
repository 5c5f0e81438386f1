/**
 * @module cluster/redis-state
 * The state several gateway nodes share through one Redis (`postern.state.redis.url`, Redis 6.2 or later), so
 * that behind a load balancer without sticky sessions the nodes behave as one gateway:
 *
 * - **sessions** (ShiroProvider's `KNOXSESSIONID`, {@link RedisSessions}): `postern:state:session:{ns}:{digest}`
 *   holds the user and groups as JSON, `{digest}` the SHA-256 of the session id (the id itself is stored
 *   nowhere), with a TTL of the session timeout that every use restarts (`GETEX … PX`); a sign-out deletes the
 *   key. `postern:state:user:{ns}:{sha256(name)}` lists a user's session digests, for ending them when the user
 *   changes in a realm.
 * - **rate limits** (WebAppSec's `rate.limiting.*`): one hash per bucket, `postern:state:bucket:{ns}:{digest}`
 *   (the SHA-256 of the client's address, or address and port),
 *   taken by one Lua script (atomic) with the semantics of providers/common/token-buckets.ts, at Redis's clock
 *   (`TIME`) so the nodes' clocks do not matter; it expires once idle long enough to be full again.
 * - **WebSocket connections per topology**: `postern:state:ws:{topology}` is a hash of node id → that node's
 *   open connections, each node writing its own count (never an increment, so a lost write is repaired by the
 *   next). A node keeps `postern:state:node:{id}` alive (a TTL it refreshes, with its counts); counting skips and
 *   removes the fields of a node whose key expired, so a node that dies cannot leak connections.
 *
 * - **TLS session ticket key** (`postern.tls.ticket.key.shared`, gateway/ticket-keys): `postern:state:tls:ticket:{period
 *   ms}` holds the key of the current rotation period, made by the first node to ask, expiring at the period's end.
 * - **login throttle** (providers/common/login-throttle.ts): a failure window per client address and per user
 *   name, `postern:state:login:{address|user}:{sha256}` (a hash: the count and the window's id, with a TTL of the
 *   window set by its first attempt); a Lua script checks both windows and counts the attempt in the same step
 *   (another gives back an attempt that did not fail), so concurrent attempts on any number of nodes cannot pass
 *   the limit; the password checks per address are a token bucket
 *   (`postern:state:bucket:login:{sha256 of the address}`).
 *
 * One connection per process (each worker of `postern.workers` is a node of its own here: it reaches Redis
 * directly, not through the primary). Commands fail at once while Redis is unreachable (no offline queue), and
 * the requests that need the state are answered 503 (fail closed); the outage is logged once, and its end.
 * The password and TLS come from the URL (`redis://:password@host:6379/0`, `rediss://` for TLS), as ioredis
 * reads them.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { GatewaySettings } from '../config/gateway-site.ts';
import { Errors } from '../errors.ts';
import { lazyRequire } from '../lazy-require.ts';

const ioredis = lazyRequire<typeof import('ioredis')>('ioredis');

export const STATE_PREFIX = 'postern:state:';
/** How long a node's liveness key lives without a refresh; refreshed every third of it. */
export const NODE_TTL_MS = 15_000;
const COMMAND_TIMEOUT_MS = 2000;

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

const silent: Log = { info() {}, warn() {}, debug() {} };

/** Takes a token: KEYS[1] the bucket; ARGV rate per second, idle ms. Returns tokens left, or -ms to wait. */
const TAKE = `
local rate = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = rate
if b[1] then
  tokens = math.min(rate, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * rate / 1000)
end
local left
if tokens >= 1 then
  tokens = tokens - 1
  left = math.floor(tokens)
else
  left = -math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return left
`;

/** Counts a topology's connections over live nodes: KEYS[1] the hash; ARGV[1] the node key prefix. */
const COUNT = `
local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  if redis.call('EXISTS', ARGV[1] .. all[i]) == 1 then
    n = n + tonumber(all[i + 1])
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return n
`;

/**
 * A login window is a hash: `n` the failures in it (attempts in flight included), `w` which window it is (Redis's
 * time at its start, in µs), with the window's TTL set at its start. `blocked(key, limit)` gives the ms until it
 * ends when it is full, else 0 (a window an earlier version kept as a plain counter is made a hash first).
 */
const LOGIN_WINDOW = `
local function blocked(key, limit)
  if redis.call('TYPE', key).ok == 'string' then
    local n, ttl = redis.call('GET', key), redis.call('PTTL', key)
    redis.call('DEL', key)
    if ttl > 0 then
      redis.call('HSET', key, 'n', n, 'w', 'counter')
      redis.call('PEXPIRE', key, ttl)
    end
  end
  if limit <= 0 then return 0 end
  local n = tonumber(redis.call('HGET', key, 'n') or '0')
  if n < limit then return 0 end
  local ttl = redis.call('PTTL', key)
  if ttl <= 0 then return 0 end
  return ttl
end
`;

/**
 * Whether a login is refused for its failures: KEYS[1] the address's window, KEYS[2] the user's; ARGV their limits
 * (0: none). Returns {0, 0}, or {1 (address) or 2 (user), ms until the window ends}.
 */
const LOGIN_BLOCKED = `${LOGIN_WINDOW}
local a = blocked(KEYS[1], tonumber(ARGV[1]))
if a > 0 then return {1, a} end
local u = blocked(KEYS[2], tonumber(ARGV[2]))
if u > 0 then return {2, u} end
return {0, 0}
`;

/**
 * LOGIN_BLOCKED and, when not refused, the attempt counted in both windows (a window starts at its first attempt,
 * ARGV[3] ms), in one step: {0, 0, address window, user window}, or a refusal as LOGIN_BLOCKED's.
 */
const LOGIN_RESERVE = `${LOGIN_WINDOW}
local a = blocked(KEYS[1], tonumber(ARGV[1]))
if a > 0 then return {1, a} end
local u = blocked(KEYS[2], tonumber(ARGV[2]))
if u > 0 then return {2, u} end
local t = redis.call('TIME')
local ids = {}
for i = 1, 2 do
  local id = redis.call('HGET', KEYS[i], 'w')
  if id and redis.call('PTTL', KEYS[i]) > 0 then
    redis.call('HINCRBY', KEYS[i], 'n', 1)
  else
    id = t[1] .. '.' .. t[2]
    redis.call('DEL', KEYS[i])
    redis.call('HSET', KEYS[i], 'n', 1, 'w', id)
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
  end
  ids[i] = id
end
return {0, 0, ids[1], ids[2]}
`;

/** Gives back a reserved attempt: KEYS[1], KEYS[2] its windows; ARGV[1], ARGV[2] their ids (one that ended: nothing). */
const LOGIN_RELEASE = `
for i = 1, 2 do
  if redis.call('HGET', KEYS[i], 'w') == ARGV[i] and tonumber(redis.call('HGET', KEYS[i], 'n') or '0') > 0 then
    redis.call('HINCRBY', KEYS[i], 'n', -1)
  end
end
return 1
`;

/**
 * The TLS session ticket key of the current rotation period (gateway/ticket-keys): KEYS[1] the key's key, ARGV the
 * period in ms and a new key (base64) for when there is none yet. The period is counted at Redis's clock, so the
 * nodes' clocks do not matter; the value, `{period number}:{base64}`, expires when its period ends. Returns the
 * period's key and the ms left of the period.
 */
const TICKET_KEY = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local period = tonumber(ARGV[1])
local epoch = math.floor(now / period)
local left = period - (now - epoch * period)
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, ':', 1, true)
  if sep and tonumber(string.sub(cur, 1, sep - 1)) == epoch then
    return {string.sub(cur, sep + 1), left}
  end
end
redis.call('SET', KEYS[1], string.format('%d', epoch) .. ':' .. ARGV[2], 'PX', math.max(left, 1))
return {ARGV[2], left}
`;

type StateRedis = Redis & {
  posternTicketKey(key: string, periodMs: number, candidate: string): Promise<[string, number]>;
  posternTake(key: string, rate: number, idleMs: number): Promise<number>;
  posternCount(key: string, nodePrefix: string): Promise<number>;
  posternLoginBlocked(a: string, u: string, perAddress: number, perUser: number): Promise<[number, number]>;
  posternLoginReserve(
    a: string,
    u: string,
    perAddress: number,
    perUser: number,
    windowMs: number,
  ): Promise<[number, number, string?, string?]>;
  posternLoginRelease(a: string, u: string, addressWindow: string, userWindow: string): Promise<number>;
};

/** How a client address or user name appears in a key: its SHA-256 (Redis holds no address or name). */
export const digest = (text: string) => createHash('sha256').update(text).digest('hex');
const loginKeys = (address: string, user: string) =>
  [`${STATE_PREFIX}login:address:${digest(address)}`, `${STATE_PREFIX}login:user:${digest(user)}`] as const;

export class RedisState {
  /** This process's id as a node (WebSocket counts). */
  readonly nodeId = randomUUID();
  readonly url: string;
  readonly #redis: StateRedis;
  #log: Log = silent;
  #down = false;
  #closed = false;
  /** topology → this node's open WebSockets. */
  readonly #ws = new Map<string, number>();
  readonly #heartbeat: NodeJS.Timeout;

  constructor(url: string) {
    this.url = url;
    // Connected only when a gateway acquires it: a topology compiled outside one (`postern check`, the primary
    // checking the configuration) opens no connection, and its requests would fail closed.
    this.#redis = new (ioredis().Redis)(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectionName: `postern-state-${this.nodeId}`,
      retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    }) as StateRedis;
    this.#redis.defineCommand('posternTake', { numberOfKeys: 1, lua: TAKE });
    this.#redis.defineCommand('posternCount', { numberOfKeys: 1, lua: COUNT });
    this.#redis.defineCommand('posternLoginBlocked', { numberOfKeys: 2, lua: LOGIN_BLOCKED });
    this.#redis.defineCommand('posternLoginReserve', { numberOfKeys: 2, lua: LOGIN_RESERVE });
    this.#redis.defineCommand('posternLoginRelease', { numberOfKeys: 2, lua: LOGIN_RELEASE });
    this.#redis.defineCommand('posternTicketKey', { numberOfKeys: 1, lua: TICKET_KEY });
    this.#redis.on('error', (err: Error) => this.#log.debug({ err: err.message }, 'redis state error'));
    this.#redis.on('ready', () => {
      this.#recovered();
      this.#beat();
    });
    this.#heartbeat = setInterval(() => this.#beat(), NODE_TTL_MS / 3);
    this.#heartbeat.unref();
  }

  set log(log: Log) {
    this.#log = log;
  }

  /** Connects (once); retried with back-off while Redis is unreachable. */
  connect(): void {
    if (this.#redis.status !== 'wait') return;
    this.#redis.connect().catch((err: Error) => {
      this.#failed(err);
    });
  }

  /** Runs `op` once connected; a failure is a 503 for the request (fail closed), and an outage logged once. */
  async run<T>(op: (redis: StateRedis) => Promise<T>): Promise<T> {
    try {
      if (this.#redis.status === 'wait') throw new Error('no gateway holds the shared state');
      await this.#connected();
      const value = await op(this.#redis);
      this.#recovered();
      return value;
    } catch (err) {
      this.#failed(err as Error);
      throw Errors.unavailable('The shared state store is unavailable; retry shortly', { cause: err });
    }
  }

  /** Open WebSockets of a topology over every live node. */
  websockets(topology: string): Promise<number> {
    return this.run((r) => r.posternCount(`${STATE_PREFIX}ws:${topology}`, `${STATE_PREFIX}node:`));
  }

  /** This node's WebSockets of a topology changed by `delta`: its count is written (best effort). */
  countWebSocket(topology: string, delta: number): void {
    this.#ws.set(topology, Math.max(0, (this.#ws.get(topology) ?? 0) + delta));
    // Not ready: written by the heartbeat once Redis is back.
    if (this.#redis.status === 'ready') this.#writeCounts([topology]);
  }

  /**
   * Writes this node's liveness key and its counts of `topologies`; a count of 0 removes the node's field, and
   * is forgotten once written (until then the heartbeat retries it, so no write lost to an outage leaks).
   */
  #writeCounts(topologies: Iterable<string>): void {
    const m = this.#redis.multi().set(`${STATE_PREFIX}node:${this.nodeId}`, '1', 'PX', NODE_TTL_MS);
    const zeros: string[] = [];
    for (const topology of topologies) {
      const n = this.#ws.get(topology) ?? 0;
      const key = `${STATE_PREFIX}ws:${topology}`;
      if (n > 0) m.hset(key, this.nodeId, String(n));
      else {
        m.hdel(key, this.nodeId);
        zeros.push(topology);
      }
    }
    m.exec().then(
      () => {
        for (const topology of zeros) if (this.#ws.get(topology) === 0) this.#ws.delete(topology);
      },
      () => {},
    );
  }

  /** Takes a token of a bucket (token-buckets.ts semantics): tokens left (≥ 0), or -ms until one is back. */
  take(ns: string, key: string, rate: number, idleMs: number): Promise<number> {
    return this.run((r) => r.posternTake(`${STATE_PREFIX}bucket:${ns}:${key}`, rate, Math.max(idleMs, 1000)));
  }

  /** The login throttle: {0, 0}, or which window refuses (1 the address's, 2 the user's) and for how many ms. */
  loginBlocked(
    address: string,
    user: string,
    perAddress: number,
    perUser: number,
  ): Promise<[number, number]> {
    const [a, u] = loginKeys(address, user);
    return this.run((r) => r.posternLoginBlocked(a, u, perAddress, perUser));
  }

  /**
   * The login throttle: loginBlocked and, when not refused, the attempt counted in both windows (one atomic step),
   * with the windows it was counted in.
   */
  async loginReserve(
    address: string,
    user: string,
    perAddress: number,
    perUser: number,
    windowMs: number,
  ): Promise<{ ok: true; windows: [string, string] } | { ok: false; which: number; ms: number }> {
    const [a, u] = loginKeys(address, user);
    const [refused, ms, aw, uw] = await this.run((r) =>
      r.posternLoginReserve(a, u, perAddress, perUser, Math.max(windowMs, 1)),
    );
    return refused === 0
      ? { ok: true, windows: [String(aw), String(uw)] }
      : { ok: false, which: refused, ms };
  }

  /** The login throttle: a reserved attempt that did not fail, given back to the windows it was counted in. */
  async loginRelease(address: string, user: string, windows: readonly [string, string]): Promise<void> {
    const [a, u] = loginKeys(address, user);
    await this.run((r) => r.posternLoginRelease(a, u, windows[0], windows[1]));
  }

  /** The login throttle: a password check taken from the address's bucket (tokens left, or -ms to wait). */
  loginSpend(address: string, rate: number): Promise<number> {
    return this.take('login', digest(address), rate, 1000);
  }

  /**
   * The TLS session ticket key of the current `periodMs` period, shared by every node (the script above): the one
   * in Redis, else `candidate`, stored for the period. Throws when Redis is unreachable (no 503 to give here: the
   * caller keeps a key of its own), or when what Redis holds is no key.
   */
  async ticketKey(periodMs: number, candidate: Buffer): Promise<{ keys: Buffer; msLeft: number }> {
    if (this.#redis.status === 'wait') throw new Error('no gateway holds the shared state');
    await this.#connected();
    const [value, msLeft] = await this.#redis.posternTicketKey(
      `${STATE_PREFIX}tls:ticket:${periodMs}`,
      periodMs,
      candidate.toString('base64'),
    );
    const keys = Buffer.from(value, 'base64');
    if (keys.length !== candidate.length || keys.toString('base64') !== value) {
      throw new Error(`the TLS ticket key in Redis is not ${candidate.length} bytes of base64`);
    }
    return { keys, msLeft: Number(msLeft) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    if (this.#redis.status === 'ready') {
      // This node's connections are gone with it.
      const m = this.#redis.multi().del(`${STATE_PREFIX}node:${this.nodeId}`);
      for (const topology of this.#ws.keys()) m.hdel(`${STATE_PREFIX}ws:${topology}`, this.nodeId);
      await m.exec().catch(() => {});
    }
    this.#redis.disconnect();
  }

  /** Refreshes this node's liveness key and rewrites its counts (repairing writes lost to an outage). */
  #beat(): void {
    if (this.#closed || this.#redis.status !== 'ready') return;
    this.#writeCounts([...this.#ws.keys()]);
  }

  #failed(err: Error): void {
    if (this.#down) return;
    this.#down = true;
    this.#log.warn(
      { err: err.message },
      'the shared state in Redis is unavailable: requests that need sessions, rate limits or WebSocket counts get 503',
    );
  }

  #recovered(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#log.info({}, 'the shared state in Redis is available again');
  }

  /** Waits for a connection in progress (a first command must not fail for a slow connect); not for a retry. */
  async #connected(ms = 5000): Promise<void> {
    const r = this.#redis;
    if (r.status === 'ready') return;
    if (r.status !== 'connecting' && r.status !== 'connect') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        r.off('ready', done);
        r.off('end', done);
        r.off('error', done);
        resolve();
      }
      r.once('ready', done);
      r.once('end', done);
      r.once('error', done);
    });
  }
}

/** The process's state stores, by URL (a gateway acquires its own; providers find it by the settings). */
const states = new Map<string, { state: RedisState; holds: number }>();

/** The shared state of these settings (`postern.state.redis.url`), or undefined when state is per node. */
export function sharedState(settings: GatewaySettings): RedisState | undefined {
  const url = settings.stateRedisUrl;
  if (!url) return undefined;
  let entry = states.get(url);
  if (!entry) {
    entry = { state: new RedisState(url), holds: 0 };
    states.set(url, entry);
  }
  return entry.state;
}

/** A gateway's hold on its shared state (its log gets the outages); release it at shutdown. */
export function acquireSharedState(settings: GatewaySettings, log: Log): (() => Promise<void>) | undefined {
  const state = sharedState(settings);
  if (!state) return undefined;
  const entry = states.get(state.url)!;
  entry.holds++;
  state.log = log;
  state.connect();
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    if (--entry.holds > 0) return;
    states.delete(state.url);
    await state.close();
  };
}
