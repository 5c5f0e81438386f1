/**
 * @module providers/rewrite/url-rewrite
 * The rewrite provider (Knox's `url-rewrite`), wired into every route from its `<rewrite apply to>` bindings:
 * - `request.url`: the named rule maps the inbound URL to the backend URL (no binding: Knox's best match among
 *   the IN rules, in the service's scope). The URL is the normalised one (gateway/request-target) and matched
 *   anchored: a pattern's leading `**` is the gateway path and topology (urltemplate/matcher). A request no rule maps is refused (404), never sent to a guess.
 *   A binding to a rule no rewrite.xml of the topology defines is an error at the `<rewrite>` element: the route
 *   could not reach its backend.
 * - `request.headers` / `response.headers`: `application/x-http-headers` filters rewrite the header values they
 *   name (`Location`, `Content-Location`, …); without a `response.headers` binding, URL-bearing response
 *   headers are rewritten by best match, as Knox does.
 * - `response.body` / `request.body`: bodies are rewritten as they stream, by the filter of their Content-Type
 *   (HTML, XML, JSON, JavaScript, CSS, forms; see rewrite/body/plan). A response body is filtered even without a
 *   binding (or with one naming a rule, not a filter), as in Knox: its URLs go to best match. A request body is
 *   filtered only with a `request.body` binding.
 * A header or body filter name that no rewrite.xml defines is a warning: Knox treats it as "no filter", and
 * several of Knox's own definitions carry such dangling names.
 */
import { Errors } from '../../errors.ts';
import { prefixSegments } from '../../gateway/request-target.ts';
import { type BodyPlan, compileBodyPlan } from '../../rewrite/body/plan.ts';
import { type InflateLimits, openBodyStreams, parseCoding } from '../../rewrite/body/stream.ts';
import { type RewriteContext, RewriteDecryptError } from '../../rewrite/index.ts';
import { type RouteLeakGuard, routeLeakGuard } from '../../rewrite/leak-route.ts';
import type { RewriteBinding } from '../../servicedef/model.ts';
import {
  addTo,
  type BodyRewrite,
  type Exchange,
  type Filter,
  type ProviderContext,
  type ProviderFactory,
} from '../../spi/index.ts';

/** A problem with bodies of a route is logged once, not once per request. */
function reporter(route: string): (ex: Exchange, what: string, detail: string) => void {
  const seen = new Set<string>();
  return (ex, what, detail) => {
    if (seen.has(what)) return;
    seen.add(what);
    ex.log.warn({ route, problem: what }, `body passed without rewriting: ${detail}`);
  };
}

/**
 * A body rewrite bound to one request: the route's plan, the rewrite context of the request, the limits.
 * The rewrite of a value runs with the request's context; a value that does not decrypt is left alone.
 */
function bodyRewrite(
  plan: BodyPlan,
  ex: Exchange,
  options: {
    rewriteValue: (value: string, rule: string | undefined, ctx: RewriteContext) => string | undefined;
    bestMatchMayApply: (value: string) => boolean;
    limit: number;
    report: (ex: Exchange, what: string, detail: string) => void;
    inflate: InflateLimits;
  },
  leak?: RouteLeakGuard,
): BodyRewrite {
  const rc = ex.rewriteContext;
  const report = (what: string, detail: string) => options.report(ex, what, detail);
  return {
    open(headers) {
      const raw = headers['content-type'];
      const type = Array.isArray(raw) ? raw[0] : raw;
      const filtered = plan.active
        ? plan.rewriter(type, {
            rewrite: (value, rule) => options.rewriteValue(value, rule, rc),
            bestMatchMayApply: options.bestMatchMayApply,
            limit: options.limit,
            report,
          })
        : undefined;
      const coding = parseCoding(headers['content-encoding']);
      // The leak guard scans the filter's output, or a text body of its own (rewrite/leak-route).
      const rewriter = leak ? (leak.body(ex, type, filtered, coding === 'identity') ?? filtered) : filtered;
      if (!rewriter) return undefined;
      if (coding === undefined) {
        report('encoding', `a body with Content-Encoding "${headers['content-encoding']}" is not rewritten`);
        return undefined;
      }
      // A body only looked at (report mode, no filter) needs no fallback window: it goes on as it comes.
      const looked = filtered === undefined && leak?.mode === 'report';
      const streams = openBodyStreams(rewriter, coding, {
        report,
        inflate: options.inflate,
        ...(looked && { window: 0 }),
      });
      return looked ? { ...streams, unchanged: true } : streams;
    },
  };
}

