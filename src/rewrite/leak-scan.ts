/**
 * @module rewrite/leak-scan
 * The leak guard on a body: a streaming scan of what the body filter put out (or of the body itself, for a text
 * body no filter reads), for the backend origins of the topology (rewrite/leak-guard).
 *
 * Matches may straddle chunks: the scan keeps the end of each chunk (the longest origin, or a URL that has not
 * ended yet, up to {@link MAX_URL}) and looks at it again with the next one, so memory stays bounded by that tail
 * whatever the body's size; a body is never buffered for it. In `report` mode the output is the input, unchanged
 * and without delay (the tail is a copy kept for scanning); in `rewrite` mode the tail is held back until it is
 * known not to start a backend URL, and leaked URLs are replaced by their gateway URLs.
 */

import type { TextRewriter } from './body/values.ts';
import type { LeakGuard, LeakHit, LeakTarget } from './leak-guard.ts';
import type { RewriteContext } from './types.ts';

/** The longest URL held back to see where it ends; a longer one is decided on what there is of it. */
export const MAX_URL = 4096;

/** Characters a backend URL in text can start with (`h`ttp, `w`s, `/`/), in either case. */
const URL_LEADS = new Set([0x68, 0x48, 0x77, 0x57, 0x2f]);

export interface ScanOptions {
  guard: LeakGuard;
  rc: RewriteContext;
  /** The route's service role (its rules are preferred when an origin belongs to several services). */
  scope: string;
  /** Called once per chunk that held leaks, with them. */
  onHits: (hits: LeakHit[]) => void;
  /** The most held at once; {@link MAX_URL} unless smaller (the body filter's limit). */
  maxUrl?: number;
}

export class LeakScanner {
  readonly #guard: LeakGuard;
  readonly #rc: RewriteContext;
  readonly #scope: string;
  readonly #onHits: (hits: LeakHit[]) => void;
  readonly #rewrite: boolean;
  readonly #gateway: string | undefined;
  readonly #keep: number;
  readonly #maxUrl: number;
  /** The end of the text seen so far that is looked at again (rewrite mode: not sent yet). */
  #tail = '';
  /** The one character before {@link #tail}, already decided: the pattern's look-behind needs it. */
  #before = '';

  constructor(options: ScanOptions) {
    this.#guard = options.guard;
    this.#rc = options.rc;
    this.#scope = options.scope;
    this.#onHits = options.onHits;
    this.#rewrite = options.guard.mode === 'rewrite';
    this.#gateway = options.guard.gatewayOrigin(options.rc);
    this.#maxUrl = Math.min(options.maxUrl ?? MAX_URL, MAX_URL);
    this.#keep = options.guard.maxOriginLength;
  }

  /** What of the text so far may go out (report mode: `text` itself). */
  push(text: string): string {
    return this.#scan(text, false);
  }

  /** The end of the body: what is still held. */
  end(): string {
    return this.#scan('', true);
  }

  /** What was taken in and not given out (rewrite mode's held tail), for a filter that gave up. */
  held(): string {
    return this.#rewrite ? this.#tail : '';
  }

  #scan(text: string, final: boolean): string {
    const re = this.#guard.pattern;
    if (!re) return text;
    if (text === '' && !final) return '';
    const s = this.#before + this.#tail + text;
    const from = this.#before.length;
    re.lastIndex = from;
    const hits: LeakHit[] = [];
    let out = '';
    let sent = from;
    let hold = -1;
    let decided = from;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      const end = m.index + m[0].length;
      // A match touching the end may go on (a longer host, a longer path): decide it with the next chunk.
      if (!final && end >= s.length && s.length - m.index < this.#maxUrl) {
        hold = m.index;
        break;
      }
      decided = end;
      const target = this.#guard.targetOf(m[1], m[2], m[3], this.#scope);
      if (!target || target.origin === this.#gateway) continue;
      const hit = this.#hit(target, m[0]);
      hits.push(hit);
      if (hit.mapped !== undefined) {
        out += s.slice(sent, m.index) + hit.mapped;
        sent = end;
      }
    }
    if (hits.length > 0) this.#onHits(hits);
    if (final) {
      this.#tail = '';
      this.#before = '';
      return this.#rewrite ? out + s.slice(sent) : text;
    }
    // Keep what could still start a match: from an undecided one, else the last origin-length of the text.
    const keepFrom = hold >= 0 ? hold : Math.max(decided, s.length - this.#keep, from);
    if (!this.#rewrite) {
      this.#before = keepFrom > 0 ? s[keepFrom - 1] : '';
      this.#tail = s.slice(keepFrom);
      return text;
    }
    // Held back from the client: only an undecided URL, or an end that could still begin one.
    let cut = Math.max(keepFrom, sent);
    if (hold < 0) {
      while (cut < s.length && !(URL_LEADS.has(s.charCodeAt(cut)) && this.#guard.couldStart(s.slice(cut))))
        cut++;
    }
    out += s.slice(sent, cut);
    this.#before = cut > 0 ? s[cut - 1] : '';
    this.#tail = s.slice(cut);
    return out;
  }

  #hit(target: LeakTarget, url: string): LeakHit {
    if (!this.#rewrite) return { target, url };
    const mapped = this.#guard.map(url, target, this.#rc);
    return { target, url, mapped: mapped?.url, by: mapped?.by };
  }
}

/**
 * A body filter's output through the scan (or, without a filter, the body itself): a {@link TextRewriter} the
 * streaming driver runs like any other.
 */
export class GuardedRewriter implements TextRewriter {
  readonly #inner: TextRewriter | undefined;
  readonly #scan: LeakScanner;

  constructor(inner: TextRewriter | undefined, scan: LeakScanner) {
    this.#inner = inner;
    this.#scan = scan;
  }

  write(text: string, bytes: Buffer): string {
    return this.#scan.push(this.#inner ? this.#inner.write(text, bytes) : text);
  }

  end(): string {
    const last = this.#inner ? this.#inner.end() : '';
    return this.#scan.push(last) + this.#scan.end();
  }

  unsent(): string {
    return this.#scan.held() + (this.#inner ? this.#inner.unsent() : '');
  }
}
