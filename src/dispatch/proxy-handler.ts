/**
 * @module dispatch/proxy-handler
 * One backend exchange as undici's dispatch handler: the backend's response streams to the client with
 * backpressure both ways, its headers filtered and rewritten once, its body through the rewrite provider's
 * streams when they want it (dispatch/body-rewrite). A state machine in undici's handler discipline: the response
 * starts once, data comes only after the start, and exactly one of end or error finishes the exchange.
 *
 * A class rather than a literal of closures: one object per request, its methods shared.
 */
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { ClientGoneError, Errors, GatewayError, isClientGone } from '../errors.ts';
import { scopeSetCookiePath } from '../rewrite/index.ts';
import type { Exchange, HeaderMap } from '../spi/index.ts';
import { ResponseBodyRewrite } from './body-rewrite.ts';
import { filterResponseHeaders, filterTrailers, type HeaderPolicy } from './headers.ts';
import { RequestBodyTimeoutError, requestTimeout } from './request-body.ts';
import type { ResponseHook } from './spnego.ts';

/** What a route's dispatch fixes at deployment and every exchange of it shares. */
export interface DispatchSettings {
  policy: HeaderPolicy;
  /** `/{gateway.path}/{topology}`. */
  context: string;
  scopeCookies: boolean;
}

/**
 * Maps an undici/socket error to the client's answer: a timeout is a 504, anything else a 502; the client's own
 * body stalling (dispatch/request-body) is the client's fault: 408.
 */
export function upstreamError(err: Error & { code?: string }): GatewayError {
  if (err instanceof RequestBodyTimeoutError) return requestTimeout(err);
  // A request body edit refused the client's body (dispatch/knox/json-body): its answer is the client's.
  if (err instanceof GatewayError) return err;
  switch (err.code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return Errors.upstreamTimeout(undefined, { cause: err });
    default:
      return Errors.upstreamUnavailable(undefined, { cause: err });
  }
}

/** A backend response's trailers, as undici reports them. */
type Trailers = Record<string, string | string[] | undefined>;

export class ProxyHandler implements Dispatcher.DispatchHandler {
  readonly #ex: Exchange;
  readonly #res: ServerResponse;
  readonly #method: string;
  readonly #settings: DispatchSettings;
  readonly #resolve: () => void;
  readonly #reject: (err: GatewayError) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #body: ResponseBodyRewrite | undefined;
  #responded = false;
  #settled = false;
  /** Set by dispatch/spnego: sees the response first and may have it dropped (a 401 asking for Negotiate). */
  hook?: ResponseHook;
  /** The hook's verdict on a dropped response: its body is read and discarded, then this happens. */
  #dropped: 'retry' | GatewayError | undefined;
  /** The client response's 'drain' listener is in place, and the controller it resumes (see onResponseData). */
  #drainHooked = false;
  #pausedController: Dispatcher.DispatchController | undefined;

