/**
 * @module providers/hostmap/static
 * Knox's `static` hostmap: each param name is a comma list of external host names and its value a comma list of
 * internal ones. It adds no filter; its contributor hands the map to the deployment under
 * {@link HOSTMAP_CONTRIBUTION}, which gives it to the rewrite functions (`$hostmap`, `$serviceMappedUrl`, …).
 */

import { HOSTMAP_CONTRIBUTION, type ProviderFactory, type TopologyContributor } from '../../spi/index.ts';
import type { Param } from '../../topology/model.ts';

export interface HostMap {
  /** External → internal (first internal name). */
  toInternal(host: string): string | undefined;
  /** Internal → external (first external name). */
  toExternal(host: string): string | undefined;
}

export function buildHostMap(params: readonly Param[]): HostMap {
  const inbound = new Map<string, string>();
  const outbound = new Map<string, string>();
  for (const p of params) {
    const externals = p.name
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const internals = p.value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (externals.length === 0 || internals.length === 0) continue;
    for (const e of externals) inbound.set(e.toLowerCase(), internals[0]);
    for (const i of internals) outbound.set(i.toLowerCase(), externals[0]);
  }
  return {
    toInternal: (host) => inbound.get(host.toLowerCase()),
    toExternal: (host) => outbound.get(host.toLowerCase()),
  };
}

export const staticHostmap: ProviderFactory = {
  role: 'hostmap',
  name: 'static',
  create: () => undefined,
};

/** The topology's first enabled hostmap provider, as the map the rewrite functions use. */
export const hostmapContributor: TopologyContributor = {
  role: 'hostmap',
  key: HOSTMAP_CONTRIBUTION,
  contribute: ({ providers }) => ({ value: buildHostMap(providers[0].params) }),
};
