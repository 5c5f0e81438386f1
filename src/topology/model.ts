/**
 * @module topology/model
 * What a topology says, independent of the file format (Knox XML, YAML, or a simple descriptor).
 * Readers in this folder produce it; deployment (src/deploy) consumes it. Every element keeps its Position so
 * that deployment can point at the line at fault.
 */
import type { Position } from '../config/diagnostics.ts';

/** An ordered, case-sensitive parameter list (Knox keeps parameters in document order). */
export interface Param {
  name: string;
  value: string;
  pos: Position;
}

/** `topology/gateway/provider`. */
export interface ProviderConfig {
  role: string;
  name: string;
  enabled: boolean;
  params: Param[];
  pos: Position;
}

/** `topology/gateway/chain/provider-ref`: a provider by role and optional name, with extra params. */
export interface ProviderRef {
  role: string;
  name?: string;
  params: Param[];
  pos: Position;
}

/** `topology/gateway/chain`. The built-in chain `default` exists without being declared. */
export interface ChainConfig {
  name: string;
  providers: ProviderRef[];
  pos: Position;
}

/** `service/chain-ref/param`: a parameter for the provider of `role` in the referenced chain. */
export interface ChainRefParam extends Param {
  role: string;
}

/** `topology/service/chain-ref`. */
export interface ChainRef {
  name: string;
  params: ChainRefParam[];
  pos: Position;
}

/** `topology/service/dispatch`: an override of the service definition's dispatch. */
export interface DispatchOverride {
  contributorName?: string;
  haContributorName?: string;
  className?: string;
  haClassName?: string;
  httpClientFactory?: string;
  useTwoWaySsl?: boolean;
  params: Param[];
  pos: Position;
}

/** `topology/service`. */
export interface ServiceConfig {
  role: string;
  name?: string;
  version?: string;
  urls: { url: string; pos: Position }[];
  params: Param[];
  dispatch?: DispatchOverride;
  chainRef?: ChainRef;
  pos: Position;
}

/** How a service is named in diagnostics and reports: `ROLE`, or `ROLE (name NAME)` when it has a name. */
export function serviceLabel(s: { role: string; name?: string }): string {
  return s.name === undefined ? s.role : `${s.role} (name ${s.name})`;
}

/** `topology/application`. */
export interface ApplicationConfig {
  name: string;
  role?: string;
  version?: string;
  urls: { url: string; pos: Position }[];
  params: Param[];
  pos: Position;
}

export interface Topology {
  /** The file's base name (Knox ignores `<name>` for routing; we report a mismatch as a warning). */
  name: string;
  /** The file this topology was read from (for a generated topology: the descriptor). */
  file: string;
  /** `topology/path`: the default service path for a request with no service segment. */
  defaultPath?: string;
  generated: boolean;
  providers: ProviderConfig[];
  chains: ChainConfig[];
  services: ServiceConfig[];
  applications: ApplicationConfig[];
  pos: Position;
}
