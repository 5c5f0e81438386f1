/**
 * @module tokenstate/service
 * The gateway's token state service (the contract's `TokenStateService`) over one store (store.ts): Knox's
 * `DefaultTokenStateService` rules (renewal within the max lifetime, 24 h renew interval, 7 days max lifetime,
 * eviction of expired state every `gateway.knox.token.eviction.interval` seconds once
 * `gateway.knox.token.eviction.grace.period` seconds have passed), passcodes stored as Knox's `TokenMAC` keyed
 * hash, and what Knox leaves to each node's memory done so that it holds for several nodes:
 *
 * - **The providers' cache** ({@link GatewayTokenState.check}): at most `postern.token.state.cache.max` entries
 *   (oldest dropped first), each answered for at most `postern.token.state.cache.ttl` (default 5 s) after it was
 *   read from the store, unknown tokens included. A change made through this node drops the entry at once; one
 *   made on another node is seen here within the TTL. That is the bound on how long a revoked or disabled token
 *   keeps working. Concurrent misses for one token share one store read.
 * - **Fail closed**: a store that cannot answer gives `TokenStateUnavailable` (the providers answer 503) unless
 *   a fresh entry is cached; the outage is logged once when it starts and once when it ends, never per request.
 *
 * The store opens at first use, so a gateway that never manages a token creates no file and opens no connection.
 * Logs name tokens by Knox's display form (`tokenIdDisplay`), never a token or a passcode.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import {
  type TokenRecord,
  type TokenStateService,
  TokenStateUnavailable,
  tokenIdDisplay,
  UnknownTokenError,
} from '../spi/index.ts';
import type { TokenStore } from './store.ts';

/** Knox's `DefaultTokenStateService.DEFAULT_RENEWAL_INTERVAL`. */
export const DEFAULT_RENEW_INTERVAL = 24 * 3600_000;
/** Knox's `DEFAULT_MAX_LIFETIME`: 7 renewals of the default interval. */
export const DEFAULT_MAX_LIFETIME = 7 * DEFAULT_RENEW_INTERVAL;
/** Knox's margin in `hasRemainingRenewals`. */
const RENEW_MARGIN = 30_000;

const HMAC: Record<string, string> = { HmacSHA256: 'sha256', HmacSHA384: 'sha384', HmacSHA512: 'sha512' };

export interface TokenStateOptions {
  /** Opens the store (called at first use; a throw is an outage like any other). */
  open(): TokenStore;
  /** The backend's Knox name before it is opened. */
  backend: string;
  configured: string;
  serverManagedDefault: boolean;
  limitPerUser: number;
  usersCanSeeAllTokens: readonly string[];
  hashAlgorithm: string;
  hashKey: Uint8Array;
  cacheTtlMs: number;
  cacheMax: number;
  evictionIntervalMs: number;
  evictionGraceMs: number;
  log: Logger;
}

interface CacheEntry {
  record: TokenRecord | undefined;
  until: number;
}

export class GatewayTokenState implements TokenStateService {
  readonly configured: string;
  readonly defaultRenewInterval = DEFAULT_RENEW_INTERVAL;
  readonly defaultMaxLifetime = DEFAULT_MAX_LIFETIME;
  readonly serverManagedDefault: boolean;
  readonly limitPerUser: number;
  readonly #o: TokenStateOptions;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<TokenRecord | undefined>>();
  #store?: TokenStore;
  #down = false;
  #evictor?: NodeJS.Timeout;
  #closed = false;

  constructor(options: TokenStateOptions) {
    this.#o = options;
    this.configured = options.configured;
    this.serverManagedDefault = options.serverManagedDefault;
    this.limitPerUser = options.limitPerUser;
  }

  get backend(): string {
    return this.#store?.backend ?? this.#o.backend;
  }

  get persistent(): boolean {
    return this.#o.backend !== 'DefaultTokenStateService';
  }

  canSeeAllTokens(user: string): boolean {
    return this.#o.usersCanSeeAllTokens.includes(user);
  }

  #open(): TokenStore {
    if (this.#closed) throw new Error('the token state service is closed');
    if (!this.#store) {
      this.#store = this.#o.open();
      this.#evictor = setInterval(() => void this.evictExpiredTokens(), this.#o.evictionIntervalMs);
      this.#evictor.unref();
    }
    return this.#store;
  }

