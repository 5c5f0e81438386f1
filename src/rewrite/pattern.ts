/**
 * @module rewrite/pattern
 * Rewrite functions inside patterns (`<match pattern="{$serviceUrl[HTTP]}/{path=**}?{**}">`, a rule's
 * `pattern`), expanded once, when the rules are compiled for a topology, so that a rule can say "a URL under
 * this service's own URL" and nothing else.
 *
 * Knox does not evaluate functions in patterns: its matcher reads `{$serviceUrl[PINOT]}` as a parameter *named*
 * `$serviceUrl[PINOT]` with the default wildcard (`**` in the path, `*` elsewhere), so Knox's
 * `{$serviceScheme[HBASEUI]}://{host}:{port}/logs/...` accepts any scheme, and Knox's pinot pattern
 * `{$serviceUrl[PINOT]}/swagger.json`, having no scheme or host level, never matches an absolute URL at all.
 * postern gives these patterns the meaning their authors wrote: the function's value, matched literally. That
 * only narrows what such a rule accepts.
 *
 * How a call is expanded:
 * - Only whole tokens are calls, exactly as in rewrite templates: `{$serviceUrl[HTTP]}` as a path segment, the
 *   scheme, the host, the port, a query value or the fragment. `{$serviceHost[X]}.example.com` is plain text,
 *   in Knox and here.
 * - Only functions that read nothing but the topology's {@link RewriteEnvironment} can be expanded
 *   (`$serviceUrl` and its parts, `$serviceMapped*`, `$frontend[topology]`, `$frontend[url]` when
 *   `gateway.frontend.url` is set, ...). This is found out by calling the function with a context that has no
 *   request: reading the request, or a parameter (`$hostmap(host)`), makes the call a request-dependent one,
 *   which is reported; so are an unknown function, a role the topology lacks, and a call giving no value or
 *   several. The caller warns and fails the rule (matching per request would mean building a matcher per
 *   request, and no definition needs it).
 * - A rule without `dir` is matched in both directions; a function whose value depends on the direction (the
 *   hostmap of `$serviceMapped*`) must then give the same value for both, or the rule needs a `dir`.
 * - The value is spliced into the parsed pattern as *literal* segments (the way a request URL is parsed), not
 *   pasted into the pattern text: the template language has no escape, so a `*` in a service URL would become a
 *   wildcard and a `{x}` segment a parameter. Here they are matched as the characters they are.
 * - A URL value (`$serviceUrl`) must start the pattern: it supplies scheme, authority and the leading path
 *   segments (`http://nn:8080/api` + `/{path=**}` is `http`, `nn`, `8080`, `api`, `{path=**}`). A URL without
 *   a port gets its scheme's default port (80 for http/ws, 443 for https/wss, `*` for others): a URL that
 *   names the default port explicitly, or leaves it out, then matches alike, and the matcher's port level is
 *   never skipped into the path. A value without scheme (`$servicePath`) adds its path segments where the call
 *   stands; an empty one adds nothing.
 * - Path text is written the way it travels on the wire: characters of the WHATWG path percent-encode set
 *   (space, `"`, `<`, `>`, `` ` ``, `{`, `}`, controls, non-ASCII) are percent-encoded, a `%` not followed by two
 *   hex digits becomes `%25`; existing escapes are kept as written. A query value is form-encoded.
 * - Scheme and host compare case-insensitively (RFC 3986 §6.2.2.1); everything else exactly.
 * - A role with several URLs (HA): the functions answer with the active, i.e. first, URL, as Knox's do, so
 *   only URLs under that one match. A URL of another member passes such a rule unchanged.
 */
import {
  formEncode,
  parseFunctionCall,
  parseLiteral,
  Segment,
  type SegmentValue,
  STAR,
  Template,
} from '../urltemplate/index.ts';
import type {
  Direction,
  FunctionCall,
  RewriteContext,
  RewriteEnvironment,
  RewriteFunctionRegistry,
} from './types.ts';

export interface PatternEnvironment {
  env: RewriteEnvironment;
  functions: RewriteFunctionRegistry;
  /** The directions the rule is matched in: its `dir`, or both. */
  dirs: readonly Direction[];
}

/** The expanded pattern, or why it cannot be expanded (a sentence fragment, for a warning). */
export type PatternExpansion = { template: Template } | { problem: string };

type TemplateParts = ConstructorParameters<typeof Template>[0];

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' };

/** Thrown by the compile-time context when a function reaches for the request. */
class NeedsRequest extends Error {}

