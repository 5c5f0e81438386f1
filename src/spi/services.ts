/**
 * @module spi/services
 * What a plugin registers besides providers and dispatches: services the gateway answers itself, and
 * topology-level contributors.
 *
 * - A **service** ({@link ServiceFactory}, `registry.service({...})`) answers the routes of a service definition
 *   in the gateway instead of forwarding them (ADMIN, CHANNELS, KNOXSSO, KNOXTOKEN, JWKS). Its definition names it
 *   as its dispatch (`<dispatch contributor-name="…">`). Beyond a dispatch it may have WebSocket endpoints outside
 *   the gateway path (the CHANNELS backplane) and a life of its own with the gateway (open, start, stop). The
 *   gateway drives all of it through the registry and never imports a service by name.
 * - A **contributor** ({@link TopologyContributor}, `registry.contributor({...})`, Knox's `contributeProvider`)
 *   reads the topology's providers of one role (`ha`, `hostmap`) at deployment and contributes state instead of a
 *   chain filter: to the dispatches of the services it is on for (`ctx.contribution(key)`), and to the topology
 *   (the hostmap the rewrite functions map hosts through).
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { DiagnosticSink } from '../config/diagnostics.ts';
import type { GatewaySettings } from '../config/gateway-site.ts';
import type { DispatchDef } from '../servicedef/model.ts';
import type { ProviderConfig, ServiceConfig, Topology } from '../topology/model.ts';
import type { UpgradeRequest } from './exchange.ts';
import type { DispatchContext, DispatchFactory, Handler, RouteContext } from './factories.ts';

/** What a service's life-cycle hooks and endpoints are given: the gateway they run in. */
export interface ServiceHost {
  readonly settings: GatewaySettings;
  readonly log: Logger;
  /** The gateway home. */
  readonly home: string;
}

/** A WebSocket endpoint of a service outside `/{gateway.path}/` (the CHANNELS backplane's `/websocket/broadcast/`). */
export interface ServiceEndpoint {
  /** The exact path (the query is ignored); it must start with `/` and lie outside the gateway path. */
  readonly path: string;
  /** Whether this gateway serves the path now (e.g. only with the backplane layer); default: always. */
  enabled?(settings: GatewaySettings): boolean;
  /**
   * Takes a WebSocket upgrade of {@link path}: calls `detach()` to free the socket from the HTTP response that
   * would carry a refusal, then owns the socket. Returns undefined when it took it, or the refusal (an Error;
   * a catalogued GatewayError gives its answer, any other a 403) which the gateway answers. A throw is a 500.
   */
  upgrade(
    req: IncomingMessage,
    upgrade: UpgradeRequest,
    context: { readonly settings: GatewaySettings; detach(): void },
  ): Error | undefined;
}

/** A service the gateway answers itself, registered with `registry.service({...})`. */
/** One metric family a service reports itself ({@link ServiceFactory.metricFamilies}). */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  values: { labels: Record<string, string | number>; value: number }[];
  /**
   * With several workers: true when each worker's values must stay apart (a sum would be wrong: something each
   * worker has of its own, such as a connection's state, or that two workers can count twice), so they carry a
   * `worker` label (its number); false when the workers' values add up to the gateway's and are summed.
   */
  perWorker: boolean;
}

