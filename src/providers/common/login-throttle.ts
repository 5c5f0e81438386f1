/**
 * @module providers/common/login-throttle
 * Bounds what password checks a client can cause, for every realm that checks passwords (the file realm's scrypt,
 * an LDAP bind): a wrong password costs the gateway a full hash (or the directory a bind), so without a bound any
 * unauthenticated client could keep the CPU (or the directory) busy.
 *
 * - **Failed attempts** per client address (`postern.auth.failures.per.address`) and per user name
 *   (`postern.auth.failures.per.user`) within a fixed window (`postern.auth.failures.window`): once either count
 *   is reached, further attempts are refused before any check runs, until the window ends (429, `Retry-After`).
 * - **Hashes per second** per client address (`postern.auth.verify.rate.per.address`, a token bucket holding one
 *   second's worth): a check that the authentication cache answers costs nothing; one that makes a realm compute
 *   a password hash in the gateway (the file realm) costs a token, and without one the request is refused (429,
 *   `Retry-After: 1`). An LDAP bind costs the directory, not the gateway: only the failure counts apply to it.
 *
 * One throttle per gateway (for each loaded gateway-site), shared by every topology, so that spreading attempts
 * over topologies gains nothing; and one for the whole gateway whichever process serves ({@link loginThrottle}):
 *
 * - a single process: the counters are in process ({@link LoginThrottle}); memory is bounded, each table keeps at
 *   most {@link MAX_KEYS} keys and drops its oldest first;
 * - several workers (`postern.workers` > 1): the counters live in the primary (cluster/hub.ts keeps a
 *   {@link LoginThrottle} per set of limits), so N workers allow the failures and hashes of one gateway, not N×;
 * - several nodes (`postern.state.redis.url`): the counters are in Redis (cluster/redis-state.ts: a failure window
 *   is a counter key with a TTL, the hashes a token bucket, each taken by one Lua script), shared by every node.
 *
 * Fail closed: a primary or a Redis that does not answer makes the attempt a 503, never a check without a count.
 */

import { hub } from '../../cluster/ipc.ts';
import { type RedisState, sharedState } from '../../cluster/redis-state.ts';
import { HubUnavailableError, type Rpc } from '../../cluster/rpc.ts';
import type { GatewaySettings, ResourceLimits } from '../../config/gateway-site.ts';
import { Errors } from '../../errors.ts';
import { TokenBuckets } from './token-buckets.ts';

/** Keys per table: an attacker with many addresses evicts old entries instead of growing memory. */
export const MAX_KEYS = 50_000;

export interface Refusal {
  /** Whole seconds to wait, for `Retry-After`. */
  retryAfterS: number;
  /** What was exceeded, for the audit line. */
  reason: string;
}

interface Window {
  count: number;
  resetAt: number;
}

class FailureCounter {
  readonly #windows = new Map<string, Window>();

  /** Seconds until `key` may try again, or 0. */
  blocked(key: string, limit: number, now: number): number {
    if (limit <= 0) return 0;
    const w = this.#windows.get(key);
    if (!w) return 0;
    if (w.resetAt <= now) {
      this.#windows.delete(key);
      return 0;
    }
    return w.count >= limit ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 0;
  }

  add(key: string, windowMs: number, now: number): void {
    const w = this.#windows.get(key);
    if (w && w.resetAt > now) {
      w.count++;
      return;
    }
    this.#windows.delete(key);
    if (this.#windows.size >= MAX_KEYS) this.#windows.delete(this.#windows.keys().next().value as string);
    this.#windows.set(key, { count: 1, resetAt: now + windowMs });
  }
}

/** The limits a throttle applies (gateway-site's `postern.auth.*`). */
export type ThrottleLimits = Pick<
  ResourceLimits,
  'authFailuresPerAddress' | 'authFailuresPerUser' | 'authFailureWindowMs' | 'authVerifyRatePerAddress'
>;

/** What ShiroProvider asks, wherever the counters are kept. */
export interface Throttle {
  /** Before anything is checked: a refusal when the address or the user has failed too often lately. */
  admit(address: string, username: string): Promise<Refusal | undefined>;
  /** Before a realm computes a password hash (not for a cache hit): a refusal when the address is over its rate. */
  spend(address: string): Promise<Refusal | undefined>;
  /** A login that a realm rejected. */
  failed(address: string, username: string): Promise<void>;
}

const ADDRESS_REFUSED = 'too many failed logins from this address';
const USER_REFUSED = 'too many failed logins for this user';
const RATE_REFUSED = 'too many password checks per second from this address';

/** The counters of one process (a single gateway, or the primary's for all its workers). */
export class LoginThrottle {
  readonly #limits: ThrottleLimits;
  readonly #now: () => number;
  readonly #byAddress = new FailureCounter();
  readonly #byUser = new FailureCounter();
  readonly #checks: TokenBuckets;

  constructor(limits: ThrottleLimits, now: () => number = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
    this.#checks = new TokenBuckets(Math.max(limits.authVerifyRatePerAddress, 1), 1000, MAX_KEYS);
  }

