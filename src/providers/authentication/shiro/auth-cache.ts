/**
 * @module providers/authentication/shiro/auth-cache
 * Shiro's authentication cache (`authenticationCachingEnabled` with a `cacheManager`): a successful login is
 * remembered for a while, so repeated Basic requests do not bind to LDAP each time. The key is an HMAC-SHA256 of
 * realm, user and password under a key made at process start and never stored, so the cache holds no password
 * and nothing from which one could be checked offline after the process ends. Entries live `ttlMs` from the login
 * (Knox's ehcache default is 120 s); the cache is bounded and drops its oldest entries first. Failures are never
 * cached.
 */
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import type { Principal } from '../../../spi/index.ts';

// A KeyObject made once: an HMAC keyed with a Buffer imports the key on every call (about 8× slower on Node 24).
const PROCESS_KEY = createSecretKey(randomBytes(32));

export class AuthenticationCache {
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly #entries = new Map<string, { user: Principal; expiresAt: number }>();
  readonly #now: () => number;

  constructor(options: { ttlMs: number; maxEntries?: number; now?: () => number }) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  #key(realm: string, username: string, password: string): string {
    return createHmac('sha256', PROCESS_KEY)
      .update(`${realm}\u0000${username}\u0000`)
      .update(password)
      .digest('base64url');
  }

  get(realm: string, username: string, password: string): Principal | undefined {
    const key = this.#key(realm, username, password);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.user;
  }

  set(realm: string, username: string, password: string, user: Principal): void {
    const key = this.#key(realm, username, password);
    this.#entries.delete(key);
    while (this.#entries.size >= this.maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
    this.#entries.set(key, { user, expiresAt: this.#now() + this.ttlMs });
  }

  clear(): void {
    this.#entries.clear();
  }
}
