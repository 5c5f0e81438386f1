/**
 * @module rewrite/body/html
 * Knox's HTML filter (`HtmlFilterReaderBase` + `HtmlUrlRewriteFilterReader`), streaming, on htmlparser2's
 * tokenizer (which reports positions, not strings):
 * - every attribute value, as written (entities not decoded, KNOX-791), goes to the rule of the first apply whose
 *   expression matches it whole, or else to best match;
 * - text between tags likewise, when it can be a URL at all (one word, surrounding blanks kept; Knox hands
 *   every text run to the rules);
 * - the text of `<script>` and `<style>` goes through the applies as JavaScript does (every match replaced), only
 *   when the content has applies.
 *
 * The output is the input byte for byte except the values a rule rewrote: postern never re-serialises markup,
 * so malformed HTML comes out exactly as malformed as it went in. Memory: the input is held only from the start
 * of an attribute value or a candidate text; one larger than the limit is passed unchanged.
 */
import { QuoteType, Tokenizer, type TokenizerCallbacks } from 'htmlparser2';
import { type RegexApply, RegexTextRewriter, ruleForValue } from './regex.ts';
import { type BodyContext, rewriteBodyValue, type TextRewriter } from './values.ts';

/** Text longer than this is not a URL: it is passed without a look. */
const MAX_TEXT_VALUE = 2048;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c;
}

export class HtmlRewriter implements TextRewriter, TokenizerCallbacks {
  readonly #applies: readonly RegexApply[];
  readonly #ctx: BodyContext;
  readonly #tokenizer: Tokenizer;
  /** Input from {@link #rawStart} on that has not been emitted. */
  #raw = '';
  #rawStart = 0;
  #out: string[] = [];

  /** Start of the value of the attribute being read, or -1. */
  #valueStart = -1;
  #valueEnd = -1;
  /** The value being read outgrew the limit: it goes out as it is. */
  #valueAbandoned = false;
  /** Tag name of the open tag being read, lower case ('' once its start was emitted by an overflow). */
  #tagName = '';
  /** Inside `<script>` or `<style>` with applies: their text goes here. */
  #code: RegexTextRewriter | undefined;
  #codeTag = '';

  /** The text run since the last tag: where it started, and whether it can still be a URL. */
  #textStart = -1;
  #textEnd = -1;
  #textCandidate = false;
  /** In the current run: some non-blank seen; a blank seen after it. */
  #textWord = false;
  #textGap = false;

  constructor(applies: readonly RegexApply[], ctx: BodyContext) {
    this.#applies = applies;
    this.#ctx = ctx;
    this.#tokenizer = new Tokenizer({ decodeEntities: false, xmlMode: false }, this);
  }

  write(text: string): string {
    this.#raw += text;
    this.#tokenizer.write(text);
    this.#release();
    return this.#take();
  }

  end(): string {
    this.#tokenizer.end();
    this.#endText();
    if (this.#code) {
      this.#out.push(this.#code.end());
      this.#code = undefined;
    }
    this.#emitTo(this.#rawStart + this.#raw.length);
    return this.#take();
  }

  unsent(): string {
    return this.#raw;
  }

