/**
 * @module urltemplate/matcher
 * Finds which registered template a URL matches, with Knox's `Matcher` semantics, using a compiled trie.
 *
 * Trie levels, in order: scheme, user, password, host, port, each path segment, fragment (a template adds only
 * the levels it has). Two template segments share a node when they have the same component, parameter name and
 * effective pattern, so `/a/{x}` and `/a/{y}` are different children. Templates without query entries end on a
 * node ("plain"); templates with query entries or an extra slot hang off their last node as query candidates.
 *
 * Walking an input: the candidate set starts at the root; for each input component, the next set is every child
 * of a candidate that accepts the input segment, plus the candidate itself when it is a `**` node (a glob takes
 * one more segment without going deeper). Children are indexed: static children by their text in a hash map,
 * the (few) wildcard children in a list, so a lookup does not scan every sibling. Candidate order is exactly
 * Knox's (parents in order, the glob itself first, then children in registration order); a node reached twice
 * in one step is kept once, at its first position, which changes neither the winner nor its parameters and
 * keeps `/**` chains linear on hostile inputs.
 *
 * Winner, among surviving nodes where a template ends: the deepest (trie levels, not input segments); at equal
 * depth, the more specific last segment (static < regex < `*` < `{x=}` < `**`); at equal depth and type, the
 * first candidate. At the chosen node a qualifying query template beats the plain one (most matched named query
 * entries first, then registration order).
 *
 * Anchored matching ({@link MatchOptions.anchor}, postern's, not Knox's): the request URL's first path segments are
 * the gateway path and topology, and a template whose path starts with a glob `**` (every bundled IN rule does,
 * followed by its service segment) means them by it. In Knox the glob floats: the candidate that leaves it last
 * comes first, so `/gateway/t/http/public/http/admin` binds `path=admin` (after the last `http`), while the route
 * and every policy saw `/http/public/http/admin`. Anchored, the leading glob takes at least the anchor's segments,
 * and the earliest way out of it wins before any other rule: each candidate carries where it left the glob
 * (`exit`); a node reached twice in a step keeps Knox's place but the route with the lower exit, and the winner
 * prefers the lowest exit before depth and rank (candidate order, and so ties, stay Knox's). A template
 * that cannot match right after the prefix still matches further on (cm-ui's rule for `api/{path}` below its
 * service segment), at its first possible place.
 */
import { type Segment, type SegmentValue, segmentAccepts, VALUE_RANK, valueAccepts } from './segment.ts';
import type { Template } from './template.ts';

/** Parameter values captured by a match; `null` is a query parameter present without `=`. */
export type MatchParams = Map<string, (string | null)[]>;

export interface MatchOptions {
  /**
   * The number of leading input path segments that are a fixed prefix (the gateway path and the topology): a
   * template's leading `**` consumes at least these, and the match that leaves it earliest wins (see above).
   */
  anchor?: number;
}

export interface TemplateMatch<V> {
  value: V;
  template: Template;
  params: MatchParams;
}

interface Entry<V> {
  template: Template;
  value: V;
}

/** Rank of the root, which has no segment: less specific than any real one (Knox `Segment.UNKNOWN`). */
const ROOT_RANK = 6;

class Node<V> {
  readonly segment: Segment | null;
  readonly depth: number;
  readonly rank: number;
  readonly isGlob: boolean;
  /** A `**` that is the first path segment of a template (anchored by {@link MatchOptions.anchor}). */
  leading = false;
  /** Position among its siblings: registration order, used to keep candidates in Knox's order. */
  readonly order: number;
  /** Children in registration order. */
  children: Node<V>[] = [];
  /** Identity of each child for registration: component, parameter name, effective pattern. */
  byKey: Map<string, Node<V>> | null = null;
  /** Static children by text (several only if they differ in component or parameter name). */
  statics: Map<string, Node<V>[]> | null = null;
  /** Non-static children in registration order. */
  dynamics: Node<V>[] | null = null;
  plain: Entry<V> | null = null;
  queries: Entry<V>[] | null = null;
  /** Step number in which this node was last made a candidate (de-duplication without a Set per step). */
  stamp = 0;
  /** Its index in that step's candidate list. */
  slot = 0;

  constructor(segment: Segment | null, depth: number, order: number) {
    this.segment = segment;
    this.depth = depth;
    this.order = order;
    this.rank = segment ? VALUE_RANK[segment.type] : ROOT_RANK;
    this.isGlob = segment !== null && segment.type === 'doublestar';
  }

