/**
 * @module urltemplate/template
 * A parsed URL template (or a literal URL parsed with every character literal): its components as
 * {@link Segment}s plus the flags that remember the punctuation (`//`, leading and trailing `/`, `?`, `#`).
 * Immutable. `toString()` prints it back the way Knox's `Template.toString()` does, which is a faithful round trip
 * for canonical input and normalises the rest (doubled `/`, `&&`, `?name={name}` for the `?{name}` shorthand ...).
 */
import { GLOB, type Segment, STAR } from './segment.ts';

/** Everything a {@link Template} is built from; see the matching read-only fields. */
export interface TemplateParts {
  original: string;
  literal: boolean;
  scheme: Segment | null;
  hasScheme: boolean;
  username: Segment | null;
  password: Segment | null;
  host: Segment | null;
  port: Segment | null;
  hasAuthority: boolean;
  isAuthorityOnly: boolean;
  path: Segment[];
  isAbsolute: boolean;
  isDirectory: boolean;
  query: Map<string, Segment>;
  extra: Segment | null;
  hasQuery: boolean;
  fragment: Segment | null;
  hasFragment: boolean;
}

export class Template {
  /** The text this template was parsed from. */
  readonly original: string;
  /** True when parsed with `parseLiteral` (every value static, no `{}` or `*` meaning). */
  readonly literal: boolean;
  readonly scheme: Segment | null;
  /** A `scheme:` was present (the scheme segment itself may still be absent for an empty scheme). */
  readonly hasScheme: boolean;
  readonly username: Segment | null;
  readonly password: Segment | null;
  readonly host: Segment | null;
  readonly port: Segment | null;
  /** A `//` authority was present, or the template is a naked `host:port`. */
  readonly hasAuthority: boolean;
  /** A naked `host:port` (no `//`): printed and expanded without the `//`. */
  readonly isAuthorityOnly: boolean;
  /** Path segments; empty segments (`a//b`) were dropped. */
  readonly path: readonly Segment[];
  /** The path starts with `/`. */
  readonly isAbsolute: boolean;
  /** The path ends with `/`. */
  readonly isDirectory: boolean;
  /** Named query entries by query name, in first-appearance order. */
  readonly query: ReadonlyMap<string, Segment>;
  /** The "extra" query slot (`{**}`, `{*}`, `**`, `*`), which stands for every other query parameter. */
  readonly extra: Segment | null;
  /** A `?` was present, even with nothing after it. */
  readonly hasQuery: boolean;
  readonly fragment: Segment | null;
  /** A `#` was present. */
  readonly hasFragment: boolean;
  #printed: string | undefined;

  constructor(parts: TemplateParts) {
    this.original = parts.original;
    this.literal = parts.literal;
    this.scheme = parts.scheme;
    this.hasScheme = parts.hasScheme;
    this.username = parts.username;
    this.password = parts.password;
    this.host = parts.host;
    this.port = parts.port;
    this.hasAuthority = parts.hasAuthority;
    this.isAuthorityOnly = parts.isAuthorityOnly;
    this.path = parts.path;
    this.isAbsolute = parts.isAbsolute;
    this.isDirectory = parts.isDirectory;
    this.query = parts.query;
    this.extra = parts.extra;
    this.hasQuery = parts.hasQuery;
    this.fragment = parts.fragment;
    this.hasFragment = parts.hasFragment;
  }

  /** True when two templates print the same (Knox defines template equality on the printed form). */
  equals(other: Template): boolean {
    return this.toString() === other.toString();
  }

  toString(): string {
    if (this.#printed === undefined) this.#printed = printTemplate(this);
    return this.#printed;
  }
}

function printTemplate(t: Template): string {
  let out = '';
  if (t.hasScheme) {
    if (t.scheme) out += printSingle(t.scheme);
    out += ':';
  }
  if (t.hasAuthority) {
    if (!t.isAuthorityOnly) out += '//';
    if (t.username || t.password) {
      if (t.username) out += printSingle(t.username);
      if (t.password) out += `:${printSingle(t.password)}`;
      out += '@';
    }
    if (t.host) out += printSingle(t.host);
    if (t.port) out += `:${printSingle(t.port)}`;
  }
  if (t.isAbsolute) out += '/';
  for (let i = 0; i < t.path.length; i++) {
    if (i > 0) out += '/';
    out += printPathSegment(t.path[i]);
  }
  if (t.isDirectory && (!t.isAbsolute || t.path.length > 0)) out += '/';
  if (t.hasQuery) {
    let count = 0;
    for (const entry of t.query.values()) {
      for (const value of entry.values) {
        out += count++ === 0 ? '?' : '&';
        out += printQueryPart(entry, value.pattern);
      }
    }
    if (t.extra) {
      out += count++ === 0 ? '?' : '&';
      out += printQueryPart(t.extra, t.extra.pattern);
    }
    if (count === 0) out += '?';
  }
  if (t.hasFragment) {
    out += '#';
    if (t.fragment) out += printSingle(t.fragment);
  }
  return out;
}

/** Scheme, authority parts and fragment: `{name=pattern}`, `{name}` or the bare pattern. */
function printSingle(s: Segment): string {
  if (s.paramName === '') return s.pattern ?? '';
  const p = s.pattern;
  return p !== null && s.type !== 'default' ? `{${s.paramName}=${p}}` : `{${s.paramName}}`;
}

function printPathSegment(s: Segment): string {
  if (s.paramName === '') return s.pattern ?? '';
  const p = s.pattern;
  return p !== null && p !== '' ? `{${s.paramName}=${s.value.effective}}` : `{${s.paramName}}`;
}

function printQueryPart(s: Segment, pattern: string | null): string {
  const name = s.queryName ?? '';
  if (s.paramName === '') return pattern === null ? name : `${name}=${pattern}`;
  const prefix = name === GLOB || name === STAR ? '' : `${name}=`;
  return pattern === null ? `${prefix}{${s.paramName}}` : `${prefix}{${s.paramName}=${pattern}}`;
}