export interface ServiceFactory {
  /** The dispatch name its service definition gives (`<dispatch contributor-name>`), e.g. `Admin`. */
  readonly name: string;
  /**
   * The service roles it answers (`ADMIN`, `KNOXSSO`): Knox's spelling, upper-case letters, digits, `-` and `_`,
   * starting with a letter. Checked at registration.
   */
  readonly roles: readonly string[];
  /** Class names (Knox's resource classes, or postern's) its definitions may name instead. */
  readonly classNames?: readonly string[];
  /** The handler of one route (as a dispatch's `create`). */
  create(ctx: DispatchContext): Handler;
  /** The handler of WebSocket upgrades on its routes; without it they go the default way (the relay). */
  createUpgrade?(ctx: DispatchContext): Handler;
  /** WebSocket endpoints outside the gateway path. */
  readonly endpoints?: readonly ServiceEndpoint[];
  /** Before the first topology deploys. */
  open?(host: ServiceHost): void;
  /** Once the gateway listens; a throw stops the gateway from starting. */
  start?(host: ServiceHost): void | Promise<void>;
  /** When the gateway stops, before its listener closes and its deployments retire. */
  stop?(host: ServiceHost): void | Promise<void>;
  /**
   * The service's own metric families, added to each scrape. With several workers every worker's are in one scrape
   * (summed, or kept apart by a `worker` label: {@link MetricFamily.perWorker}).
   */
  metricFamilies?(host: Pick<ServiceHost, 'settings'>): MetricFamily[];
  /**
   * More metric families in Prometheus text, appended to each scrape of the metrics endpoint; with several workers,
   * only the worker that answered the scrape's (prefer {@link metricFamilies}).
   */
  metricsText?(host: Pick<ServiceHost, 'settings'>): string;
  /**
   * An error on its routes (its own, or a provider's in the chain: a 403 from authorization) as an HTML page,
   * for a browser (`accept` is the request's Accept header); undefined keeps the gateway's JSON error body. The
   * page is sent with a Content-Security-Policy that allows no script, style or image of any origin.
   */
  errorPage?(
    error: { status: number; code: string; message: string; requestId: string },
    accept: string | undefined,
  ): string | undefined;
}

/** What a contributor is given at deployment. */
export interface ContributorContext {
  readonly topology: Topology;
  /** The topology's enabled providers of the contributor's role (at least one). */
  readonly providers: readonly ProviderConfig[];
  readonly settings: GatewaySettings;
  readonly sink: DiagnosticSink;
}

/** What a contributor gives one service of the topology (HA for a role it is on for). */
export interface ServiceContribution {
  /**
   * The dispatch names to choose from while the contribution is on (first registered wins), instead of the
   * definition's: HA's `ha-contributor-name` / `ha-classname`, then `fallback`.
   */
  readonly dispatch?: {
    names(override: DispatchDef | undefined, chosen: DispatchDef | undefined): (string | undefined)[];
    readonly fallback: string;
  };
  /** Whether a dispatch takes the contribution (HA: only a `failover` dispatch); default: every dispatch. */
  accepts?(factory: DispatchFactory): boolean;
  /** The value a dispatch finds under the contributor's key (made once per deployment and service). */
  value(ctx: Pick<RouteContext, 'topology' | 'service' | 'settings' | 'shared' | 'onRetire'>): unknown;
}

/** What a contributor gives a topology's deployment. */
export interface TopologyContribution {
  /** Topology-wide state, found under the contributor's key (the hostmap under {@link HOSTMAP_CONTRIBUTION}). */
  readonly value?: unknown;
  /** Per service: its contribution, or undefined when it is off for that service. */
  forService?(service: ServiceConfig): ServiceContribution | undefined;
}

/** A topology-level provider role's contribution to deployment, registered with `registry.contributor({...})`. */
export interface TopologyContributor {
  /** The provider role it reads (`ha`, `hostmap`); providers of that role add no chain filter. */
  readonly role: string;
  /** The key its contribution is found under (`ctx.contribution(key)`). */
  readonly key: string;
  /** Reads the role's providers of one topology (problems go to `ctx.sink` at their `<param>`). */
  contribute(ctx: ContributorContext): TopologyContribution | undefined;
}

/**
 * The key of the hostmap contribution: `{ toInternal(host), toExternal(host) }`, which the rewrite functions
 * (`$hostmap`, `$serviceMappedUrl`, …) map hosts through.
 */
export const HOSTMAP_CONTRIBUTION = 'hostmap';
