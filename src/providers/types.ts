/**
 * @module providers/types
 * The contract between deployment, providers and dispatches.
 *
 * A provider is a factory: at deployment it sees the topology's configuration for one route and returns a
 * filter (or nothing, when it has nothing to do there). At runtime a route's filters run in order around an
 * {@link Exchange} and the last one calls the dispatch. All the parsing, validation and lookup happens in the
 * factory, so a filter only does per-request work.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { DiagnosticSink, Position } from '../config/diagnostics.ts';
import type { GatewaySettings } from '../config/gateway-site.ts';
import type { HaService } from '../dispatch/ha/service.ts';
import type { Gateway } from '../gateway/gateway.ts';
import type { AuditLog } from '../observability/audit.ts';
import type { BodyStreams } from '../rewrite/body/stream.ts';
import type { CompiledRewriteRules, RewriteContext } from '../rewrite/index.ts';
import type { DispatchDef, RouteDef, ServiceDefinition } from '../servicedef/model.ts';
import type { ServiceConfig, Topology } from '../topology/model.ts';

/**
 * Roles whose providers form chain filters when a service definition declares no `<policies>`, in Knox's default
 * order (knox-features §1.1). The other roles of a topology (`ha`, `hostmap`) configure deployment instead.
 */
export const DefaultPolicyOrder = [
  'webappsec',
  'authentication',
  'federation',
  'rewrite',
  'identity-assertion',
  'authorization',
] as const;

export interface Principal {
  name: string;
  groups: readonly string[];
}

/**
 * How the user was authenticated: `basic` (Authorization: Basic, checked against a realm), `session` (the
 * session cookie a ShiroProvider issued), `jwt` (a bearer token, Basic `Token:` or a token query parameter),
 * `cookie` (an SSO JWT cookie), `header` (trusted pre-authenticated header), `anonymous`. Channels need it (the
 * `xrftoken` check applies only to cookie-authenticated connections).
 */
export type AuthMethod = 'basic' | 'session' | 'jwt' | 'cookie' | 'header' | 'client-cert' | 'anonymous';

/** One request as it travels through a route's chain. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly id: string;
  readonly log: Logger;
  /** The request URL as the client sent it, made absolute with the gateway's public scheme and host. */
  readonly inboundUrl: string;
  /** Path below the topology, starting with `/` (decoded form is never used for routing). */
  readonly path: string;
  /** Raw query string without `?` ('' when absent). */
  readonly query: string;
  /** What rewrite functions need about this request. */
  readonly rewriteContext: RewriteContext;
  /** The backend URL, set by the rewrite provider (inbound `request.url`). */
  target?: string;
  /** Edits applied to the target URL just before dispatch, in order (identity assertion adds `user.name`). */
  targetEdits?: ((url: string) => string)[];
  /** Set by the dispatch while a backend exchange runs; the server calls it when the client goes away. */
  onClientClose?: () => void;
  /** The request's trace id when tracing is on (for log lines; set by the server before the chain runs). */
  traceId?: string;
  /** The authenticated user (authentication or federation providers set it). */
  user?: Principal;
  /** How {@link user} was authenticated (set with it). */
  authMethod?: AuthMethod;
  /**
   * When the credential that authenticated the user stops being valid (ms since the epoch): a JWT's `exp`. A
   * proxied WebSocket is closed with 1008 at that moment. (A session's idle timeout is not such an end.)
   */
  credentialExpiresAt?: number;
  /** The identity asserted to the backend (identity-assertion providers set it). */
  effectiveUser?: string;
  /**
   * The groups used for authorization: the user's groups plus those identity assertion maps or looks up
   * (`group.principal.mapping`, HadoopGroupProvider). Unset means {@link user}'s groups.
   */
  effectiveGroups?: readonly string[];
  /** Request headers to add to the backend request. */
  addRequestHeaders?: [string, string][];
  /** Response header rewriters (rewrite provider's `response.headers` bindings); each returns the new map. */
  responseHeaderFilters?: HeaderFilter[];
  /** Request header rewriters (rewrite provider's `request.headers` bindings); each returns the new map. */
  requestHeaderFilters?: HeaderFilter[];
  /** The response body's rewrite (rewrite provider: `response.body`, and Knox's filters by content type). */
  responseBody?: BodyRewrite;
  /** The request body's rewrite (rewrite provider: `request.body` bindings). */
  requestBody?: BodyRewrite;
}

