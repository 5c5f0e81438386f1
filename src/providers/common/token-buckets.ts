/**
 * @module providers/common/token-buckets
 * Token buckets by key (a client address, an address and port): each holds one second's worth of tokens
 * (`ratePerSec`) and refills at that rate, so a key may burst that many and then keep that rate. Bounded: a
 * bucket idle long enough to be full again is forgotten, and past `max` keys the least recently used go first.
 * Used by WebAppSec's rate limiting and by the login throttle's password checks per address.
 */

/** How often (in requests) idle buckets are swept. */
const SWEEP_EVERY = 1024;

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets by client key, least recently used first (Map keeps insertion order; a use re-inserts). */
export class TokenBuckets {
  readonly #rate: number;
  readonly #idleMs: number;
  readonly #max: number;
  readonly #buckets = new Map<string, Bucket>();
  #uses = 0;

  constructor(ratePerSec: number, idleMs: number, max: number) {
    this.#rate = ratePerSec;
    // A bucket idle long enough to refill completely is the same as no bucket.
    this.#idleMs = Math.max(idleMs, 1000);
    this.#max = max;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes a token: the tokens left (≥ 0), or -ms until one is available. */
  take(key: string, now: number): number {
    const capacity = this.#rate;
    let bucket = this.#buckets.get(key);
    if (bucket) {
      this.#buckets.delete(key);
      bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) * this.#rate) / 1000);
      bucket.at = now;
    } else {
      bucket = { tokens: capacity, at: now };
    }
    this.#buckets.set(key, bucket);
    if (++this.#uses % SWEEP_EVERY === 0 || this.#buckets.size > this.#max) this.#sweep(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return Math.floor(bucket.tokens);
    }
    return -Math.ceil(((1 - bucket.tokens) * 1000) / this.#rate);
  }

  #sweep(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (now - b.at < this.#idleMs) break; // the rest were used more recently
      this.#buckets.delete(key);
    }
    while (this.#buckets.size > this.#max) {
      const oldest = this.#buckets.keys().next().value as string;
      this.#buckets.delete(oldest);
    }
  }
}
