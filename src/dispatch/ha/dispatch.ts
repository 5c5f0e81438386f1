/**
 * @module dispatch/ha/dispatch
 * The HA dispatches: the plain dispatches' header policies with failover between the service's URLs
 * (dispatch/ha/http, and at connect time for WebSocket upgrades). Deployment uses them for a service the
 * topology's HaProvider enables HA for, choosing by the definition's `ha-contributor-name` / `ha-classname` as
 * Knox does, or `ha` (Knox's DefaultHaDispatch, a ConfigurableHADispatch) when the definition names none. An
 * `ha-classname` that names a plain dispatch (WebHDFS's datanode route says `DefaultDispatch`) means no failover
 * there, as in Knox.
 *
 * Knox's service-specific HA dispatches (WebHDFS, ResourceManager, Atlas, Hive, NiFi …) are in dispatch/knox,
 * with the standby detection some of them add (dispatch/ha/standby).
 */
import type { DispatchFactory } from '../../spi/index.ts';
import { configurableDispatch, defaultDispatch, passAllHeadersDispatch } from '../http-dispatch.ts';

const KNOX_HA = 'org.apache.knox.gateway.ha.dispatch.';

/** The HA dispatch deployment uses when the service's definition names none. */
export const DEFAULT_HA_DISPATCH = 'ha';

export const haDispatch: DispatchFactory = {
  name: DEFAULT_HA_DISPATCH,
  classNames: [`${KNOX_HA}DefaultHaDispatch`, `${KNOX_HA}ConfigurableHADispatch`],
  failover: true,
  create: (ctx) => configurableDispatch.create(ctx),
};

export const haDefaultDispatch: DispatchFactory = {
  name: 'ha-default',
  // The HA form of DefaultDispatch, by postern name (Knox has no such class).
  classNames: [],
  failover: true,
  create: (ctx) => defaultDispatch.create(ctx),
};

export const haPassAllHeadersDispatch: DispatchFactory = {
  name: 'ha-pass-all-headers',
  classNames: [],
  failover: true,
  create: (ctx) => passAllHeadersDispatch.create(ctx),
};
