/**
 * @module providers/authentication/shiro/sessions
 * The sessions behind Knox's `KNOXSESSIONID` cookie, one store per topology deployment. An id is 32 random bytes
 * (base64url); the store keeps only its SHA-256, so the ids themselves exist nowhere but in the clients' cookies,
 * and a lookup by digest gives away nothing about stored ids through timing. A session ends after `timeoutMs`
 * without use (a servlet session's max-inactive-interval, Knox's `sessionTimeout`). The store is bounded: when
 * full, the least recently used sessions go.
 *
 * The map is in order of last use, and every session has the same timeout, so the expired sessions are exactly
 * those at its front: sweeping stops at the first live one, and opening a session costs the same whether the
 * store is empty or full (API clients that never return the cookie open one per request).
 *
 * With several workers (`postern.workers`), the store lives in the primary (cluster/hub.ts) and each worker
 * reaches it through {@link HubSessions}; with one, nothing of that runs. With `postern.state.redis.url`, every node
 * (and every worker) keeps them in Redis instead ({@link RedisSessions}), shared by all of them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type RedisState, STATE_PREFIX } from '../../../cluster/redis-state.ts';
import type { Rpc } from '../../../cluster/rpc.ts';
import type { Principal } from '../../../spi/index.ts';

export interface Session {
  readonly user: Principal;
  /** When the session ends unless used again (ms since the epoch). */
  expiresAt: number;
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

export class SessionStore implements Sessions {
  readonly timeoutMs: number;
  readonly maxSessions: number;
  /** Digest → session, least recently used first (a Map keeps insertion order; a touch re-inserts). */
  readonly #sessions = new Map<string, Session>();
  readonly #now: () => number;

  constructor(options: { timeoutMs: number; maxSessions?: number; now?: () => number }) {
    this.timeoutMs = options.timeoutMs;
    this.maxSessions = options.maxSessions ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Opens a session for the user; returns the id to put in the cookie. */
  create(user: Principal): { id: string; session: Session } {
    this.sweep();
    while (this.#sessions.size >= this.maxSessions) {
      const oldest = this.#sessions.keys().next().value as string;
      this.#sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const session: Session = { user, expiresAt: this.#now() + this.timeoutMs };
    this.#sessions.set(digest(id), session);
    return { id, session };
  }

  /** The live session of an id, its idle timer restarted; undefined when unknown or expired. */
  touch(id: string): Session | undefined {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const key = digest(id);
    const session = this.#sessions.get(key);
    if (!session) return undefined;
    this.#sessions.delete(key);
    const now = this.#now();
    if (session.expiresAt <= now) return undefined;
    session.expiresAt = now + this.timeoutMs;
    this.#sessions.set(key, session);
    return session;
  }

  /** Ends a session now (a sign-out). */
  end(id: string): void {
    if (/^[A-Za-z0-9_-]{43}$/.test(id)) this.#sessions.delete(digest(id));
  }

  /** Drops expired sessions (from the front of the map, up to the first live one). */
  sweep(): void {
    const now = this.#now();
    for (const [key, session] of this.#sessions) {
      if (session.expiresAt > now) break;
      this.#sessions.delete(key);
    }
  }

  /** Ends the sessions of these users (their entry in a realm changed). */
  dropUsers(names: ReadonlySet<string>): void {
    if (names.size === 0) return;
    for (const [key, session] of this.#sessions) if (names.has(session.user.name)) this.#sessions.delete(key);
  }

  clear(): void {
    this.#sessions.clear();
  }
}

/**
 * What ShiroProvider asks of its sessions: the in-process {@link SessionStore} answers at once, the workers'
 * shared store ({@link HubSessions}) through the primary.
 */
export interface Sessions {
  create(user: Principal): { id: string; session: Session } | Promise<{ id: string; session: Session }>;
  touch(id: string): Session | undefined | Promise<Session | undefined>;
  /** Ends a session now (a sign-out). */
  end(id: string): void;
  sweep(): void;
  dropUsers(names: ReadonlySet<string>): void;
  /** The deployment that used them retires. */
  clear(): void;
}

/**
 * The sessions of a worker of a multi-process gateway (`postern.workers` > 1): kept by the primary's hub
 * (cluster/hub.ts) in the namespace `ns` (topology and provider configuration), so that a session opened on one
 * worker is accepted on every other. The hub holds the namespace while some worker's deployment uses it. When
 * the hub does not answer, `create` and `touch` reject (the provider answers 503: fail closed).
 */
export class HubSessions implements Sessions {
  readonly #rpc: Rpc;
  readonly #ns: string;
  readonly #timeoutMs: number;

  constructor(rpc: Rpc, ns: string, timeoutMs: number) {
    this.#rpc = rpc;
    this.#ns = ns;
    this.#timeoutMs = timeoutMs;
    rpc.notify('session.open', { ns, timeoutMs });
  }

  async create(user: Principal): Promise<{ id: string; session: Session }> {
    const r = await this.#rpc.request<{ id: string; expiresAt: number }>('session.create', {
      ns: this.#ns,
      timeoutMs: this.#timeoutMs,
      user: { name: user.name, groups: [...user.groups] },
    });
    return { id: r.id, session: { user, expiresAt: r.expiresAt } };
  }

  async touch(id: string): Promise<Session | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const r = await this.#rpc.request<{ user: Principal; expiresAt: number } | null>('session.touch', {
      ns: this.#ns,
      id,
    });
    return r ? { user: r.user, expiresAt: r.expiresAt } : undefined;
  }

  end(id: string): void {
    if (/^[A-Za-z0-9_-]{43}$/.test(id)) this.#rpc.notify('session.end', { ns: this.#ns, id });
  }

  sweep(): void {
    // the hub sweeps its own
  }

  dropUsers(names: ReadonlySet<string>): void {
    if (names.size > 0) this.#rpc.notify('session.dropUsers', { ns: this.#ns, names: [...names] });
  }

  clear(): void {
    this.#rpc.notify('session.close', { ns: this.#ns });
  }
}

