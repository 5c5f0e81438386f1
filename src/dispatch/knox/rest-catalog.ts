/**
 * @module dispatch/knox/rest-catalog
 * Knox's RestCatalogDispatch / RestCatalogHaDispatch (gateway-service-restcatalog, ICEBERG-REST): ConfigurableDispatch
 * (HA: ConfigurableHADispatch) that, on an OAuth `client_credentials` token request, looks the client id up in
 * Knox's token state service and sends the token's metadata (`userName` and those the `token-metadata-headers`
 * param lists) as headers named with the `metadata-header-prefix` param (default `X-Knox-Meta-`).
 *
 * postern has no token state service holding client-credential metadata yet, so no metadata header is added;
 * what is done is the part a catalog relies on: a client's own headers of that prefix never reach the catalog
 * (in Knox they would, when the request is not a token request), so a catalog can believe the ones it gets.
 */
import type { DispatchContext } from '../../spi/index.ts';
import { knoxDispatch, type Prepare } from './extend.ts';

const DEFAULT_PREFIX = 'X-Knox-Meta-';

function dropClientMetadata(ctx: DispatchContext): Prepare {
  const prefix = (ctx.params.get('metadata-header-prefix')?.trim() || DEFAULT_PREFIX).toLowerCase();
  return (ex) => {
    // The first request header filter: the client's copies go before any the gateway's rules add.
    const own = ex.requestHeaderFilters ?? [];
    ex.requestHeaderFilters = [
      (headers) => {
        for (const name of Object.keys(headers))
          if (name.toLowerCase().startsWith(prefix)) delete headers[name];
        return headers;
      },
      ...own,
    ];
  };
}

export const restCatalogDispatch = knoxDispatch({
  name: 'rest-catalog',
  classNames: ['org.apache.knox.gateway.service.restcatalog.RestCatalogDispatch'],
  base: { variant: 'configurable' },
  prepare: dropClientMetadata,
});

export const restCatalogHaDispatch = knoxDispatch({
  name: 'rest-catalog-ha',
  classNames: ['org.apache.knox.gateway.service.restcatalog.RestCatalogHaDispatch'],
  base: { variant: 'configurable' },
  failover: true,
  prepare: dropClientMetadata,
});
