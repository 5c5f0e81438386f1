/**
 * @module dispatch/ha/http
 * The HTTP side of HA dispatch: one request tried on the service's URLs in turn until a
 * backend answers, through the same header policy, connection pool and response handling as the plain dispatch
 * (dispatch/http-dispatch, dispatch/proxy-handler).
 *
 * An attempt may be repeated only while nothing of its response has reached the client, and only when its body
 * can be sent again: a request body is held in memory up to `replayBufferSize` (KB, Knox's dispatch param,
 * default 8) before it is sent; a longer one streams as in the plain dispatch and that request is not failed
 * over. POST, PATCH and CONNECT fail over only after a connect error (the backend never saw them), unless
 * `failoverNonIdempotentRequestEnabled`. Between attempts the dispatch waits `failoverSleep`.
 *
 * Knox's service-specific HA dispatches also fail over when a standby answers (dispatch/ha/standby): such an
 * answer is held (its first bytes only) instead of streamed, and written only when no other URL is left.
 *
 * The rewrite rules built the target from the service's first URL; an attempt on another URL moves the target
 * there (dispatch/ha/retarget), and moves absolute `Location` / `Content-Location` answers back before the
 * outbound rules see them, so those rules recognise the service whichever URL answered.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Errors, GatewayError } from '../../errors.ts';
import type { DispatchContext, Exchange, Handler, HeaderMap } from '../../spi/index.ts';
import { requestBodyFor } from '../body-rewrite.ts';
import { dispatchParams } from '../params.ts';
import { type DispatchSettings, ProxyHandler } from '../proxy-handler.ts';
import {
  guardRequestBody,
  RequestBodyTimeoutError,
  requestHasBody,
  requestTimeout,
} from '../request-body.ts';
import { type BackendSpnego, type SpnegoAttempt, tokenFailure } from '../spnego.ts';
import { backendSpnego } from '../spnego-context.ts';
import { backendTarget, splitTarget } from '../target-url.ts';
import { retarget } from './retarget.ts';
import { type HaRequest, type HaService, withoutCookie } from './service.ts';
import { PEEK_LIMIT, StandbyAnswer, type StandbyCheck } from './standby.ts';

/** Methods never forwarded (as in the plain dispatch). */

/** Knox's DefaultDispatch `replayBufferSize` default, in KB. */
const DEFAULT_REPLAY_KB = 8;

/**
 * The replay buffer of the service, in bytes. A bad value is a deployment error at the param: Knox sets it on
 * its dispatch as an integer property and fails to initialise the dispatch when the text is not one.
 */
function replayBytes(ctx: DispatchContext): number {
  return (
    dispatchParams(ctx).int('replayBufferSize', DEFAULT_REPLAY_KB, 0, { expected: 'a size in KB' }) * 1024
  );
}

/** What every request of one HA route shares. */
interface HaRoute {
  ha: HaService;
  agent: Dispatcher;
  settings: DispatchSettings;
  replayLimit: number;
  /** `Path` of the sticky cookie: the topology's context, or `/` when the dispatch scopes cookies to it. */
  cookiePath: string;
  /** Sticky sessions are configured: the gateway's cookie is kept from the backend. */
  stripSticky: boolean;
  /** How a standby's answer is recognised (the service-specific HA dispatches); none: only errors fail over. */
  standby: StandbyCheck | undefined;
  /** gateway.hadoop.kerberos.secured: each attempt authenticates with SPNEGO to its URL (dispatch/spnego). */
  spnego: BackendSpnego | undefined;
}

/** What a service-specific HA dispatch changes (dispatch/http-dispatch's HttpDispatchOptions). */
export interface HaHandlerOptions {
  readonly standby?: StandbyCheck;
  /** The client's body is never sent (AbstractHdfsHaDispatch). */
  readonly withoutBody?: boolean;
}

/** A suspect answer held while its body is looked into. */
interface Held {
  controller: Dispatcher.DispatchController;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  message: string | undefined;
  chunks: Buffer[];
  size: number;
}

/**
 * The handler of an HA route. `requestHeaders` is the plain dispatch's header builder for an exchange.
 */