  /** Runs a store operation: a failure is an outage (logged once), reported as TokenStateUnavailable. */
  async #call<T>(fn: (store: TokenStore) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await fn(this.#open());
    } catch (err) {
      const message = (err as Error)?.message || String(err);
      if (!this.#down) {
        this.#down = true;
        this.#o.log.error(
          { type: 'token-state', backend: this.backend, err: message },
          'token state store unreachable: token-protected requests get 503 until it answers again',
        );
      }
      throw new TokenStateUnavailable(`the token state store (${this.backend}) is unreachable`, {
        cause: err,
      });
    }
    if (this.#down) {
      this.#down = false;
      this.#o.log.info({ type: 'token-state', backend: this.backend }, 'token state store answers again');
    }
    return result;
  }

  #forget(tokenId: string): void {
    this.#cache.delete(tokenId);
  }

  #hash(record: Pick<TokenRecord, 'tokenId' | 'issueTime'>, userName: string, passcode: string): Buffer {
    return createHmac(HMAC[this.#o.hashAlgorithm] ?? 'sha256', this.#o.hashKey)
      .update(`${record.tokenId}${record.issueTime}${userName}`, 'utf8')
      .update(passcode, 'utf8')
      .digest();
  }

  async addToken(
    token: { tokenId: string; issueTime: number; expiration: number; maxLifetimeDuration: number },
    metadata: Record<string, string>,
    passcode?: string,
  ): Promise<void> {
    const md = { ...metadata };
    if (passcode !== undefined)
      md.passcode = this.#hash(token, md.userName ?? '', passcode).toString('base64');
    const record: TokenRecord = {
      tokenId: token.tokenId,
      issueTime: token.issueTime,
      expiration: token.expiration,
      maxLifetime:
        token.maxLifetimeDuration < 0
          ? token.maxLifetimeDuration
          : token.issueTime + token.maxLifetimeDuration,
      metadata: md,
    };
    await this.#call((s) => s.add(record));
    this.#forget(token.tokenId);
    this.#o.log.info({ type: 'token-state', token: tokenIdDisplay(token.tokenId) }, 'token state stored');
  }

  async getToken(tokenId: string): Promise<TokenRecord> {
    const record = await this.#call((s) => s.get(tokenId));
    if (!record) throw new UnknownTokenError(tokenId);
    return record;
  }

  async renewToken(tokenId: string, renewInterval: number): Promise<number> {
    const record = await this.getToken(tokenId);
    const now = Date.now();
    if (record.maxLifetime >= 0 && now + RENEW_MARGIN + renewInterval >= record.maxLifetime) {
      throw new RangeError('The renewal limit for the token has been exceeded');
    }
    const expiration = now + renewInterval;
    if (!(await this.#call((s) => s.setExpiration(tokenId, expiration))))
      throw new UnknownTokenError(tokenId);
    this.#forget(tokenId);
    this.#o.log.info(
      { type: 'token-state', token: tokenIdDisplay(tokenId), expiration: new Date(expiration).toISOString() },
      'token renewed',
    );
    return expiration;
  }

  async revokeToken(tokenId: string): Promise<void> {
    const removed = await this.#call((s) => s.remove(tokenId));
    this.#forget(tokenId);
    if (!removed) throw new UnknownTokenError(tokenId);
    this.#o.log.info({ type: 'token-state', token: tokenIdDisplay(tokenId) }, 'token revoked');
  }

  async addMetadata(tokenId: string, metadata: Record<string, string>): Promise<void> {
    const ok = await this.#call((s) => s.setMetadata(tokenId, metadata));
    this.#forget(tokenId);
    if (!ok) throw new UnknownTokenError(tokenId);
  }

  getTokens(user: string): Promise<TokenRecord[]> {
    return this.#call((s) => s.list({ name: 'userName', value: user }));
  }

  getDoAsTokens(createdBy: string): Promise<TokenRecord[]> {
    return this.#call((s) => s.list({ name: 'createdBy', value: createdBy }));
  }

  getAllTokens(): Promise<TokenRecord[]> {
    return this.#call((s) => s.list());
  }

  async check(tokenId: string): Promise<TokenRecord | undefined> {
    const now = Date.now();
    const hit = this.#cache.get(tokenId);
    if (hit && hit.until > now) return hit.record;
    if (hit) this.#cache.delete(tokenId);
    let pending = this.#inflight.get(tokenId);
    if (!pending) {
      pending = this.#call((s) => s.get(tokenId)).finally(() => this.#inflight.delete(tokenId));
      this.#inflight.set(tokenId, pending);
      const ttl = this.#o.cacheTtlMs;
      if (ttl > 0) {
        void pending.then(
          (record) => {
            if (this.#cache.size >= this.#o.cacheMax) {
              const oldest = this.#cache.keys().next().value;
              if (oldest !== undefined) this.#cache.delete(oldest);
            }
            this.#cache.set(tokenId, { record, until: now + ttl });
          },
          () => {},
        );
      }
    }
    return pending;
  }

  passcodeMatches(record: TokenRecord, passcode: string): boolean {
    const stored = record.metadata.passcode;
    if (stored === undefined) return false;
    const expected = Buffer.from(stored, 'base64');
    const given = this.#hash(record, record.metadata.userName ?? '', passcode);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /** Removes the state of tokens expired more than the grace period ago (Knox's eviction). */
  async evictExpiredTokens(): Promise<number> {
    try {
      const ids = await this.#call((s) => s.removeExpired(Date.now() - this.#o.evictionGraceMs));
      for (const id of ids) this.#forget(id);
      if (ids.length > 0) {
        this.#o.log.info(
          { type: 'token-state', evicted: ids.length, tokens: ids.slice(0, 20).map(tokenIdDisplay) },
          'expired token state evicted',
        );
      }
      return ids.length;
    } catch {
      return 0; // the outage is logged by #call; eviction runs again at the next interval
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#evictor) clearInterval(this.#evictor);
    const store = this.#store;
    this.#store = undefined;
    await store?.close();
  }
}