  /** Before anything is checked: a refusal when the address or the user has failed too often lately. */
  admit(address: string, username: string): Refusal | undefined {
    const now = this.#now();
    const l = this.#limits;
    const byAddress = this.#byAddress.blocked(address, l.authFailuresPerAddress, now);
    if (byAddress > 0) return { retryAfterS: byAddress, reason: ADDRESS_REFUSED };
    const byUser = this.#byUser.blocked(username, l.authFailuresPerUser, now);
    if (byUser > 0) return { retryAfterS: byUser, reason: USER_REFUSED };
    return undefined;
  }

  /** Before a realm checks a password (not for a cache hit): a refusal when the address is over its rate. */
  spend(address: string): Refusal | undefined {
    if (this.#limits.authVerifyRatePerAddress <= 0 || this.#checks.take(address, this.#now()) >= 0)
      return undefined;
    return { retryAfterS: 1, reason: RATE_REFUSED };
  }

  /** A login that a realm rejected. */
  failed(address: string, username: string): void {
    const now = this.#now();
    this.#byAddress.add(address, this.#limits.authFailureWindowMs, now);
    this.#byUser.add(username, this.#limits.authFailureWindowMs, now);
  }
}

/** The limits alone (what the primary and Redis are told), without the rest of gateway-site's. */
export function throttleLimits(l: ThrottleLimits): ThrottleLimits {
  return {
    authFailuresPerAddress: l.authFailuresPerAddress,
    authFailuresPerUser: l.authFailuresPerUser,
    authFailureWindowMs: l.authFailureWindowMs,
    authVerifyRatePerAddress: l.authVerifyRatePerAddress,
  };
}

/** A single process's throttle. */
class LocalThrottle implements Throttle {
  readonly #t: LoginThrottle;
  constructor(limits: ThrottleLimits) {
    this.#t = new LoginThrottle(limits);
  }
  async admit(address: string, username: string) {
    return this.#t.admit(address, username);
  }
  async spend(address: string) {
    return this.#t.spend(address);
  }
  async failed(address: string, username: string) {
    this.#t.failed(address, username);
  }
}

/** A worker's: the counters are the primary's (cluster/hub.ts `login.*`); no answer is a 503. */
class HubThrottle implements Throttle {
  readonly #rpc: Rpc;
  readonly #limits: ThrottleLimits;
  constructor(rpc: Rpc, limits: ThrottleLimits) {
    this.#rpc = rpc;
    this.#limits = throttleLimits(limits);
  }
  admit(address: string, username: string) {
    return this.#ask<Refusal | null>('login.admit', { address, username }).then((r) => r ?? undefined);
  }
  spend(address: string) {
    return this.#ask<Refusal | null>('login.spend', { address }).then((r) => r ?? undefined);
  }
  async failed(address: string, username: string) {
    await this.#ask('login.failed', { address, username });
  }
  async #ask<T>(op: string, args: object): Promise<T> {
    try {
      return await this.#rpc.request<T>(op, { limits: this.#limits, ...args });
    } catch (err) {
      if (err instanceof HubUnavailableError) {
        throw Errors.unavailable('The login throttle is unavailable; retry shortly', { cause: err });
      }
      throw err;
    }
  }
}

/** Several nodes': the counters are in Redis (cluster/redis-state.ts); Redis unreachable is a 503. */
class RedisThrottle implements Throttle {
  readonly #settings: GatewaySettings;
  constructor(settings: GatewaySettings) {
    this.#settings = settings;
  }
  get #redis(): RedisState {
    const state = sharedState(this.#settings);
    if (!state) throw Errors.unavailable('The shared state store is unavailable; retry shortly');
    return state;
  }
  get #limits(): ThrottleLimits {
    return this.#settings.limits;
  }
  async admit(address: string, username: string) {
    const l = this.#limits;
    const [which, ms] = await this.#redis.loginBlocked(
      address,
      username,
      l.authFailuresPerAddress,
      l.authFailuresPerUser,
    );
    if (which === 0) return undefined;
    return {
      retryAfterS: Math.max(1, Math.ceil(ms / 1000)),
      reason: which === 1 ? ADDRESS_REFUSED : USER_REFUSED,
    };
  }
  async spend(address: string) {
    const rate = this.#limits.authVerifyRatePerAddress;
    if (rate <= 0) return undefined;
    if ((await this.#redis.loginSpend(address, rate)) >= 0) return undefined;
    return { retryAfterS: 1, reason: RATE_REFUSED };
  }
  async failed(address: string, username: string) {
    await this.#redis.loginFailed(address, username, this.#limits.authFailureWindowMs);
  }
}

const throttles = new WeakMap<ResourceLimits, Throttle>();

/**
 * The gateway's throttle for these settings (one per loaded gateway-site): in Redis with
 * `postern.state.redis.url`, in the primary in a worker, else in process.
 */
export function loginThrottle(settings: GatewaySettings): Throttle {
  const limits = settings.limits;
  let t = throttles.get(limits);
  if (!t) {
    const rpc = hub();
    t = settings.stateRedisUrl
      ? new RedisThrottle(settings)
      : rpc
        ? new HubThrottle(rpc, limits)
        : new LocalThrottle(limits);
    throttles.set(limits, t);
  }
  return t;
}
