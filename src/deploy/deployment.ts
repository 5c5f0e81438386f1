/**
 * @module deploy/deployment
 * The immutable runtime object of one deployed topology: a TemplateMatcher of the topology's routes, each
 * holding its compiled chain. A request keeps a reference to the deployment it started on, so a redeploy never
 * changes the rules under a request in flight; the old deployment releases its pools when its last request ends.
 */

import type { Diagnostic, Position } from '../config/diagnostics.ts';
import type { GatewaySettings } from '../config/gateway-site.ts';
import type { ErrorShape } from '../gateway/error-shape.ts';
import type { CompiledRewriteRules } from '../rewrite/index.ts';
import type { RouteDef, ServiceDefinition } from '../servicedef/model.ts';
import type { Exchange, Filter } from '../spi/index.ts';
import type { ServiceConfig, Topology } from '../topology/model.ts';

export type RetireReason = 'redeploy' | 'undeploy' | 'shutdown';
export type Release = (reason: RetireReason) => void | Promise<void>;

import type { Template, TemplateMatcher } from '../urltemplate/index.ts';

/** A service of the topology that did not deploy (the others serve): its URLs answer 503 with {@link code}. */
export interface FailedService {
  readonly role: string;
  readonly name?: string;
  /** `ROLE` or `ROLE (name NAME)`, as diagnostics name it. */
  readonly label: string;
  /** The catalog code (src/errors.ts) its URLs answer with. */
  readonly code: string;
  readonly diagnostics: readonly Diagnostic[];
}

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
  /** The topology service and the definition's route this route was built from (explain, check). */
  readonly service: ServiceConfig;
  readonly route: RouteDef;
  /** The chain as deployed, step by step (explain dry-runs some filters; never used by the request path). */
  readonly steps: readonly ChainStepInfo[];
  readonly dispatch: DispatchInfo;
  /** The body of the gateway's own errors on this route, when its clients expect their service's format. */
  readonly errorShape?: ErrorShape;
}

/** One provider of a route's chain: its effective params and filter (absent: it had nothing to do here). */
export interface ChainStepInfo {
  readonly role: string;
  readonly name: string;
  readonly params: ReadonlyMap<string, string>;
  readonly pos: Position;
  readonly filter: Filter | undefined;
}

export interface DispatchInfo {
  readonly name: string;
  /** Service params + dispatch params, as the dispatch saw them. */
  readonly params: ReadonlyMap<string, string>;
  readonly pos: Position;
  /** The backend request headers the dispatch would send for an exchange, when the dispatch can tell. */
  readonly requestHeaders?: (ex: Exchange) => Record<string, string>;
}

export class Deployment {
  readonly name: string;
  readonly topology: Topology;
  readonly matcher: TemplateMatcher<CompiledRoute>;
  readonly routes: readonly CompiledRoute[];
  readonly defaultPath: string | undefined;
  /** What the deployment was compiled with (explain and check read them; the request path does not). */
  readonly settings: GatewaySettings;
  readonly rewrite: CompiledRewriteRules;
  readonly definitions: readonly ServiceDefinition[];
  /** The services that did not deploy; the topology serves the others. */
  readonly failed: readonly FailedService[];
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
    settings: GatewaySettings;
    rewrite: CompiledRewriteRules;
    definitions: readonly ServiceDefinition[];
    failed?: readonly FailedService[];
  }) {
    this.name = init.name;
    this.topology = init.topology;
    this.matcher = init.matcher;
    this.routes = Object.freeze(init.routes);
    this.defaultPath = init.topology.defaultPath;
    this.settings = init.settings;
    this.rewrite = init.rewrite;
    this.definitions = init.definitions;
    this.failed = init.failed ?? [];
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
