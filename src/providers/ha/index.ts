/**
 * @module providers/ha
 * Knox's `HaProvider` (role `ha`). It adds no filter: its contributor reads the provider's params at deployment
 * (providers/ha/config.ts) and, for each service HA is on for, chooses the HA dispatch (the definition's `ha-*`
 * names, else `ha`) and gives a dispatch that fails over the service's HA state (dispatch/ha/service's
 * `HaService`) under {@link HA_CONTRIBUTION}.
 */
import { DEFAULT_HA_DISPATCH } from '../../dispatch/ha/dispatch.ts';
import { HaService } from '../../dispatch/ha/service.ts';
import { HA_CONTRIBUTION, type ProviderFactory, type TopologyContributor } from '../../spi/index.ts';
import { resolveHa } from './config.ts';

export const haProvider: ProviderFactory = {
  role: 'ha',
  name: 'HaProvider',
  create: () => undefined,
};

export const haContributor: TopologyContributor = {
  role: 'ha',
  key: HA_CONTRIBUTION,
  contribute({ topology, providers, sink }) {
    const byRole = resolveHa(topology, providers, sink);
    return {
      forService(service) {
        const settings = byRole.get(service.role);
        if (!settings) return undefined;
        return {
          dispatch: {
            names: (override, chosen) => [
              override?.haContributorName ?? chosen?.haContributorName,
              override?.haClassName ?? chosen?.haClassName,
            ],
            fallback: DEFAULT_HA_DISPATCH,
          },
          accepts: (factory) => factory.failover === true,
          value: (ctx) => HaService.for(ctx, settings),
        };
      },
    };
  },
};
