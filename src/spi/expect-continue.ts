/**
 * @module spi/expect-continue
 * `Expect: 100-continue` (RFC 9110 §10.1.1) answered when the gateway wants the body, not before.
 *
 * Node answers `100 Continue` on its own as soon as the request's headers are parsed, unless the server listens to
 * `checkContinue`. postern listens, and lets a request's chain run first: the `100` goes out the moment something
 * starts reading the body (the dispatch streaming it to the backend, a service reading it whole), which is after
 * authentication, authorization and routing have accepted the request. A request refused before that (401, 403,
 * 404, a WebHDFS namenode's 307 that the body must not follow) gets its final answer with no `100`, so the client
 * never sends the body; Node then closes the connection after the answer (the body's bytes may still be on their
 * way), as RFC 9110 allows.
 *
 * Generic by construction: the `100` is sent from the request stream's `_read`, which every consumer reaches
 * (`on('data')`, `pipe`, `resume`, async iteration), and never once the final response has started.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const AWAITING = Symbol('postern.awaitingContinue');

type Awaiting = IncomingMessage & { [AWAITING]?: boolean };

/** Arms `req` so that the first read of its body answers `100 Continue` on `res` (a `checkContinue` request). */
export function continueOnRead(req: IncomingMessage, res: ServerResponse): void {
  const r = req as Awaiting;
  r[AWAITING] = true;
  const read = req._read;
  // Through a variable (test/source-closures.test.ts): a function assigned straight to a property may be allocated
  // in V8's old generation, and would keep this request alive there until the next mark-compact.
  const readOnce = function (this: IncomingMessage, size: number) {
    if (r[AWAITING]) {
      r[AWAITING] = false;
      req._read = read;
      if (!res.headersSent && !res.writableEnded && !res.destroyed) res.writeContinue();
    }
    return read.call(this, size);
  };
  req._read = readOnce;
}

/** Whether the client still waits for a `100 Continue` before it sends the body (nothing asked for it yet). */
export function awaitingContinue(req: IncomingMessage): boolean {
  return (req as Awaiting)[AWAITING] === true;
}
