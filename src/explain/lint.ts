/**
 * @module explain/lint
 * What `postern check` warns about beyond what deployment reports, found on compiled deployments:
 * - {@link unreachableRoutes}: a route the matcher never chooses, because another route takes every URL it would
 *   match (more specific, or as specific and earlier, or on the same path with a query part). Routes that only
 *   repeat another route of the same service with the same bindings, policies and dispatch are left alone: Knox's
 *   definitions routinely list `/x/**` beside `/x/**?**`, and the request goes the same way whichever is chosen.
 * - {@link deadRewriteRules}: a rule of a `rewrite.xml` a topology uses that nothing can ever apply: no route
 *   binds it, no filter applies it, and best match cannot select it (no pattern, or no route of any topology
 *   using it rewrites by best match in the rule's direction and scope).
 * - {@link sessionlessChannels}: a topology whose CHANNELS subscribers log in by the session cookie ShiroProvider
 *   issues, while nothing in it answers the plain GET a browser logs in with (a browser cannot send Basic
 *   credentials on a WebSocket upgrade, and CHANNELS answers upgrades and publishing POSTs only).
 */
import type { Diagnostic, Position } from '../config/diagnostics.ts';
import type { CompiledRoute, Deployment } from '../deploy/deployment.ts';
import { DEFAULT_GLOBAL_RULES_SERVICES, GLOBAL_SCOPE } from '../rewrite/index.ts';
import type { RewriteRule } from '../rewrite/model.ts';
import type { RouteDef } from '../servicedef/model.ts';
import { matchesAlone, type Template, witnessInputs } from '../urltemplate/index.ts';

const where = (p: Position) => `${p.file}:${p.line}`;

function warning(pos: Position, message: string): Diagnostic {
  return { file: pos.file, line: pos.line, column: pos.column, severity: 'warning', message };
}

/** Every static text of the deployment's templates: fresh witness values must differ from all of them. */
function staticTexts(routes: readonly CompiledRoute[]): Set<string> {
  const texts = new Set<string>();
  for (const r of routes) {
    const t = r.template;
    for (const s of [...t.path, ...t.query.values()]) {
      for (const v of s.values) if (v.pattern !== null) texts.add(v.pattern);
      if (s.queryName) texts.add(s.queryName);
    }
  }
  return texts;
}

/** What a route does once chosen, without positions: two routes with the same value send a request the same way. */
function effect(r: CompiledRoute): string {
  const strip = (def: RouteDef) =>
    JSON.stringify({
      rewrites: def.rewrites.map((b) => [b.apply, b.to]),
      policies: def.policies?.map((p) => [p.role, p.name ?? '']),
      dispatch: def.dispatch && {
        ...def.dispatch,
        pos: undefined,
        params: def.dispatch.params.map((p) => [p.name, p.value]),
      },
    });
  return `${r.role}\u0000${r.definition}\u0000${strip(r.route)}`;
}

/**
 * Routes that have no `<rewrite>` of their own and take an earlier route's bindings, as Knox deploys them
 * (servicedef/service-xml `inheritBindings`): each reported once per definition, at its `<route>`, so an author
 * sees which rules such a route applies and where they are written.
 */
export function inheritedBindings(deployment: Deployment): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<RouteDef>();
  for (const r of deployment.routes) {
    const from = r.route.inheritedFrom;
    if (!from || seen.has(r.route)) continue;
    seen.add(r.route);
    const bindings = r.route.rewrites.map((b) => `${b.apply} → ${b.to}`).join(', ');
    out.push(
      warning(
        r.route.pos,
        `route ${r.route.path} of ${r.definition} has no <rewrite>: as in Knox it applies the bindings of the route at ${where(from)} (${bindings})`,
      ),
    );
  }
  return out;
}

/**
 * Routes of a deployment that the matcher can never choose (see the module doc), each reported at its
 * `<route>` with the route that takes its URLs.
 */
export function unreachableRoutes(deployment: Deployment): Diagnostic[] {
  const { routes, matcher } = deployment;
  const statics = staticTexts(routes);
  let n = 0;
  const fresh = () => {
    let v: string;
    do v = `a${++n}`;
    while (statics.has(v));
    return v;
  };
  const longest = Math.max(0, ...routes.map((r) => r.template.path.length));
  const globLengths = Array.from({ length: longest + 1 }, (_, i) => i + 1);
  const out: Diagnostic[] = [];
  for (const route of routes) {
    n = 0;
    const witnesses = witnessInputs(route.template, { fresh, globLengths });
    if (!witnesses) continue;
    let reachable = false;
    let takenBy: { winner: CompiledRoute; example: Template } | undefined;
    for (const w of witnesses) {
      const m = matcher.match(w);
      // A witness the route does not match itself proves nothing: give up on this route.
      if (!m || m.value === route || !matchesAlone(route.template, w)) {
        reachable = true;
        break;
      }
      if (!takenBy || (effect(takenBy.winner) === effect(route) && effect(m.value) !== effect(route))) {
        takenBy = { winner: m.value, example: w };
      }
    }
    if (reachable || !takenBy || effect(takenBy.winner) === effect(route)) continue;
    const { winner, example } = takenBy;
    out.push(
      warning(
        route.pos,
        `route "${route.path}" of ${route.role} can never be chosen: route "${winner.path}" of ${winner.role} (${where(winner.pos)}) takes every URL it matches (e.g. ${example.original})`,
      ),
    );
  }
  return out;
}

