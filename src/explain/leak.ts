/**
 * @module explain/leak
 * What the leak guard (rewrite/leak-guard) would do with a backend's response headers on the explained route:
 * `postern explain --response-header 'Location: http://oozie:11000/oozie/' GET …/oozie`. The headers go through
 * the route's outbound header rules first (the filters the rewrite provider gave the dry-run exchange), then the
 * guard, in the mode gateway-site sets and, whatever that is, in `rewrite` mode to show the mapping back.
 */
import type { Deployment } from '../deploy/deployment.ts';
import type { RewriteContext } from '../rewrite/index.ts';
import { LeakGuard, type LeakGuardMode, servicePathOf } from '../rewrite/leak-guard.ts';
import { isLeakFilter } from '../rewrite/leak-route.ts';
import type { HeaderFilter, HeaderMap } from '../spi/index.ts';

export interface LeakExplained {
  /** `postern.rewrite.leak.guard`. */
  mode: LeakGuardMode;
  /** The backend's headers as given (names in lower case). */
  backend: Record<string, string | string[]>;
  /** After the route's outbound header rules. */
  afterRules: Record<string, string | string[]>;
  /** What the client gets in the configured mode. */
  client: Record<string, string | string[]>;
  leaks: {
    where: string;
    origin: string;
    /** The service whose URL it is. */
    service: string;
    url: string;
    /** In rewrite mode: what it becomes, and by which rule (`service-url`: the plain mapping); absent: unmapped. */
    rewrite?: string;
    by?: string;
  }[];
}

function plain(h: HeaderMap): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = v as string | string[];
  return out;
}

/** The guard's part of an explanation, for a route of `deployment`. */
export function explainLeaks(input: {
  deployment: Deployment;
  mode: LeakGuardMode;
  headers: readonly (readonly [string, string])[];
  filters: readonly HeaderFilter[] | undefined;
  rc: RewriteContext;
  scope: string;
}): LeakExplained {
  const { deployment, rc, scope } = input;
  const backend: HeaderMap = {};
  for (const [n, v] of input.headers) {
    const name = n.toLowerCase();
    const prior = backend[name];
    backend[name] = prior === undefined ? v : [...(Array.isArray(prior) ? prior : [prior as string]), v];
  }
  let afterRules = backend;
  for (const f of input.filters ?? []) if (!isLeakFilter(f)) afterRules = f(afterRules, 200);
  const guardIn = (mode: LeakGuardMode) => {
    const guard = new LeakGuard({
      mode,
      services: deployment.topology.services.map((s) => ({ role: s.role, urls: s.urls.map((u) => u.url) })),
      rules: deployment.rewrite,
      frontend: { url: deployment.settings.frontendUrl, topology: deployment.name },
    });
    for (const d of deployment.definitions) guard.learn(d.role, servicePathOf(d));
    return guard;
  };
  const leaks: LeakExplained['leaks'] = [];
  const mapped = guardIn('rewrite').headers(afterRules, rc, scope, (where, hit) => {
    leaks.push({
      where,
      origin: hit.target.origin,
      service: hit.target.role,
      url: hit.url,
      ...(hit.mapped !== undefined && { rewrite: hit.mapped, by: hit.by }),
    });
  });
  return {
    mode: input.mode,
    backend: plain(backend),
    afterRules: plain(afterRules),
    client: plain(input.mode === 'rewrite' ? mapped : afterRules),
    leaks,
  };
}