  childFor(segment: Segment): Node<V> {
    const v = segment.value;
    const key = `${segment.component}\u0000${segment.paramName}\u0000${v.effective}`;
    this.byKey ??= new Map();
    let child = this.byKey.get(key);
    if (child) return child;
    child = new Node<V>(segment, this.depth + 1, this.children.length);
    this.byKey.set(key, child);
    this.children.push(child);
    if (v.type === 'static') {
      this.statics ??= new Map();
      const text = v.pattern ?? '';
      const list = this.statics.get(text);
      if (list) list.push(child);
      else this.statics.set(text, [child]);
    } else {
      this.dynamics ??= [];
      this.dynamics.push(child);
    }
    return child;
  }
}

/** One surviving route through the trie: the node, how we got there, and the input segment it took. */
interface Candidate<V> {
  node: Node<V>;
  parent: Candidate<V> | null;
  input: Segment | null;
  /**
   * Anchored matching: the input path index at which the route left a leading glob; the anchor itself for a
   * route with no leading glob or still in it (0 when not anchored). Lower wins before depth and rank.
   */
  exit: number;
}

/**
 * A set of templates, each with a value, matched against URLs.
 * @example
 * const m = new TemplateMatcher<string>();
 * m.add(parseTemplate('/webhdfs/v1/{path=**}?{**}'), 'WEBHDFS');
 * m.match(parseLiteral('/webhdfs/v1/tmp?op=LISTSTATUS'))?.params.get('path'); // ['tmp']
 */
export class TemplateMatcher<V> {
  #root = new Node<V>(null, 0, 0);
  #step = 0;
  #size = 0;
  /**
   * The candidate lists of one match, used in turn for its steps (each step reads one and fills the other). A
   * match runs to its end without yielding, and what it returns refers to candidates, never to these lists, so
   * the next match may reuse them; they are emptied when a match ends, keeping nothing of a request.
   */
  readonly #lists: [Candidate<V>[], Candidate<V>[]] = [[], []];