  constructor(
    ex: Exchange,
    method: string,
    settings: DispatchSettings,
    resolve: () => void,
    reject: (err: GatewayError) => void,
  ) {
    this.#ex = ex;
    this.#res = ex.res;
    this.#method = method;
    this.#settings = settings;
    this.#resolve = resolve;
    this.#reject = reject;
    // The server calls this when the client's connection closes; a finished response makes it a no-op. Through a
    // variable: V8 allocates an arrow function assigned straight to a property in the old generation, where this
    // one kept the whole exchange alive until the next mark-compact (docs/performance.md, "Closures assigned to
    // properties"; test/source-closures.test.ts).
    const onClientClose = () => this.#clientClosed();
    ex.onClientClose = onClientClose;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#res.destroyed) controller.abort(new ClientGoneError());
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    resHeaders: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return; // 1xx: undici reports interim responses; Node writes its own 100.
    if (this.hook) {
      this.#dropped = this.hook.head(statusCode, resHeaders);
      if (this.#dropped) return;
    }
    const ex = this.#ex;
    let out = filterResponseHeaders(resHeaders, this.#settings.policy);
    if (ex.responseHeaderFilters) for (const f of ex.responseHeaderFilters) out = f(out, statusCode);
    if (this.#settings.scopeCookies && out['set-cookie'] !== undefined) {
      const cookies = out['set-cookie'];
      const context = this.#settings.context;
      out['set-cookie'] = (Array.isArray(cookies) ? cookies : [cookies]).map((c) =>
        scopeSetCookiePath(c, context),
      );
    }
    out['x-request-id'] = ex.id;
    this.#responded = true;
    const streams = this.#bodyStreams(statusCode, out);
    if (streams) {
      this.#body = new ResponseBodyRewrite({
        ex,
        status: statusCode,
        message: statusMessage,
        headers: out,
        streams,
        done: () => this.#finish(),
      });
      return;
    }
    try {
      this.#res.writeHead(statusCode, statusMessage || undefined, out as Record<string, string | string[]>);
    } catch (err) {
      controller.abort(err as Error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // undici's parser hands over empty chunks too (one per 64 KiB read of a large body: strace of a 64 MiB
    // download); written as they came, each cost the client's socket a `write(fd, NULL, 0)` and a cork/uncork
    // round. Streams drop them (Readable.push of nothing); this handler writes straight through.
    if (this.#dropped || chunk.length === 0) return;
    if (this.#body) {
      this.#body.write(controller, chunk);
      return;
    }
    if (!this.#res.write(chunk)) {
      // A client already gone never drains: its backend request is let go at once, not left paused.
      if (this.#res.destroyed) {
        controller.abort(new ClientGoneError());
        return;
      }
      controller.pause();
      this.#pausedController = controller;
      // One listener for the exchange, added at the first pause: a slow client pauses a large body many times,
      // and a `once` per pause made a closure and a once-wrapper each time (all allocation per 1 MiB download
      // went from 88 to 81 KB without them: bench/alloc.ts --path big).
      if (!this.#drainHooked) {
        this.#drainHooked = true;
        this.#res.on('drain', () => this.#resumeOnDrain());
      }
    }
  }

  /** Resumes the backend's body once the client's socket drained (undici's resume does nothing unless paused). */
  #resumeOnDrain(): void {
    const paused = this.#pausedController;
    this.#pausedController = undefined;
    paused?.resume();
  }

  onResponseEnd(_controller?: Dispatcher.DispatchController, trailers?: Trailers): void {
    const dropped = this.#dropped;
    if (dropped === 'retry') {
      // The exchange goes on through another handler (dispatch/spnego); this one is done without a word.
      this.#settled = true;
      this.#ex.onClientClose = undefined;
      // A client that went away meanwhile has nobody to answer: the exchange ends here.
      if (this.#res.destroyed) this.#resolve();
      else this.hook!.retry();
      return;
    }
    if (dropped) {
      this.#finish(dropped);
      return;
    }
    if (this.#body) {
      // The rewrite finishes the exchange once its last byte is written.
      this.#body.end();
      return;
    }
    // The backend's trailers (a chunked body's) reach an HTTP/2 client as HTTP/2 trailers; an HTTP/1.1 response
    // carries none, and a body the rewrite changed drops them (a digest of it would no longer hold).
    if (trailers && this.#ex.req.httpVersionMajor === 2) {
      const kept = filterTrailers(trailers, this.#settings.policy);
      if (kept) this.#res.addTrailers(kept);
    }
    this.#res.end();
    this.#finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const clientGone = isClientGone(err);
    if (this.#dropped && !clientGone) {
      this.#finish(this.#dropped === 'retry' ? upstreamError(err) : this.#dropped);
      return;
    }
    this.#body?.abort();
    if (this.#responded || this.#res.destroyed || clientGone) {
      // Headers are gone (or nobody is listening): the only honest signal left is to cut the connection.
      if (!this.#res.destroyed) this.#res.destroy(err);
      if (!clientGone) {
        this.#ex.log.warn(
          { err: { code: (err as { code?: string }).code, message: err.message } },
          'backend stream failed',
        );
      }
      this.#finish();
    } else {
      this.#finish(upstreamError(err));
    }
  }

  /** Fails the exchange before undici took it (a request target it refuses). */
  fail(err: GatewayError): void {
    this.#finish(err);
  }

  /**
   * The client's connection (or HTTP/2 stream) closed before this exchange finished: the backend request goes, so
   * its pool connection is freed. Not decided on `res.writableFinished`: an HTTP/2 response whose stream was
   * reset reports it finished, and a backend request paused for a client that will never drain held its pool
   * slot for good (a pool of 32 was exhausted by h2load runs ending with streams in flight).
   */
  #clientClosed(): void {
    const controller = this.#controller;
    if (controller && !controller.aborted) controller.abort(new ClientGoneError());
  }

  /**
   * The rewrite streams for this response's body, if the rewrite provider wants it: only for a body that exists
   * (not HEAD, 204, 304) and is whole (not a 206 range).
   */
  #bodyStreams(status: number, headers: HeaderMap) {
    const rewrite = this.#ex.responseBody;
    if (!rewrite || this.#method === 'HEAD' || status === 204 || status === 304 || status === 206)
      return undefined;
    return rewrite.open(headers);
  }

  #finish(err?: GatewayError): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#ex.onClientClose = undefined;
    if (err) this.#reject(err);
    else this.#resolve();
  }
}
