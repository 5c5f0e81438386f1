/**
 * @module providers/rewrite/url-rewrite
 * The rewrite provider (Knox's `url-rewrite`), wired into every route from its `<rewrite apply to>` bindings:
 * - `request.url`: the named rule maps the inbound URL to the backend URL (no binding: Knox's best match among
 *   the IN rules, in the service's scope). A request no rule maps is refused (404), never sent to a guess.
 *   A binding to a rule no rewrite.xml of the topology defines is an error at the `<rewrite>` element: the route
 *   could not reach its backend.
 * - `request.headers` / `response.headers`: `application/x-http-headers` filters rewrite the header values they
 *   name (`Location`, `Content-Location`, …); without a `response.headers` binding, URL-bearing response
 *   headers are rewritten by best match, as Knox does.
 * - `response.body`: `application/json` (and `* /json`) filter content rewrites the string values its JSONPaths
 *   select (WebHDFS's `$.Location`); the dispatch buffers such a response within a bound. Other body content
 *   types (HTML, JavaScript, XML, …) and `request.body` need the content-rewrite work and are refused at
 *   deployment, at the binding's line.
 * A header or body filter name that no rewrite.xml defines is a warning: Knox treats it as "no filter", and
 * several of Knox's own definitions carry such dangling names.
 */
import { Errors } from '../../errors.ts';
import { type CompiledJsonApply, compileJsonApplies, rewriteJson } from '../../rewrite/body/json-filter.ts';
import { JsonPathError } from '../../rewrite/body/json-path.ts';
import { type RewriteContext, RewriteDecryptError } from '../../rewrite/index.ts';
import type { RewriteBinding } from '../../servicedef/model.ts';
import {
  addTo,
  type BodyTransform,
  type Filter,
  type ProviderContext,
  type ProviderFactory,
} from '../types.ts';

const HEADERS_TYPE = 'application/x-http-headers';

/** `application/json`, `* /json`, `application/*`, `* / *` against a response's media type. */
export function mediaTypeMatches(pattern: string, actual: string): boolean {
  const [pt, ps] = pattern.trim().toLowerCase().split('/');
  const [at, as] = actual.split(';', 1)[0].trim().toLowerCase().split('/');
  return (pt === '*' || pt === at) && (ps === '*' || ps === as);
}

function isJsonType(type: string): boolean {
  const sub = type.trim().toLowerCase().split('/')[1] ?? '';
  return sub === 'json' || sub.endsWith('+json');
}

interface JsonContent {
  type: string;
  applies: CompiledJsonApply[];
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
    const jsonContents: JsonContent[] = [];

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
          if (!isRule) {
            sink.error(
              binding.pos,
              `rewrite rule "${binding.apply}" is not defined by any rewrite.xml of this topology`,
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
        case 'response.body': {
          if (!isFilter) {
            if (!isRule) dangling(binding);
            break;
          }
          const contents = (rewrite.filter(binding.apply)?.contents ?? []).filter(
            (c) => c.type !== HEADERS_TYPE,
          );
          const unsupported = contents
            .filter((c) => binding.to === 'request.body' || !isJsonType(c.type))
            .map((c) => c.type);
          if (unsupported.length > 0) {
            sink.error(
              binding.pos,
              `${binding.to} rewriting (filter "${binding.apply}" for ${unsupported.join(', ')}) is not supported yet`,
            );
            break;
          }
          for (const content of contents) {
            try {
              jsonContents.push({ type: content.type, applies: compileJsonApplies(content.applies) });
            } catch (err) {
              if (!(err instanceof JsonPathError)) throw err;
              sink.error(content.pos, err.message);
            }
            for (const apply of content.applies) {
              if (!rewrite.hasRule(apply.rule)) {
                sink.warn(
                  apply.pos,
                  `rewrite rule "${apply.rule}" is not defined; this value is left as it is`,
                );
              }
            }
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

    const jsonTransform = (rc: RewriteContext): BodyTransform => ({
      accepts: (contentType) => jsonContents.some((c) => mediaTypeMatches(c.type, contentType)),
      transform: (text, contentType) => {
        const content = jsonContents.find((c) => mediaTypeMatches(c.type, contentType));
        if (!content) return undefined;
        return rewriteJson(text, content.applies, (value, rule) =>
          rewrite.rewrite(value, { rule, dir: 'OUT', ctx: rc, scope }),
        );
      },
    });

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
      if (jsonContents.length > 0) addTo(ex, 'responseBodyTransforms', jsonTransform(rc));
      return next();
    };
  },
};
