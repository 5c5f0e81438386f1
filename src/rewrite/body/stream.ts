/**
 * @module rewrite/body/stream
 * The streaming driver of body rewriting: decode the Content-Encoding, run a {@link TextRewriter} over the
 * bytes as they arrive, encode again. Memory is bounded by the filter's limit and a small window, never by the
 * size of the body.
 *
 * A body a filter cannot parse (or one that holds a single piece larger than the limit) is never an error for
 * the client: if it fails within the first {@link RewriteTransform window} bytes, the body so far goes out
 * exactly as it came (nothing rewritten was sent yet); later, what was rewritten stays and the rest goes out as
 * it came. Either way it is reported once per route.
 */
import { pipeline, type Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import zlib from 'node:zlib';
import { BodyLimitError, BodyParseError, type TextRewriter } from './values.ts';

/** Input held back before the first rewritten byte goes out: a body failing within it passes whole. */
export const FALLBACK_WINDOW = 64 * 1024;
/**
 * A backend that pauses longer than this (ms) gets what was rewritten so far sent on, window or not (and the
 * encoder flushed): a page streamed slowly reaches the browser as it comes.
 */
export const IDLE_FLUSH = 50;

export interface DriverOptions {
  /** See {@link FALLBACK_WINDOW}. */
  window?: number;
  report: (what: string, detail: string) => void;
  /** Limits on decoding a compressed body (see {@link InflateLimit}); absent: none. */
  inflate?: InflateLimits;
}

/** `postern.rewrite.body.inflate.maxBytes` / `.maxRatio`; 0 turns one off. */
export interface InflateLimits {
  maxBytes: number;
  maxRatio: number;
}

/**
 * Decoded bytes below which the ratio is not checked (a small, very compressible body is no threat): the
 * {@link FALLBACK_WINDOW}, so that a bomb is caught while nothing rewritten has gone out yet and the body can
 * still pass exactly as the backend sent it.
 */
export const RATIO_FLOOR = FALLBACK_WINDOW;

/** A body that decodes to more than the inflate limits allow (a decompression bomb, or just too big). */
export class InflateLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InflateLimitError';
  }
}

/**
 * Counts what a decoder produces against what it consumed, and fails the pipeline (which stops the decoder)
 * as soon as either limit is passed: the work a compressed body can cause is bounded by the limits, not by what
 * the body inflates to (204 kB of gzip can inflate to 200 MB).
 */
class InflateLimit extends Transform {
  readonly #decoder: zlib.Zlib;
  readonly #limits: InflateLimits;
  #decoded = 0;

  constructor(decoder: zlib.Zlib, limits: InflateLimits) {
    super();
    this.#decoder = decoder;
    this.#limits = limits;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#decoded += chunk.length;
    const { maxBytes, maxRatio } = this.#limits;
    if (maxBytes > 0 && this.#decoded > maxBytes) {
      callback(new InflateLimitError(`the body inflates past ${maxBytes} bytes`));
    } else if (
      maxRatio > 0 &&
      this.#decoded > RATIO_FLOOR &&
      this.#decoded > maxRatio * this.#decoder.bytesWritten
    ) {
      callback(new InflateLimitError(`the body inflates more than ${maxRatio} times its encoded size`));
    } else callback(null, chunk);
  }
}

/** Runs a {@link TextRewriter} on a (decoded) byte stream; never emits an error of its own. */
export class RewriteTransform extends Transform {
  #rewriter: TextRewriter | undefined;
  readonly #window: number;
  readonly #report: DriverOptions['report'];
  /** Input and output while within the window; `undefined` once output went out. */
  #held: Buffer[] | undefined = [];
  #heldBytes = 0;
  #heldOut: string[] = [];
  /** Fires when input stops for {@link IDLE_FLUSH} ms; re-armed by every chunk. */
  #idle: NodeJS.Timeout | undefined;

