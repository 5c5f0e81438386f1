/**
 * @module gateway/operations
 * The gateway's operational endpoints, answered outside `/{gateway.path}/` so that no topology can shadow or
 * proxy them: liveness (`postern.health.path`, default `/healthz`), readiness (`postern.ready.path`, default
 * `/readyz`) and whatever an exporter adds (the metrics path). The server asks only for URLs that are not under
 * the gateway path, so a gateway request never pays for them; they write no access line (a load balancer's
 * probes would drown the log). Their errors have the one shape of gateway/respond.ts.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Errors } from '../errors.ts';
import { sendError } from './respond.ts';

export type OperationHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** A JSON answer that no cache keeps. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

export class Operations {
  readonly #routes = new Map<string, OperationHandler>();

  /** Adds (or replaces) the handler of one path (exact match, query ignored). */
  add(path: string, handler: OperationHandler): void {
    this.#routes.set(path, handler);
  }

  remove(path: string): void {
    this.#routes.delete(path);
  }

  /** Answers the request when its path is an operational one; false otherwise. GET and HEAD only. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.#routes.size === 0) return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const handler = this.#routes.get(q < 0 ? url : url.slice(0, q));
    if (!handler) return false;
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(
        res,
        randomUUID(),
        Errors.methodNotAllowed('Use GET or HEAD', { headers: { allow: 'GET, HEAD' } }),
      );
      return true;
    }
    try {
      handler(req, res);
    } catch {
      sendError(res, randomUUID(), Errors.internal());
    }
    return true;
  }
}
