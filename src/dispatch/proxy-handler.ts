/**
 * @module dispatch/proxy-handler
 * One backend exchange as undici's dispatch handler: the backend's response streams to the client with
 * backpressure both ways, its headers filtered and rewritten once; a body that a `response.body` rewrite wants
 * is held (within a bound) and rewritten whole. A state machine in undici's handler discipline: the response
 * starts once, data comes only after the start, and exactly one of end or error finishes the exchange.
 *
 * A class rather than a literal of closures: one object per request, its methods shared.
 */
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { Errors, type GatewayError } from '../errors.ts';
import type { BodyTransform, Exchange, HeaderMap } from '../providers/types.ts';
import { scopeSetCookiePath } from '../rewrite/index.ts';
import { filterResponseHeaders, type HeaderPolicy } from './headers.ts';

/** What a route's dispatch fixes at deployment and every exchange of it shares. */
export interface DispatchSettings {
  policy: HeaderPolicy;
  /** `/{gateway.path}/{topology}`. */
  context: string;
  scopeCookies: boolean;
  /** Largest response body held for rewriting. */
  bodyLimit: number;
}

/** Maps an undici/socket error to the client's answer: a timeout is a 504, anything else a 502. */
export function upstreamError(err: Error & { code?: string }): GatewayError {
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

/** A response held back while its body is buffered for rewriting. */
interface HeldResponse {
  status: number;
  message: string | undefined;
  headers: HeaderMap;
  chunks: Buffer[];
  size: number;
  transforms: BodyTransform[];
}

const CLIENT_GONE = 'client closed the connection';

export class ProxyHandler implements Dispatcher.DispatchHandler {
  readonly #ex: Exchange;
  readonly #res: ServerResponse;
  readonly #method: string;
  readonly #settings: DispatchSettings;
  readonly #resolve: () => void;
  readonly #reject: (err: GatewayError) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #held: HeldResponse | undefined;
  #responded = false;
  #settled = false;

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
    // The server calls this when the client's connection closes; a finished response makes it a no-op.
    ex.onClientClose = () => this.#clientClosed();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#res.destroyed) controller.abort(new Error(CLIENT_GONE));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    resHeaders: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return; // 1xx: undici reports interim responses; Node writes its own 100.
    const ex = this.#ex;
    let out = filterResponseHeaders(resHeaders, this.#settings.policy);
    if (ex.responseHeaderFilters) for (const f of ex.responseHeaderFilters) out = f(out);
    if (this.#settings.scopeCookies && out['set-cookie'] !== undefined) {
      const cookies = out['set-cookie'];
      const context = this.#settings.context;
      out['set-cookie'] = (Array.isArray(cookies) ? cookies : [cookies]).map((c) =>
        scopeSetCookiePath(c, context),
      );
    }
    out['x-request-id'] = ex.id;
    this.#responded = true;
    const transforms = ex.responseBodyTransforms && this.#transformsFor(statusCode, out);
    if (transforms) {
      this.#held = {
        status: statusCode,
        message: statusMessage,
        headers: out,
        chunks: [],
        size: 0,
        transforms,
      };
      return;
    }
    try {
      this.#res.writeHead(statusCode, statusMessage || undefined, out as Record<string, string | string[]>);
    } catch (err) {
      controller.abort(err as Error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const held = this.#held;
    if (held) {
      held.chunks.push(chunk);
      held.size += chunk.length;
      if (held.size > this.#settings.bodyLimit) this.#release();
      return;
    }
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    const held = this.#held;
    if (held) {
      this.#held = undefined;
      const body = rewriteBody(
        Buffer.concat(held.chunks),
        String(held.headers['content-type']),
        held.transforms,
      );
      held.headers['content-length'] = String(body.length);
      this.#res.writeHead(
        held.status,
        held.message || undefined,
        held.headers as Record<string, string | string[]>,
      );
      this.#res.end(body);
    } else {
      this.#res.end();
    }
    this.#finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const clientGone = err.message === CLIENT_GONE;
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

  #clientClosed(): void {
    const controller = this.#controller;
    if (!this.#res.writableFinished && controller && !controller.aborted)
      controller.abort(new Error(CLIENT_GONE));
  }

  /** Too large to rewrite within the bound: send it as the backend sent it, and say so. */
  #release(): void {
    const held = this.#held!;
    this.#held = undefined;
    this.#ex.log.warn(
      { limit: this.#settings.bodyLimit },
      'response body over postern.rewrite.body.maxBytes; not rewritten',
    );
    this.#res.writeHead(
      held.status,
      held.message || undefined,
      held.headers as Record<string, string | string[]>,
    );
    for (const c of held.chunks) this.#res.write(c);
  }

  /**
   * The body transforms that want this response: only for a body that exists (not HEAD, 204, 304), that is not
   * content-encoded (a compressed body is passed as it is), and whose type a transform accepts.
   */
  #transformsFor(status: number, headers: HeaderMap): BodyTransform[] | undefined {
    if (this.#method === 'HEAD' || status === 204 || status === 304) return undefined;
    const encoding = headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') return undefined;
    const type = headers['content-type'];
    if (typeof type !== 'string') return undefined;
    const wanted = this.#ex.responseBodyTransforms!.filter((t) => t.accepts(type));
    return wanted.length > 0 ? wanted : undefined;
  }

  #finish(err?: GatewayError): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#ex.onClientClose = undefined;
    if (err) this.#reject(err);
    else this.#resolve();
  }
}

function rewriteBody(body: Buffer, contentType: string, transforms: readonly BodyTransform[]): Buffer {
  let text = body.toString('utf8');
  let changed = false;
  for (const t of transforms) {
    const out = t.transform(text, contentType);
    if (out !== undefined) {
      text = out;
      changed = true;
    }
  }
  return changed ? Buffer.from(text, 'utf8') : body;
}