export function createHaHandler(
  ctx: DispatchContext,
  ha: HaService,
  agent: Dispatcher,
  settings: DispatchSettings,
  requestHeaders: (ex: Exchange) => Record<string, string>,
  options: HaHandlerOptions = {},
): Handler {
  ha.useDispatcher(agent);
  const route: HaRoute = {
    ha,
    agent,
    settings,
    replayLimit: replayBytes(ctx),
    cookiePath: settings.scopeCookies ? '/' : settings.context,
    stripSticky: ha.settings.enableLoadBalancing && ha.settings.enableStickySession,
    standby: options.standby,
    spnego: backendSpnego(ctx),
  };
  return (ex: Exchange) =>
    new Promise<void>((resolve, reject) => {
      const { req } = ex;
      const method = req.method ?? 'GET';
      let url: string;
      try {
        url = backendTarget(ex);
      } catch (err) {
        reject(err);
        return;
      }
      const headers = requestHeaders(ex);
      if (route.stripSticky && headers.cookie !== undefined) {
        const rest = withoutCookie(headers.cookie, ha.cookieName);
        if (rest === undefined) delete headers.cookie;
        else headers.cookie = rest;
      }
      const hasBody = requestHasBody(req, headers, options.withoutBody);
      // Guarded as in the plain dispatch (dispatch/request-body): a stalled body gets 408, not a pool connection.
      const body = hasBody ? requestBodyFor(ex, guardRequestBody(req, ctx.settings), headers) : null;
      new HaExchange(route, ex, method, url, headers, resolve, reject).start(body);
    });
}