/** Whether a segment is a function call (`{$fn[...]}`, `{$fn(var)}`, `{$fn}`). */
function isCall(segment: Segment | null): segment is Segment {
  if (segment === null || !segment.paramName.includes('$')) return false;
  return parseFunctionCall(segment.paramName).fn !== null;
}

/** Whether a pattern calls any function; most do not, and keep their parsed template untouched. */
export function callsFunctions(t: Template): boolean {
  if ([t.scheme, t.username, t.password, t.host, t.port, t.fragment].some(isCall)) return true;
  if (t.path.some(isCall)) return true;
  for (const entry of t.query.values()) if (isCall(entry)) return true;
  return false;
}

/** Evaluates one call with nothing but the environment; a string is the single value. */
function evaluate(statement: string, p: PatternEnvironment): string | { problem: string } {
  const call = parseFunctionCall(statement);
  const fn = call.fn as string;
  const args =
    call.variable !== null ? `(${call.variable})` : call.literals ? `[${call.literals.join(',')}]` : '';
  const label = `$${fn}${args}`;
  if (call.variable !== null) {
    return { problem: `${label} in a pattern reads parameter "${call.variable}" of the URL being matched` };
  }
  const impl = p.functions.get(fn);
  if (impl === undefined) return { problem: `unknown function $${fn}` };
  let result: string | undefined;
  for (const dir of p.dirs) {
    const probe: FunctionCall = {
      env: p.env,
      dir,
      get ctx(): RewriteContext {
        throw new NeedsRequest();
      },
      resolve(): never {
        throw new NeedsRequest();
      },
    };
    let values: string[] | undefined;
    try {
      values = impl(call.literals ?? [], probe);
    } catch (err) {
      if (err instanceof NeedsRequest) {
        return {
          problem: `${label} depends on the request, so it cannot be part of a pattern (only functions of the topology, such as $serviceUrl, are expanded there)`,
        };
      }
      return { problem: `${label} failed: ${(err as Error).message}` };
    }
    if (values === undefined) return { problem: `${label} has no value in topology "${p.env.topology}"` };
    if (values.length !== 1) {
      return { problem: `${label} gives ${values.length} values, and a pattern needs exactly one` };
    }
    if (result !== undefined && result !== values[0]) {
      return {
        problem: `${label} gives "${result}" for requests but "${values[0]}" for responses; give the rule a dir`,
      };
    }
    result = values[0];
  }
  return result as string;
}

function staticValue(text: string): SegmentValue {
  return { pattern: text, effective: text, type: 'static', regex: null };
}

function literalSegment(
  component: 'scheme' | 'host' | 'port' | 'path' | 'username' | 'password' | 'fragment',
  text: string,
): Segment {
  if (component === 'scheme' || component === 'host') {
    // Case-insensitive: a regex value that matches exactly this text, ignoring case. Still more specific than
    // any wildcard when the matcher ranks candidates.
    const escaped = text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    const value: SegmentValue = {
      pattern: text,
      effective: text,
      type: 'regex',
      regex: new RegExp(`^${escaped}$`, 'i'),
    };
    return new Segment(component, '', null, [value]);
  }
  return new Segment(component, '', null, [staticValue(component === 'path' ? wireEncode(text) : text)]);
}

/** A static port, or `*` when there is none to be had. */
function portOrAny(port: string | undefined): Segment {
  if (port) return literalSegment('port', port);
  return new Segment('port', '', null, [{ pattern: STAR, effective: STAR, type: 'star', regex: null }]);
}

/** Percent-encodes what a URL on the wire would have encoded in a path (WHATWG path percent-encode set). */
export function wireEncode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i) as number;
    const ch = String.fromCodePoint(cp);
    i += ch.length;
    if (ch === '%') {
      out += /^[0-9A-Fa-f]{2}$/.test(text.slice(i, i + 2)) ? '%' : '%25';
    } else if (cp <= 0x20 || cp >= 0x7f || '"<>`{}'.includes(ch)) {
      try {
        out += encodeURIComponent(ch);
      } catch {
        out += '%EF%BF%BD'; // a lone surrogate: U+FFFD, as a URL serializer would write it
      }
    } else {
      out += ch;
    }
  }
  return out;
}