export const urlRewrite: ProviderFactory = {
  role: 'rewrite',
  name: 'url-rewrite',
  create(ctx: ProviderContext): Filter {
    const { rewrite, route, service, sink } = ctx;
    const scope = service.role;
    let requestRule: string | undefined;
    const requestHeaders: string[] = [];
    const responseHeaders: string[] = [];
    let responseBody: RewriteBinding | undefined;
    let requestBody: RewriteBinding | undefined;

    const dangling = (binding: RewriteBinding) =>
      sink.warn(
        binding.pos,
        `rewrite filter "${binding.apply}" is not defined by any rewrite.xml of this topology; the binding does nothing`,
      );

    for (const binding of route.rewrites) {
      const isRule = rewrite.hasRule(binding.apply);
      const isFilter = rewrite.hasFilter(binding.apply);
      switch (binding.to) {
        case 'request.url':
          // Knox leaves the URL unchanged when the named rule does not exist (some of its own definitions name
          // rules with a typo): the route deploys, and its requests find no backend URL (404, never the gateway's
          // own URL).
          if (!isRule) {
            sink.warn(
              binding.pos,
              `rewrite rule "${binding.apply}" is not defined by any rewrite.xml of this topology; requests of this route are not rewritten (404)`,
            );
          }
          requestRule = binding.apply;
          break;
        case 'request.headers':
        case 'response.headers':
          if (!isFilter && !isRule) dangling(binding);
          else (binding.to === 'request.headers' ? requestHeaders : responseHeaders).push(binding.apply);
          break;
        case 'request.body':
        case 'response.body':
          // A name that is a rule (not a filter) or no name at all: Knox's filters run without selectors.
          if (!isFilter && !isRule) dangling(binding);
          if (binding.to === 'request.body') requestBody = binding;
          else responseBody = binding;
          break;
        default:
          sink.error(binding.pos, `unknown rewrite target "${binding.to}"`);
      }
    }

    const outHeaders =
      responseHeaders.length > 0
        ? responseHeaders.map((name) => rewrite.headers(name, 'OUT', { scope }))
        : [rewrite.defaultResponseHeaders({ scope })];
    const inHeaders = requestHeaders.map((name) => rewrite.headers(name, 'IN', { scope }));
    // The inbound URL's leading `**` is the gateway path and topology, never a part of the path below them: the
    // backend path is cut where the route match and the path policies cut it (issue 14, anchored matching).
    const options = {
      rule: requestRule,
      dir: 'IN' as const,
      scope,
      anchor: prefixSegments(ctx.settings.path),
    };

    const plan = (binding: RewriteBinding | undefined, dir: 'IN' | 'OUT') =>
      compileBodyPlan({
        rules: rewrite,
        filter: binding ? rewrite.filter(binding.apply) : undefined,
        dir,
        scope,
        sink,
      });
    const responsePlan = plan(responseBody, 'OUT');
    const requestPlan = requestBody ? plan(requestBody, 'IN') : undefined;
    const limit = ctx.settings.rewriteBodyMaxBytes;
    const report = reporter(`${ctx.topology.name}:${route.path}`);
    const valueRewriter = (dir: 'IN' | 'OUT') => ({
      rewriteValue: (value: string, rule: string | undefined, rc: RewriteContext) => {
        try {
          return rewrite.rewrite(value, { rule: rule ?? '*', dir, ctx: rc, scope });
        } catch (err) {
          if (err instanceof RewriteDecryptError) return undefined;
          throw err;
        }
      },
      bestMatchMayApply: rewrite.bestMatchFilter(dir, scope),
      limit,
      report,
      // postern.rewrite.body.inflate.*: a compressed response body is decoded at most this far.
      inflate: {
        maxBytes: ctx.settings.limits.inflateMaxBytes,
        maxRatio: ctx.settings.limits.inflateMaxRatio,
      },
    });
    const outValues = valueRewriter('OUT');
    const inValues = valueRewriter('IN');
    // postern.rewrite.leak.guard: backend addresses the outbound rules left (rewrite/leak-guard).
    const leak = routeLeakGuard(ctx);

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
      if (leak) addTo(ex, 'responseHeaderFilters', leak.headers(ex));
      if (responsePlan.active || leak?.unfilteredBodies)
        ex.responseBody = bodyRewrite(responsePlan, ex, outValues, leak);
      if (requestPlan?.active) ex.requestBody = bodyRewrite(requestPlan, ex, inValues);
      return next();
    };
  },
};
