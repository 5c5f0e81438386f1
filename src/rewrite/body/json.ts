/**
 * @module rewrite/body/json
 * Knox's JSON filter (`JsonFilterReader` + `JsonUrlRewriteFilterReader`), streaming, on @streamparser/json's
 * tokenizer (which reports each token's byte offset):
 * - a string value goes to the rule of the first `<apply path>` whose JSONPath selects it, or else to best match
 *   (keys, numbers, booleans and null are never touched);
 * - a `<buffer path>` holds each object or array it selects whole (within the limit), then runs its applies, and
 *   the applies of each `<detect>` whose path selects a value matching its regular expression, on that value
 *   alone (paths inside a buffer start at the buffered value: `$.trackingUrl`); other values in it stay as they are.
 *
 * The output is the input byte for byte except the strings a rule rewrote (and a buffered value a rule changed,
 * which is written again by `JSON.stringify`). The token sequence is checked against JSON's grammar, so a body
 * that is not one JSON document fails and is passed through by the driver.
 */
import { Tokenizer, TokenType } from '@streamparser/json';
import type { FilterBuffer } from '../model.ts';
import { type JsonPathStep, matchesPath, type PathKey, parseJsonPath, selectStrings } from './json-path.ts';
import { compileRegexApply, type RegexApply } from './regex.ts';
import { type BodyContext, BodyLimitError, BodyParseError, type TextRewriter } from './values.ts';

export interface JsonApply {
  steps: JsonPathStep[];
  rule: string;
}

export interface JsonBuffer {
  steps: JsonPathStep[];
  applies: JsonApply[];
  detects: { steps: JsonPathStep[]; value: RegexApply; applies: JsonApply[] }[];
}

export interface JsonContent {
  applies: JsonApply[];
  buffers: JsonBuffer[];
}

/** Compiles a JSON content's paths; throws JsonPathError or RegexApplyError (with the path in the message). */
export function compileJsonContent(
  applies: readonly { path: string; rule: string }[],
  buffers: readonly FilterBuffer[],
): JsonContent {
  const apply = (a: { path: string; rule: string }): JsonApply => ({
    steps: parseJsonPath(a.path),
    rule: a.rule,
  });
  return {
    applies: applies.map(apply),
    buffers: buffers.map((b) => ({
      steps: parseJsonPath(b.path),
      applies: b.applies.map(apply),
      detects: b.detects.map((d) => ({
        steps: parseJsonPath(d.path),
        value: compileRegexApply({ path: d.value, rule: '' }),
        applies: d.applies.map(apply),
      })),
    })),
  };
}

type State = 'value' | 'value-or-end' | 'key' | 'key-or-end' | 'colon' | 'comma-or-end' | 'done';

interface Frame {
  array: boolean;
  /** The member name (object) or index (array) of the value being read in this container. */
  key: PathKey;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Deeper nesting than this is not a document a service writes: the body passes unchanged (memory stays bounded). */
export const MAX_DEPTH = 4096;

export class JsonRewriter implements TextRewriter {
  readonly #content: JsonContent;
  readonly #ctx: BodyContext;
  readonly #tokenizer: Tokenizer;
  #raw = '';
  #rawStart = 0;
  #out: string[] = [];
  #state: State = 'value';
  readonly #stack: Frame[] = [];
  /** Offset of the last token seen: everything before it is complete. */
  #safe = 0;
  /** The value being buffered: where it starts and at which depth it ends; `overflow` once it outgrew the limit. */
  #buffer: { config: JsonBuffer; start: number; depth: number; overflow: boolean } | undefined;

  constructor(content: JsonContent, ctx: BodyContext) {
    this.#content = content;
    this.#ctx = ctx;
    this.#tokenizer = new Tokenizer({ stringBufferSize: 64 * 1024, numberBufferSize: 64 });
    // Through variables (test/source-closures.test.ts): an arrow assigned straight to a property is allocated in
    // V8's old generation, and these would keep the response's rewrite alive there until the next mark-compact.
    const onToken: Tokenizer['onToken'] = ({ token, value, offset }) => this.#token(token, value, offset);
    const onError = (err: Error) => {
      throw new BodyParseError(`not JSON: ${err.message}`, { cause: err });
    };
    this.#tokenizer.onToken = onToken;
    this.#tokenizer.onError = onError;
  }

