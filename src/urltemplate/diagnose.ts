/**
 * @module urltemplate/diagnose
 * Why a template does or does not match a URL, and why one that matches loses to the {@link TemplateMatcher}'s
 * winner: what `postern explain` prints for "the patterns that lost", and what `postern check` uses to prove that
 * a route can never be chosen ({@link witnessInputs}). Never used on the request path.
 *
 * Whether a template matches is always decided by a real one-template {@link TemplateMatcher}, so a diagnosis
 * never disagrees with routing; the walk below only finds the words for a failure and how far the URL got.
 */
import { TemplateMatcher } from './matcher.ts';
import { parseLiteral } from './parser.ts';
import { type Segment, segmentAccepts, VALUE_RANK, type ValueType } from './segment.ts';
import type { Template } from './template.ts';

export type Diagnosis =
  | { matches: true }
  | {
      matches: false;
      /** Why, in a few words: `segment 2 "v2" is not "v1"`, `query parameter "op" is missing` ... */
      reason: string;
      /** How many of the URL's path segments the template accepted before it failed (for "nearest" lists). */
      progress: number;
    };

/** Whether `template` alone matches `input` (a {@link parseLiteral} URL), decided by a real matcher. */
export function matchesAlone(template: Template, input: Template): boolean {
  const m = new TemplateMatcher<true>();
  m.add(template, true);
  return m.match(input) !== undefined;
}

/** Does `template` match `input`, and if not, why and how far it got. */
export function diagnoseMatch(template: Template, input: Template): Diagnosis {
  if (matchesAlone(template, input)) return { matches: true };
  const authority = authorityReason(template, input);
  if (authority) return { matches: false, reason: authority, progress: 0 };
  const path = walkPath(template.path, input.path);
  if (path) return { matches: false, reason: path.reason, progress: path.at };
  const progress = input.path.length;
  const rest = queryReason(template, input) ?? fragmentReason(template, input);
  return { matches: false, reason: rest ?? 'the URL does not match the pattern', progress };
}

/** `"v1"`, `*`, `{path=**}`: a template segment as a reader would recognise it in the pattern. */
export function showSegment(s: Segment): string {
  if (s.paramName === '') return s.type === 'static' ? `"${s.pattern ?? ''}"` : (s.pattern ?? '*');
  const p = s.pattern;
  return p === null || p === '' ? `{${s.paramName}}` : `{${s.paramName}=${p}}`;
}

const TYPE_WORDS: Record<ValueType, string> = {
  static: 'a literal',
  regex: 'a pattern',
  star: 'a one-segment wildcard',
  default: 'a parameter',
  doublestar: 'a multi-segment wildcard',
};

const AUTHORITY = ['scheme', 'username', 'password', 'host', 'port'] as const;

function authorityReason(t: Template, input: Template): string | undefined {
  for (const part of AUTHORITY) {
    const ts = t[part];
    const is = input[part];
    if (ts && !is) {
      if (part === 'port') continue; // a missing (default) port is accepted by whatever the template has
      return `the pattern has a ${part} (${showSegment(ts)}), the URL has none`;
    }
    if (!ts && is) return `the URL has a ${part} ("${is.pattern ?? ''}"), the pattern has none`;
    if (ts && is && !segmentAccepts(ts, is)) return `${part} "${is.pattern ?? ''}" is not ${showSegment(ts)}`;
  }
  return undefined;
}

/**
 * Walks the path the way the matcher's trie does (a `**` takes one or more segments) and returns how far the URL
 * got and why it failed, or undefined when the path matches. The reason is the furthest segment that differs
 * when there is one (a glob that swallowed the rest of the URL, leaving the pattern unfinished, says less).
 */
function walkPath(
  t: readonly Segment[],
  input: readonly Segment[],
): { at: number; reason: string } | undefined {
  let best: { at: number; reason: string } = { at: -1, reason: '' };
  let mismatch: { at: number; reason: string } | undefined;
  const fail = (at: number, reason: string, differs = false) => {
    if (at > best.at) best = { at, reason };
    if (differs && (!mismatch || at > mismatch.at)) mismatch = { at, reason };
  };
  const dead = new Set<number>();
  const go = (ti: number, ii: number): boolean => {
    const key = ti * (input.length + 1) + ii;
    if (dead.has(key)) return false;
    let ok = false;
    if (ti === t.length) {
      if (ii === input.length) ok = true;
      else {
        const rest = input
          .slice(ii)
          .map((s) => s.pattern ?? '')
          .join('/');
        fail(ii, `the URL goes on with "/${rest}" where the pattern ends`);
      }
    } else if (ii === input.length) {
      const rest = t
        .slice(ti)
        .map((s) => showSegment(s).replaceAll('"', ''))
        .join('/');
      fail(ii, `the URL ends where the pattern expects "/${rest}"`);
    } else {
      const seg = t[ti];
      if (!segmentAccepts(seg, input[ii])) {
        fail(ii, `segment ${ii + 1} "${input[ii].pattern ?? ''}" is not ${showSegment(seg)}`, true);
      } else if (seg.type === 'doublestar') {
        for (let k = ii + 1; k <= input.length && !ok; k++) ok = go(ti + 1, k);
      } else {
        ok = go(ti + 1, ii + 1);
      }
    }
    if (!ok) dead.add(key);
    return ok;
  };
  if (go(0, 0)) return undefined;
  return { at: best.at, reason: (mismatch ?? best).reason };
}

