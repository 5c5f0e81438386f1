/**
 * @module spi/rewrite
 * A topology's compiled URL-rewrite rules as a factory sees them (`ProviderContext.rewrite`): the rule engine
 * (src/rewrite) implements it. Types only, plus what they are made of from the rewrite model.
 */
import type { FilterContent, RewriteFilter } from '../rewrite/model.ts';
import type { Direction, RewriteContext } from '../rewrite/types.ts';

export type { Direction, RewriteContext };

export interface RewriteOptions {
  /** A rule name; absent, `''` is "no rule", `'*'` or absent means best match. */
  rule?: string;
  dir: Direction;
  ctx: RewriteContext;
  /** The service role of the route, for scoped best match. */
  scope?: string;
  /**
   * The URL is the request's inbound URL and its first `anchor` path segments are the gateway path and topology:
   * a pattern's leading `**` stands for them (urltemplate `MatchOptions.anchor`), so the backend path is cut where
   * the route match and the policies cut it. Applies while the rule has not rewritten the URL yet.
   */
  anchor?: number;
}

export type RewriteOutcome =
  | { status: 'rewritten'; url: string; rule: string }
  | { status: 'no-rule' }
  | { status: 'failed'; rule: string; reason: string };

export type HeaderValue = string | string[] | undefined;
export type Headers = Record<string, HeaderValue>;
/** Rewrites the URLs in a header map; returns the new map. */
export type HeaderRewriter = (headers: Headers, ctx: RewriteContext) => Headers;

/** The rules of one topology, compiled once at deployment. */
export interface RewriteRules {
  hasBestMatchRules(dir: Direction, scope?: string): boolean;
  /** A cheap pre-check: could some best-match rule of `dir` apply to this value? */
  bestMatchFilter(dir: Direction, scope?: string): (value: string) => boolean;
  hasRelativePatterns(dir: Direction): boolean;
  hasRule(name: string): boolean;
  hasFilter(name: string): boolean;
  readonly ruleNames: string[];
  readonly filterNames: string[];
  filter(name: string): RewriteFilter | undefined;
  filterContent(name: string, mimeType: string): FilterContent | undefined;
  /** Rewrites a URL and says which rule did it, or why none did. */
  apply(url: string, opts: RewriteOptions): RewriteOutcome;
  /** Rewrites a URL; `undefined` when no rule applies or the rule failed. */
  rewrite(url: string, opts: RewriteOptions): string | undefined;
  /** The header rewriter of a filter's `application/x-http-headers` content. */
  headers(filterName: string, dir: Direction, opts?: { scope?: string }): HeaderRewriter;
  /** Best-match rewriting of every URL-bearing response header. */
  defaultResponseHeaders(opts?: { scope?: string }): HeaderRewriter;
}
