/**
 * @module urltemplate/parser
 * Turns text into a {@link Template}, the way Knox's `Parser` does: split into scheme, authority, path, query and
 * fragment as the RFC 3986 appendix-B regular expression would (only the first `?` and `#` split), then read each
 * component token as `{name=pattern}`, `{name}` or a bare pattern.
 *
 * Two entry points:
 * - {@link parseTemplate} for rule patterns and templates (braces and `*` have meaning);
 * - {@link parseLiteral} for real URLs (request lines, `Location` headers): every value is static text. It is on
 *   the request hot path, so it is a single hand-written scan with no regular expressions, and it never throws.
 *
 * Nothing is percent-decoded: values keep the exact text of the URL (`a%2Fb` is one path segment, `+` stays `+`).
 */
import { type Component, GLOB, makeValue, Segment, type SegmentValue, STAR } from './segment.ts';
import { Template } from './template.ts';

/** Thrown by {@link parseTemplate} for malformed template syntax. */
export class UrlTemplateSyntaxError extends Error {
  /** The template text. */
  readonly template: string;
  /** 1-based column of the offending character. */
  readonly column: number;

  constructor(template: string, column: number, reason: string) {
    super(`Malformed URL template ${JSON.stringify(template)}: ${reason} at column ${column}`);
    this.name = 'UrlTemplateSyntaxError';
    this.template = template;
    this.column = column;
  }
}

export interface ParseTemplateOptions {
  /**
   * Accept a `{` that is never closed as plain text, as Knox does. Off by default: a `{` with no `}` after it is
   * almost always a truncated parameter (`{path=**`) that would otherwise silently become literal text.
   */
  lenient?: boolean;
}

/**
 * Parses a URL template (rule pattern or rewrite template).
 * @throws {UrlTemplateSyntaxError} for an unclosed `{` (unless `options.lenient`).
 * @example parseTemplate('/webhdfs/v1/{path=**}?{**}')
 */
export function parseTemplate(text: string, options?: ParseTemplateOptions): Template {
  return parse(text, false, options?.lenient !== true);
}

/**
 * Parses a concrete URL (path + query, or an absolute URL) with every character literal. Never throws.
 * @example parseLiteral('/webhdfs/v1/tmp/a?op=LISTSTATUS')
 */
export function parseLiteral(text: string): Template {
  return parse(text, true, false);
}

/** A component token before it becomes a {@link Segment}: the naked-authority fix may still change its kind. */
interface Token {
  name: string;
  pattern: string | null;
  effective: string | null;
}

/** A token of a literal URL: anonymous, and shaped as the static {@link SegmentValue} it becomes. */
interface LiteralToken extends Token, SegmentValue {
  readonly pattern: string;
  readonly effective: string;
}

interface QueryEntry {
  paramName: string;
  values: SegmentValue[];
}

const COLON = 58;
const SLASH = 47;
const QUESTION = 63;
const HASH = 35;
const AT = 64;
const AMP = 38;
const EQUALS = 61;
const OPEN = 123;
const CLOSE = 125;
const LBRACKET = 91;
const RBRACKET = 93;

/** The query of every template without one (never written to: templates are immutable). */
const NO_QUERY: Map<string, Segment> = new Map();
const NO_ENTRIES: Map<string, QueryEntry> = new Map();

