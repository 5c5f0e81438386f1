/**
 * @module dispatch/detachable-handler
 * The handler undici is given for a request with a streamed body: it passes every callback on to the gateway's
 * handler and lets go of it once the response has ended or failed. undici's `Request` keeps an `error` listener for
 * such a body, an arrow assigned to a property (`this.errorHandler = err => …`), which this V8 allocates in the
 * old generation (test/source-closures.test.ts): its context holds the `Request`, so every upload's `Request` lives
 * through scavenges until a mark-compact, and with it the handler it was given. Through this one, what the
 * `Request` still reaches once the exchange is over is this object and the body, not the exchange (its request,
 * response, route, rewrite state).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';

export class DetachableHandler implements Dispatcher.DispatchHandler {
  #to: Dispatcher.DispatchHandler | undefined;

  constructor(to: Dispatcher.DispatchHandler) {
    this.#to = to;
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#to?.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    this.#to?.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    this.#to?.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#to?.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    const to = this.#to;
    this.#to = undefined;
    to?.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    const to = this.#to;
    this.#to = undefined;
    to?.onResponseError?.(controller, err);
  }
}