  #take(): string {
    const out = this.#out.length === 1 ? this.#out[0] : this.#out.join('');
    this.#out = [];
    return out;
  }

  /** Emits the held input up to a position (global offset). */
  #emitTo(pos: number): void {
    const n = pos - this.#rawStart;
    if (n <= 0) return;
    this.#out.push(this.#raw.slice(0, n));
    this.#raw = this.#raw.slice(n);
    this.#rawStart = pos;
  }

  /** Emits up to `start`, then `text` in place of the input up to `end`. */
  #replace(start: number, end: number, text: string): void {
    this.#emitTo(start);
    this.#out.push(text);
    this.#raw = this.#raw.slice(end - this.#rawStart);
    this.#rawStart = end;
  }

  #slice(start: number, end: number): string {
    return this.#raw.slice(start - this.#rawStart, end - this.#rawStart);
  }

  /**
   * After a chunk: emit everything no callback can still refer to. The tokenizer reports a token only once it
   * is complete (a tag name, an attribute value, script text while it might be `</script`), always from its
   * section start on, so nothing from there is emitted; nor from the start of a value or text a rule may still
   * replace. Never more than the limit is held: past it, the piece is abandoned and goes out unchanged.
   */
  #release(): void {
    const end = this.#rawStart + this.#raw.length;
    const section = (this.#tokenizer as unknown as { sectionStart: number }).sectionStart;
    let hold = Math.min(end, section);
    // Inside script or style, the code filter holds an unfinished line: nothing after it may go out before it.
    if (this.#code) hold = Math.min(hold, this.#rawStart);
    if (this.#valueStart >= 0) hold = Math.min(hold, this.#valueStart);
    if (this.#textCandidate) hold = Math.min(hold, this.#textStart);
    if (end - hold > this.#ctx.limit) {
      this.#ctx.report(
        'value-over-limit',
        `an HTML value of more than ${this.#ctx.limit} bytes passes unchanged`,
      );
      if (this.#valueStart >= 0) this.#valueAbandoned = true;
      this.#valueStart = -1;
      this.#textCandidate = false;
      hold = end;
    }
    this.#emitTo(hold);
  }

  /** The value a rule made of `value` (a byte string), or undefined. */
  #rewrite(value: string): string | undefined {
    if (value === '') return undefined;
    const rule = ruleForValue(this.#applies, value);
    if (rule === undefined && !this.#ctx.bestMatchMayApply(value)) return undefined;
    return rewriteBodyValue(value, rule, this.#ctx);
  }

  // Text ------------------------------------------------------------------------------------------------------

  ontext(start: number, endIndex: number): void {
    if (this.#code) {
      const from = Math.max(start, this.#rawStart);
      this.#emitTo(from);
      this.#out.push(this.#code.write(this.#slice(from, endIndex)));
      this.#raw = this.#raw.slice(endIndex - this.#rawStart);
      this.#rawStart = endIndex;
      return;
    }
    if (this.#textStart < 0) {
      this.#textStart = start;
      this.#textCandidate = start >= this.#rawStart;
      this.#textWord = false;
      this.#textGap = false;
    }
    this.#textEnd = endIndex;
    if (!this.#textCandidate) return;
    if (endIndex - this.#textStart > MAX_TEXT_VALUE) {
      this.#textCandidate = false;
      return;
    }
    const raw = this.#raw;
    for (let i = start - this.#rawStart, n = endIndex - this.#rawStart; i < n; i++) {
      if (isSpace(raw.charCodeAt(i))) {
        if (this.#textWord) this.#textGap = true;
      } else if (this.#textGap) {
        this.#textCandidate = false; // two words: not a URL
        return;
      } else {
        this.#textWord = true;
      }
    }
  }

  /** A text run ends (at a tag or the end): rewrite it if it is one word. */
  #endText(): void {
    if (this.#textStart < 0) return;
    const start = this.#textStart;
    const end = this.#textEnd;
    const candidate = this.#textCandidate && this.#textWord && start >= this.#rawStart;
    this.#textStart = -1;
    this.#textCandidate = false;
    if (!candidate) return;
    const text = this.#slice(start, end);
    let lead = 0;
    while (isSpace(text.charCodeAt(lead))) lead++;
    let trail = text.length;
    while (isSpace(text.charCodeAt(trail - 1))) trail--;
    const out = this.#rewrite(text.slice(lead, trail));
    if (out !== undefined) this.#replace(start + lead, start + trail, out);
  }

  ontextentity(): void {}

  // Tags ------------------------------------------------------------------------------------------------------

  onopentagname(start: number, endIndex: number): void {
    this.#endText();
    this.#tagName = start >= this.#rawStart ? this.#slice(start, endIndex).toLowerCase() : '';
  }

  onattribname(): void {
    this.#valueStart = -1;
    this.#valueAbandoned = false;
  }

  onattribdata(start: number, endIndex: number): void {
    if (this.#valueAbandoned) return;
    if (this.#valueStart < 0) this.#valueStart = start;
    this.#valueEnd = endIndex;
  }

  onattribentity(): void {}

  onattribend(quote: QuoteType): void {
    const start = this.#valueStart;
    this.#valueStart = -1;
    this.#valueAbandoned = false;
    if (start < 0 || start < this.#rawStart || quote === QuoteType.NoValue) return;
    const end = this.#valueEnd;
    let out = this.#rewrite(this.#slice(start, end));
    if (out === undefined) return;
    if (quote === QuoteType.Double) out = out.replaceAll('"', '&quot;');
    else if (quote === QuoteType.Single) out = out.replaceAll("'", '&#39;');
    else if (/[\s"'=<>`]/.test(out)) out = `"${out.replaceAll('"', '&quot;')}"`;
    this.#replace(start, end, out);
  }

  onopentagend(): void {
    this.#startCode();
  }

  onselfclosingtag(): void {
    this.#tagName = '';
  }

  /** `<script>`/`<style>` open: their text goes through the applies (when there are any). */
  #startCode(): void {
    const name = this.#tagName;
    this.#tagName = '';
    if ((name === 'script' || name === 'style') && this.#applies.length > 0) {
      this.#code = new RegexTextRewriter(this.#applies, this.#ctx);
      this.#codeTag = name;
    }
  }

  onclosetag(start: number, endIndex: number): void {
    this.#endText();
    if (this.#code) {
      const name = start >= this.#rawStart ? this.#slice(start, endIndex).toLowerCase() : this.#codeTag;
      if (name === this.#codeTag) {
        this.#out.push(this.#code.end());
        this.#code = undefined;
      }
    }
  }

  oncomment(): void {
    this.#endText();
  }

  oncdata(): void {
    this.#endText();
  }

  ondeclaration(): void {
    this.#endText();
  }

  onprocessinginstruction(): void {
    this.#endText();
  }

  onend(): void {}

  isInForeignContext(): boolean {
    return false;
  }
}