/** A single-valued component (scheme, user, password, host, port, fragment) from a function value. */
function singleComponent(
  component: 'scheme' | 'username' | 'password' | 'host' | 'port' | 'fragment',
  value: string,
  label: string,
): Segment | { problem: string } {
  const bad =
    (component === 'scheme' && !/^[A-Za-z][A-Za-z0-9+.-]*$/.test(value)) ||
    (component === 'port' && !/^\d+$/.test(value)) ||
    (component === 'host' && !/^(\[[^\]/?#@]*\]|[^:/?#@[\]]+)$/.test(value)) ||
    ((component === 'username' || component === 'password') && /[:/?#@]/.test(value));
  if (bad) return { problem: `${label} gives "${value}", which is not a ${component}` };
  return literalSegment(component, value);
}

/**
 * Expands the environment functions a parsed pattern calls.
 * @example expandPattern(parseTemplate('{$serviceUrl[HTTP]}/{path=**}?{**}'), p)
 *   // with HTTP at http://nn:8080/api: the template http://nn:8080/api/{path=**}?{**}, matched literally
 */
export function expandPattern(t: Template, p: PatternEnvironment): PatternExpansion {
  if (!callsFunctions(t)) return { template: t };
  const parts: TemplateParts = {
    original: t.original,
    literal: false,
    scheme: t.scheme,
    hasScheme: t.hasScheme,
    username: t.username,
    password: t.password,
    host: t.host,
    port: t.port,
    hasAuthority: t.hasAuthority,
    isAuthorityOnly: t.isAuthorityOnly,
    path: [],
    isAbsolute: t.isAbsolute,
    isDirectory: t.isDirectory,
    query: new Map(t.query),
    extra: t.extra,
    hasQuery: t.hasQuery,
    fragment: t.fragment,
    hasFragment: t.hasFragment,
  };

  for (const component of ['scheme', 'username', 'password', 'host', 'port', 'fragment'] as const) {
    const segment = t[component];
    if (!isCall(segment)) continue;
    const value = evaluate(segment.paramName, p);
    if (typeof value !== 'string') return value;
    if (component === 'port' && value === '') {
      // `$servicePort` of a URL without port: whatever the scheme's default is, or any port.
      parts.port = portOrAny(DEFAULT_PORTS[(parts.scheme?.pattern ?? '').toLowerCase()]);
      continue;
    }
    const segmentOrProblem = singleComponent(component, value, segment.paramName);
    if (!(segmentOrProblem instanceof Segment)) return segmentOrProblem;
    parts[component] = segmentOrProblem;
  }

  for (let i = 0; i < t.path.length; i++) {
    const segment = t.path[i];
    if (!isCall(segment)) {
      parts.path.push(segment);
      continue;
    }
    const value = evaluate(segment.paramName, p);
    if (typeof value !== 'string') return value;
    if (/[?#]/.test(value)) {
      return {
        problem: `${segment.paramName} gives "${value}"; a query or fragment cannot be part of a pattern's path`,
      };
    }
    const lit = parseLiteral(value);
    if (lit.isAuthorityOnly) {
      return {
        problem: `${segment.paramName} gives "${value}", a host and port, which cannot stand in a path`,
      };
    }
    if (lit.hasScheme || lit.hasAuthority) {
      if (i !== 0 || t.hasScheme || t.hasAuthority) {
        return { problem: `${segment.paramName} gives a URL ("${value}"), which can only start a pattern` };
      }
      const spliced = spliceUrl(parts, lit, value, segment.paramName);
      if (spliced) return spliced;
    } else if (i === 0 && lit.isAbsolute) {
      parts.isAbsolute = true;
    }
    for (const s of lit.path) parts.path.push(literalSegment('path', s.pattern ?? ''));
  }

  for (const [name, entry] of t.query) {
    if (!isCall(entry)) continue;
    const value = evaluate(entry.paramName, p);
    if (typeof value !== 'string') return value;
    parts.query.set(name, new Segment('query', '', name, [staticValue(formEncode(value))]));
  }

  return { template: new Template(parts) };
}

/** Scheme and authority of a URL value that starts the pattern; undefined when fine. */
function spliceUrl(
  parts: TemplateParts,
  lit: Template,
  value: string,
  label: string,
): { problem: string } | undefined {
  if (!lit.scheme || !lit.host) return { problem: `${label} gives "${value}", which has no scheme or host` };
  const scheme = lit.scheme.pattern ?? '';
  parts.hasScheme = true;
  parts.scheme = literalSegment('scheme', scheme);
  parts.hasAuthority = true;
  parts.username = lit.username && literalSegment('username', lit.username.pattern ?? '');
  parts.password = lit.password && literalSegment('password', lit.password.pattern ?? '');
  parts.host = literalSegment('host', lit.host.pattern ?? '');
  parts.port = portOrAny(lit.port?.pattern || DEFAULT_PORTS[scheme.toLowerCase()]);
  parts.isAbsolute = true;
  return undefined;
}
