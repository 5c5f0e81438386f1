/**
 * @module gateway/resolve
 * The front half of every request, in one place: request target → topology → the topology's `<path>` default →
 * route match → the public URLs rewrite functions see. The server runs it for each request and `postern explain`
 * runs the same function for the URL it is asked about, so what explain says about matching is what the gateway
 * does.
 */
import type { GatewaySettings } from '../config/gateway-site.ts';
import type { CompiledRoute, Deployment } from '../deploy/deployment.ts';
import { kInboundTemplate, type ParsedInbound } from '../rewrite/inbound.ts';
import type { RewriteContext } from '../rewrite/index.ts';
import { joinLiteral, parseLiteral, type Template, type TemplateMatch } from '../urltemplate/index.ts';
import { splitAuthority } from './authority.ts';
import { encodedSlashRefusal, parseRequestTarget, targetUrl, whyRefused } from './request-target.ts';

/** Where the request arrived: the listener's scheme and the authority the client named (validated Host). */
export interface Arrival {
  readonly scheme: 'http' | 'https';
  /** `host[:port]` as the client gave it (already checked), or the listener's own when it gave none. */
  readonly authority: string;
}

/** A request resolved as far as it goes; every outcome but `route` is answered by the gateway itself. */
export type Resolution =
  /** The target is not below `/{gateway.path}/` (health, metrics and the backplane live there). */
  | { readonly outcome: 'not-gateway' }
  /**
   * The path is refused: before any topology is looked at (a fragment, dot segments in any spelling), or once the
   * route is known (an encoded `/` on a route that does not accept one; `topology` is then set).
   */
  | { readonly outcome: 'bad-path'; readonly reason: string; readonly topology?: string }
  /** Nothing after `/{gateway.path}/`. */
  | { readonly outcome: 'no-topology' }
  | { readonly outcome: 'unknown-topology'; readonly topology: string }
  | (Located & { readonly outcome: 'no-route' })
  | (Located & {
      readonly outcome: 'route';
      readonly match: TemplateMatch<CompiledRoute>;
      readonly route: CompiledRoute;
      /** The public URL of the request, after the topology's `<path>` default. */
      readonly inboundUrl: string;
      readonly rewriteContext: RewriteContext;
    });

/** A request whose topology is deployed. */
interface Located {
  readonly topology: string;
  readonly deployment: Deployment;
  /** Below the topology, starting with `/`; the topology's `<path>` when the request named no service. */
  readonly path: string;
  readonly query: string;
  /**
   * The normalised request target (gateway/request-target.ts) the route, the policies and the rewrite read
   * (`/{gateway.path}/{topology}{path}?{query}`), after the topology's `<path>` default.
   */
  readonly requestTarget: string;
  /** The normalised request target as the client sent it, before the `<path>` default. */
  readonly normalTarget: string;
  /** What the route matcher was given. */
  readonly input: Template;
  /** True when the topology's `<path>` supplied the service path. */
  readonly defaulted: boolean;
}

/**
 * Resolves a raw request target (`req.url`) against the deployments that serve now.
 * @param deployments by topology name
 * @param target the request target as received (`/gateway/sandbox/http/items?x=1`)
 */
export function resolveRequest(
  settings: GatewaySettings,
  deployments: ReadonlyMap<string, Deployment>,
  arrival: Arrival,
  target: string,
): Resolution {
  const prefix = `/${settings.path}/`;
  const parsed = parseRequestTarget(target, prefix);
  if (!parsed.ok) {
    if (parsed.reason === 'not-gateway') return { outcome: 'not-gateway' };
    if (parsed.reason === 'bad-path') {
      return { outcome: 'bad-path', reason: whyRefused(target) ?? 'the request path is not acceptable' };
    }
    return { outcome: 'no-topology' };
  }
  const { topology, query } = parsed.target;
  let { path } = parsed.target;
  const deployment = deployments.get(topology);
  if (!deployment) return { outcome: 'unknown-topology', topology };
  // The topology's <path>: a request with no service segment is forwarded into it, as if the client had asked
  // for it (the rewrite rules then see the forwarded URL).
  const normalTarget = targetUrl(prefix, parsed.target);
  const defaulted = path === '/' && deployment.defaultPath !== undefined && deployment.defaultPath !== '';
  if (defaulted) path = `/${deployment.defaultPath!.replace(/^\/+/, '')}`;
  const requestTarget = targetUrl(prefix, { topology, path, query });
  const input = parseLiteral(query ? `${path}?${query}` : path);
  const match = deployment.matcher.match(input);
  if (!match) {
    return {
      outcome: 'no-route',
      topology,
      deployment,
      path,
      query,
      requestTarget,
      normalTarget,
      input,
      defaulted,
    };
  }
  const slashRefusal = encodedSlashRefusal(parsed.target, match.value.dispatch.params);
  if (slashRefusal) return { outcome: 'bad-path', reason: slashRefusal, topology };
  const { scheme, authority } = arrival;
  const { hostname, port = scheme === 'https' ? '443' : '80' } = splitAuthority(authority);
  const origin = `${scheme}://${authority}`;
  const frontend = settings.frontendUrl;
  const gatewayUrl = frontend
    ? `${frontend.replace(/\/+$/, '')}/${topology}`
    : `${origin}/${settings.path}/${topology}`;
  const inboundUrl = origin + requestTarget;
  const q = requestTarget.indexOf('?');
  const rewriteContext: ParsedInbound = {
    gatewayUrl,
    inbound: {
      scheme,
      authority,
      host: hostname,
      port,
      path: q < 0 ? requestTarget : requestTarget.slice(0, q),
      query,
      url: inboundUrl,
    },
    // What the rewrite would parse again: the route's parse of the path, joined to the origin and prefix.
    [kInboundTemplate]: joinLiteral(inboundUrl, origin, `${prefix}${topology}`, input),
  };
  return {
    topology,
    deployment,
    path,
    query,
    requestTarget,
    normalTarget,
    input,
    defaulted,
    outcome: 'route',
    match,
    route: match.value,
    inboundUrl,
    rewriteContext,
  };
}
