/**
 * @module providers/common/login-throttle
 * Bounds what password checks a client can cause, for every realm that checks passwords (the file realm's scrypt,
 * an LDAP bind): a wrong password costs the gateway a full hash (or the directory a bind), so without a bound any
 * unauthenticated client could keep the CPU (or the directory) busy.
 *
 * - **Failed attempts** per client address (`postern.auth.failures.per.address`) and per user name
 *   (`postern.auth.failures.per.user`) within a fixed window (`postern.auth.failures.window`): once either count
 *   is reached, further attempts are refused before any check runs, until the window ends (429, `Retry-After`).
 *   The limit is exact under concurrency: an attempt that is about to check a password is counted as a failure
 *   in the same atomic step that admits it ({@link Throttle.reserve}), and given back when it turns out not to be
 *   one, so N wrong passwords sent at once get no more checks than the limit (a check and a count in two steps
 *   would let all N through before the first failure is counted).
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
 *   is a hash with a TTL, the hashes a token bucket, each taken by one Lua script), shared by every node.
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
  /** Failures in the window, and attempts in flight (counted as failures until they turn out otherwise). */
  count: number;
  resetAt: number;
  /** Which window this is, so that an attempt gives its slot back only to the window it was counted in. */
  id: string;
}

let windows = 0;

class FailureCounter {
  readonly #windows = new Map<string, Window>();

  #live(key: string, now: number): Window | undefined {
    const w = this.#windows.get(key);
    if (w && w.resetAt <= now) {
      this.#windows.delete(key);
      return undefined;
    }
    return w;
  }

  /** Seconds until `key` may try again, or 0. */
  blocked(key: string, limit: number, now: number): number {
    if (limit <= 0) return 0;
    const w = this.#live(key, now);
    if (!w) return 0;
    return w.count >= limit ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 0;
  }

  /** Counts one more in `key`'s window (starting one), and says which window. */
  add(key: string, windowMs: number, now: number): string {
    const w = this.#live(key, now);
    if (w) {
      w.count++;
      return w.id;
    }
    if (this.#windows.size >= MAX_KEYS) this.#windows.delete(this.#windows.keys().next().value as string);
    const id = String(++windows);
    this.#windows.set(key, { count: 1, resetAt: now + windowMs, id });
    return id;
  }

  /** Takes one back from window `id` of `key`; nothing once that window has ended. */
  remove(key: string, id: string, now: number): void {
    const w = this.#live(key, now);
    if (w && w.id === id && w.count > 0) w.count--;
  }
}

/** The limits a throttle applies (gateway-site's `postern.auth.*`). */
export type ThrottleLimits = Pick<
  ResourceLimits,
  'authFailuresPerAddress' | 'authFailuresPerUser' | 'authFailureWindowMs' | 'authVerifyRatePerAddress'
>;

/**
 * A password check under way: counted as a failure for its address and its user from the moment it was admitted,
 * until {@link Throttle.release} gives the slot back (the check did not fail). `windows` names the windows it was
 * counted in (a window that ended meanwhile is not given anything back).
 */
export interface Attempt {
  address: string;
  username: string;
  windows: [address: string, user: string];
}

export type Reservation = { ok: true; attempt: Attempt } | { ok: false; refusal: Refusal };

/** What ShiroProvider asks, wherever the counters are kept. */
export interface Throttle {
  /**
   * Before anything is checked (an authentication cache hit included): a refusal when the address or the user
   * has failed too often lately (attempts in flight count as failures).
   */
  admit(address: string, username: string): Promise<Refusal | undefined>;
  /**
   * Before the first password check (not for a cache hit): the same test as `admit` and, in one atomic step, the
   * attempt counted as a failure, so that concurrent wrong passwords cannot all pass before the first is counted.
   * A check that fails keeps it counted; every other outcome gives it back ({@link release}).
   */
  reserve(address: string, username: string): Promise<Reservation>;
  /** A reserved attempt that did not fail (a good password, a realm that could not be asked): not a failure. */
  release(attempt: Attempt): Promise<void>;
  /** Before a realm computes a password hash (not for a cache hit): a refusal when the address is over its rate. */
  spend(address: string): Promise<Refusal | undefined>;
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
    return this.#refusal(address, username, this.#now());
  }

  /** `admit`, and the attempt counted as a failure (one synchronous step: atomic in this process). */
  reserve(address: string, username: string): Reservation {
    const now = this.#now();
    const refusal = this.#refusal(address, username, now);
    if (refusal) return { ok: false, refusal };
    const windowMs = this.#limits.authFailureWindowMs;
    const windows: Attempt['windows'] = [
      this.#byAddress.add(address, windowMs, now),
      this.#byUser.add(username, windowMs, now),
    ];
    return { ok: true, attempt: { address, username, windows } };
  }

  /** A reserved attempt that did not fail. */
  release(attempt: Attempt): void {
    const now = this.#now();
    this.#byAddress.remove(attempt.address, attempt.windows[0], now);
    this.#byUser.remove(attempt.username, attempt.windows[1], now);
  }

  /** Before a realm checks a password (not for a cache hit): a refusal when the address is over its rate. */
  spend(address: string): Refusal | undefined {
    if (this.#limits.authVerifyRatePerAddress <= 0 || this.#checks.take(address, this.#now()) >= 0)
      return undefined;
    return { retryAfterS: 1, reason: RATE_REFUSED };
  }

  #refusal(address: string, username: string, now: number): Refusal | undefined {
    const l = this.#limits;
    const byAddress = this.#byAddress.blocked(address, l.authFailuresPerAddress, now);
    if (byAddress > 0) return { retryAfterS: byAddress, reason: ADDRESS_REFUSED };
    const byUser = this.#byUser.blocked(username, l.authFailuresPerUser, now);
    if (byUser > 0) return { retryAfterS: byUser, reason: USER_REFUSED };
    return undefined;
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
  async reserve(address: string, username: string) {
    return this.#t.reserve(address, username);
  }
  async release(attempt: Attempt) {
    this.#t.release(attempt);
  }
  async spend(address: string) {
    return this.#t.spend(address);
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
  reserve(address: string, username: string) {
    return this.#ask<Reservation>('login.reserve', { address, username });
  }
  async release(attempt: Attempt) {
    await this.#ask('login.release', { attempt });
  }
  spend(address: string) {
    return this.#ask<Refusal | null>('login.spend', { address }).then((r) => r ?? undefined);
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
    return which === 0 ? undefined : redisRefusal(which, ms);
  }
  async reserve(address: string, username: string): Promise<Reservation> {
    const l = this.#limits;
    const answer = await this.#redis.loginReserve(
      address,
      username,
      l.authFailuresPerAddress,
      l.authFailuresPerUser,
      l.authFailureWindowMs,
    );
    if (!answer.ok) return { ok: false, refusal: redisRefusal(answer.which, answer.ms) };
    return { ok: true, attempt: { address, username, windows: answer.windows } };
  }
  async release(attempt: Attempt) {
    await this.#redis.loginRelease(attempt.address, attempt.username, attempt.windows);
  }
  async spend(address: string) {
    const rate = this.#limits.authVerifyRatePerAddress;
    if (rate <= 0) return undefined;
    if ((await this.#redis.loginSpend(address, rate)) >= 0) return undefined;
    return { retryAfterS: 1, reason: RATE_REFUSED };
  }
}

const redisRefusal = (which: number, ms: number): Refusal => ({
  retryAfterS: Math.max(1, Math.ceil(ms / 1000)),
  reason: which === 1 ? ADDRESS_REFUSED : USER_REFUSED,
});

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