function queryReason(t: Template, input: Template): string | undefined {
  for (const q of t.query.values()) {
    const name = q.queryName ?? '';
    const given = input.query.get(name);
    if (!given) return `query parameter "${name}" is missing`;
    if (!segmentAccepts(q, given)) {
      const value = given.values.map((v) => v.pattern ?? '').join(',');
      return `query parameter ${name}=${value} is not ${name}=${q.pattern ?? ''}`;
    }
  }
  if (t.extra && t.extra.queryName !== '**' && input.query.size <= t.query.size) {
    return 'the pattern wants one more query parameter than the URL has';
  }
  return undefined;
}

function fragmentReason(t: Template, input: Template): string | undefined {
  if (t.fragment && !input.fragment) return 'the pattern has a fragment, the URL has none';
  if (t.fragment && input.fragment && !segmentAccepts(t.fragment, input.fragment)) {
    return `fragment "${input.fragment.pattern ?? ''}" is not ${showSegment(t.fragment)}`;
  }
  return undefined;
}

/** The matcher's ordering keys for a template: trie depth, then the type rank of its last level (lower wins). */
export function specificity(t: Template): { depth: number; rank: number; last: Segment | null } {
  const levels: Segment[] = [];
  for (const part of AUTHORITY) {
    const s = t[part];
    if (s) levels.push(s);
  }
  levels.push(...t.path);
  if (t.fragment) levels.push(t.fragment);
  const last = levels.at(-1) ?? null;
  return { depth: levels.length, rank: last ? VALUE_RANK[last.type] : 6, last };
}

function hasQueryPart(t: Template): boolean {
  return t.query.size > 0 || t.extra !== null;
}

/** Whether two templates end on the same trie node (same components, names and effective patterns). */
function sameNode(a: Template, b: Template): boolean {
  const key = (t: Template) =>
    [...AUTHORITY.map((p) => t[p]), ...t.path, t.fragment]
      .map((s) => (s ? `${s.component}\u0000${s.paramName}\u0000${s.value.effective}` : ''))
      .join('\u0001');
  return key(a) === key(b);
}

/**
 * Why `loser`, which also matches the URL, is not the matcher's choice: the winner is deeper, or as deep with a
 * more specific last segment, or on the same path with a (better) query part, or simply registered first.
 */
export function whyLost(winner: Template, loser: Template): string {
  const w = specificity(winner);
  const l = specificity(loser);
  if (w.depth > l.depth) {
    return `matches too, but the winner is more specific: ${w.depth} segments against ${l.depth}`;
  }
  if (w.depth === l.depth && w.rank < l.rank && w.last && l.last) {
    return `matches too, but the winner's last segment ${showSegment(w.last)} (${TYPE_WORDS[w.last.type]}) is more specific than ${showSegment(l.last)} (${TYPE_WORDS[l.last.type]})`;
  }
  if (sameNode(winner, loser)) {
    if (hasQueryPart(winner) && !hasQueryPart(loser)) {
      return 'matches too, but on the same path a pattern with a query part wins over one without';
    }
    if (hasQueryPart(winner) && hasQueryPart(loser) && winner.query.size > loser.query.size) {
      return `matches too, but the winner names more query parameters (${winner.query.size} against ${loser.query.size})`;
    }
  }
  return 'matches too and is as specific; the winner was registered first';
}

/**
 * URLs that only `t` could be meant for: its literal segments as written and a fresh value (one no route
 * spells) in each wildcard, a `**` taking each of `globLengths` segments, the query entries it requires. If the
 * matcher picks another template for every one of them, it picks another for every URL `t` matches: a URL that
 * puts other values in the wildcards can only add candidates, never take the winner away.
 * @returns undefined when `t` has what the argument does not cover: a regex segment, an authority, a fragment,
 * or more than one `**`.
 */
export function witnessInputs(
  t: Template,
  options: { fresh: () => string; globLengths: readonly number[] },
): Template[] | undefined {
  if (AUTHORITY.some((p) => t[p]) || t.fragment) return undefined;
  const all = [...t.path, ...t.query.values(), ...(t.extra ? [t.extra] : [])];
  if (all.some((s) => s.values.some((v) => v.type === 'regex'))) return undefined;
  const globs = t.path.filter((s) => s.type === 'doublestar').length;
  if (globs > 1) return undefined;
  const query: string[] = [];
  for (const q of t.query.values()) {
    const v = q.value;
    if (v.type === 'static')
      query.push(v.pattern === null ? (q.queryName ?? '') : `${q.queryName}=${v.pattern}`);
    else query.push(`${q.queryName}=${options.fresh()}`);
  }
  if (t.extra && t.extra.queryName !== '**') query.push(`${options.fresh()}=${options.fresh()}`);
  const qs = query.length > 0 ? `?${query.join('&')}` : '';
  const lengths = globs === 0 ? [1] : options.globLengths;
  return lengths.map((n) => {
    const segments = t.path.flatMap((s) => {
      if (s.type === 'static') return [s.pattern ?? ''];
      if (s.type === 'doublestar') return Array.from({ length: n }, () => options.fresh());
      return [options.fresh()];
    });
    return parseLiteral(`/${segments.join('/')}${qs}`);
  });
}
