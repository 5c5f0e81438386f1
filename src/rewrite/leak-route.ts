/**
 * @module rewrite/leak-route
 * The leak guard (rewrite/leak-guard) on one route, built at deployment by the rewrite provider: the header
 * filter that runs after the route's outbound header rules, the body scan after its body filter, and what a leak
 * causes: a `postern:rewrite-leak` event per header or body chunk (metrics and the console count them) and one log
 * line per route and deployment, naming where, the backend origin and the outbound rule that could have caught it
 * (never a query string).
 *
 * Which bodies are scanned (mode ≠ off): every body a filter rewrites anyway (the scan runs on the filter's
 * output, in the same pass); and with `postern.rewrite.leak.guard.bodies=text` a text body no filter reads
 * (`text/*`, JSON, XML, JavaScript, CSS, forms, an ASCII-compatible charset) when it is not compressed (by
 * default not: the body pipeline costs a small response tens of µs). A compressed body without a filter is not scanned (it
 * would have to be inflated and compressed again for it) and binary bodies never are: they pay nothing.
 */
import { type RewriteLeakEvent, rewriteLeakEvents } from '../observability/events.ts';
import { type Exchange, type HeaderFilter, kDryRun, type ProviderContext } from '../spi/index.ts';
import { bodyKind, isAsciiCompatible, parseMediaType } from './body/media-type.ts';
import type { TextRewriter } from './body/values.ts';
import { LeakGuard, type LeakGuardMode, type LeakHit, servicePathOf, withoutQuery } from './leak-guard.ts';
import { GuardedRewriter, LeakScanner } from './leak-scan.ts';
import type { RewriteContext } from './types.ts';

export interface RouteLeakGuard {
  readonly mode: LeakGuardMode;
  /** `postern.rewrite.leak.guard.bodies=text`: text bodies no filter reads are scanned too. */
  readonly unfilteredBodies: boolean;
  /** The response header filter of an exchange (after the outbound header rules). */
  headers(ex: Exchange): HeaderFilter;
  /**
   * The body's rewriter with the scan: `inner` (the filter's) wrapped, or a scan of its own for an unfiltered text
   * body (`identity`: not compressed); undefined when the body is not scanned (then `inner` is used as it is).
   */
  body(
    ex: Exchange,
    contentType: string | undefined,
    inner: TextRewriter | undefined,
    identity: boolean,
  ): TextRewriter | undefined;
}

/**
 * Marks the guard's own header filters, which explain runs apart from the outbound rules' (explain/leak). A
 * property of the filter rather than a WeakSet: one is made per request, and a weak table's entries live until
 * the next mark-compact.
 */
const kLeakFilter: unique symbol = Symbol('postern.rewrite.leakFilter');
type LeakFilter = HeaderFilter & { [kLeakFilter]?: true };

/** Whether a response header filter of an exchange is the leak guard's. */
export function isLeakFilter(f: HeaderFilter): boolean {
  return (f as LeakFilter)[kLeakFilter] === true;
}

/** The topology's guard: one per deployment, shared by its routes (each teaches it its service's gateway path). */
export function topologyLeakGuard(ctx: ProviderContext): LeakGuard | undefined {
  const mode = ctx.settings.rewriteLeakGuard as LeakGuardMode;
  if (mode === 'off') return undefined;
  const guard = ctx.shared(
    'rewrite:leak-guard',
    () =>
      new LeakGuard({
        mode,
        services: ctx.topology.services.map((s) => ({ role: s.role, urls: s.urls.map((u) => u.url) })),
        rules: ctx.rewrite,
        frontend: { url: ctx.settings.frontendUrl, topology: ctx.topology.name },
      }),
  );
  guard.learn(ctx.service.role, servicePathOf(ctx.definition));
  return guard;
}

