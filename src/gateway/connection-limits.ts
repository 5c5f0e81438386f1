/**
 * @module gateway/connection-limits
 * Caps on open client connections, counted on the TCP connection before any TLS or HTTP byte is read: in total
 * (`postern.connections.max`, which is Node's own `server.maxConnections`) and per client address
 * (`postern.connections.max.per.address`). A connection over a cap is closed at once, having cost the gateway
 * an accept and nothing else, so a client that opens connections and sends nothing (or headers one byte at a
 * time) holds at most its share; the others keep being served. 0 turns a cap off.
 *
 * Refusals are logged at most once a minute, with how many there were, so a flood does not flood the log too.
 */
import type { Server, Socket } from 'node:net';
import type { ResourceLimits } from '../config/gateway-site.ts';
import type { Logger } from '../observability/logger.ts';

const LOG_EVERY_MS = 60_000;

/** The address a cap counts: IPv4-mapped IPv6 addresses as plain IPv4. */
export function clientAddress(socket: { remoteAddress?: string }): string {
  const a = socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

export class ConnectionLimits {
  readonly #server: Server;
  readonly #log: Logger;
  readonly #open = new Map<string, number>();
  #perAddress: number;
  #refused = 0;
  #loggedAt = Number.NEGATIVE_INFINITY;

  constructor(server: Server, limits: ResourceLimits, log: Logger) {
    this.#server = server;
    this.#log = log;
    this.#perAddress = limits.connectionsPerAddress;
    this.apply(limits);
    server.on('connection', (socket: Socket) => this.#accept(socket));
    server.on('drop', (data?: { remoteAddress?: string }) =>
      this.#refusedOne('postern.connections.max', data?.remoteAddress),
    );
  }

  /** Applies changed caps (SIGHUP); connections already open stay. */
  apply(limits: ResourceLimits): void {
    this.#perAddress = limits.connectionsPerAddress;
    this.#server.maxConnections =
      limits.connectionsMax > 0 ? limits.connectionsMax : Number.POSITIVE_INFINITY;
  }

  /** Open connections from an address (for tests and the admin view). */
  openFrom(address: string): number {
    return this.#open.get(address) ?? 0;
  }

  #accept(socket: Socket): void {
    if (this.#perAddress <= 0) return;
    const address = clientAddress(socket);
    const open = this.#open.get(address) ?? 0;
    if (open >= this.#perAddress) {
      socket.destroy();
      this.#refusedOne('postern.connections.max.per.address', address);
      return;
    }
    this.#open.set(address, open + 1);
    socket.once('close', () => {
      const left = (this.#open.get(address) ?? 1) - 1;
      if (left <= 0) this.#open.delete(address);
      else this.#open.set(address, left);
    });
  }

  #refusedOne(cap: string, address: string | undefined): void {
    this.#refused++;
    const now = performance.now();
    if (now - this.#loggedAt < LOG_EVERY_MS) return;
    this.#loggedAt = now;
    this.#log.warn(
      { cap, remote: address, refused: this.#refused },
      'connection refused: over the connection cap',
    );
    this.#refused = 0;
  }
}
