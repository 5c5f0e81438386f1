/**
 * @module urltemplate/expander
 * Builds a URL string from a template and parameter values, as Knox's `Expander.expandToString` does.
 *
 * Encoding, as in Knox:
 * - path, scheme, authority and fragment values are inserted verbatim (they came from a URL and are already
 *   encoded; a function result such as a service URL may contain `/` and `:` on purpose);
 * - query names and values taken from parameters are form-encoded ({@link formEncode}); static query text
 *   written in the template is printed as written.
 *
 * Function calls (`{$fn[..]}`) are resolved through `evaluate`. When no `evaluate` is given, a call yields its
 * input (the variable's values or the literal list), as Knox does with no evaluator. When `evaluate` returns
 * `undefined` (unknown function, nothing to say) the call counts as unresolved: a path segment prints nothing
 * (Knox would print the text `null`), a query entry prints its bare name, and a single-valued component (scheme,
 * host, port, user, password, fragment) prints the raw statement (`$fn[arg]`), as Knox does.
 */
import { formEncode } from './form-encoding.ts';
import { parseFunctionCall } from './function-call.ts';
import type { Segment } from './segment.ts';
import type { Template } from './template.ts';

/** A parameter's values; `null` is a query parameter present without `=` (`?flag`). */
export type ParamValues = readonly (string | null)[];

/** Supplies function results at expansion time; `undefined` means "no result". */
export type Evaluate = (fn: string, args: string[]) => string[] | undefined;

/** Supplies values for names the parameters do not bind (e.g. `gateway.url`). */
export type Resolve = (name: string) => ParamValues | undefined;

/**
 * Expands `template` with `params` (parameter values by name, in the order the `{**}` extra slot emits them).
 * @param resolve consulted for names `params` lacks (they are never emitted by the extra slot).
 * @example expandTemplate(parseTemplate('/x/{path=**}?{**}'), new Map([['path', ['a', 'b']], ['op', ['LS']]]))
 *   // '/x/a/b?op=LS'
 */
export function expandTemplate(
  template: Template,
  params?: ReadonlyMap<string, ParamValues>,
  evaluate?: Evaluate,
  resolve?: Resolve,
): string {
  const lookup = (name: string): ParamValues | undefined => params?.get(name) ?? resolve?.(name);
  return expand(template, params ? [...params.keys()] : [], lookup, evaluate);
}

/**
 * The expansion itself. `names` are the parameter names in order; each one the template consumes (in a
 * `{name}` or `{$fn(name)}`) is dropped, and the rest are what an extra slot (`{**}`) emits.
 */
function expand(
  t: Template,
  names: string[],
  lookup: (name: string) => ParamValues | undefined,
  evaluate: Evaluate | undefined,
): string {
  const unused = new Set(names);
  const ctx: Context = { unused, lookup, evaluate };
  let out = '';
  if (t.scheme) out += `${single(t.scheme, ctx)}:`;
  if (t.hasAuthority) {
    if (!t.isAuthorityOnly) out += '//';
    if (t.username) out += single(t.username, ctx);
    if (t.password) out += `:${single(t.password, ctx)}`;
    if (t.username || t.password) out += '@';
    if (t.host) out += single(t.host, ctx);
    if (t.port) out += `:${single(t.port, ctx)}`;
  }
  if (t.isAbsolute) out += '/';
  for (let i = 0; i < t.path.length; i++) {
    if (i > 0) out += '/';
    out += pathSegment(t.path[i], ctx);
  }
  if (t.isDirectory && t.path.length > 0) out += '/';
  // Knox computes the fragment before the query (so a name the fragment uses is not re-emitted by `{**}`) but
  // appends it last.
  const fragment = t.hasFragment ? `#${t.fragment ? single(t.fragment, ctx) : ''}` : '';
  out += query(t, ctx);
  return out + fragment;
}

interface Context {
  unused: Set<string>;
  lookup: (name: string) => ParamValues | undefined;
  evaluate: Evaluate | undefined;
}

/** Values of a non-static segment: its parameter, or the function applied to its input. */
function resolveValues(s: Segment, ctx: Context): { values: ParamValues | undefined; isCall: boolean } {
  const call = parseFunctionCall(s.paramName);
  if (call.variable !== null) ctx.unused.delete(call.variable);
  let values: ParamValues | undefined = call.literals ?? undefined;
  if (call.variable !== null) values = ctx.lookup(call.variable);
  if (call.fn !== null && ctx.evaluate) {
    const args: string[] = [];
    if (values) for (const v of values) if (v !== null) args.push(v);
    values = ctx.evaluate(call.fn, args);
  }
  return { values, isCall: call.fn !== null };
}

/** Scheme, user, password, host, port, fragment: one value. */
function single(s: Segment, ctx: Context): string {
  if (s.type === 'static') return s.pattern ?? '';
  const { values, isCall } = resolveValues(s, ctx);
  if (values && values.length > 0) return values[0] ?? '';
  if (isCall) return s.paramName;
  return s.pattern ?? '';
}

function pathSegment(s: Segment, ctx: Context): string {
  if (s.type === 'static') return s.pattern ?? '';
  const { values } = resolveValues(s, ctx);
  if (!values || values.length === 0) return s.pattern ?? '';
  // `{x}`, `{x=**}` and `{x=}` print every value as its own segment; `{x=*}` and regexes only the first.
  if (s.type === 'doublestar' || s.type === 'default') {
    let out = '';
    for (let i = 0; i < values.length; i++) {
      if (i > 0) out += '/';
      out += values[i] ?? '';
    }
    return out;
  }
  return values[0] ?? '';
}

function query(t: Template, ctx: Context): string {
  const parts: string[] = [];
  for (const entry of t.query.values()) parts.push(queryEntry(entry, ctx));
  if (t.extra) {
    // Everything not consumed above (in template order) goes out under its own name, in parameter order.
    for (const name of ctx.unused) {
      const values = ctx.lookup(name);
      if (!values) continue;
      for (const v of values)
        parts.push(v === null ? formEncode(name) : `${formEncode(name)}=${formEncode(v)}`);
    }
  }
  // No `?` at all when nothing is emitted: `?{**}` with no extra parameters adds nothing.
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

function queryEntry(s: Segment, ctx: Context): string {
  const name = s.queryName ?? '';
  if (s.type === 'static') {
    // A template's own text: printed as written, each distinct value once; `\{` and `\}` escape braces.
    return s.values
      .map((v) => (v.pattern === null ? name : `${name}=${unescapeBraces(v.pattern)}`))
      .join('&');
  }
  const { values } = resolveValues(s, ctx);
  if (!values || values.length === 0) return name;
  const encodedName = formEncode(name);
  const all = s.type === 'doublestar' || s.type === 'default';
  const n = all ? values.length : 1;
  let out = '';
  for (let i = 0; i < n; i++) {
    if (i > 0) out += '&';
    const v = values[i];
    out += v === null ? encodedName : `${encodedName}=${formEncode(v)}`;
  }
  return out;
}

function unescapeBraces(s: string): string {
  return s.includes('\\') ? s.replace(/\\([{}])/g, '$1') : s;
}
