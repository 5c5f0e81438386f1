/**
 * @module dispatch/knox/nifi
 * Knox's NiFiDispatch / NiFiHaDispatch (gateway-service-nifi) and NiFiRegistryDispatch / NiFiRegistryHaDispatch
 * (gateway-service-nifi-registry, the same code), after Knox's NiFiRequestUtil and NiFiResponseUtil:
 *
 * - `X-ProxiedEntitiesChain` ends with the effective user as `<user>` (`<>` for anonymous, as Knox writes it).
 *   NiFi authorises the end user of the chain through the gateway's certificate. The name is escaped as NiFi's
 *   own ProxiedEntitiesUtils escapes it (`<` and `>` as `\<` `\>`; a non-ASCII name Base64-encoded inside `<…>`),
 *   which Knox does not do: a user named `a><admin` cannot forge a chain. Knox prepends whatever chain the client
 *   sent; postern keeps the client's chain only from a `postern.trusted.proxies` address (another proxy in front),
 *   and from anyone else drops it.
 * - `X-Forwarded-Context` gets the route's own context appended (`/gateway/sandbox` becomes
 *   `/gateway/sandbox/nifi-app`): NiFi builds its URLs from it. Beyond Knox, the same values go in NiFi's
 *   preferred `X-ProxyScheme`, `X-ProxyHost`, `X-ProxyPort` and `X-ProxyContextPath`, written by the gateway, so a
 *   client's copies of them never reach NiFi.
 * - A trailing `/` of the client's path is kept; `Cookie` is never sent (NiFi does not use cookies).
 * - A 302 whose `Location` path contains the request's path is pointed back at the gateway's URL of the request
 *   (keeping a trailing `/`, the query and fragment of the `Location`).
 */
import { addTo, type DispatchContext, type Exchange, type HeaderMap } from '../../spi/index.ts';
import { backendTarget } from '../target-url.ts';
import { effectivePrincipal, keepTrailingSlash, knoxDispatch, type Prepare, urlPath } from './extend.ts';

const CHAIN = 'x-proxiedentitieschain';
const CONTEXT = 'x-forwarded-context';

/** One entry of a NiFi proxied-entities chain, escaped as NiFi's ProxiedEntitiesUtils.formatProxyDn does. */
export function proxiedEntity(user: string | undefined): string {
  if (user === undefined || user === '' || user.toLowerCase() === 'anonymous') return '<>';
  const escaped = user.replaceAll('>', '\\>').replaceAll('<', '\\<');
  // HTTP header values are US-ASCII: NiFi Base64-encodes any other name, inside a second pair of brackets.
  if (/^[\x00-\x7f]*$/.test(escaped)) return `<${escaped}>`;
  return `<<${Buffer.from(escaped, 'utf8').toString('base64')}>>`;
}

/** The request's context below the topology that the rewrite removed (Knox's `knoxRouteContext`). */
function routeContext(ex: Exchange): string {
  let target: string;
  try {
    target = backendTarget(ex);
  } catch {
    return '';
  }
  const out = urlPath(target).replace(/\/$/, '');
  const at = ex.path.lastIndexOf(out);
  return at >= 0 ? ex.path.slice(0, at) : '';
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function nifiPrepare(ctx: DispatchContext): Prepare {
  const proxies = ctx.settings.trustedProxies;
  const gatewayContext = `/${ctx.settings.path}/${ctx.topology.name}`;
  return (ex) => {
    const slash = keepTrailingSlash(ex);
    if (slash) addTo(ex, 'targetEdits', slash);
    const fromProxy = proxies.matches(ex.peerAddress);
    const prior = fromProxy ? first(ex.req.headers[CHAIN]) : undefined;
    const chain = `${prior ?? ''}${proxiedEntity(effectivePrincipal(ex))}`;
    const inbound = ex.rewriteContext.inbound;
    const extra = routeContext(ex);
    addTo(ex, 'requestHeaderFilters', (headers) => {
      const h = headers as Record<string, string>;
      h[CHAIN] = chain;
      delete h.cookie;
      const context = h[CONTEXT];
      if (context && !context.includes('nifi-app')) h[CONTEXT] = `${context}${extra}`;
      const authority = new URL(inbound.url).host;
      h['x-proxyscheme'] = inbound.scheme;
      h['x-proxyhost'] = authority;
      h['x-proxyport'] = String(inbound.port);
      h['x-proxycontextpath'] = `${gatewayContext}${extra}`;
      return h;
    });
    addTo(ex, 'responseHeaderFilters', (headers: HeaderMap, status?: number) => {
      if (status !== 302) return headers;
      const location = first(headers.location);
      if (location === undefined) return headers;
      let to: URL;
      try {
        to = new URL(location, 'http://backend.invalid');
      } catch {
        return headers;
      }
      const own = new URL(ex.inboundUrl);
      if (!to.pathname.includes(own.pathname)) return headers;
      const trailing = to.pathname.endsWith('/') && !own.pathname.endsWith('/') ? '/' : '';
      headers.location = `${own.origin}${own.pathname}${trailing}${to.search}${to.hash}`;
      return headers;
    });
  };
}

export const nifiDispatch = knoxDispatch({
  name: 'nifi',
  classNames: ['org.apache.knox.gateway.dispatch.NiFiDispatch'],
  base: { variant: 'configurable' },
  prepare: nifiPrepare,
});

export const nifiHaDispatch = knoxDispatch({
  name: 'nifi-ha',
  classNames: ['org.apache.knox.gateway.dispatch.NiFiHaDispatch'],
  base: { variant: 'configurable' },
  failover: true,
  prepare: nifiPrepare,
});

export const nifiRegistryDispatch = knoxDispatch({
  name: 'nifi-registry',
  classNames: ['org.apache.knox.gateway.dispatch.NiFiRegistryDispatch'],
  base: { variant: 'configurable' },
  prepare: nifiPrepare,
});

export const nifiRegistryHaDispatch = knoxDispatch({
  name: 'nifi-registry-ha',
  classNames: ['org.apache.knox.gateway.dispatch.NiFiRegistryHaDispatch'],
  base: { variant: 'configurable' },
  failover: true,
  prepare: nifiPrepare,
});