function parse(text: string, literal: boolean, strict: boolean): Template {
  const n = text.length;
  let pos = 0;

  // Scheme: `[^:/?#]+:` at the very start.
  let scheme: Token | null = null;
  let hasScheme = false;
  {
    let j = 0;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === COLON || c === SLASH || c === QUESTION || c === HASH) break;
      j++;
    }
    if (j > 0 && j < n && text.charCodeAt(j) === COLON) {
      hasScheme = true;
      scheme = readToken(text, 0, j, STAR, literal, strict);
      pos = j + 1;
    }
  }

  // Authority: `//` then `[^/?#]*`.
  let username: Token | null = null;
  let password: Token | null = null;
  let host: Token | null = null;
  let port: Token | null = null;
  let hasAuthority = false;
  if (text.charCodeAt(pos) === SLASH && text.charCodeAt(pos + 1) === SLASH) {
    hasAuthority = true;
    const start = pos + 2;
    let end = start;
    while (end < n) {
      const c = text.charCodeAt(end);
      if (c === SLASH || c === QUESTION || c === HASH) break;
      end++;
    }
    let hostStart = start;
    const at = indexOfIn(text, AT, start, end);
    if (at >= 0) {
      const colon = indexOfIn(text, COLON, start, at);
      const userEnd = colon >= 0 ? colon : at;
      if (userEnd > start)
        username = singular(literal, readToken(text, start, userEnd, STAR, literal, strict));
      if (colon >= 0 && at > colon + 1)
        password = singular(literal, readToken(text, colon + 1, at, STAR, literal, strict));
      hostStart = at + 1;
    }
    // An IPv6 literal keeps its colons: `[::1]:8080` is host `[::1]`, port `8080`. (Knox splits on the first
    // colon even here, which no caller can want.)
    let colon: number;
    if (text.charCodeAt(hostStart) === LBRACKET) {
      const close = indexOfIn(text, RBRACKET, hostStart, end);
      colon = close >= 0 ? indexOfIn(text, COLON, close, end) : indexOfIn(text, COLON, hostStart, end);
    } else {
      colon = indexOfIn(text, COLON, hostStart, end);
    }
    const hostEnd = colon >= 0 ? colon : end;
    if (hostEnd > hostStart)
      host = singular(literal, readToken(text, hostStart, hostEnd, STAR, literal, strict));
    if (colon >= 0 && end > colon + 1)
      port = singular(literal, readToken(text, colon + 1, end, STAR, literal, strict));
    pos = end;
  }

  // Path: `[^?#]*`, split on `/`, empty segments dropped.
  const path: Token[] = [];
  let pathEnd = pos;
  while (pathEnd < n) {
    const c = text.charCodeAt(pathEnd);
    if (c === QUESTION || c === HASH) break;
    pathEnd++;
  }
  const isAbsolute = pathEnd > pos && text.charCodeAt(pos) === SLASH;
  const isDirectory = pathEnd > pos && text.charCodeAt(pathEnd - 1) === SLASH;
  {
    let s = pos;
    for (let k = pos; k <= pathEnd; k++) {
      if (k === pathEnd || text.charCodeAt(k) === SLASH) {
        if (k > s) path.push(readToken(text, s, k, GLOB, literal, strict));
        s = k + 1;
      }
    }
  }
  pos = pathEnd;

  // Query: `?` then `[^#]*`, split on `&amp;`, `&` or `?`.
  const query = text.indexOf('?', pos) < 0 ? NO_ENTRIES : new Map<string, QueryEntry>();
  let extra: { queryName: string; entry: QueryEntry } | null = null;
  let hasQuery = false;
  if (text.charCodeAt(pos) === QUESTION) {
    hasQuery = true;
    let end = pos + 1;
    while (end < n && text.charCodeAt(end) !== HASH) end++;
    let s = pos + 1;
    let k = s;
    while (k <= end) {
      const c = k < end ? text.charCodeAt(k) : -1;
      if (k === end || c === AMP || c === QUESTION) {
        if (k > s) {
          const part = readQueryPart(text, s, k, literal, strict);
          if (part) {
            const [queryName, paramName, value] = part;
            // `*` / `**` name the extra slot in a template; in a literal URL they are ordinary names.
            if (!literal && (queryName === STAR || queryName === GLOB)) {
              // A second extra slot (`?{*}&{**}`) is ignored, as in Knox.
              if (!extra) extra = { queryName, entry: { paramName, values: [value] } };
            } else {
              const existing = query.get(queryName);
              if (!existing) query.set(queryName, { paramName, values: [value] });
              else addQueryValue(existing, value, literal);
            }
          }
        }
        // `&amp;` (KNOX-1055) is one separator, not `&` followed by a part `amp;`.
        const skip = c === AMP && text.startsWith('amp;', k + 1) ? 5 : 1;
        k += skip;
        s = k;
      } else {
        k++;
      }
    }
    pos = end;
  }

  // Fragment: `#` then the rest.
  let fragment: Token | null = null;
  let hasFragment = false;
  if (text.charCodeAt(pos) === HASH) {
    hasFragment = true;
    if (pos + 1 < n) fragment = readToken(text, pos + 1, n, STAR, literal, strict);
  }

  // A "naked authority" (`host:42`, `{host}:{port}`) looks like scheme + one relative path segment; Knox reads it
  // as host and port, printed and expanded without `//`.
  let isAuthorityOnly = false;
  if (
    hasScheme &&
    !hasAuthority &&
    !isAbsolute &&
    !isDirectory &&
    path.length === 1 &&
    !hasQuery &&
    !hasFragment &&
    scheme
  ) {
    host = singular(literal, scheme);
    port = singular(literal, path[0]);
    scheme = null;
    hasScheme = false;
    path.length = 0;
    hasAuthority = true;
    isAuthorityOnly = true;
  }

  // A URL without query entries (most requests) shares one empty map: a template is immutable.
  let querySegments = NO_QUERY;
  if (query.size > 0) {
    querySegments = new Map<string, Segment>();
    for (const [name, entry] of query) {
      querySegments.set(name, new Segment('query', entry.paramName, name, entry.values));
    }
  }
  const pathSegments: Segment[] = new Array(path.length);
  for (let i = 0; i < path.length; i++) pathSegments[i] = toSegment('path', path[i], literal);
  return new Template({
    original: text,
    literal,
    scheme: scheme && toSegment('scheme', scheme, literal),
    hasScheme,
    username: username && toSegment('username', username, literal),
    password: password && toSegment('password', password, literal),
    host: host && toSegment('host', host, literal),
    port: port && toSegment('port', port, literal),
    hasAuthority,
    isAuthorityOnly,
    path: pathSegments,
    isAbsolute,
    isDirectory,
    query: querySegments,
    extra: extra && new Segment('query', extra.entry.paramName, extra.queryName, extra.entry.values),
    hasQuery,
    fragment: fragment && toSegment('fragment', fragment, literal),
    hasFragment,
  });
}

