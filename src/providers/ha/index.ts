/**
 * @module providers/ha
 * Knox's `HaProvider` (role `ha`). It adds no filter: deployment reads its params (providers/ha/config.ts) and
 * gives the services it enables HA for an HA dispatch (dispatch/ha).
 */
import type { ProviderFactory } from '../../spi/index.ts';

export const haProvider: ProviderFactory = {
  role: 'ha',
  name: 'HaProvider',
  create: () => undefined,
};