  write(text: string, bytes: Buffer): string {
    this.#raw += text;
    this.#tokenizer.write(bytes);
    this.#release();
    return this.#take();
  }

  end(): string {
    this.#tokenizer.end();
    if (this.#state !== 'done') throw new BodyParseError('not JSON: the document is incomplete');
    this.#emitTo(this.#rawStart + this.#raw.length);
    return this.#take();
  }

  unsent(): string {
    return this.#take() + this.#raw;
  }

  #take(): string {
    const out = this.#out.length === 1 ? this.#out[0] : this.#out.join('');
    this.#out = [];
    return out;
  }

  #emitTo(pos: number): void {
    const n = pos - this.#rawStart;
    if (n <= 0) return;
    this.#out.push(this.#raw.slice(0, n));
    this.#raw = this.#raw.slice(n);
    this.#rawStart = pos;
  }

  #release(): void {
    const end = this.#rawStart + this.#raw.length;
    const b = this.#buffer;
    let hold = this.#safe;
    if (b && !b.overflow) {
      if (end - b.start > this.#ctx.limit) {
        b.overflow = true;
        this.#ctx.report(
          'buffer-over-limit',
          `a JSON value buffered for its filter is larger than ${this.#ctx.limit} bytes; its values pass unchanged`,
        );
      } else {
        hold = Math.min(hold, b.start);
      }
    }
    if (end - hold > this.#ctx.limit) {
      throw new BodyLimitError(`a JSON token is larger than ${this.#ctx.limit} bytes`);
    }
    this.#emitTo(hold);
  }

  #unexpected(token: TokenType, offset: number): never {
    throw new BodyParseError(`not JSON: unexpected ${TokenType[token]} at byte ${offset}`);
  }

  #token(token: TokenType, value: unknown, offset: number): void {
    this.#safe = offset;
    switch (this.#state) {
      case 'value':
      case 'value-or-end':
        if (token === TokenType.RIGHT_BRACKET && this.#state === 'value-or-end') {
          this.#close(offset);
          return;
        }
        this.#value(token, value, offset);
        return;
      case 'key':
      case 'key-or-end':
        if (token === TokenType.STRING) {
          this.#stack[this.#stack.length - 1].key = value as string;
          this.#state = 'colon';
        } else if (token === TokenType.RIGHT_BRACE && this.#state === 'key-or-end') {
          this.#close(offset);
        } else {
          this.#unexpected(token, offset);
        }
        return;
      case 'colon':
        if (token !== TokenType.COLON) this.#unexpected(token, offset);
        this.#state = 'value';
        return;
      case 'comma-or-end': {
        const top = this.#stack[this.#stack.length - 1];
        if (token === TokenType.COMMA) {
          if (top.array) {
            top.key = (top.key as number) + 1;
            this.#state = 'value';
          } else {
            this.#state = 'key';
          }
        } else if (token === (top.array ? TokenType.RIGHT_BRACKET : TokenType.RIGHT_BRACE)) {
          this.#close(offset);
        } else {
          this.#unexpected(token, offset);
        }
        return;
      }
      default:
        this.#unexpected(token, offset);
    }
  }

  /** The path of the value about to be read: the keys of every open container. */
  #path(): PathKey[] {
    return this.#stack.map((f) => f.key);
  }

  #value(token: TokenType, value: unknown, offset: number): void {
    switch (token) {
      case TokenType.LEFT_BRACE:
      case TokenType.LEFT_BRACKET: {
        const array = token === TokenType.LEFT_BRACKET;
        if (this.#stack.length >= MAX_DEPTH)
          throw new BodyLimitError(`JSON nested deeper than ${MAX_DEPTH} levels`);
        if (!this.#buffer && this.#content.buffers.length > 0) {
          const path = this.#path();
          const config = this.#content.buffers.find((b) => matchesPath(b.steps, path));
          if (config) this.#buffer = { config, start: offset, depth: this.#stack.length, overflow: false };
        }
        this.#stack.push({ array, key: array ? 0 : '' });
        this.#state = array ? 'value-or-end' : 'key-or-end';
        return;
      }
      case TokenType.STRING:
        if (!this.#buffer && this.#stack.length > 0) this.#string(value as string, offset);
        this.#afterValue();
        return;
      case TokenType.NUMBER:
      case TokenType.TRUE:
      case TokenType.FALSE:
      case TokenType.NULL:
        this.#afterValue();
        return;
      default:
        this.#unexpected(token, offset);
    }
  }

  #afterValue(): void {
    this.#state = this.#stack.length === 0 ? 'done' : 'comma-or-end';
  }

  #close(offset: number): void {
    this.#stack.pop();
    const b = this.#buffer;
    if (b && this.#stack.length === b.depth) {
      this.#buffer = undefined;
      if (!b.overflow) this.#flushBuffer(b.config, b.start, offset + 1);
    }
    this.#afterValue();
  }

  /** A string value: its rule (first apply selecting its path, else best match), and its bytes replaced. */
  #string(value: string, offset: number): void {
    const path = this.#path();
    let rule: string | undefined;
    for (const a of this.#content.applies) {
      if (matchesPath(a.steps, path)) {
        rule = a.rule;
        break;
      }
    }
    if (value === '' || (rule === undefined && !this.#ctx.bestMatchMayApply(value))) return;
    const out = this.#ctx.rewrite(value, rule);
    if (out === undefined || out === value) return;
    const end = this.#stringEnd(offset);
    this.#emitTo(offset);
    this.#out.push(Buffer.from(JSON.stringify(out), 'utf8').toString('latin1'));
    this.#raw = this.#raw.slice(end - this.#rawStart);
    this.#rawStart = end;
    this.#safe = end;
  }

  /** The offset just after the closing quote of the string starting at `offset`. */
  #stringEnd(offset: number): number {
    const raw = this.#raw;
    let i = offset - this.#rawStart + 1;
    for (;;) {
      const q = raw.indexOf('"', i);
      if (q < 0) throw new BodyParseError('not JSON: unterminated string');
      let backslashes = 0;
      for (let j = q - 1; j >= 0 && raw.charCodeAt(j) === 0x5c; j--) backslashes++;
      if (backslashes % 2 === 0) return this.#rawStart + q + 1;
      i = q + 1;
    }
  }

  /** A buffered object or array is complete: run the buffer's applies and detects on it. */
  #flushBuffer(config: JsonBuffer, start: number, end: number): void {
    const text = this.#raw.slice(start - this.#rawStart, end - this.#rawStart);
    let doc: unknown;
    try {
      doc = JSON.parse(utf8.decode(Buffer.from(text, 'latin1')));
    } catch (err) {
      throw new BodyParseError(`not JSON: ${(err as Error).message}`, { cause: err });
    }
    let changed = false;
    const run = (applies: readonly JsonApply[]) => {
      for (const a of applies) {
        selectStrings(doc, a.steps, (v) => {
          if (v === '') return v;
          const out = this.#ctx.rewrite(v, a.rule);
          if (out === undefined || out === v) return v;
          changed = true;
          return out;
        });
      }
    };
    run(config.applies);
    for (const d of config.detects) {
      let hit = false;
      selectStrings(doc, d.steps, (v) => {
        if (d.value.whole.test(v)) hit = true;
        return v;
      });
      if (hit) run(d.applies);
    }
    if (!changed) return;
    this.#emitTo(start);
    this.#out.push(Buffer.from(JSON.stringify(doc), 'utf8').toString('latin1'));
    this.#raw = this.#raw.slice(end - this.#rawStart);
    this.#rawStart = end;
    this.#safe = end;
  }
}
