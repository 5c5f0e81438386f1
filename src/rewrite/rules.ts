/**
 * @module rewrite/rules
 * The per-request half of the rewrite engine: {@link CompiledRewriteRules}, built by `compileRewriteRules`.
 *
 * A URL is rewritten either by a rule named by the route (`rule: 'WEBHDFS/webhdfs/inbound/namenode/file'`) or,
 * when no name (or `*`) is given, by Knox's best match: among the rules of the direction that have a pattern, the
 * one whose pattern matches the URL most specifically. Rules are grouped by scope (the `scope` attribute, or the
 * role their name starts with, or GLOBAL for Knox's global services); when the caller passes its service role as
 * `scope`, a rule of that scope wins over a GLOBAL one, which wins over one without scope, and a match from
 * another service's scope does not count (Knox's `ScopedMatcher`). Without `scope`, a GLOBAL match wins over the
 * others, which are taken in the order their scopes first appeared.
 */

import type { RewriteOptions, RewriteOutcome, RewriteRules } from '../spi/rewrite.ts';
import {
  parseLiteral,
  type Template,
  type TemplateMatch,
  type TemplateMatcher,
} from '../urltemplate/index.ts';
import { RuleRun } from './context.ts';
import { type CompiledRule, runNode } from './engine.ts';
import { defaultResponseHeaders, type HeaderRewriter, headerRewriter } from './headers.ts';
import { inboundTemplate } from './inbound.ts';
import type { FilterContent, RewriteFilter } from './model.ts';
import type { Direction, RewriteEnvironment, RewriteFunctionRegistry } from './types.ts';

/** Best-match matchers of one direction, by scope (`null`: rules whose name has no role prefix). */
export type ScopedMatchers = Map<string | null, TemplateMatcher<CompiledRule>>;

/**
 * What the best-match patterns of one direction and scope start with, so that a value none of them can match
 * (most attribute values and JSON strings in a body) is passed over without being parsed and matched. The
 * matcher walks scheme, user, host, port, then path segments, and a component only ever matches the same
 * component, so a pattern can only match a value that starts with what the pattern starts with.
 */
export interface PatternShape {
  /** Some pattern starts with a scheme, user, host or port: a value with `:` or a leading `//` may match. */
  authority: boolean;
  /** Static first path segments of the path-only patterns (`''`: a pattern with no path, `/?{page}`). */
  first: Set<string>;
  /** Simplified-regex first segments (`*0;url=dfshealth.html`). */
  firstRegex: RegExp[];
  /** Some path-only pattern starts with a wildcard segment: any value may match. */
  any: boolean;
}

export type ScopedShapes = Map<string | null, PatternShape>;

/** Records the shape of one best-match pattern (at compile time). */
export function addShape(shapes: ScopedShapes, scope: string | null, pattern: Template): void {
  let shape = shapes.get(scope);
  if (!shape) {
    shape = { authority: false, first: new Set(), firstRegex: [], any: false };
    shapes.set(scope, shape);
  }
  if (pattern.scheme || pattern.username || pattern.password || pattern.host || pattern.port) {
    shape.authority = true;
    return;
  }
  const first = pattern.path[0];
  if (first === undefined) shape.first.add('');
  else if (first.value.type === 'static') for (const v of first.values) shape.first.add(v.pattern ?? '');
  else if (first.value.type === 'regex' && first.values.length === 1)
    shape.firstRegex.push(first.value.regex!);
  else shape.any = true;
}

/** The first path segment of a value as the literal parser would split it (no scheme or authority). */
function firstSegment(value: string): string {
  let i = 0;
  while (value.charCodeAt(i) === 0x2f) i++;
  let j = i;
  for (; j < value.length; j++) {
    const c = value.charCodeAt(j);
    if (c === 0x2f || c === 0x3f || c === 0x23) break;
  }
  return value.slice(i, j);
}

