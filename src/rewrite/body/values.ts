/**
 * @module rewrite/body/values
 * What every body filter shares: the {@link TextRewriter} contract the streaming driver runs, how a value found
 * in a body reaches a rule, and the errors that make the driver pass the rest of a body through unchanged.
 *
 * Bodies travel as byte strings (latin1: one UTF-16 unit per byte, see rewrite/body/media-type). A value handed
 * to a rule is decoded first when it is valid UTF-8 and the body is (or may be) UTF-8, so a rule sees `/café`
 * rather than `/cafÃ©`, and what the rule returns is encoded back the same way.
 */
import { isUtf8 } from './media-type.ts';

/**
 * Rewrites one value with a rule: `rule` names it, `undefined` asks for Knox's best match among the rules of the
 * direction and scope. Returns the new value, or `undefined` when no rule applied (the value stays as it is).
 */
export type RewriteValue = (value: string, rule: string | undefined) => string | undefined;

/** What a filter needs besides its configuration, fixed for one body. */
export interface BodyContext {
  /** Rewrites a value (already decoded to a real string where possible). */
  rewrite: RewriteValue;
  /**
   * Whether best match could pick a rule for this value at all (a cheap test on its shape). Values it rejects
   * are left alone without parsing them as URLs.
   */
  bestMatchMayApply: (value: string) => boolean;
  /** The largest piece of a body a filter may hold at once (a tag, a JSON token, a buffered element), in bytes. */
  limit: number;
  /** Says once per route that something was not rewritten (`what` is the kind of problem). */
  report: (what: string, detail: string) => void;
  /** The body's declared charset (lower case), if any. */
  charset: string | undefined;
}

/**
 * A streaming rewriter of one body. `write` and `end` return the output that is ready; what a filter still
 * needs to see more of (the rest of a tag, a token, a line) it holds back, within {@link BodyContext.limit}.
 * After `write` or `end` threw, {@link unsent} gives the input that no returned output stands for, so the
 * driver can send it as it came and pass the rest of the body through.
 */
export interface TextRewriter {
  write(text: string, bytes: Buffer): string;
  end(): string;
  unsent(): string;
}

/** The body is not what its Content-Type says (the filter cannot parse it). */
export class BodyParseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BodyParseError';
  }
}

/** One piece of the body that must be held whole is larger than the limit. */
export class BodyLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BodyLimitError';
  }
}

/** Any character outside ASCII. */
const NON_ASCII = /[^\x00-\x7f]/;
/** Only characters a byte string can hold. */
const BYTES = /^[\u0000-\u00ff]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Runs a rule on a value found in a body (a byte string) and returns the new byte string, or `undefined` when
 * nothing changed.
 */
export function rewriteBodyValue(
  value: string,
  rule: string | undefined,
  ctx: Pick<BodyContext, 'rewrite' | 'charset'>,
): string | undefined {
  if (!NON_ASCII.test(value)) {
    const out = ctx.rewrite(value, rule);
    return out === undefined || out === value ? undefined : toBytes(out, ctx.charset);
  }
  // Decode as UTF-8 when that is what the bytes are; otherwise the rule sees the latin1 view, and any character
  // it copies through comes back as the same byte.
  let decoded: string | undefined;
  if (ctx.charset === undefined || isUtf8(ctx.charset)) {
    try {
      decoded = utf8.decode(Buffer.from(value, 'latin1'));
    } catch {
      decoded = undefined;
    }
  }
  if (decoded === undefined) {
    const out = ctx.rewrite(value, rule);
    if (out === undefined || out === value) return undefined;
    // The rule saw the latin1 view: what it copied through is already the right bytes.
    return BYTES.test(out) ? out : Buffer.from(out, 'utf8').toString('latin1');
  }
  const out = ctx.rewrite(decoded, rule);
  if (out === undefined || out === decoded) return undefined;
  return Buffer.from(out, 'utf8').toString('latin1');
}

/** A rule's output as a byte string: ASCII stays, anything else is written as UTF-8 unless the body is not. */
function toBytes(text: string, charset: string | undefined): string {
  if (!NON_ASCII.test(text)) return text;
  if (charset === undefined || isUtf8(charset)) return Buffer.from(text, 'utf8').toString('latin1');
  // A single-byte charset: characters up to U+00FF keep their latin1 byte; anything beyond cannot be written.
  return BYTES.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

/** Whether a string is only ASCII whitespace (space, tab, CR, LF, FF). */
export function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c) return false;
  }
  return true;
}
