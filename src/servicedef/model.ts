/**
 * @module servicedef/model
 * A service definition (`service.xml` + `rewrite.xml` under `{name}/{version}/`), as Knox declares it.
 * Produced by the readers in this folder, consumed by deployment.
 */
import type { Position } from '../config/diagnostics.ts';
import type { RewriteRules } from '../rewrite/model.ts';

export interface DefParam {
  name: string;
  value: string;
  pos: Position;
}

/** `service/policies/policy` or `route/policies/policy`: one provider role in chain order, optionally pinned to a name. */
export interface PolicyDef {
  role: string;
  name?: string;
  pos: Position;
}

/** `service/dispatch` or `route/dispatch`. */
export interface DispatchDef {
  contributorName?: string;
  className?: string;
  haContributorName?: string;
  haClassName?: string;
  useTwoWaySsl?: boolean;
  params: DefParam[];
  pos: Position;
}

/**
 * `route/rewrite`: binds a rule or filter (`apply`) to a place in the exchange (`to`). A binding written without
 * `to` is read as `request.url` (Knox's own definitions use that form only for inbound URL rules).
 */
export interface RewriteBinding {
  apply: string;
  to: 'request.url' | 'request.headers' | 'request.body' | 'response.headers' | 'response.body' | string;
  pos: Position;
}

/** `service/routes/route`. */
export interface RouteDef {
  /** A URL template in Knox syntax, relative to the topology (`webhdfs/v1/**?**`). */
  path: string;
  policies?: PolicyDef[];
  dispatch?: DispatchDef;
  rewrites: RewriteBinding[];
  /**
   * Set when the route has no `<rewrite>` of its own and {@link rewrites} are those of an earlier route, as Knox
   * deploys it (`ServiceDefinitionDeploymentContributor.contributeResources` clears its filter params only for a
   * route that has rewrites): the `<route>` they were written on.
   */
  inheritedFrom?: Position;
  pos: Position;
}

export interface ServiceDefinition {
  role: string;
  name: string;
  version: string;
  routes: RouteDef[];
  /** Absent when service.xml has no `<policies>`; deployment then uses the default order. */
  policies?: PolicyDef[];
  dispatch?: DispatchDef;
  /** `metadata/context`, `type`, `shortDesc`, `description` and `samples/sample`, when present. */
  metadata?: {
    context?: string;
    type?: string;
    shortDesc?: string;
    description?: string;
    samples?: { description?: string; method?: string; path?: string; value?: string }[];
  };
  rewrite: RewriteRules;
  /** Directory that holds service.xml and rewrite.xml. */
  dir: string;
  /** Where the definition came from: postern's bundled set or the home's `data/services`. */
  source: 'bundled' | 'home' | 'other';
  pos: Position;
}
