/**
 * @module dispatch/body-rewrite
 * The dispatch's side of body rewriting (rewrite/body does the rewriting): a response body flows from undici
 * through the rewrite streams to the client with backpressure both ways; a request body flows from the client
 * through them to undici.
 *
 * Response headers wait until the first {@link OUTPUT_WINDOW} bytes of rewritten body are ready (or, while the
 * backend is still sending, a short {@link COMMIT_DELAY}, for a backend that sends slowly): a body that ends
 * within it gets an exact Content-Length; a longer one goes out chunked. A body whose Content-Encoding turns out not to decode is sent as
 * the backend sent it when nothing was sent yet (then the connection is cut otherwise): never an error page.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { type BodyStreams, InflateLimitError } from '../rewrite/body/stream.ts';
import type { Exchange, HeaderMap } from '../spi/index.ts';

/** Rewritten output held before the headers go, so a small body gets its Content-Length. */
export const OUTPUT_WINDOW = 64 * 1024;
/** The longest the headers wait for that window (ms). */
export const COMMIT_DELAY = 50;
/** Original bytes kept to fall back on before anything is sent; beyond it there is no fallback. */
const ORIGINAL_CAP = 1024 * 1024;

/** Headers that describe the backend's bytes and are wrong for the rewritten ones. */
const BODY_HEADERS = ['content-length', 'content-md5'];

