/**
 * @module providers/rewrite/url-rewrite
 * The rewrite provider (Knox's `url-rewrite`), wired into every route from its `<rewrite apply to>` bindings:
 * - `request.url`: the named rule maps the inbound URL to the backend URL (no binding: Knox's best match among
 *   the IN rules, in the service's scope). A request no rule maps is refused (404), never sent to a guess.
 * - `request.headers` / `response.headers`: `application/x-http-headers` filters rewrite the header values they
 *   name (`Location`, `Content-Location`, …); without a `response.headers` binding, URL-bearing response
 *   headers are rewritten by best match, as Knox does.
 * - `request.body` / `response.body`: a filter that only has `application/x-http-headers` content does nothing
 *   to a body and is accepted; one with body content types needs the content-rewrite issue and is refused at
 *   deployment, at the binding's line.
 * Every binding is checked at deployment: a rule or filter name no rewrite.xml of the topology defines is an
 * error pointing at the `<rewrite>` element.
 */
import { Errors } from '../../errors.ts';
import { RewriteDecryptError } from '../../rewrite/index.ts';
import { addTo, type Filter, type ProviderContext, type ProviderFactory } from '../types.ts';

const HEADERS_TYPE = 'application/x-http-headers';

export const urlRewrite: ProviderFactory = {
  role: 'rewrite',
  name: 'url-rewrite',
  create(ctx: ProviderContext): Filter {
    const { rewrite, route, service, sink } = ctx;
    const scope = service.role;
    let requestRule: string | undefined;
    const requestHeaders: string[] = [];
    const responseHeaders: string[] = [];
    for (const binding of route.rewrites) {
      const isRule = rewrite.hasRule(binding.apply);
      const isFilter = rewrite.hasFilter(binding.apply);
      switch (binding.to) {
        case 'request.url':
          if (!isRule)
            sink.error(
              binding.pos,
              `rewrite rule "${binding.apply}" is not defined by any rewrite.xml of this topology`,
            );
          requestRule = binding.apply;
          break;
        case 'request.headers':
        case 'response.headers':
          if (!isFilter && !isRule) {
            sink.error(
              binding.pos,
              `rewrite filter "${binding.apply}" is not defined by any rewrite.xml of this topology`,
            );
          }
          (binding.to === 'request.headers' ? requestHeaders : responseHeaders).push(binding.apply);
          break;
        case 'request.body':
        case 'response.body': {
          if (!isFilter && !isRule) {
            sink.error(
              binding.pos,
              `rewrite filter "${binding.apply}" is not defined by any rewrite.xml of this topology`,
            );
            break;
          }
          const filter = rewrite.filter(binding.apply);
          const bodyTypes = (filter?.contents ?? []).map((c) => c.type).filter((t) => t !== HEADERS_TYPE);
          if (bodyTypes.length > 0) {
            sink.error(
              binding.pos,
              `${binding.to} rewriting (filter "${binding.apply}" for ${bodyTypes.join(', ')}) is not supported yet`,
            );
          }
          break;
        }
        default:
          sink.error(binding.pos, `unknown rewrite target "${binding.to}"`);
      }
    }

    const outHeaders =
      responseHeaders.length > 0
        ? responseHeaders.map((name) => rewrite.headers(name, 'OUT', { scope }))
        : [rewrite.defaultResponseHeaders({ scope })];
    const inHeaders = requestHeaders.map((name) => rewrite.headers(name, 'IN', { scope }));
    const options = { rule: requestRule, dir: 'IN' as const, scope };

    return (ex, next) => {
      const rc = ex.rewriteContext;
      rc.username = ex.effectiveUser ?? ex.user?.name;
      let target: string | undefined;
      try {
        target = rewrite.rewrite(ex.inboundUrl, { ...options, ctx: rc });
      } catch (err) {
        if (err instanceof RewriteDecryptError) {
          return Promise.reject(
            Errors.badRequest('The request carries gateway state that is not valid', { cause: err }),
          );
        }
        throw err;
      }
      if (target === undefined) return Promise.reject(Errors.noRewrite());
      ex.target = target;
      for (const f of inHeaders) addTo(ex, 'requestHeaderFilters', (h) => f(h, rc));
      for (const f of outHeaders) addTo(ex, 'responseHeaderFilters', (h) => f(h, rc));
      return next();
    };
  },
};