interface Parts {
  env: RewriteEnvironment;
  functions: RewriteFunctionRegistry;
  byName: Map<string, CompiledRule>;
  inbound: ScopedMatchers;
  outbound: ScopedMatchers;
  filters: Map<string, RewriteFilter>;
  /** Whether some best-match pattern of a direction has no scheme (and may match a value without `://`). */
  relative: { IN: boolean; OUT: boolean };
  shapes: { IN: ScopedShapes; OUT: ScopedShapes };
}

const GLOBAL_SCOPE = 'GLOBAL';

export class CompiledRewriteRules implements RewriteRules {
  readonly env: RewriteEnvironment;
  readonly #functions: RewriteFunctionRegistry;
  readonly #byName: Map<string, CompiledRule>;
  readonly #inbound: ScopedMatchers;
  readonly #outbound: ScopedMatchers;
  readonly #filters: Map<string, RewriteFilter>;
  readonly #relative: { IN: boolean; OUT: boolean };
  readonly #shapes: { IN: ScopedShapes; OUT: ScopedShapes };

  constructor(parts: Parts) {
    this.env = parts.env;
    this.#functions = parts.functions;
    this.#byName = parts.byName;
    this.#inbound = parts.inbound;
    this.#outbound = parts.outbound;
    this.#relative = parts.relative;
    this.#filters = parts.filters;
    this.#shapes = parts.shapes;
  }