export class ResponseBodyRewrite {
  readonly #res: ServerResponse;
  readonly #status: number;
  readonly #message: string | undefined;
  readonly #headers: HeaderMap;
  readonly #original: HeaderMap;
  readonly #streams: BodyStreams;
  readonly #ex: Exchange;
  readonly #done: () => void;
  #controller: Dispatcher.DispatchController | undefined;
  #paused = false;
  #committed = false;
  #direct = false;
  #backendEnded = false;
  #finished = false;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #originals: Buffer[] | undefined = [];
  #originalBytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(init: {
    ex: Exchange;
    status: number;
    message: string | undefined;
    headers: HeaderMap;
    streams: BodyStreams;
    done: () => void;
  }) {
    this.#ex = init.ex;
    this.#res = init.ex.res;
    this.#status = init.status;
    this.#message = init.message || undefined;
    this.#original = init.headers;
    this.#headers = { ...init.headers };
    // A pipeline that only looks (the leak guard's report mode) sends the backend's bytes: its headers stay true.
    const unchanged = init.streams.unchanged === true;
    if (!unchanged) {
      for (const h of BODY_HEADERS) delete this.#headers[h];
      // A strong validator promises these exact bytes, which a rewrite changes: it becomes weak (RFC 9110 §8.8.1),
      // still good for revalidation, as nginx does for the bodies it compresses.
      const etag = this.#headers.etag;
      if (typeof etag === 'string' && !etag.startsWith('W/')) this.#headers.etag = `W/${etag}`;
    }
    this.#streams = init.streams;
    this.#done = init.done;
    const out = init.streams.output;
    out.on('data', (c: Buffer) => this.#output(c, out));
    out.once('end', () => this.#outputEnd());
    init.streams.onError((err) => this.#failed(err));
    // The client may go away after the backend is done, while rewritten output still waits for it to drain.
    this.#res.once('close', () => {
      if (this.#finished) return;
      this.abort();
      this.#done();
    });
    if (unchanged) this.#commit();
  }

  /** A chunk of the backend's body. */
  write(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#controller = controller;
    if (this.#finished) return;
    if (this.#direct) {
      if (!this.#res.write(chunk)) this.#pauseUntil(this.#res);
      return;
    }
    if (!this.#committed && this.#originals) {
      this.#originals.push(chunk);
      this.#originalBytes += chunk.length;
      if (this.#originalBytes > ORIGINAL_CAP) this.#originals = undefined;
    }
    if (!this.#streams.input.write(chunk)) this.#pauseUntil(this.#streams.input);
  }

  /** The backend's body is complete. */
  end(): void {
    this.#backendEnded = true;
    if (this.#direct) this.#finish(() => this.#res.end());
    else {
      // The whole body is here: what is left is the rewrite's own work, bounded by the body and the inflate
      // limits, so the headers wait for its end (or the window) however long a loaded machine takes, rather than
      // go out chunked after COMMIT_DELAY, which is only for a backend that sends slowly.
      if (!this.#committed) this.#clearTimer();
      this.#streams.input.end();
    }
  }

  /** The exchange is over early (client gone, backend failed): drop the streams. */
  abort(): void {
    this.#clearTimer();
    this.#finished = true;
    this.#streams.destroy();
  }

  #pauseUntil(stream: NodeJS.EventEmitter): void {
    const controller = this.#controller;
    if (!controller || this.#paused) return;
    this.#paused = true;
    controller.pause();
    stream.once('drain', () => this.#resume());
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#controller?.resume();
  }

  #output(chunk: Buffer, out: Readable): void {
    if (this.#finished) return;
    if (this.#committed) {
      if (!this.#res.write(chunk)) {
        out.pause();
        this.#res.once('drain', () => out.resume());
      }
      return;
    }
    this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#heldBytes >= OUTPUT_WINDOW) this.#commit();
    else if (this.#timer === undefined && !this.#backendEnded) {
      this.#timer = setTimeout(() => this.#commit(), COMMIT_DELAY);
      this.#timer.unref();
    }
  }

  /** Headers without Content-Length, then what was held: the rest of the body streams. */
  #commit(): void {
    if (this.#committed || this.#finished) return;
    this.#clearTimer();
    this.#committed = true;
    this.#originals = undefined;
    this.#writeHead(this.#headers);
    for (const c of this.#held) this.#res.write(c);
    this.#held = [];
  }

  #outputEnd(): void {
    if (this.#finished) return;
    this.#clearTimer();
    if (this.#committed) {
      this.#finish(() => this.#res.end());
      return;
    }
    this.#committed = true;
    this.#headers['content-length'] = String(this.#heldBytes);
    this.#writeHead(this.#headers);
    const body = this.#held.length === 1 ? this.#held[0] : Buffer.concat(this.#held);
    this.#held = [];
    this.#finish(() => this.#res.end(body));
  }

  /** Decoding (or encoding) failed: the body as the backend sent it, if nothing went out yet. */
  #failed(err: Error): void {
    if (this.#finished) return;
    this.#clearTimer();
    const log = this.#ex.log;
    // A body over postern.rewrite.body.inflate.* is no fault of its encoding: say which limit it passed.
    const why =
      err instanceof InflateLimitError
        ? 'response body inflates past postern.rewrite.body.inflate.maxBytes/maxRatio'
        : 'response body does not decode as its Content-Encoding says';
    if (!this.#committed && this.#originals) {
      log.warn({ err: { message: err.message } }, `${why}; sent unchanged`);
      this.#committed = true;
      this.#direct = true;
      this.#writeHead(this.#original);
      for (const c of this.#originals) this.#res.write(c);
      this.#originals = undefined;
      this.#held = [];
      this.#resume();
      if (this.#backendEnded) this.#finish(() => this.#res.end());
      return;
    }
    log.warn(
      { err: { message: err.message } },
      err instanceof InflateLimitError
        ? `${why}, after part of it was sent; connection cut`
        : 'response body rewrite failed after part of it was sent; connection cut',
    );
    this.#finished = true;
    this.#res.destroy(err);
    this.#streams.destroy();
    const controller = this.#controller;
    if (controller && !controller.aborted) controller.abort(err);
    this.#done();
  }

  #writeHead(headers: HeaderMap): void {
    this.#res.writeHead(this.#status, this.#message, headers as Record<string, string | string[]>);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #finish(last: () => void): void {
    if (this.#finished) return;
    this.#finished = true;
    last();
    this.#done();
  }
}

/**
 * The request body to send to the backend: the client's own, or the same through the route's `request.body`
 * rewrite (then `Content-Length` is removed from `headers` and the body goes chunked). A body with a
 * Content-Encoding is sent as it is, as in Knox (KNOX-1412).
 */
export function requestBodyFor(ex: Exchange, body: Readable, headers: Record<string, string>): Readable {
  const rewrite = ex.requestBody;
  if (!rewrite) return body;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return body;
  const streams = rewrite.open(headers);
  if (!streams) return body;
  delete headers['content-length'];
  body.pipe(streams.input);
  // The body's own failure (a client that stalled, or went away) is what undici must see, not a short body.
  body.once('error', (err) => {
    streams.destroy();
    streams.output.destroy(err);
  });
  streams.onError((err) => streams.output.destroy(err));
  return streams.output;
}
