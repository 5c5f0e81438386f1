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
 * One throttle per loaded gateway-site (a WeakMap on its limits), shared by every topology, so that spreading
 * attempts over topologies gains nothing. Memory is bounded: each table keeps at most {@link MAX_KEYS} keys and
 * drops its oldest first.
 */
import type { ResourceLimits } from '../../config/gateway-site.ts';
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

export class LoginThrottle {
  readonly #limits: ResourceLimits;
  readonly #now: () => number;
  readonly #byAddress = new FailureCounter();
  readonly #byUser = new FailureCounter();
  readonly #checks: TokenBuckets;

  constructor(limits: ResourceLimits, now: () => number = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
    this.#checks = new TokenBuckets(Math.max(limits.authVerifyRatePerAddress, 1), 1000, MAX_KEYS);
  }

  /** Before anything is checked: a refusal when the address or the user has failed too often lately. */
  admit(address: string, username: string): Refusal | undefined {
    const now = this.#now();
    const l = this.#limits;
    const byAddress = this.#byAddress.blocked(address, l.authFailuresPerAddress, now);
    if (byAddress > 0) return { retryAfterS: byAddress, reason: 'too many failed logins from this address' };
    const byUser = this.#byUser.blocked(username, l.authFailuresPerUser, now);
    if (byUser > 0) return { retryAfterS: byUser, reason: 'too many failed logins for this user' };
    return undefined;
  }

  /** Before a realm checks a password (not for a cache hit): a refusal when the address is over its rate. */
  spend(address: string): Refusal | undefined {
    if (this.#limits.authVerifyRatePerAddress <= 0 || this.#checks.take(address, this.#now()) >= 0)
      return undefined;
    return { retryAfterS: 1, reason: 'too many password checks per second from this address' };
  }

  /** A login that a realm rejected. */
  failed(address: string, username: string): void {
    const now = this.#now();
    this.#byAddress.add(address, this.#limits.authFailureWindowMs, now);
    this.#byUser.add(username, this.#limits.authFailureWindowMs, now);
  }
}

const throttles = new WeakMap<ResourceLimits, LoginThrottle>();

/** The process's throttle for these limits (one per loaded gateway-site). */
export function loginThrottle(limits: ResourceLimits): LoginThrottle {
  let t = throttles.get(limits);
  if (!t) {
    t = new LoginThrottle(limits);
    throttles.set(limits, t);
  }
  return t;
}
