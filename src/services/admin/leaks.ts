/**
 * @module services/admin/leaks
 * The console's leak list (`GET /api/v1/leaks`): backend addresses the leak guard (rewrite/leak-guard,
 * `postern.rewrite.leak.guard`) found in responses after the outbound rules, per topology, service, route and
 * where (a header or the body), with how many, when last, the backend origin, what the guard did and an example
 * request path (never a query). From the `postern:rewrite-leak` events; nothing on the request path.
 *
 * One list per process, listening while an ADMIN deployment holds it (as the traffic recorder does), and bounded
 * ({@link MAX_ENTRIES}: a route template is a bounded label, but many topologies could still make many).
 */
import diagnostics_channel from 'node:diagnostics_channel';
import type { RewriteLeakEvent } from '../../observability/events.ts';

export const MAX_ENTRIES = 1000;

export interface LeakEntry {
  topology: string;
  service: string;
  route: string;
  where: string;
  origin: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** The last request path that leaked here (no query). */
  examplePath: string;
  /** What the guard did the last time: reported, rewritten, unmapped. */
  action: string;
}

class LeakList {
  readonly #entries = new Map<string, LeakEntry>();
  #holders = 0;
  readonly #listener = (message: unknown) => this.record(message as RewriteLeakEvent);

  /** Listens until the returned function is called (by each holder once). */
  hold(): () => void {
    if (this.#holders++ === 0) diagnostics_channel.subscribe('postern:rewrite-leak', this.#listener);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holders === 0) diagnostics_channel.unsubscribe('postern:rewrite-leak', this.#listener);
    };
  }

  record(e: RewriteLeakEvent): void {
    const key = `${e.topology}\u0000${e.service}\u0000${e.route}\u0000${e.where}`;
    const now = new Date().toISOString();
    const entry = this.#entries.get(key);
    if (entry) {
      entry.count += e.count;
      entry.lastSeen = now;
      entry.examplePath = e.path;
      entry.origin = e.origin;
      entry.action = e.action;
      return;
    }
    if (this.#entries.size >= MAX_ENTRIES) return;
    this.#entries.set(key, {
      topology: e.topology,
      service: e.service,
      route: e.route,
      where: e.where,
      origin: e.origin,
      count: e.count,
      firstSeen: now,
      lastSeen: now,
      examplePath: e.path,
      action: e.action,
    });
  }

  /** Most recent first; only the topologies `visible` accepts. */
  list(visible: (topology: string) => boolean): LeakEntry[] {
    return [...this.#entries.values()]
      .filter((e) => visible(e.topology))
      .sort((a, b) => b.lastSeen.localeCompare(a.lastSeen) || b.count - a.count);
  }
}

export const leaks = new LeakList();
