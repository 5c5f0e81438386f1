/**
 * @module urltemplate/segment
 * The parts a URL template is made of: a {@link Segment} is one component token (the scheme, the host, one path
 * segment, one query entry ...) with a parameter name and one or more {@link SegmentValue}s, each a value pattern
 * of a {@link ValueType}. Mirrors Knox's `Segment`/`Token` pair.
 *
 * Value types are ordered from most to least specific; the matcher uses that order as its tie-breaker
 * (static beats a simplified regex beats `*` beats `{name=}` beats `**`).
 */

/** Which part of the URL a segment belongs to. A template segment only ever matches an input segment of the same kind. */
export type Component = 'scheme' | 'username' | 'password' | 'host' | 'port' | 'path' | 'query' | 'fragment';

/** The kind of value pattern, most specific first. */
export type ValueType = 'static' | 'regex' | 'star' | 'default' | 'doublestar';

/**
 * Specificity rank of each {@link ValueType} (Knox's `Segment.STATIC` .. `Segment.GLOB`): lower is more specific.
 */
export const VALUE_RANK = {
  static: 1,
  regex: 2,
  star: 3,
  default: 4,
  doublestar: 5,
} as const satisfies Record<ValueType, number>;

/** The pattern text with which `*` means "one segment / one value". */
export const STAR = '*';
/** The pattern text with which `**` means "one or more segments / all values". */
export const GLOB = '**';

/** One value pattern of a segment. */
export interface SegmentValue {
  /** The pattern as written (`null` for `{name}` with no `=`, or for a query entry written without `=`). */
  readonly pattern: string | null;
  /** The pattern actually used to match: a default (`*`/`**`) replaces a missing one; `**` becomes `*` in the authority. */
  readonly effective: string | null;
  readonly type: ValueType;
  /** Compiled simplified regex, only for type `regex`. */
  readonly regex: RegExp | null;
}

/**
 * Classifies a value pattern the way Knox's `Segment.Value` does. Literal-parsed values are always static, so a
 * `*` inside a request URL is never a wildcard.
 */
export function makeValue(pattern: string | null, effective: string | null, literal: boolean): SegmentValue {
  if (literal || effective === null) return { pattern, effective, type: 'static', regex: null };
  if (effective === '') return { pattern, effective, type: 'default', regex: null };
  if (effective === STAR) return { pattern, effective, type: 'star', regex: null };
  if (effective === GLOB) return { pattern, effective, type: 'doublestar', regex: null };
  if (effective.includes(STAR))
    return { pattern, effective, type: 'regex', regex: compileSimplifiedRegex(effective) };
  return { pattern, effective, type: 'static', regex: null };
}

/**
 * Knox's "simplified regex": `*` becomes `.*`; `\ . { } $` are escaped; every other character keeps its regular
 * expression meaning (so `(`, `+`, `?`, `[`, `|` still work as regex syntax, as they do in Knox). Anchored: the
 * whole input value must match. A pattern that is not a valid regular expression (e.g. an unbalanced `(`) falls
 * back to matching with every character escaped, so a bad pattern never throws at match time.
 */
export function compileSimplifiedRegex(pattern: string): RegExp {
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '\\' || ch === '.' || ch === '{' || ch === '}' || ch === '$') source += `\\${ch}`;
    else source += ch;
  }
  try {
    // No flags, like java.util.regex defaults: `.` stops at line terminators, and without `u` Java-style
    // identity escapes such as `\-` stay legal.
    return new RegExp(`^(?:${source})$`);
  } catch {
    const escaped = pattern.replace(/[.*+?^${}()|[\]\\/-]/g, (c) => (c === '*' ? '.*' : `\\${c}`));
    return new RegExp(`^(?:${escaped})$`);
  }
}

/** One component token of a template: its kind, parameter name and value patterns. */
export class Segment {
  readonly component: Component;
  /** `""` for an anonymous segment (a literal, `*`, `**`); otherwise the text between `{` and `=` (or `}`). */
  readonly paramName: string;
  /** For query entries only: the query parameter name (`**`/`*` for the extra slot). */
  readonly queryName: string | null;
  /** Value patterns; a query entry repeated in a template or a request (`?q=1&q=2`) holds several. */
  readonly values: readonly SegmentValue[];

  constructor(component: Component, paramName: string, queryName: string | null, values: SegmentValue[]) {
    this.component = component;
    this.paramName = paramName;
    this.queryName = queryName;
    this.values = values;
  }

  /** The first (for everything but query entries, the only) value. */
  get value(): SegmentValue {
    return this.values[0];
  }

  /** The first value's pattern as written. */
  get pattern(): string | null {
    return this.values[0].pattern;
  }

  /** The first value's type. */
  get type(): ValueType {
    return this.values[0].type;
  }

  /**
   * What the segment is, for readers: a function call (`{$fn[..]}`, `{$fn(var)}`, `{$fn}`) or the type of its
   * value pattern.
   */
  get kind(): ValueType | 'function' {
    return isFunctionStatement(this.paramName) ? 'function' : this.values[0].type;
  }
}

/** True when a parameter name is a function statement (`$fn`, `(var)`, `[literal]`) rather than a plain name. */
export function isFunctionStatement(paramName: string): boolean {
  const t = paramName.trimStart();
  const c = t.charCodeAt(0);
  return c === 36 /* $ */ || c === 40 /* ( */ || c === 91 /* [ */;
}

/**
 * Whether a template value accepts an input value (Knox `Segment.Value.matches`): static compares the text
 * exactly, wildcards accept anything, a regex must match the whole input text. A valueless input (`?flag`) only
 * matches a wildcard or a valueless static entry.
 */
export function valueAccepts(template: SegmentValue, input: SegmentValue): boolean {
  switch (template.type) {
    case 'static':
      return template.pattern === input.pattern;
    case 'regex':
      return input.effective !== null && template.regex!.test(input.effective);
    default:
      return true;
  }
}

/** Whether any value of the template segment accepts any value of the input segment. */
export function segmentAccepts(template: Segment, input: Segment): boolean {
  if (template.component !== input.component) return false;
  if (template.component === 'query' && template.queryName !== input.queryName) return false;
  for (const t of template.values) {
    for (const i of input.values) {
      if (valueAccepts(t, i)) return true;
    }
  }
  return false;
}
