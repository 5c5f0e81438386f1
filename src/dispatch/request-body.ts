/**
 * @module dispatch/request-body
 * A client's request body on its way to the backend, with nginx's `client_body_timeout` semantics and Jetty's
 * minimum data rate, so that a client that announces a body and then stalls holds only its own connection:
 *
 * - **Idle timeout** (`postern.request.body.idle.timeout`): the longest the gateway waits for the next byte while
 *   it wants one. Time during which the backend is not reading (backpressure) is not the client's and never counts.
 * - **Minimum rate** (`postern.request.body.min.rate`, bytes/s): once the gateway has waited on the body for
 *   longer than the idle timeout in all, the body must average at least this rate over that waiting time, so a
 *   client that sends a byte just often enough to never be idle is cut as well.
 * - **No pool connection before the body flows**: {@link GuardedBody.ready} resolves only once the first
 *   `gateway.httpserver.requestBuffer` bytes (or the whole body, if smaller) have arrived; the dispatch takes a
 *   backend connection after that. A stalled upload therefore never occupies one of the backend pool's
 *   connections (`gateway.httpclient.maxConnections`), whatever the number of clients doing it.
 *
 * Either limit fails the body with {@link RequestBodyTimeoutError}; the dispatch answers 408 (and closes the
 * connection) when no response has started yet, and the backend's connection is released.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { Errors, type GatewayError } from '../errors.ts';
import { awaitingContinue } from '../spi/index.ts';

export class RequestBodyTimeoutError extends Error {
  readonly code = 'POSTERN_REQUEST_BODY_TIMEOUT';
  constructor(message: string) {
    super(message);
    this.name = 'RequestBodyTimeoutError';
  }
}

/** The client's answer for a body that timed out: 408, and the connection is not kept. */
export function requestTimeout(err: RequestBodyTimeoutError): GatewayError {
  return Errors.requestTimeout(undefined, { cause: err, headers: { connection: 'close' } });
}

export interface BodyLimits {
  /** 0: no idle timeout. */
  idleTimeoutMs: number;
  /** Bytes per second; 0: no minimum. */
  minRate: number;
  /** Bytes to hold before {@link GuardedBody.ready} resolves. */
  prefetch: number;
}

export class GuardedBody extends Readable {
  readonly #source: IncomingMessage;
  readonly #limits: BodyLimits;
  /** Resolves once {@link BodyLimits.prefetch} bytes (or the whole body) are held; rejects if the body fails. */
  readonly ready: Promise<void>;
  #resolve!: () => void;
  #reject!: (err: Error) => void;
  /**
   * `ready` is settled. Settling it again is not free: V8 takes every call of a settled promise's resolve or
   * reject to the runtime to report it, and a call per chunk of an upload was ~3 % of its CPU (perf:
   * Runtime_PromiseResolveAfterResolved, Isolate::ReportPromiseReject).
   */
  #settled = false;
  #received = 0;
  /** Total ms spent waiting for the client (flowing), not counting the current wait. */
  #waitedMs = 0;
  #waitingSince: number | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(source: IncomingMessage, limits: BodyLimits) {
    super({ highWaterMark: Math.max(limits.prefetch, 1) });
    this.#source = source;
    this.#limits = limits;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Nobody may be waiting on `ready` when the body fails later; the stream's own error is what counts then.
    this.ready.catch(() => {});
    // Before the dispatch reads the body, its failure reaches the dispatch through `ready`; an `error` event
    // without a listener would take the process down.
    this.on('error', () => {});
    source.on('data', (chunk: Buffer) => this.#data(chunk));
    source.once('end', () => {
      this.#stopWaiting();
      this.push(null);
      this.#ready();
    });
    source.once('aborted', () => this.destroy(new Error('the client aborted its request body')));
    source.once('error', (err) => this.destroy(err));
    this.#startWaiting();
  }

  override _read(): void {
    if (this.#source.isPaused()) {
      this.#source.resume();
      this.#startWaiting();
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#stopWaiting();
    if (err) this.#failed(err);
    // The rest of the body is not wanted; it must not hold the socket's buffers either.
    this.#source.resume();
    callback(err);
  }

  #data(chunk: Buffer): void {
    this.#received += chunk.length;
    const more = this.push(chunk);
    if (this.#received >= this.#limits.prefetch) this.#ready();
    if (!more) {
      this.#source.pause();
      this.#stopWaiting();
      return;
    }
    if (this.#belowRate()) {
      this.destroy(new RequestBodyTimeoutError('the request body arrives below the minimum rate'));
      return;
    }
    this.#timer?.refresh();
  }

  #ready(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve();
  }

  #failed(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(err);
  }

  /** The gateway wants bytes from the client from now on. */
  #startWaiting(): void {
    if (this.#waitingSince !== undefined || this.destroyed) return;
    this.#waitingSince = performance.now();
    const idle = this.#limits.idleTimeoutMs;
    if (idle > 0) {
      this.#timer = setTimeout(
        () => this.destroy(new RequestBodyTimeoutError('the request body stalled')),
        idle,
      );
      this.#timer.unref();
    }
  }

  #stopWaiting(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#waitingSince === undefined) return;
    this.#waitedMs += performance.now() - this.#waitingSince;
    this.#waitingSince = undefined;
  }

  #belowRate(): boolean {
    const { minRate, idleTimeoutMs } = this.#limits;
    if (minRate <= 0) return false;
    const waited =
      this.#waitedMs + (this.#waitingSince === undefined ? 0 : performance.now() - this.#waitingSince);
    // Only after a grace of one idle timeout (or 1 s without one): the start of a body may come in bursts.
    if (waited <= Math.max(idleTimeoutMs, 1000)) return false;
    return (this.#received * 1000) / waited < minRate;
  }
}

/** The guarded body of a request, with the limits of gateway-site. */
export function guardRequestBody(
  req: IncomingMessage,
  settings: {
    requestBufferBytes: number;
    limits: { requestBodyIdleTimeoutMs: number; requestBodyMinRate: number };
  },
): GuardedBody {
  return new GuardedBody(req, {
    idleTimeoutMs: settings.limits.requestBodyIdleTimeoutMs,
    minRate: settings.limits.requestBodyMinRate,
    prefetch: settings.requestBufferBytes,
  });
}

/** The client's answer for a body that failed before the backend was asked. */
export function bodyFailure(err: unknown): GatewayError {
  return err instanceof RequestBodyTimeoutError
    ? requestTimeout(err)
    : Errors.badRequest('The request body was not received', { cause: err });
}

/**
 * Whether the client's request has a body to send. When the dispatch sends none (`withoutBody` was decided by the
 * caller), the body's length header is removed and what the client sends is read and dropped, so the
 * connection stays usable — unless the client waits for `100 Continue` (spi/expect-continue), which it then
 * never gets.
 */
export function requestHasBody(
  req: IncomingMessage,
  headers: Record<string, string>,
  withoutBody = false,
): boolean {
  const has =
    req.headers['content-length'] !== undefined
      ? req.headers['content-length'] !== '0'
      : req.headers['transfer-encoding'] !== undefined;
  if (!withoutBody) return has;
  delete headers['content-length'];
  // A client waiting for `100 Continue` is not asked for the body it would send for nothing (a WebHDFS namenode
  // step: the answer is a redirect to where the body goes); Node closes the connection after the answer.
  if (has && !awaitingContinue(req)) req.resume();
  return false;
}
