/**
 * @module spi/gateway-handle
 * The running gateway as a gateway-answered service sees it (the ADMIN service, and the coming Knox Admin API):
 * what it reports on and the few operations it may ask for. The gateway implements it; a service never reaches
 * further into the runtime than this.
 */
import type { Diagnostic, Position } from '../config/diagnostics.ts';
import type { GatewaySettings } from '../config/gateway-site.ts';
import type { ServiceDefinition } from '../servicedef/model.ts';
import type { Topology } from '../topology/model.ts';
import type { TokenStateService } from './token-state.ts';

/** One route of a deployed topology, as reports show it. */
export interface RouteReport {
  /** The service role. */
  readonly role: string;
  /** The definition that declared the route (`name/version`). */
  readonly definition: string;
  /** The route's URL template below the topology. */
  readonly path: string;
  /** The provider chain in order (`role:name`), then the dispatch. */
  readonly chain: readonly string[];
  readonly pos: Position;
}

/** What the gateway knows of one topology: its file's last deployment attempt and what serves now. */
export interface TopologyReport {
  readonly name: string;
  /** The topology (or descriptor) file, when one exists. */
  readonly file?: string;
  /** The last attempt deployed (false: its diagnostics have errors; an older deployment may still serve). */
  readonly deployed: boolean;
  readonly deployedAt?: Date;
  readonly diagnostics: readonly Diagnostic[];
  /** What serves now; undefined when no deployment of this topology does. */
  readonly serving?: {
    readonly since: Date;
    /** The topology as it was read for the deployment that serves (providers, services, applications). */
    readonly topology: Topology;
    readonly services: readonly {
      readonly role: string;
      readonly name?: string;
      readonly version?: string;
      readonly urls: readonly string[];
      /** `failed`: the service did not deploy (the topology serves the others); its URLs answer 503 {@link code}. */
      readonly state: 'deployed' | 'failed';
      /** The catalog code a failed service answers with. */
      readonly code?: string;
      /** Why a failed service did not deploy. */
      readonly diagnostics?: readonly Diagnostic[];
    }[];
    readonly routes: readonly RouteReport[];
  };
}

/** One error the gateway recorded recently (failed deployment, backend gone down, a 5xx answer). */
export interface RecentErrorReport {
  /** ISO time of the event. */
  readonly time: string;
  readonly kind: string;
  readonly topology: string;
  readonly message: string;
}

/** The request an explanation is asked for (`postern explain`'s arguments). */
export interface ExplainRequest {
  method: string;
  url: string;
  user?: string;
  groups?: readonly string[];
  headers?: readonly [string, string][];
}

/** What rereading a watched file found (see {@link GatewayHandle.watchFile}). */
export interface FileReload {
  /** The new content is in use; false: the previous one stays. */
  ok: boolean;
  /** Each problem at its place in the file. */
  diagnostics: readonly Diagnostic[];
  /** One line for the log: what changed, or why nothing did. */
  summary: string;
}

export interface GatewayHandle {
  readonly settings: GatewaySettings;
  /** The gateway home's directories. */
  readonly layout: {
    readonly home: string;
    readonly topologies: string;
    readonly descriptors: string;
    readonly sharedProviders: string;
  };
  /** What this gateway is: its version and the source revision it was built from (`unknown` when not known). */
  readonly build: { readonly version: string; readonly hash: string };
  /** Every service definition the gateway has loaded (bundled, configured directories, the home's). */
  definitions(): readonly ServiceDefinition[];
  /** Rereads the service definitions and redeploys every topology (a definition was written or removed). */
  reloadDefinitions(): void;
  /** What the readiness endpoint reports (gateway/readiness.ts). */
  readonly ready: boolean;
  /** Requests in flight, upgrades not counted. */
  readonly inflight: number;
  /** Every topology known, deployed or failed, sorted by name. */
  topologies(): TopologyReport[];
  /** Open proxied WebSockets per topology. */
  openWebSockets(): ReadonlyMap<string, number>;
  readonly recentErrors: { readonly total: number; list(limit?: number): readonly RecentErrorReport[] };
  /** Checks a topology's source exactly as deploying it would, without deploying it. */
  checkTopology(file: string, source: string): Promise<Diagnostic[]>;
  /**
   * Checks a topology already read — a simple descriptor's, generated with its provider configuration, either of
   * them possibly text not yet written — exactly as deploying it would; `diagnostics` are the reading's.
   */
  checkTopologyModel(read: {
    topology?: Topology;
    diagnostics: readonly Diagnostic[];
  }): Promise<Diagnostic[]>;
  /** Looks at the topology directories now (after a file was written or removed). */
  rescan(): Promise<void>;
  /** What `postern explain` would say about a request on this gateway (a JSON-ready object). */
  explain(request: ExplainRequest): Promise<Record<string, unknown>>;
  /**
   * Watches a file a deployment reads besides its topology (a users file): `reload` is called when its bytes
   * change (seen within about a second) and on SIGHUP; the gateway logs what it returns. Returns the function
   * that stops watching (call it when the deployment retires).
   */
  watchFile(file: string, reload: () => FileReload): () => void;
  /**
   * Knox's token state service (gateway-site `gateway.service.tokenstate.impl`): one per gateway, shared by every
   * topology; its store is opened at first use. Absent where no gateway runs.
   */
  readonly tokenState?: TokenStateService;
}
