/**
 * @module rewrite/body/regex
 * Knox's regular-expression applies (`<apply path="REGEX" rule="..."/>` in HTML, JavaScript and CSS contents):
 * - for an HTML attribute value or text, the first apply whose expression matches the *whole* value names the
 *   rule (Java `Matcher.matches()`); no match means best match (`HtmlFilterReaderBase.getRuleName`);
 * - for JavaScript and CSS (and inline `<script>`/`<style>`), each apply in turn replaces every match it finds
 *   with what its rule makes of it (`UrlRewriteUtil.filterJavaScript`).
 *
 * {@link RegexTextRewriter} streams JavaScript and CSS the way Knox reads them, a line at a time (Knox's
 * `JavaScriptFilterReader`), except that a line longer than the window (minified code is one long line) is cut
 * into pieces with a carried-over tail, at places no match straddles.
 */
import type { FilterApply } from '../model.ts';
import { type BodyContext, rewriteBodyValue, type TextRewriter } from './values.ts';

export interface RegexApply {
  /** The expression as written. */
  path: string;
  /** Anchored at both ends: does the whole value match? */
  whole: RegExp;
  /** Global: every match in a text. */
  find: RegExp;
  rule: string;
}

export class RegexApplyError extends Error {
  constructor(path: string, reason: string) {
    super(`regular expression ${JSON.stringify(path)} cannot be used: ${reason}`);
    this.name = 'RegexApplyError';
  }
}

/**
 * Translates the parts of Java's syntax JavaScript lacks: leading inline flags (`(?i)`, `(?s)`, `(?m)`), `\Q…\E`
 * quoting, `\A` and `\z`/`\Z`. Possessive quantifiers and other Java-only constructs make the apply unusable.
 */
function javaToJs(path: string): { source: string; flags: string } {
  let source = path;
  let flags = '';
  const inline = /^\(\?([ims]+)\)/.exec(source);
  if (inline) {
    flags = [...new Set(inline[1])].join('');
    source = source.slice(inline[0].length);
  }
  source = source.replace(/\\Q([\s\S]*?)(?:\\E|$)/g, (_m, q: string) =>
    q.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'),
  );
  source = source.replace(/\\A/g, '^').replace(/\\[zZ]/g, '$');
  if (/[*+?}][+]/.test(source.replace(/\\./g, ''))) {
    throw new RegexApplyError(path, 'possessive quantifiers are not supported');
  }
  return { source, flags };
}

/** Compiles one apply; throws {@link RegexApplyError} for an expression JavaScript cannot run. */
export function compileRegexApply(apply: Pick<FilterApply, 'path' | 'rule'>): RegexApply {
  const { source, flags } = javaToJs(apply.path);
  try {
    return {
      path: apply.path,
      whole: new RegExp(`^(?:${source})$`, flags),
      find: new RegExp(source, `${flags}g`),
      rule: apply.rule,
    };
  } catch (err) {
    throw new RegexApplyError(apply.path, (err as Error).message);
  }
}

/** The rule of the first apply that matches the whole value; `undefined` means best match. */
export function ruleForValue(applies: readonly RegexApply[], value: string): string | undefined {
  for (const a of applies) if (a.whole.test(value)) return a.rule;
  return undefined;
}

/** Whether a global expression matches anywhere in `text` (from the start, whatever it last matched). */
function found(find: RegExp, text: string): boolean {
  find.lastIndex = 0;
  return find.test(text);
}

/** Each apply in turn replaces every match with its rule's rewrite of it (the match stays when the rule fails). */
export function replaceMatches(text: string, applies: readonly RegexApply[], ctx: BodyContext): string {
  let out = text;
  for (const a of applies) {
    if (!found(a.find, out)) continue;
    a.find.lastIndex = 0;
    out = out.replace(a.find, (m) => (m === '' ? m : (rewriteBodyValue(m, a.rule, ctx) ?? m)));
  }
  return out;
}

/** Lines up to this long are processed whole; a longer one is cut into windows (bounded by the body limit). */
const WINDOW = 64 * 1024;
/** What a window keeps for the next one, so a match near its end is seen whole. */
const TAIL = 4 * 1024;

/**
 * Streams text through regex applies a line at a time, holding at most one line (or one window of a longer
 * line). Never throws: a stretch no cut can be found in, over the limit, passes unchanged.
 */
export class RegexTextRewriter implements TextRewriter {
  readonly #applies: readonly RegexApply[];
  readonly #ctx: BodyContext;
  readonly #window: number;
  #pending = '';

  constructor(applies: readonly RegexApply[], ctx: BodyContext) {
    this.#applies = applies;
    this.#ctx = ctx;
    this.#window = Math.max(TAIL * 2, Math.min(WINDOW, ctx.limit));
  }

  write(text: string): string {
    const buf = this.#pending + text;
    const nl = buf.lastIndexOf('\n');
    let out = '';
    let rest = buf;
    if (nl >= 0) {
      out = this.#lines(buf.slice(0, nl + 1));
      rest = buf.slice(nl + 1);
    }
    while (rest.length > this.#window) {
      const cut = this.#cutPoint(rest);
      if (cut <= 0) {
        if (rest.length <= this.#ctx.limit) break;
        this.#ctx.report('line-over-limit', `a line of more than ${this.#ctx.limit} bytes passes unchanged`);
        out += rest;
        rest = '';
        break;
      }
      out += replaceMatches(rest.slice(0, cut), this.#applies, this.#ctx);
      rest = rest.slice(cut);
    }
    this.#pending = rest;
    return out;
  }

  end(): string {
    const rest = this.#pending;
    this.#pending = '';
    return rest === '' ? '' : replaceMatches(rest, this.#applies, this.#ctx);
  }

  unsent(): string {
    return this.#pending;
  }

  /** Complete lines, each through every apply (Knox's line-at-a-time reading, line endings kept). */
  #lines(text: string): string {
    // Most blocks hold no match at all: one search each, and the block goes out as it came.
    if (!this.#applies.some((a) => found(a.find, text))) return text;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      // Knox reads lines without their terminator, so an expression never takes the CR of a CRLF.
      lines[i] = line.endsWith('\r')
        ? `${replaceMatches(line.slice(0, -1), this.#applies, this.#ctx)}\r`
        : replaceMatches(line, this.#applies, this.#ctx);
    }
    return lines.join('\n');
  }

  /** Where to cut a long line: before the tail, moved back to the start of any match that straddles the cut. */
  #cutPoint(text: string): number {
    let cut = text.length - TAIL;
    for (let pass = 0; pass < 8; pass++) {
      let moved = false;
      for (const a of this.#applies) {
        a.find.lastIndex = 0;
        for (;;) {
          const m = a.find.exec(text);
          if (m === null) break;
          const end = m.index + m[0].length;
          if (m[0].length === 0) a.find.lastIndex++;
          if (m.index >= cut) break;
          if (end > cut) {
            cut = m.index;
            moved = true;
            break;
          }
        }
      }
      if (!moved || cut <= 0) break;
    }
    return cut;
  }
}
