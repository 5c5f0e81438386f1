/**
 * @module gateway/recent-errors
 * A bounded ring of the gateway's recent errors, newest last: failed deployments (with their diagnostics as
 * `path:line:col: message`), HA backends gone down, and 5xx answers of deployed topologies. The gateway records
 * into it; the admin API (`GET …/api/v1/errors`) reads it. Nothing secret goes in: no URL query, no header.
 */

export interface RecentError {
  /** ISO time of the event. */
  time: string;
  kind: 'deployment' | 'backend-down' | 'response';
  topology: string;
  service?: string;
  status?: number;
  message: string;
  /** For `deployment`: the errors, `path:line:col: message`. */
  diagnostics?: string[];
}

export class RecentErrors {
  readonly capacity: number;
  #items: RecentError[] = [];
  /** Every error recorded since the gateway started (the ring keeps the last {@link capacity}). */
  total = 0;

  constructor(capacity = 200) {
    this.capacity = capacity;
  }

  record(error: Omit<RecentError, 'time'>): void {
    this.total++;
    this.#items.push({ time: new Date().toISOString(), ...error });
    if (this.#items.length > this.capacity) this.#items.splice(0, this.#items.length - this.capacity);
  }

  /** Newest first. */
  list(limit = this.capacity): RecentError[] {
    return this.#items.slice(-limit).reverse();
  }
}