  constructor(rewriter: TextRewriter, options: DriverOptions) {
    super();
    this.#rewriter = rewriter;
    this.#window = options.window ?? FALLBACK_WINDOW;
    this.#report = options.report;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#idle) this.#idle.refresh();
    else {
      this.#idle = setTimeout(() => this.#onIdle(), IDLE_FLUSH);
      this.#idle.unref();
    }
    const rewriter = this.#rewriter;
    if (rewriter === undefined) {
      callback(null, chunk);
      return;
    }
    if (this.#held) {
      this.#held.push(chunk);
      this.#heldBytes += chunk.length;
    }
    let out: string;
    try {
      out = rewriter.write(chunk.toString('latin1'), chunk);
    } catch (err) {
      this.#fail(err as Error);
      callback();
      return;
    }
    if (this.#held) {
      if (out !== '') this.#heldOut.push(out);
      if (this.#heldBytes >= this.#window) this.#commit('');
    } else if (out !== '') {
      this.push(Buffer.from(out, 'latin1'));
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    clearTimeout(this.#idle);
    const rewriter = this.#rewriter;
    if (rewriter !== undefined) {
      let out: string;
      try {
        out = rewriter.end();
      } catch (err) {
        this.#fail(err as Error);
        callback();
        return;
      }
      if (this.#held) this.#commit(out);
      else if (out !== '') this.push(Buffer.from(out, 'latin1'));
    }
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#idle);
    callback(err);
  }

  /** The backend paused: what was rewritten so far goes on now (the fallback window closes early). */
  #onIdle(): void {
    if (this.destroyed || this.writableFinished) return;
    if (this.#held && this.#heldOut.length > 0) this.#commit('');
    this.emit('idle');
  }

  #commit(last: string): void {
    const out = this.#heldOut.join('') + last;
    this.#held = undefined;
    this.#heldOut = [];
    if (out !== '') this.push(Buffer.from(out, 'latin1'));
  }

  /** The filter gave up: send what stands for the input so far, unchanged where nothing went out yet. */
  #fail(err: Error): void {
    const rewriter = this.#rewriter!;
    this.#rewriter = undefined;
    const what =
      err instanceof BodyParseError ? 'unparsable' : err instanceof BodyLimitError ? 'over-limit' : 'failed';
    this.#report(what, err.message);
    if (this.#held) {
      const whole = Buffer.concat(this.#held);
      this.#held = undefined;
      this.#heldOut = [];
      if (whole.length > 0) this.push(whole);
    } else {
      const rest = rewriter.unsent();
      if (rest !== '') this.push(Buffer.from(rest, 'latin1'));
    }
  }
}

export type Coding = 'identity' | 'gzip' | 'deflate' | 'br';

/** The single content coding of a `Content-Encoding` value postern can undo and redo; `undefined` otherwise. */
export function parseCoding(value: string | string[] | undefined): Coding | undefined {
  if (value === undefined) return 'identity';
  const v = (Array.isArray(value) ? value.join(',') : value).trim().toLowerCase();
  if (v === '' || v === 'identity') return 'identity';
  if (v === 'gzip' || v === 'x-gzip') return 'gzip';
  if (v === 'deflate' || v === 'br') return v;
  return undefined;
}

function decoder(coding: Coding): Transform | undefined {
  switch (coding) {
    case 'gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

function encoder(coding: Coding): Transform | undefined {
  switch (coding) {
    case 'gzip':
      return zlib.createGzip();
    case 'deflate':
      return zlib.createDeflate();
    case 'br':
      // Brotli's default quality (11) is meant for static files; 4 streams at gzip speed and still compresses better.
      return zlib.createBrotliCompress({
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: 4,
          [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        },
      });
    default:
      return undefined;
  }
}

/** The ends of a body-rewriting pipeline: write the original body in, read the rewritten body out. */
export interface BodyStreams {
  readonly input: Writable;
  readonly output: Readable;
  /** Called once if decoding or encoding fails (a body that is not what its Content-Encoding says). */
  onError(listener: (err: Error) => void): void;
  /** Tears the pipeline down (the client or the backend went away). */
  destroy(): void;
  /** The output is the input byte for byte (a scan only): see the contract's BodyStreams. */
  readonly unchanged?: boolean;
}

/** Builds decode → rewrite → encode for a body in `coding`. */
export function openBodyStreams(rewriter: TextRewriter, coding: Coding, options: DriverOptions): BodyStreams {
  const middle = new RewriteTransform(rewriter, options);
  const decode = decoder(coding);
  const limit =
    decode && options.inflate
      ? new InflateLimit(decode as Transform & zlib.Zlib, options.inflate)
      : undefined;
  const chain = [decode, limit, middle, encoder(coding)].filter((s): s is Transform => s !== undefined);
  let listener: ((err: Error) => void) | undefined;
  let failure: Error | undefined;
  const fail = (err: Error) => {
    if (failure) return;
    failure = err;
    listener?.(err);
  };
  if (chain.length > 1) {
    // The last stream's readable side is the output, read by the caller; pipeline only joins the others to it.
    pipeline(chain, (err) => {
      if (err) fail(err);
    });
    const last = chain[chain.length - 1];
    // An encoder keeps a partial block until it fills: when the backend pauses, send what there is.
    if (last !== middle) middle.on('idle', () => (last as zlib.Zlib & Transform).flush());
  } else {
    middle.on('error', fail);
  }
  return {
    input: chain[0],
    output: chain[chain.length - 1],
    onError(l) {
      listener = l;
      if (failure) l(failure);
    },
    destroy() {
      for (const s of chain) s.destroy();
    },
  };
}