function toSegment(component: Component, t: Token, literal: boolean): Segment {
  if (literal) return new Segment(component, '', null, [t as LiteralToken]);
  return new Segment(component, t.name, null, [makeValue(t.pattern, t.effective, literal)]);
}

/**
 * Authority parts hold one value: a `**` there behaves as `*` (the written text is kept for printing). Literal
 * text has no wildcards, so it is left alone.
 */
function singular(literal: boolean, t: Token): Token {
  return !literal && t.effective === GLOB ? { name: t.name, pattern: t.pattern, effective: STAR } : t;
}

function indexOfIn(text: string, code: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === code) return i;
  return -1;
}

/**
 * Reads one component token `text[start, end)`: `{name=pattern}`, `{name}` (pattern defaults to
 * `defaultEffective`, or `**` for `{**}`), or a bare anonymous pattern.
 */
function readToken(
  text: string,
  start: number,
  end: number,
  defaultEffective: string,
  literal: boolean,
  strict: boolean,
): Token {
  const s = text.slice(start, end);
  // A literal token is already its segment's static value (see toSegment).
  if (literal) {
    const token: LiteralToken = { name: '', pattern: s, effective: s, type: 'static', regex: null };
    return token;
  }
  if (strict) checkBraces(text, start, end);
  const l = s.length;
  // `{}` and a lone `{`/`}` are text: a parameter needs at least one character between the braces.
  if (l > 2 && s.charCodeAt(0) === OPEN && s.charCodeAt(l - 1) === CLOSE) {
    const eq = s.indexOf('=', 1);
    if (eq < 0) {
      const name = s.slice(1, l - 1);
      return { name, pattern: null, effective: name === GLOB ? GLOB : defaultEffective };
    }
    const pattern = s.slice(eq + 1, l - 1);
    return { name: s.slice(1, eq), pattern, effective: pattern };
  }
  return { name: '', pattern: s, effective: s };
}

/**
 * Strict mode: a `{` that no `}` anywhere after it closes is a truncated parameter (`/a/{path=**`). A `{` closed
 * only beyond a `/` or `?` (Knox's own `{$serviceUrl[HBASEUI]/{host}/...` typo) stays text, as in Knox, so every
 * service definition Knox ships still loads.
 */
function checkBraces(text: string, start: number, end: number): void {
  let open = -1;
  for (let i = end - 1; i >= start; i--) {
    const c = text.charCodeAt(i);
    if (c === CLOSE) break;
    if (c === OPEN) open = i;
  }
  if (open >= 0 && text.indexOf('}', open) < 0)
    throw new UrlTemplateSyntaxError(text, open + 1, "unclosed '{'");
}

/** Reads one query part into `[queryName, paramName, value]`, or null for nothing. */
function readQueryPart(
  text: string,
  start: number,
  end: number,
  literal: boolean,
  strict: boolean,
): [string, string, SegmentValue] | null {
  if (!literal && text.charCodeAt(start) === OPEN) {
    // Shorthand: `{name}` is query `name` bound to parameter `name`; `{name=pattern}` likewise with a pattern.
    const t = readToken(text, start, end, GLOB, false, strict);
    if (t.pattern === null) return [t.name, t.name, makeValue(null, GLOB, false)];
    return [t.name, t.name, makeValue(t.pattern, t.pattern, false)];
  }
  const eq = indexOfIn(text, EQUALS, start, end);
  if (eq < 0) {
    // `?name` has no value at all (null), unlike `?name=` whose value is "".
    return [text.slice(start, end), '', makeValue(null, null, literal)];
  }
  const name = text.slice(start, eq);
  const t = readToken(text, eq + 1, end, GLOB, literal, strict);
  return [name, t.name, makeValue(t.pattern, t.effective, literal)];
}

/**
 * A repeated query name adds a value. A template keeps one value per distinct pattern (Knox keys them by pattern);
 * a literal URL keeps every occurrence, so `?id=1&id=1` reaches the upstream service unchanged.
 */
function addQueryValue(entry: QueryEntry, value: SegmentValue, literal: boolean): void {
  if (!literal) {
    const i = entry.values.findIndex((v) => v.effective === value.effective);
    if (i >= 0) {
      entry.values[i] = value;
      return;
    }
  }
  entry.values.push(value);
}
