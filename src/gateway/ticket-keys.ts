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
 */
import { randomBytes } from 'node:crypto';

/** Node's `ticketKeys`: 16 bytes of key name, 16 of HMAC secret, 16 of AES key. */
export const TICKET_KEYS_BYTES = 48;

export function newTicketKeys(): Buffer {
  return randomBytes(TICKET_KEYS_BYTES);
}

/** The current key (`initial`, or a new one), replaced every `periodMs` (0: never); `apply` is told of each. */
export class TicketKeyRotation {
  #keys: Buffer;
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(periodMs: number, apply: (keys: Buffer) => void, initial: Buffer = newTicketKeys()) {
    this.#keys = initial;
    if (periodMs > 0) {
      this.#timer = setInterval(() => {
        this.#keys = newTicketKeys();
        apply(this.#keys);
      }, periodMs);
      // A rotation never keeps a process alive.
      this.#timer.unref();
    }
  }

  get keys(): Buffer {
    return this.#keys;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
