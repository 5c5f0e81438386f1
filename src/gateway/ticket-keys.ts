/**
 * @module gateway/ticket-keys
 * The key that seals the TLS listener's session tickets: one for every process of the gateway, replaced on a
 * timer.
 *
 * A client resumes a TLS session (TLS 1.3 pre-shared key, TLS 1.2 ticket) by sending back the ticket the server
 * gave it, sealed under the server's ticket key; a resumption costs no signature with the certificate's key.
 * Node makes that key at random for each TLS server and keeps it for the server's life. node:cluster shares it:
 * each worker's listener gets the key of the first worker's first listen, so a session resumes on whichever
 * worker the next connection goes to. But nothing ever replaced it, and who reads a ticket key can open the
 * tickets it sealed and, through a TLS 1.2 ticket (which carries the session's master secret), the recorded
 * traffic of that session: a key as old as the process keeps every session since the start readable.
 *
 * So the key is replaced every `postern.tls.ticket.key.rotation`, default 1 h: the JDK's own period for the
 * stateless tickets of a Knox gateway (`jdk.tls.server.statelessKeyTimeout`, 3,600 s); nginx too rotates the
 * keys it makes itself when its workers share sessions (since 1.23.2). Nothing writes it anywhere. With workers
 * the primary makes it and tells every worker (cluster/supervisor.ts, cluster/worker.ts): at the worker's start,
 * again once it listens (node:cluster would otherwise give a replacement worker the first key), and at each
 * rotation. A single process rotates its own. Node takes one key at a time: a ticket sealed under the key before
 * is not read after a rotation, and that client does one full handshake (its ticket had at most Node's session
 * lifetime, 300 s, left anyway).
 *
 * Several nodes behind one load balancer each have their own key, unless `postern.tls.ticket.key.shared` has them
 * read one through `postern.state.redis.url` (cluster/redis-state): the key of each rotation period, counted at
 * Redis's clock, made by the first node that asks and kept there only until the period ends. A session then
 * resumes on any node; for that the nodes also need the same TLS session id context, which gateway/tls derives
 * from the certificate and the client-certificate trust (Node's default, a hash of the command line, differs from
 * one node to the next).
 */
import { randomBytes } from 'node:crypto';
import { sharedState } from '../cluster/redis-state.ts';
import type { GatewaySettings } from '../config/gateway-site.ts';

/** Node's `ticketKeys`: 16 bytes of key name, 16 of HMAC secret, 16 of AES key. */
export const TICKET_KEYS_BYTES = 48;

export function newTicketKeys(): Buffer {
  return randomBytes(TICKET_KEYS_BYTES);
}

/** Where the nodes' shared key comes from (cluster/redis-state's `ticketKey`). */
export type SharedTicketKey = (
  periodMs: number,
  candidate: Buffer,
) => Promise<{ keys: Buffer; msLeft: number }>;

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The shared key's source for these settings (`postern.tls.ticket.key.shared`, through `postern.state.redis.url`),
 * or undefined when each node makes its own. The process must hold the shared state (acquireSharedState).
 */
export function sharedTicketKeys(
  settings: GatewaySettings,
  log: Log,
): { fetch: SharedTicketKey; log: Log } | undefined {
  const state = settings.ssl.ticketKeyShared ? sharedState(settings) : undefined;
  return state && { fetch: (periodMs, candidate) => state.ticketKey(periodMs, candidate), log };
}

/** The longest delay a Node timer takes (a longer one fires at once): periods above it are cut to it (~24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a start waits at most for the first shared key (Redis slow or down: the start goes on). */
export const SHARED_KEY_WAIT_MS = 2000;
/** How soon a node asks again for the shared key while Redis does not answer. */
export const SHARED_RETRY_MS = 5000;
/** How long after a period's end (at Redis's clock) a node asks for the next period's key, at most. */
const SHARED_AFTER_MS = 1000;

/**
 * The current key (`initial`, or a new one), replaced every `periodMs` (0: never); `apply` is told of each.
 *
 * With `shared` (`postern.tls.ticket.key.shared`), the key is the period's key every node reads from Redis: asked
 * for at once (`ready` settles once the first answer came or failed), and again just after each period ends
 * (100–1,000 ms after, so that the nodes do not all ask in the same millisecond; meanwhile a node that switched
 * already issues tickets the others do not read yet, and those clients do one full handshake). While Redis does not
 * answer, the key in use stays until its period ends and is then replaced by one of the node's own, as without
 * sharing, and Redis is asked again every {@link SHARED_RETRY_MS}.
 */
export class TicketKeyRotation {
  #keys: Buffer;
  #timer: NodeJS.Timeout | undefined;
  readonly #periodMs: number;
  readonly #apply: (keys: Buffer) => void;
  #stopped = false;
  /** Shared: when the key in use is due for replacement. */
  #dueAt = 0;
  #down = false;
  /** Settled once the first shared key came, or did not (at once without sharing). */
  readonly ready: Promise<void>;

  constructor(
    periodMs: number,
    apply: (keys: Buffer) => void,
    initial: Buffer = newTicketKeys(),
    shared?: { fetch: SharedTicketKey; log: Log },
  ) {
    this.#keys = initial;
    periodMs = Math.min(periodMs, MAX_TIMER_MS);
    this.#periodMs = periodMs;
    this.#apply = apply;
    if (shared && periodMs > 0) {
      this.#dueAt = Date.now() + periodMs;
      this.ready = this.#share(shared.fetch, shared.log);
      return;
    }
    this.ready = Promise.resolve();
    if (periodMs > 0) {
      this.#timer = setInterval(() => this.#replace(newTicketKeys()), periodMs);
      // A rotation never keeps a process alive.
      this.#timer.unref();
    }
  }

  get keys(): Buffer {
    return this.#keys;
  }

  /** {@link ready}, or `ms` passed: a start waits that long at most for Redis. */
  readyWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.ready,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
  }

  #replace(keys: Buffer): void {
    if (keys.equals(this.#keys)) return;
    this.#keys = keys;
    this.#apply(keys);
  }

  async #share(fetch: SharedTicketKey, log: Log): Promise<void> {
    if (this.#stopped) return;
    let nextMs: number;
    try {
      const { keys, msLeft } = await fetch(this.#periodMs, newTicketKeys());
      if (this.#stopped) return;
      this.#replace(keys);
      this.#dueAt = Date.now() + msLeft;
      nextMs = msLeft + 100 + Math.floor(Math.random() * (SHARED_AFTER_MS - 100));
      if (this.#down) {
        this.#down = false;
        log.info({}, 'the shared TLS session ticket key is read from Redis again');
      }
    } catch (err) {
      if (this.#stopped) return;
      if (!this.#down) {
        this.#down = true;
        log.warn(
          { err: (err as Error).message },
          'the shared TLS session ticket key cannot be read from Redis: this node rotates a key of its own until it can (sessions resume on this node only)',
        );
      }
      if (Date.now() >= this.#dueAt) {
        this.#replace(newTicketKeys());
        this.#dueAt = Date.now() + this.#periodMs;
      }
      nextMs = Math.min(SHARED_RETRY_MS, Math.max(this.#dueAt - Date.now(), 0));
    }
    this.#timer = setTimeout(() => void this.#share(fetch, log), Math.min(nextMs, MAX_TIMER_MS));
    this.#timer.unref();
  }
}
