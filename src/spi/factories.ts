/**
 * @module spi/factories
 * What a plugin registers and what it is given. A provider is a factory: at deployment it sees the topology's
 * configuration for one route and returns a filter (or nothing, when it has nothing to do there). At runtime a
 * route's filters run in order around an {@link Exchange} and the last one calls the route's handler (the
 * dispatch to the backend, or a service the gateway answers itself). All the parsing, validation and lookup happen
 * in the factory, so a filter only does per-request work.
 */
import type { DiagnosticSink, Position } from '../config/diagnostics.ts';
import type { GatewaySettings } from '../config/gateway-site.ts';
import type { DispatchDef, RouteDef, ServiceDefinition } from '../servicedef/model.ts';
import type { ServiceConfig, Topology } from '../topology/model.ts';
import type { AuditLog } from './audit.ts';
import type { Exchange } from './exchange.ts';
import type { GatewayHandle } from './gateway-handle.ts';
import type { RewriteRules } from './rewrite.ts';

/**
 * Roles whose providers form chain filters when a service definition declares no `<policies>`, in Knox's default
 * order (`ServiceDefinitionDeploymentContributor`). The other roles of a topology (`ha`, `hostmap`) configure
 * deployment instead.
 */
export const DefaultPolicyOrder = [
  'webappsec',
  'authentication',
  'federation',
  'rewrite',
  'identity-assertion',
  'authorization',
] as const;

export type Next = () => Promise<void>;
export type Filter = (ex: Exchange, next: Next) => Promise<void>;
/** The last step of a route: forwards the exchange to its backend, or answers it in the gateway. */
export type Handler = (ex: Exchange) => Promise<void>;

/** What every factory sees at deployment: the route being built and the deployment's shared services. */
export interface RouteContext {
  readonly topology: Topology;
  readonly service: ServiceConfig;
  readonly definition: ServiceDefinition;
  readonly route: RouteDef;
  readonly settings: GatewaySettings;
  readonly sink: DiagnosticSink;
  /** Per-deployment state shared between routes of a topology (one connection pool, one LDAP client), by key. */
  shared<T>(key: string, create: () => T): T;
  /**
   * State that outlives this deployment: kept by the gateway across redeployments of every topology, by key
   * (e.g. the open WebSockets of a topology, counted against its limit whichever deployment holds them). Prefix
   * keys with the topology name when the state is per topology.
   */
  sharedAcrossDeployments<T>(key: string, create: () => T): T;
  /** Registers a resource to release when the deployment is retired, and why it is (see Deployment.retire). */
  onRetire(fn: (reason: 'redeploy' | 'undeploy' | 'shutdown') => void | Promise<void>): void;
  /** The audit trail (logs/audit.log): `audit.forRoute(...)` at deployment gives the per-request recorder. */
  readonly audit: AuditLog;
  /** The gateway home (files named by relative paths in params are resolved against it). */
  readonly home: string;
  /**
   * The gateway's master secret. Derive a key per purpose (deploy/secrets.ts `topologyKey`); never use it directly
   * and never log it.
   */
  readonly masterSecret: Uint8Array;
  /**
   * Knox's `${ALIAS=name}`: a param value written that way becomes the secret stored under that alias (this
   * topology's credential store, else the gateway's; `postern cli create-alias`); any other value is returned as
   * it is. Resolve only the params Knox resolves (passwords), at deployment, and never log the result.
   * @throws Error naming the alias (never a secret) when no store has it
   */
  secret(value: string): string;
  /**
   * The running gateway that deploys this topology, for the services that report on it or manage it (the bundled
   * ADMIN service). Undefined when a topology is compiled outside a running gateway (`postern check`, `postern
   * explain`, tests compiling directly): such a factory must still build, and answer 503 at runtime.
   */
  readonly gateway?: GatewayHandle;
}

/** What a provider factory sees at deployment, for one route of one service. */
export interface ProviderContext extends RouteContext {
  readonly role: string;
  readonly name: string;
  /** The provider's params: topology provider params, overridden by chain and chain-ref params. */
  readonly params: ReadonlyMap<string, string>;
  /** Where the provider was configured (for diagnostics). */
  readonly pos: Position;
  readonly rewrite: RewriteRules;
}

export interface ProviderFactory {
  readonly role: string;
  readonly name: string;
  /** Build the filter for one route, or return undefined when this provider has nothing to do there. */
  create(ctx: ProviderContext): Filter | undefined;
}

/** What a dispatch factory sees at deployment. */
export interface DispatchContext extends RouteContext {
  readonly name: string;
  /** Service params + dispatch params (dispatch params win). */
  readonly params: ReadonlyMap<string, string>;
  readonly dispatch: DispatchDef | undefined;
  readonly pos: Position;
  /**
   * The service asks for two-way TLS to its backend (`use-two-way-ssl` on its dispatch, or the service param
   * `useTwoWaySsl`): the gateway presents its own certificate.
   */
  readonly useTwoWaySsl: boolean;
  /**
   * What a topology-level provider contributed for this service, by key: the HaProvider's failover state under
   * {@link HA_CONTRIBUTION} when HA is on for the service and the dispatch {@link DispatchFactory.failover fails
   * over}. The contributing module exports the value's type.
   */
  contribution<T>(key: string): T | undefined;
}

/** The key of the HaProvider's contribution (dispatch/ha/service's `HaService`). */
export const HA_CONTRIBUTION = 'ha';

export interface DispatchFactory {
  readonly name: string;
  /** Knox class names (e.g. `org.apache.knox.gateway.dispatch.ConfigurableDispatch`) this dispatch stands for. */
  readonly classNames?: readonly string[];
  /** The gateway answers the request itself (KNOXSSO, KNOXTOKEN): a service using it needs no `<url>`. */
  readonly answersItself?: boolean;
  /** An HA dispatch: it fails over between the service's URLs with the {@link HA_CONTRIBUTION}. */
  readonly failover?: boolean;
  create(ctx: DispatchContext): Handler;
  /**
   * The handler for WebSocket upgrades on this dispatch's routes, when the gateway answers them itself
   * (CHANNELS); without it an upgrade is relayed to the backend.
   */
  createUpgrade?(ctx: DispatchContext): Handler;
}
