/**
 * @module dispatch/knox/storm
 * Knox's StormDispatch (gateway-service-storm): ConfigurableDispatch whose response exclude list is empty
 * (`getOutboundResponseExcludeHeaders` returns an empty set), so Storm's `WWW-Authenticate` reaches the client
 * whatever `responseExcludeHeaders` says. The auth cookies stay blocked (that list is a separate one in Knox).
 */
import { knoxDispatch } from './extend.ts';

export const stormDispatch = knoxDispatch({
  name: 'storm',
  classNames: ['org.apache.knox.gateway.storm.StormDispatch'],
  base: { variant: 'configurable', policy: (p) => ({ ...p, responseExclude: new Set() }) },
});