/** Scope of a rule as the rewrite compiler files it: its attribute, else its role prefix (GLOBAL for Knox's list). */
function scopeOf(rule: RewriteRule, globals: readonly string[]): string | null {
  if (rule.scope !== undefined && rule.scope !== '') return rule.scope;
  const slash = rule.name.indexOf('/');
  if (slash <= 0) return null;
  const scope = rule.name.slice(0, slash);
  return globals.includes(scope) ? GLOBAL_SCOPE : scope;
}

/** Rule names a filter (or anything inside it) applies; `*` or a missing rule means best match. */
function filterRules(node: unknown, names: Set<string>, bestMatch: { used: boolean }): void {
  if (Array.isArray(node)) {
    for (const n of node) filterRules(n, names, bestMatch);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const o = node as Record<string, unknown>;
  if ('path' in o && !('contents' in o) && !('applies' in o)) {
    if (typeof o.rule === 'string' && o.rule !== '*' && o.rule !== '') names.add(o.rule);
    else bestMatch.used = true;
  }
  for (const [k, v] of Object.entries(o))
    if (k !== 'pos' && typeof v === 'object') filterRules(v, names, bestMatch);
}

/**
 * Rewrite rules no topology can ever apply, across every deployment of a home (a rule one topology leaves unused
 * may serve another that uses the same definition). Each is reported once, at its `<rule>`.
 */
export function deadRewriteRules(deployments: readonly Deployment[]): Diagnostic[] {
  const rules = new Map<string, { rule: RewriteRule; live: boolean; why: string }>();
  for (const d of deployments) {
    const globals = d.rewrite.env.globalRulesServices ?? DEFAULT_GLOBAL_RULES_SERVICES;
    const named = new Set<string>();
    const bestMatchInFilters = { used: false };
    for (const r of d.routes) for (const b of r.route.rewrites) named.add(b.apply);
    for (const def of d.definitions) filterRules(def.rewrite.filters, named, bestMatchInFilters);

    // The scopes best match reaches, per direction: a route's own role, GLOBAL and rules without a scope.
    const reach = { IN: new Set<string | null>(), OUT: new Set<string | null>() };
    const add = (dir: 'IN' | 'OUT', role: string) => {
      reach[dir].add(role);
      reach[dir].add(GLOBAL_SCOPE);
      reach[dir].add(null);
    };
    for (const r of d.routes) {
      const byTarget = (to: string) => r.route.rewrites.filter((b) => b.to === to).map((b) => b.apply);
      if (byTarget('request.url').length === 0) add('IN', r.role);
      const responseHeaders = byTarget('response.headers');
      if (responseHeaders.length === 0) add('OUT', r.role);
      const headerFilterUsesBestMatch = (name: string) => {
        const content = d.rewrite.filterContent(name, 'application/x-http-headers');
        return !content || content.applies.length === 0;
      };
      if (responseHeaders.some(headerFilterUsesBestMatch)) add('OUT', r.role);
      if (byTarget('request.headers').some(headerFilterUsesBestMatch)) add('IN', r.role);
      if (bestMatchInFilters.used) {
        add('IN', r.role);
        add('OUT', r.role);
      }
    }

    for (const def of d.definitions) {
      for (const rule of def.rewrite.rules) {
        const key = `${rule.pos.file}:${rule.pos.line}:${rule.pos.column}`;
        let entry = rules.get(key);
        if (!entry) {
          entry = { rule, live: false, why: '' };
          rules.set(key, entry);
        }
        if (entry.live) continue;
        if (named.has(rule.name)) {
          entry.live = true;
          continue;
        }
        if (rule.pattern === undefined) {
          entry.why = 'it has no pattern for best match';
          continue;
        }
        const scope = scopeOf(rule, globals);
        const dirs = rule.dir ? [rule.dir] : (['IN', 'OUT'] as const);
        if (dirs.some((dir) => reach[dir].has(scope))) {
          entry.live = true;
          continue;
        }
        const direction = rule.dir ? `${rule.dir} ` : '';
        entry.why = `no route rewrites by ${direction}best match in its scope ${scope === null ? '(none)' : `"${scope}"`}`;
      }
    }
  }
  const out: Diagnostic[] = [];
  for (const { rule, live, why } of rules.values()) {
    if (live) continue;
    out.push(
      warning(
        rule.pos,
        `rewrite rule "${rule.name}" is never used: no route binds it, no filter applies it, and ${why}`,
      ),
    );
  }
  return out;
}

/** Authentication providers whose login issues the session cookie a browser then sends with its WebSocket. */
const SESSION_ISSUERS = new Set(['shiroprovider']);
/** Gateway-answered services that answer no login GET (WebSocket upgrades and POSTs only). */
const NO_LOGIN_GET = new Set(['CHANNELS']);

/** See the module doc: one warning per topology, at its first CHANNELS `<service>`. */
export function sessionlessChannels(deployment: Deployment): Diagnostic[] {
  const channels = deployment.routes.filter((r) => NO_LOGIN_GET.has(r.role));
  if (channels.length === 0) return [];
  const issuer = channels
    .flatMap((r) => r.steps)
    .find((s) => s.filter && s.role === 'authentication' && SESSION_ISSUERS.has(s.name.toLowerCase()));
  if (!issuer) return [];
  if (deployment.routes.some((r) => !NO_LOGIN_GET.has(r.role))) return [];
  const name = deployment.topology.name;
  return [
    warning(
      channels[0].service.pos,
      `topology "${name}": a browser subscribes to CHANNELS with the session cookie ${issuer.name} issues at a login, and no route of this topology answers a login GET (CHANNELS answers WebSocket upgrades and publishing POSTs only): add a service a browser can GET in this topology (its login sets the cookie for /{gateway.path}/${name}), or authenticate subscribers with tokens (JWTProvider, SSOCookieProvider)`,
    ),
  ];
}