/**
 * Rewrites a body as it streams (see rewrite/body). `open` is given the body's headers (Content-Type,
 * Content-Encoding) and returns the streams to pass it through, or `undefined` when it goes unchanged.
 */
export interface BodyRewrite {
  open(headers: HeaderMap): BodyStreams | undefined;
}

export type HeaderMap = Record<string, string | string[] | undefined>;
export type HeaderFilter = (headers: HeaderMap) => HeaderMap;

/** Appends to one of the exchange's optional lists, creating it on first use. */
export function addTo<
  K extends 'targetEdits' | 'requestHeaderFilters' | 'responseHeaderFilters' | 'addRequestHeaders',
>(ex: Exchange, key: K, item: NonNullable<Exchange[K]>[number]): void {
  const list = ex[key] as unknown[] | undefined;
  if (list) list.push(item);
  else (ex as unknown as Record<string, unknown[]>)[key] = [item];
}

export type Next = () => Promise<void>;
export type Filter = (ex: Exchange, next: Next) => Promise<void>;
export type Terminal = (ex: Exchange) => Promise<void>;

/** What every factory sees at deployment: the route being built and the deployment's shared services. */
export interface RouteContext {
  readonly topology: Topology;
  readonly service: ServiceConfig;
  readonly definition: ServiceDefinition;
  readonly route: RouteDef;
  readonly settings: GatewaySettings;
  readonly sink: DiagnosticSink;
  /** Per-topology state shared between routes (one connection pool, one LDAP client), by key. */
  shared<T>(key: string, create: () => T): T;
  /**
   * State that outlives this deployment: kept by the gateway across redeployments of every topology, by key
   * (e.g. the open WebSockets of a topology, counted against its limit whichever deployment holds them). Prefix
   * keys with the topology name when the state is per topology.
   */
  lasting<T>(key: string, create: () => T): T;
  /** Registers a resource to release when the deployment is retired, and why it is (see Deployment.retire). */
  onRetire(fn: (reason: 'redeploy' | 'undeploy' | 'shutdown') => void | Promise<void>): void;
  /** The audit trail (logs/audit.log): `audit.forRoute(...)` at deployment gives the per-request recorder. */
  readonly audit: AuditLog;
  /** The gateway home (files named by relative paths in params are resolved against it). */
  readonly home: string;
  /**
   * The gateway's master secret. Derive a key per purpose with `topologyKey` (deploy/secrets.ts); never use it
   * directly and never log it.
   */
  readonly masterSecret: Uint8Array;
  /**
   * The running gateway that deploys this topology, for the services that report on it or manage it (the bundled
   * ADMIN service, src/admin/). Undefined when a topology is compiled outside a running gateway (`postern check`,
   * `postern explain`, tests compiling directly): such a factory must still build, and answer 503 at runtime.
   */
  readonly gateway?: Gateway;
}

/** What a provider factory sees at deployment, for one route of one service. */
export interface ProviderContext extends RouteContext {
  readonly role: string;
  readonly name: string;
  /** The provider's params: topology provider params, overridden by chain and chain-ref params. */
  readonly params: ReadonlyMap<string, string>;
  /** Where the provider was configured (for diagnostics). */
  readonly pos: Position;
  readonly rewrite: CompiledRewriteRules;
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
   * `useTwoWaySsl`): the gateway presents its own certificate (see dispatch/backend-tls.ts).
   */
  readonly useTwoWaySsl: boolean;
  /**
   * The service's HA state, given to a dispatch that {@link DispatchFactory.failover fails over} when the
   * topology's HaProvider enables HA for the service (dispatch/ha).
   */
  readonly ha?: HaService;
}

export interface DispatchFactory {
  readonly name: string;
  /** Knox class names (e.g. `org.apache.knox.gateway.dispatch.ConfigurableDispatch`) this dispatch stands for. */
  readonly classNames?: readonly string[];
  /** The gateway answers the request itself (KNOXSSO, KNOXTOKEN): a service using it needs no `<url>`. */
  readonly answersItself?: boolean;
  /** An HA dispatch: it fails over between the service's URLs with {@link DispatchContext.ha}. */
  readonly failover?: boolean;
  create(ctx: DispatchContext): Terminal;
  /**
   * The terminal for WebSocket upgrades on this dispatch's routes, when the gateway answers them itself
   * (CHANNELS); without it an upgrade is relayed to the backend (websocket/ws-dispatch.ts).
   */
  createUpgrade?(ctx: DispatchContext): Terminal;
}

export type { IncomingMessage, ServerResponse };