  /** The pattern shapes best match consults for a scope: its own, GLOBAL and unscoped (all, without scope). */
  #shapesFor(dir: Direction, scope: string | undefined): PatternShape[] {
    const all = this.#shapes[dir];
    if (scope === undefined) return [...all.values()];
    return [scope, GLOBAL_SCOPE, null].flatMap((k) => all.get(k) ?? []);
  }

  /** Whether best match in this direction and scope has any rule to choose from. */
  hasBestMatchRules(dir: Direction, scope?: string): boolean {
    return this.#shapesFor(dir, scope).length > 0;
  }

  /**
   * A cheap test of whether best match could select a rule for a value (see {@link PatternShape}): `false` means
   * certainly not, so the value need not be parsed. Prepared once per route.
   */
  bestMatchFilter(dir: Direction, scope?: string): (value: string) => boolean {
    const shapes = this.#shapesFor(dir, scope);
    if (shapes.length === 0) return () => false;
    if (shapes.some((s) => s.any)) return () => true;
    const authority = shapes.some((s) => s.authority);
    const first = new Set(shapes.flatMap((s) => [...s.first]));
    const regexes = shapes.flatMap((s) => s.firstRegex);
    return (value) => {
      if (authority && (value.includes(':') || value.startsWith('//'))) return true;
      const seg = firstSegment(value);
      if (first.has(seg)) return true;
      for (const r of regexes) if (r.test(seg)) return true;
      return false;
    };
  }

  /** Whether a rule of that name was deployed (a route naming a missing rule is a deployment error). */
  /**
   * Whether best match in this direction can select a rule for a value that is not an absolute URL: only when
   * some rule pattern of the direction has no scheme. Lets header rewriting skip values like `gzip` cheaply.
   */
  hasRelativePatterns(dir: Direction): boolean {
    return this.#relative[dir];
  }

  hasRule(name: string): boolean {
    return this.#byName.has(name);
  }

  hasFilter(name: string): boolean {
    return this.#filters.has(name);
  }

  get ruleNames(): string[] {
    return [...this.#byName.keys()];
  }

  get filterNames(): string[] {
    return [...this.#filters.keys()];
  }

  /** The filter as declared, for body filters built elsewhere. */
  filter(name: string): RewriteFilter | undefined {
    return this.#filters.get(name);
  }

  /**
   * The `<content>` of a filter for a MIME type, picked like Knox's `MimeTypeMap`: exact type, then `type/*`,
   * then `* /subtype`, then `* / *`. Parameters (`; charset=...`) are ignored; a later content of the same type wins.
   */
  filterContent(name: string, mimeType: string): FilterContent | undefined {
    const filter = this.#filters.get(name);
    if (!filter) return undefined;
    const wanted = mimeType.split(';')[0].trim().toLowerCase();
    const [type, sub] = wanted.split('/');
    const candidates = [wanted, `${type}/*`, `*/${sub}`, '*/*'];
    for (const candidate of candidates) {
      let found: FilterContent | undefined;
      for (const content of filter.contents) {
        if (content.type.trim().toLowerCase() === candidate) found = content;
      }
      if (found) return found;
    }
    return undefined;
  }

  /**
   * Rewrites a URL, saying what happened.
   * @throws {RewriteDecryptError} when the rule decrypts a value that is not valid (answer 400).
   */
  apply(url: string, opts: RewriteOptions): RewriteOutcome {
    const name = opts.rule;
    if (name === '') return { status: 'no-rule' };
    let rule: CompiledRule | undefined;
    let preMatched: ReadonlyMap<string, readonly (string | null)[]> | undefined;
    let literal: Template | undefined;
    if (name === undefined || name === '*') {
      literal = inboundTemplate(opts.ctx, url) ?? parseLiteral(url);
      const match = this.#bestMatch(literal, opts.dir, opts.scope, opts.anchor);
      if (!match) return { status: 'no-rule' };
      rule = match.value;
      preMatched = match.params;
    } else {
      rule = this.#byName.get(name);
      if (!rule) return { status: 'no-rule' };
    }
    if (rule.broken !== undefined) return { status: 'failed', rule: rule.name, reason: rule.broken };
    const run = new RuleRun(this.env, opts.ctx, opts.dir, this.#functions, rule.name, url);
    if (opts.anchor !== undefined) run.anchorInput(opts.anchor);
    // The parse made for the best match, or the one the gateway made of the inbound URL (rewrite/inbound).
    literal ??= inboundTemplate(opts.ctx, url);
    if (literal) run.seedLiteral(literal);
    const failure = runNode(rule.node, run, preMatched);
    if (failure) return { status: 'failed', rule: rule.name, reason: failure.reason };
    return { status: 'rewritten', url: run.url, rule: rule.name };
  }

  /**
   * Rewrites a URL; `undefined` when no rule applied (none named/matching, or the rule failed). Callers keep the
   * original value in that case for responses (as Knox does) and refuse the request for `request.url`.
   * @throws {RewriteDecryptError} when the rule decrypts a value that is not valid (answer 400).
   */
  rewrite(url: string, opts: RewriteOptions): string | undefined {
    const outcome = this.apply(url, opts);
    return outcome.status === 'rewritten' ? outcome.url : undefined;
  }

  /**
   * A prepared rewriter for the headers an `application/x-http-headers` filter names (`request.headers` and
   * `response.headers` bindings). An unknown filter, or one without headers content, rewrites every header by
   * best match, as Knox does.
   */
  headers(filterName: string, dir: Direction, opts?: { scope?: string }): HeaderRewriter {
    return headerRewriter(
      this,
      this.filterContent(filterName, 'application/x-http-headers'),
      dir,
      opts?.scope,
    );
  }

  /** Knox's response headers without a `response.headers` binding: best-match OUT on each URL-bearing header. */
  defaultResponseHeaders(opts?: { scope?: string }): HeaderRewriter {
    return defaultResponseHeaders(this, opts?.scope);
  }

  #bestMatch(input: Template, dir: Direction, scope: string | undefined, anchor: number | undefined) {
    const matchers = dir === 'IN' ? this.#inbound : this.#outbound;
    const options = anchor === undefined ? undefined : { anchor };
    if (matchers.size === 0) return undefined;
    if (scope !== undefined) {
      // Knox's ScopedMatcher matches every scope, then prefers the caller's scope, then GLOBAL, and drops a match
      // from any other service's scope; only rules without a scope (no role prefix) remain possible after that.
      // Asking just those three matchers gives the same answer without walking every service's rules.
      for (const key of [scope, GLOBAL_SCOPE, null]) {
        const match = matchers.get(key)?.match(input, options);
        if (match) return match;
      }
      return undefined;
    }
    let first: TemplateMatch<CompiledRule> | undefined;
    for (const matcher of matchers.values()) {
      const match = matcher.match(input, options);
      if (!match) continue;
      if (match.value.scope === GLOBAL_SCOPE) return match;
      first ??= match;
    }
    return first;
  }
}