/** The guard of one route; undefined when it is off or the topology has no backend a browser could follow. */
export function routeLeakGuard(ctx: ProviderContext): RouteLeakGuard | undefined {
  const guard = topologyLeakGuard(ctx);
  if (!guard?.pattern) return undefined;
  const topology = ctx.topology.name;
  const service = ctx.service.role;
  const route = ctx.route.path;
  const logged = ctx.shared('rewrite:leak-logged', () => new Set<string>());
  const limit = ctx.settings.rewriteBodyMaxBytes;

  const found = (ex: Exchange, where: string, hits: readonly LeakHit[]) => {
    // explain's dry run neither counts nor logs.
    if ((ex as { [kDryRun]?: true })[kDryRun]) return;
    const rc = ex.rewriteContext;
    const rewrite = guard.mode === 'rewrite';
    const action = !rewrite
      ? 'reported'
      : hits.every((h) => h.mapped !== undefined)
        ? 'rewritten'
        : 'unmapped';
    if (rewriteLeakEvents.hasSubscribers) {
      rewriteLeakEvents.publish({
        topology,
        service,
        route,
        where,
        count: hits.length,
        origin: hits[0].target.origin,
        path: rc.inbound.path,
        action,
      } satisfies RewriteLeakEvent);
    }
    const key = `${service}\u0000${route}`;
    if (logged.has(key)) return;
    logged.add(key);
    const hit = hits[0];
    const advice = adviceFor(guard, ctx.rewrite, hit, rc);
    ex.log.warn(
      {
        topology,
        service,
        route,
        where,
        origin: hit.target.origin,
        backendService: hit.target.role,
        leaked: withoutQuery(hit.url),
        rule: advice.rule,
        ...(advice.mapped !== undefined && { mapsTo: withoutQuery(advice.mapped) }),
        mode: guard.mode,
      },
      `backend address ${hit.target.origin} left in the response ${where === 'body' ? 'body' : `header ${where}`} after the outbound rules; ${advice.text}`,
    );
  };

  const unfilteredBodies = ctx.settings.rewriteLeakGuardBodies === 'text';
  return {
    mode: guard.mode,
    unfilteredBodies,
    headers(ex) {
      const rc = ex.rewriteContext;
      const filter: LeakFilter = (headers) => {
        let byWhere: Map<string, LeakHit[]> | undefined;
        const out = guard.headers(headers, rc, service, (where, hit) => {
          byWhere ??= new Map();
          const list = byWhere.get(where);
          if (list) list.push(hit);
          else byWhere.set(where, [hit]);
        });
        if (byWhere) for (const [where, hits] of byWhere) found(ex, where, hits);
        return out;
      };
      filter[kLeakFilter] = true;
      return filter;
    },
    body(ex, contentType, inner, identity) {
      if (inner === undefined) {
        if (!unfilteredBodies) return undefined;
        const mt = parseMediaType(contentType);
        if (!identity || !mt || !isAsciiCompatible(mt.charset)) return undefined;
        if (mt.type !== 'text' && bodyKind(mt) === undefined) return undefined;
      }
      const scan = new LeakScanner({
        guard,
        rc: ex.rewriteContext,
        scope: service,
        maxUrl: limit,
        onHits: (hits) => found(ex, 'body', hits),
      });
      return new GuardedRewriter(inner, scan);
    },
  };
}

/** What the log line says could have caught a leak: the rule that matches it, or the plain mapping. */
function adviceFor(
  guard: LeakGuard,
  rules: ProviderContext['rewrite'],
  hit: LeakHit,
  rc: RewriteContext,
): { rule: string; mapped?: string; text: string } {
  if (hit.url.startsWith('Domain=')) {
    return { rule: 'none', text: 'the cookie is scoped to a backend host; rewrite mode drops its Domain' };
  }
  const absolute = hit.url.startsWith('//') ? `${hit.target.scheme}:${hit.url}` : hit.url;
  const outcome = rules.apply(absolute, { rule: '*', dir: 'OUT', ctx: rc, scope: hit.target.role });
  const mapped = hit.mapped ?? guard.map(hit.url, hit.target, rc)?.url;
  if (outcome.status === 'rewritten') {
    return {
      rule: outcome.rule,
      mapped,
      text: `outbound rule ${outcome.rule} matches it but is not applied there (bind it to this route's response.headers or response.body filter)`,
    };
  }
  return {
    rule: 'none',
    mapped,
    text:
      mapped !== undefined
        ? `no outbound rule of ${hit.target.role} matches it; postern.rewrite.leak.guard=rewrite maps it to its service's gateway path`
        : `no outbound rule of ${hit.target.role} matches it and it lies outside its service URL's path`,
  };
}
