/**
 * @module dispatch/knox/atlas
 * Knox's Atlas HA dispatches (gateway-provider-ha). A passive Atlas server redirects to the active one; Knox
 * fails over on that redirect instead of sending it to the client (dispatch/ha/standby's `atlasStandby`):
 *
 * - AtlasHaDispatch (ATLAS 0.8.0) and AtlasApiHaDispatch (ATLAS-API 0.8.0): every request header but
 *   Content-Length is forwarded, Authorization included, and every response header returned — the
 *   PassAllHeadersDispatch policy. The UI one lets a redirect to Atlas's login page through.
 * - AtlasTrustedProxyHaDispatch (ATLAS 0.1.2.0, 2.x) and AtlasApiTrustedProxyHaDispatch (ATLAS-API 0.1.2.0,
 *   2.0.0): ConfigurableHADispatch, for Atlas configured to trust the gateway as a proxy: the client's
 *   Authorization is not forwarded and the user is named by `doAs`, which identity assertion adds to the query
 *   (`gateway.hadoop.kerberos.secured`) after removing any `doAs` the client sent, exactly as for other Hadoop
 *   services. The UI one lets a login redirect through, the API one fails over on any redirect.
 */
import { atlasStandby } from '../ha/standby.ts';
import { knoxDispatch } from './extend.ts';

const HA = 'org.apache.knox.gateway.ha.dispatch.';

export const atlasHaDispatch = knoxDispatch({
  name: 'atlas-ha',
  classNames: [`${HA}AtlasHaDispatch`],
  base: { variant: 'pass-all', standby: atlasStandby(true) },
  failover: true,
});

export const atlasApiHaDispatch = knoxDispatch({
  name: 'atlas-api-ha',
  classNames: [`${HA}AtlasApiHaDispatch`],
  base: { variant: 'pass-all', standby: atlasStandby(false) },
  failover: true,
});

export const atlasTrustedProxyHaDispatch = knoxDispatch({
  name: 'atlas-trusted-proxy-ha',
  classNames: [`${HA}AtlasTrustedProxyHaDispatch`],
  base: { variant: 'configurable', standby: atlasStandby(true) },
  failover: true,
});

export const atlasApiTrustedProxyHaDispatch = knoxDispatch({
  name: 'atlas-api-trusted-proxy-ha',
  classNames: [`${HA}AtlasApiTrustedProxyHaDispatch`],
  base: { variant: 'configurable', standby: atlasStandby(false) },
  failover: true,
});