  /** The list the step after `cands` fills: the other one, emptied. */
  #nextList(cands: Candidate<V>[]): Candidate<V>[] {
    const next = cands === this.#lists[0] ? this.#lists[1] : this.#lists[0];
    next.length = 0;
    return next;
  }

  /** Number of templates added. */
  get size(): number {
    return this.#size;
  }

  /**
   * Registers a template. For two plain templates ending on the same node (same shape), the first one added
   * keeps winning, as in Knox.
   */
  add(template: Template, value: V): void {
    let node = this.#root;
    if (template.scheme) node = node.childFor(template.scheme);
    if (template.username) node = node.childFor(template.username);
    if (template.password) node = node.childFor(template.password);
    if (template.host) node = node.childFor(template.host);
    if (template.port) node = node.childFor(template.port);
    for (let i = 0; i < template.path.length; i++) {
      node = node.childFor(template.path[i]);
      if (i === 0 && node.isGlob) node.leading = true;
    }
    if (template.fragment) node = node.childFor(template.fragment);
    if (template.query.size === 0 && template.extra === null) {
      node.plain ??= { template, value };
    } else {
      node.queries ??= [];
      node.queries.push({ template, value });
    }
    this.#size++;
  }

  /** Finds the best template for `input` (normally a {@link parseLiteral} URL) and the parameters it binds. */
  match(input: Template, options?: MatchOptions): TemplateMatch<V> | undefined {
    const anchor = options?.anchor;
    const cands = this.#lists[0];
    cands.length = 0;
    cands.push({ node: this.#root, parent: null, input: null, exit: anchor ?? 0 });
    try {
      return this.#matchFrom(cands, input, anchor);
    } finally {
      this.#lists[0].length = 0;
      this.#lists[1].length = 0;
    }
  }

  #matchFrom(
    cands: Candidate<V>[],
    input: Template,
    anchor: number | undefined,
  ): TemplateMatch<V> | undefined {
    if (input.scheme) cands = this.#advance(cands, input.scheme, true);
    if (input.username && cands.length > 0) cands = this.#advance(cands, input.username, true);
    if (input.password && cands.length > 0) cands = this.#advance(cands, input.password, true);
    if (input.host && cands.length > 0) {
      cands = this.#advance(cands, input.host, true);
      // A missing port (a default port) is accepted by whatever the template has at the next level.
      if (cands.length > 0)
        cands = input.port ? this.#advance(cands, input.port, false) : this.#skipLevel(cands);
    }
    for (let i = 0; i < input.path.length && cands.length > 0; i++) {
      cands =
        anchor === undefined
          ? this.#advance(cands, input.path[i], true)
          : this.#advanceAnchored(cands, input.path[i], i, anchor);
    }
    if (input.fragment && cands.length > 0) cands = this.#advance(cands, input.fragment, true);
    if (cands.length === 0) return undefined;
    return this.#pickWinner(cands, input);
  }

  /** One input segment: children that accept it, plus globs staying in place. */
  #advance(cands: Candidate<V>[], seg: Segment, globsStay: boolean): Candidate<V>[] {
    const stamp = ++this.#step;
    const next = this.#nextList(cands);
    for (let c = 0; c < cands.length; c++) this.#children(cands[c], seg, stamp, next, globsStay);
    return next;
  }

  /**
   * One input path segment (at index `i`) with the leading glob anchored: it may not be left before `anchor`
   * segments. Candidates keep Knox's order; a node reached twice keeps its first place but takes the route that
   * left the leading glob earliest (see {@link #children}).
   */
  #advanceAnchored(cands: Candidate<V>[], seg: Segment, i: number, anchor: number): Candidate<V>[] {
    const stamp = ++this.#step;
    const next = this.#nextList(cands);
    for (let c = 0; c < cands.length; c++) {
      const parent = cands[c];
      const node = parent.node;
      if (!node.leading) {
        this.#children(parent, seg, stamp, next, true);
        continue;
      }
      if (node.stamp !== stamp) {
        node.stamp = stamp;
        node.slot = next.length;
        next.push({ node, parent, input: seg, exit: anchor });
      }
      if (i >= anchor) this.#children(parent, seg, stamp, next, false, i);
    }
    return next;
  }

  /** The children of one candidate that accept `seg` (and the candidate itself first, if it is a glob and `stay`). */
  #children(
    parent: Candidate<V>,
    seg: Segment,
    stamp: number,
    next: Candidate<V>[],
    stay: boolean,
    exit = parent.exit,
  ): void {
    const node = parent.node;
    if (stay && node.isGlob) {
      if (node.stamp !== stamp) {
        node.stamp = stamp;
        node.slot = next.length;
        next.push({ node, parent, input: seg, exit });
      } else if (next[node.slot].exit > exit) {
        next[node.slot] = { node, parent, input: seg, exit };
      }
    }
    const value = seg.value;
    const text = value.pattern;
    const component = seg.component;
    const statics = text !== null && node.statics !== null ? node.statics.get(text) : undefined;
    const dynamics = node.dynamics;
    if (statics === undefined && dynamics === null) return;
    // Merge the two (registration-ordered) lists back into registration order.
    let a = 0;
    let b = 0;
    const na = statics === undefined ? 0 : statics.length;
    const nb = dynamics === null ? 0 : dynamics.length;
    while (a < na || b < nb) {
      let child: Node<V>;
      if (b >= nb || (a < na && statics![a].order < dynamics![b].order)) {
        child = statics![a++];
        if (child.segment!.component !== component) continue;
      } else {
        child = dynamics![b++];
        const s = child.segment!;
        if (s.component !== component || !acceptsAny(s.value, seg)) continue;
      }
      if (child.stamp === stamp) {
        // Reached again in this step: Knox's first place stays; anchored, the route that left the leading glob
        // earlier replaces the one there (never when not anchored: every exit is 0).
        if (next[child.slot].exit > exit) next[child.slot] = { node: child, parent, input: seg, exit };
        continue;
      }
      child.stamp = stamp;
      child.slot = next.length;
      next.push({ node: child, parent, input: seg, exit });
    }
  }

  /** The port level when the input has no port: every child of every candidate, unconditionally. */
  #skipLevel(cands: Candidate<V>[]): Candidate<V>[] {
    const stamp = ++this.#step;
    const next = this.#nextList(cands);
    for (const parent of cands) {
      for (const child of parent.node.children) {
        if (child.stamp === stamp) continue;
        child.stamp = stamp;
        next.push({ node: child, parent, input: null, exit: parent.exit });
      }
    }
    return next;
  }

  #pickWinner(cands: Candidate<V>[], input: Template): TemplateMatch<V> | undefined {
    let best: Candidate<V> | null = null;
    let bestEntry: Entry<V> | null = null;
    let bestIsQuery = false;
    for (const cand of cands) {
      const node = cand.node;
      if (node.plain === null && node.queries === null) continue;
      if (best !== null && cand.exit >= best.exit) {
        const b = best.node;
        if (cand.exit > best.exit) continue;
        if (!(node.depth > b.depth || (node.depth === b.depth && node.rank < b.rank))) continue;
      }
      const q = node.queries ? pickQuery(node.queries, input) : null;
      const entry = q ?? node.plain;
      if (entry === null) continue;
      best = cand;
      bestEntry = entry;
      bestIsQuery = q !== null;
    }
    if (best === null || bestEntry === null) return undefined;
    return {
      value: bestEntry.value,
      template: bestEntry.template,
      params: collectParams(best, bestEntry, bestIsQuery, input),
    };
  }
}