/**
 * The sessions of one ShiroProvider configuration (`ns`: topology and configuration fingerprint) in Redis,
 * shared by every node using that Redis. A session outlives the deployment and the node that opened it: a
 * redeploy or a node's restart keeps it, its TTL ends it.
 */
export class RedisSessions implements Sessions {
  readonly #state: RedisState;
  readonly #ns: string;
  readonly #timeoutMs: number;

  constructor(state: RedisState, ns: string, timeoutMs: number) {
    this.#state = state;
    this.#ns = ns;
    this.#timeoutMs = timeoutMs;
  }

  #sessionKey(digest: string): string {
    return `${STATE_PREFIX}session:${this.#ns}:${digest}`;
  }

  #userKey(name: string): string {
    return `${STATE_PREFIX}user:${this.#ns}:${digest(name)}`;
  }

  async create(user: Principal): Promise<{ id: string; session: Session }> {
    const id = randomBytes(32).toString('base64url');
    const hashed = digest(id);
    const value = JSON.stringify({ name: user.name, groups: [...user.groups] });
    const t = this.#timeoutMs;
    await this.#state.run(async (r) => {
      const results = await r
        .multi()
        .set(this.#sessionKey(hashed), value, 'PX', t)
        .sadd(this.#userKey(user.name), hashed)
        .pexpire(this.#userKey(user.name), t)
        .exec();
      for (const [err] of results ?? []) if (err) throw err;
    });
    return { id, session: { user, expiresAt: Date.now() + t } };
  }

  async touch(id: string): Promise<Session | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const text = await this.#state.run((r) => r.getex(this.#sessionKey(digest(id)), 'PX', this.#timeoutMs));
    if (text === null) return undefined;
    const parsed = JSON.parse(text) as { name: string; groups: string[] };
    return { user: { name: parsed.name, groups: parsed.groups }, expiresAt: Date.now() + this.#timeoutMs };
  }

  end(id: string): void {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return;
    this.#state.run((r) => r.del(this.#sessionKey(digest(id)))).catch(() => {});
  }

  sweep(): void {
    // Redis expires them (TTL)
  }

  dropUsers(names: ReadonlySet<string>): void {
    for (const name of names) {
      const userKey = this.#userKey(name);
      this.#state
        .run(async (r) => {
          const digests = await r.smembers(userKey);
          await r.del(userKey, ...digests.map((d) => this.#sessionKey(d)));
        })
        .catch(() => {});
    }
  }

  clear(): void {
    // Shared with the other nodes and outliving this deployment: left to their TTL.
  }
}