/** One request through an HA route: undici's handler for each of its attempts in turn. */
class HaExchange implements Dispatcher.DispatchHandler {
  readonly #route: HaRoute;
  readonly #ex: Exchange;
  readonly #method: string;
  /** The rewritten target, on the service's first URL. */
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #proxy: ProxyHandler;
  readonly #resolve: () => void;
  /** Undefined when the target is not on the service's origin (then it is sent once, as it is). */
  readonly #request: HaRequest | undefined;
  #body: Buffer | Readable | null = null;
  #replayable = true;
  #started = false;
  #held: Held | undefined;
  /** SPNEGO: what authenticated the current attempt; whether it is the retry with a token after a 401. */
  #spnego: { attempt: SpnegoAttempt; target: { origin: string }; forced: boolean } | undefined;
  /** SPNEGO's verdict on the current answer (a 401 asking for Negotiate): its body is dropped, then this. */
  #dropped: 'retry' | GatewayError | undefined;
  #gone = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    route: HaRoute,
    ex: Exchange,
    method: string,
    url: string,
    headers: Record<string, string>,
    resolve: () => void,
    reject: (err: GatewayError) => void,
  ) {
    this.#route = route;
    this.#ex = ex;
    this.#method = method;
    this.#url = url;
    this.#headers = headers;
    this.#resolve = resolve;
    this.#proxy = new ProxyHandler(ex, method, route.settings, resolve, reject);
    const ha = route.ha;
    this.#request = retarget(url, ha.primary, ha.primary) === undefined ? undefined : ha.begin(ex.req);
    // The proxy handler cancels a running attempt when the client goes; between attempts, this ends the wait.
    const proxyClose = ex.onClientClose;
    // Through a variable, as in ProxyHandler (test/source-closures.test.ts).
    const onClientClose = () => {
      this.#gone = true;
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        ex.onClientClose = undefined;
        this.#resolve();
      }
      proxyClose?.();
    };
    ex.onClientClose = onClientClose;
  }

  /** Holds the body for replay when it fits the buffer, then sends the first attempt. */
  start(body: Readable | null): void {
    if (body === null) {
      this.#attempt();
      return;
    }
    const limit = this.#route.replayLimit;
    const declared = Number(this.#headers['content-length']);
    if (this.#request === undefined || declared > limit) {
      this.#stream(body);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onGone);
      body.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= limit) return;
      // Over the buffer: what was read goes back in front of the rest, and the body streams.
      body.pause();
      cleanup();
      body.unshift(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      this.#stream(body);
    };
    const onEnd = () => {
      cleanup();
      this.#body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      this.#attempt();
    };
    const onGone = (err?: unknown) => {
      cleanup();
      // A body edit refused the body (dispatch/knox/json-body): the client gets that answer.
      if (err instanceof GatewayError) {
        this.#proxy.fail(err);
        return;
      }
      // A body that stalled: the client is still there and gets its 408.
      if (err instanceof RequestBodyTimeoutError) {
        this.#proxy.fail(requestTimeout(err));
        return;
      }
      // The client went away before its body was complete: there is nobody to answer.
      this.#gone = true;
      this.#ex.onClientClose = undefined;
      this.#resolve();
    };
    const onClose = () => onGone();
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onGone);
    body.once('close', onClose);
  }

  #stream(body: Readable): void {
    this.#body = body;
    this.#replayable = false;
    this.#attempt();
  }

  #attempt(): void {
    const request = this.#request;
    const ha = this.#route.ha;
    const url =
      request === undefined || request.url.base === ha.primary
        ? this.#url
        : retarget(this.#url, ha.primary, request.url.base)!;
    const target = splitTarget(url);
    if (!target) {
      this.#proxy.fail(Errors.internal('The rewritten backend URL is not absolute'));
      return;
    }
    const spnego = this.#route.spnego;
    if (spnego) {
      const forced = this.#dropped === 'retry';
      this.#dropped = undefined;
      spnego.authorize(target, this.#headers, { hasBody: this.#body !== null, force: forced }).then(
        (attempt) => {
          this.#spnego = { attempt, target, forced };
          this.#send(target, attempt.headers);
        },
        (err: unknown) => this.#proxy.fail(tokenFailure(this.#ex, err, target.origin)),
      );
      return;
    }
    this.#send(target, this.#headers);
  }

  #send(target: { origin: string; path: string }, headers: Record<string, string>): void {
    const method = this.#method;
    try {
      this.#route.agent.dispatch(
        {
          origin: target.origin,
          path: target.path,
          method: method as Dispatcher.HttpMethod,
          headers,
          body: this.#body,
          idempotent: method === 'GET' || method === 'HEAD' || method === 'OPTIONS',
        },
        this,
      );
    } catch (err) {
      this.#proxy.fail(Errors.internal('The rewritten backend URL is not valid', { cause: err }));
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#proxy.onRequestStart(controller);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    const request = this.#request;
    const spnego = this.#spnego;
    if (spnego && statusCode >= 200 && !this.#started) {
      // A 401 asking for Negotiate: retried once with a token (no body), else the 502; the body is dropped.
      const canRetry = !spnego.forced && this.#body === null;
      this.#dropped = this.#route.spnego!.verdict(
        this.#ex,
        spnego.target,
        spnego.attempt,
        statusCode,
        headers,
        canRetry,
      );
      if (this.#dropped) return;
    }
    if (statusCode >= 200 && request && !this.#started && this.#route.standby?.suspect(statusCode, headers)) {
      // Perhaps a standby's answer: held until its body says (bounded by PEEK_LIMIT).
      this.#held = { controller, status: statusCode, headers, message: statusMessage, chunks: [], size: 0 };
      return;
    }
    this.#commit(controller, statusCode, headers, statusMessage, true);
  }

  /** The answer goes to the client: from here on nothing of this request fails over. */
  #commit(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage: string | undefined,
    healthy: boolean,
  ): void {
    const request = this.#request;
    if (statusCode >= 200 && request && !this.#started) {
      this.#started = true;
      if (healthy) request.succeeded();
      this.#answeredBy(request);
    }
    this.#proxy.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  /** Sends a held answer on (its start and the bytes held), as the backend sent it. */
  #release(held: Held, healthy: boolean): Held {
    this.#held = undefined;
    this.#commit(held.controller, held.status, held.headers, held.message, healthy);
    for (const chunk of held.chunks) this.#proxy.onResponseData(held.controller, chunk);
    return held;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#dropped) return;
    const held = this.#held;
    if (held) {
      held.chunks.push(chunk);
      held.size += chunk.length;
      // Too long for a standby's error document: the answer it is streams on.
      if (held.size > PEEK_LIMIT) this.#release(held, true);
      return;
    }
    this.#proxy.onResponseData(controller, chunk);
  }

  onResponseEnd(
    controller?: Dispatcher.DispatchController,
    trailers?: Record<string, string | string[] | undefined>,
  ): void {
    const dropped = this.#dropped;
    if (dropped === 'retry') {
      if (this.#gone || this.#ex.res.destroyed) this.#resolve();
      else this.#attempt();
      return;
    }
    if (dropped) {
      this.#dropped = undefined;
      this.#proxy.fail(dropped);
      return;
    }
    const held = this.#held;
    if (held) {
      this.#held = undefined;
      const check = this.#route.standby!;
      const text = check.body ? Buffer.concat(held.chunks).toString('utf8') : '';
      if (check.body && !check.body(text)) {
        this.#release(held, true);
      } else if (this.#failover(new StandbyAnswer(held.status)) !== 'retry') {
        // No other URL to try: the standby's own answer is the client's, as Knox writes it.
        this.#release(held, false);
      } else {
        return;
      }
    }
    this.#proxy.onResponseEnd(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    this.#held = undefined;
    this.#dropped = undefined;
    const request = this.#request;
    // The gateway's own refusal of the request (a body edit's) is not the backend's failure.
    const refused = err instanceof GatewayError;
    if (request === undefined || refused || this.#started || this.#gone || this.#ex.res.destroyed) {
      this.#proxy.onResponseError(controller, err);
      return;
    }
    if (this.#failover(err) === 'stop') this.#proxy.onResponseError(controller, err);
  }

  /**
   * An attempt failed (an error, or a standby's answer) before anything reached the client: records it and tries
   * the next URL after `failoverSleep`. `stop` when the failure stands (the caller answers with it); `noFallback`
   * when the client was answered 502 here.
   */
  #failover(err: Error): 'retry' | 'stop' | 'noFallback' {
    const request = this.#request!;
    const from = request.url.url;
    const next = request.failed(err, this.#method, this.#replayable);
    const code = (err as { code?: string }).code;
    if (next === 'noFallback') {
      this.#ex.log.warn({ service: request.service.role, code }, 'sticky backend failed; noFallback');
      if (err instanceof StandbyAnswer) return 'stop';
      this.#proxy.fail(
        Errors.upstreamUnavailable('The backend of this session is unavailable', { cause: err }),
      );
      return next;
    }
    if (next === 'stop') return next;
    this.#ex.log.warn(
      { service: request.service.role, from, to: request.url.url, failover: request.failovers, code },
      err instanceof StandbyAnswer
        ? 'backend answered as a standby; failing over'
        : 'backend request failed; failing over',
    );
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#gone || this.#ex.res.destroyed) {
        this.#resolve();
        return;
      }
      this.#attempt();
    }, request.service.settings.failoverSleep);
    return next;
  }

  /** The response headers say which URL answered: the sticky cookie, and redirects moved back to the first URL. */
  #answeredBy(request: HaRequest): void {
    const ex = this.#ex;
    const ha = this.#route.ha;
    const answered = request.url.base;
    if (answered !== ha.primary) {
      const back = (headers: HeaderMap): HeaderMap => {
        for (const name of ['location', 'content-location']) {
          const v = headers[name];
          if (typeof v !== 'string') continue;
          const moved = retarget(v, answered, ha.primary);
          if (moved !== undefined) headers[name] = moved;
        }
        return headers;
      };
      ex.responseHeaderFilters = [back, ...(ex.responseHeaderFilters ?? [])];
    }
    const cookie = request.stickyCookie(this.#route.cookiePath);
    if (cookie !== undefined) {
      const add = (headers: HeaderMap): HeaderMap => {
        const prior = headers['set-cookie'];
        headers['set-cookie'] =
          prior === undefined ? [cookie] : Array.isArray(prior) ? [...prior, cookie] : [prior, cookie];
        return headers;
      };
      ex.responseHeaderFilters = [...(ex.responseHeaderFilters ?? []), add];
    }
  }
}
