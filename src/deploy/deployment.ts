/**
 * @module deploy/deployment
 * The immutable runtime object of one deployed topology: a TemplateMatcher of the topology's routes, each
 * holding its compiled chain. A request keeps a reference to the deployment it started on, so a redeploy never
 * changes the rules under a request in flight; the old deployment releases its pools when its last request ends.
 */

import type { Position } from '../config/diagnostics.ts';
import type { Exchange } from '../providers/types.ts';
import type { Topology } from '../topology/model.ts';

export type RetireReason = 'redeploy' | 'undeploy' | 'shutdown';
export type Release = (reason: RetireReason) => void | Promise<void>;

import type { Template, TemplateMatcher } from '../urltemplate/index.ts';

export interface CompiledRoute {
  /** Service role (`WEBHDFS`) and definition `name/version`, for logs and `explain`. */
  readonly role: string;
  readonly definition: string;
  readonly path: string;
  readonly template: Template;
  /** Provider names in chain order, ending with the dispatch (for logs and explain). */
  readonly chain: readonly string[];
  readonly pos: Position;
  readonly run: (ex: Exchange) => Promise<void>;
  /** The same chain ending in the WebSocket relay, for upgrade requests. */
  readonly upgrade: (ex: Exchange) => Promise<void>;
}

export class Deployment {
  readonly name: string;
  readonly topology: Topology;
  readonly matcher: TemplateMatcher<CompiledRoute>;
  readonly routes: readonly CompiledRoute[];
  readonly defaultPath: string | undefined;
  readonly deployedAt = new Date();
  #inflight = 0;
  #retiring = false;
  #releases: Release[];
  #released?: Promise<void>;
  #drained?: () => void;

  constructor(init: {
    name: string;
    topology: Topology;
    matcher: TemplateMatcher<CompiledRoute>;
    routes: CompiledRoute[];
    releases: Release[];
  }) {
    this.name = init.name;
    this.topology = init.topology;
    this.matcher = init.matcher;
    this.routes = Object.freeze(init.routes);
    this.defaultPath = init.topology.defaultPath;
    this.#releases = init.releases;
  }

  get inflight(): number {
    return this.#inflight;
  }

  enter(): void {
    this.#inflight++;
  }

  leave(): void {
    this.#inflight--;
    if (this.#inflight === 0 && this.#drained) this.#drained();
  }

  /**
   * Waits for the requests in flight, then releases pools and other resources. Idempotent.
   * @param reason `redeploy` when a new deployment of the topology replaced this one (long-lived connections such
   * as WebSockets stay up on it), `undeploy` or `shutdown` when nothing replaces it.
   */
  retire(reason: RetireReason = 'shutdown'): Promise<void> {
    if (this.#released) return this.#released;
    this.#retiring = true;
    const drained =
      this.#inflight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.#drained = resolve;
          });
    this.#released = drained.then(async () => {
      const results = await Promise.allSettled(this.#releases.map((fn) => fn(reason)));
      this.#releases = [];
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    });
    return this.#released;
  }

  get retiring(): boolean {
    return this.#retiring;
  }
}