function acceptsAny(t: SegmentValue, input: Segment): boolean {
  const values = input.values;
  for (let i = 0; i < values.length; i++) if (valueAccepts(t, values[i])) return true;
  return false;
}

/**
 * The query template that qualifies with the most matched named entries (first on ties), or null. A template
 * qualifies when each named entry is in the input and accepts one of its values, and its extra slot, if any, is
 * `**` (optional) or `*` with at least one input parameter beyond the named ones.
 */
function pickQuery<V>(queries: Entry<V>[], input: Template): Entry<V> | null {
  let best: Entry<V> | null = null;
  let bestCount = 0;
  for (const entry of queries) {
    const t = entry.template;
    const named = t.query.size;
    let count = 0;
    for (const q of t.query.values()) {
      const i = input.query.get(q.queryName!);
      if (i === undefined || !segmentAccepts(q, i)) {
        count = -1;
        break;
      }
      count++;
    }
    if (count < 0) continue;
    const extraOk = t.extra === null || t.extra.queryName === '**' || input.query.size > named;
    if (!extraOk) continue;
    if (best === null || count > bestCount) {
      best = entry;
      bestCount = count;
    }
  }
  return best;
}

/**
 * Parameters of the winning route: named query entries first (input order), then, for a named extra slot, every
 * other input query parameter under its own name, then path/authority/scheme/fragment parameters; a name bound
 * by several segments (a `**` glob) gets its values in URL order.
 */
function collectParams<V>(
  best: Candidate<V>,
  entry: Entry<V>,
  isQuery: boolean,
  input: Template,
): MatchParams {
  const params: MatchParams = new Map();
  if (isQuery) {
    const t = entry.template;
    for (const q of t.query.values()) {
      const i = input.query.get(q.queryName!);
      if (i === undefined || q.paramName === '' || !segmentAccepts(q, i)) continue;
      let list = params.get(q.paramName);
      if (!list) {
        list = [];
        params.set(q.paramName, list);
      }
      for (const v of i.values) list.push(v.effective);
    }
    if (t.extra && t.extra.paramName !== '') {
      for (const [name, i] of input.query) {
        if (params.has(name)) continue;
        params.set(
          name,
          i.values.map((v) => v.effective),
        );
      }
    }
  }
  // The route from the winning node back to the root, deepest first.
  const route: Candidate<V>[] = [];
  for (let c: Candidate<V> | null = best; c !== null && c.node.depth > 0; c = c.parent) route.push(c);
  if (route.length === 0) return params;
  // Names are created deepest first (Knox's insertion order), values are filled in URL order. Without query
  // parameters (most requests) the lists are made in `params` itself.
  const pathValues = params.size === 0 ? params : new Map<string, (string | null)[]>();
  for (const c of route) {
    const name = c.node.segment!.paramName;
    if (name !== '' && c.input !== null && !pathValues.has(name)) pathValues.set(name, []);
  }
  for (let k = route.length - 1; k >= 0; k--) {
    const c = route[k];
    const name = c.node.segment!.paramName;
    if (name === '' || c.input === null) continue;
    const list = pathValues.get(name)!;
    for (const v of c.input.values) list.push(v.effective);
  }
  if (pathValues === params) return params;
  for (const [name, values] of pathValues) {
    const existing = params.get(name);
    params.set(name, existing ? [...values, ...existing] : values);
  }
  return params;
}
