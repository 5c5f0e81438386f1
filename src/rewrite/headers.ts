/**
 * @module rewrite/headers
 * Header rewriting: `application/x-http-headers` filters (`<apply path="Location" rule="..."/>`), Knox's default
 * for responses of routes without a `response.headers` binding, and Set-Cookie path scoping.
 *
 * Knox (`UrlRewriteResponse`/`UrlRewriteRequest` with `UrlRewriteUtil.pickFirstRuleWithEqualsIgnoreCasePathMatch`):
 * - with a headers filter that names header paths, a header whose name equals a path (ignoring case) is
 *   rewritten with that apply's rule; other headers are left alone;
 * - with no filter, an unknown one, or one whose headers content names nothing, every header value goes through
 *   best match (`*`) in the direction of the exchange. That is how `Location` and `Content-Location` of most
 *   services get rewritten without any binding. Knox does this to *every* header except `Content-Length`; postern
 *   skips the headers that cannot carry a URL (see {@link NON_URL_HEADERS}), so a relative rule pattern never
 *   rewrites `Content-Type: text/html` or a cookie by accident.
 * - a rule that fails leaves the value as it was.
 */
import type { HeaderRewriter, Headers, RewriteRules } from '../spi/rewrite.ts';
import type { FilterContent } from './model.ts';
import type { Direction, RewriteContext } from './types.ts';

export type { HeaderRewriter, Headers, HeaderValue } from '../spi/rewrite.ts';

/**
 * Headers never passed to best-match rules: their grammar has no URL in it, or (Set-Cookie) they are scoped by
 * {@link scopeSetCookiePath} instead. Lower case.
 */
export const NON_URL_HEADERS: ReadonlySet<string> = new Set([
  'content-length',
  'content-type',
  'content-encoding',
  'content-language',
  'content-range',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'date',
  'expires',
  'last-modified',
  'etag',
  'cache-control',
  'pragma',
  'vary',
  'age',
  'accept-ranges',
  'server',
  'set-cookie',
  'www-authenticate',
  'strict-transport-security',
]);

/** `*`: best match, `''`: leave alone, otherwise a rule name. */
type RulePick = (headerName: string) => string;

/**
 * Rewrites the values `pick` gives a rule for. Returns the input object itself when nothing was rewritten (the
 * common case: most responses carry no Location), and a copy otherwise. Header names match in any case.
 */
function rewriteValues(
  rules: RewriteRules,
  headers: Headers,
  ctx: RewriteContext,
  dir: Direction,
  scope: string | undefined,
  names: Iterable<string>,
  pick: RulePick,
): Headers {
  const anyValue = rules.hasRelativePatterns(dir);
  let out: Headers | undefined;
  for (const name of names) {
    const value = headers[name];
    if (value === undefined) continue;
    const rule = pick(name);
    if (rule === '') continue;
    const one = (v: string) =>
      rule === '*' && !anyValue && !mayHoldUrl(v) ? v : (rules.rewrite(v, { rule, dir, ctx, scope }) ?? v);
    const next = Array.isArray(value) ? value.map(one) : one(value as string);
    if (next === value || (Array.isArray(next) && next.every((v, i) => v === (value as string[])[i])))
      continue;
    out ??= { ...headers };
    out[name] = next;
  }
  return out ?? headers;
}

/**
 * When every best-match pattern of the direction is absolute, only a value holding `://` (or a path) can match:
 * parsing `gzip` or a date as a URL to find no match is wasted time.
 */
function mayHoldUrl(value: string): boolean {
  return value.includes('://') || value.charCodeAt(0) === 0x2f;
}

/** Prepared at deployment for one filter content (or none: best match for everything Knox would touch). */
export function headerRewriter(
  rules: RewriteRules,
  content: FilterContent | undefined,
  dir: Direction,
  scope: string | undefined,
): HeaderRewriter {
  const paths = content
    ? [
        ...content.applies.map((a) => ({ path: a.path.toLowerCase(), rule: a.rule })),
        // Knox's selectors include buffers; a buffer path selects a header but applies no rule.
        ...content.buffers.map((b) => ({ path: b.path.toLowerCase(), rule: '' })),
      ]
    : [];
  if (paths.length === 0) return bestMatchRewriter(rules, dir, scope);
  const byName = new Map<string, string>();
  for (const { path, rule } of paths) if (!byName.has(path)) byName.set(path, rule);
  const pick: RulePick = (name) => byName.get(name.toLowerCase()) ?? '';
  return (headers, ctx) => rewriteValues(rules, headers, ctx, dir, scope, Object.keys(headers), pick);
}

function bestMatchRewriter(rules: RewriteRules, dir: Direction, scope: string | undefined): HeaderRewriter {
  const pick: RulePick = (name) => (NON_URL_HEADERS.has(name.toLowerCase()) ? '' : '*');
  return (headers, ctx) => rewriteValues(rules, headers, ctx, dir, scope, Object.keys(headers), pick);
}

/** Response headers of a route without a `response.headers` binding: best-match OUT rules. */
export function defaultResponseHeaders(rules: RewriteRules, scope?: string): HeaderRewriter {
  return bestMatchRewriter(rules, 'OUT', scope);
}

/**
 * Scopes a backend cookie to the topology (`gateway.scope.cookies.feature.enabled`): `Path=/x` becomes
 * `Path=/gateway/sandbox/x`, and a cookie without a path gets `Path=/gateway/sandbox/`, so cookies of backends
 * behind different topologies do not collide in the browser.
 *
 * Knox (`CookieScopeResponseWrapper`) does a plain, case-sensitive text replacement of `Path=/` and appends
 * `" Path=.../;"` without a separator; postern parses the attributes instead, so `path=/` in any case is scoped,
 * a `Path=/` inside the cookie value is left alone and the appended attribute is well-formed.
 * @param contextPath the topology's path, `/gateway/sandbox` (a trailing `/` is ignored).
 */
export function scopeSetCookiePath(value: string, contextPath: string): string {
  const bare = contextPath.replace(/^\/+|\/+$/g, '');
  const scope = bare === '' ? '' : `/${bare}`;
  const parts = value.split(';');
  let found = false;
  for (let i = 1; i < parts.length; i++) {
    const attr = parts[i];
    const eq = attr.indexOf('=');
    const name = (eq < 0 ? attr : attr.slice(0, eq)).trim();
    if (name.toLowerCase() !== 'path') continue;
    found = true;
    const path = eq < 0 ? '' : attr.slice(eq + 1).trim();
    // A path not starting with "/" is ignored by browsers (RFC 6265 5.2.4), which fall back to the default
    // path; scope that default instead.
    const scoped = path.startsWith('/') ? `${scope}${path}` : `${scope}/`;
    const lead = attr.slice(0, attr.length - attr.trimStart().length);
    parts[i] = `${lead}${name}=${scoped}`;
  }
  if (found) return parts.join(';');
  const trimmed = value.replace(/[\s;]+$/, '');
  return `${trimmed}; Path=${scope}/`;
}
