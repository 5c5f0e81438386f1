/**
 * @module dispatch/ha/websocket
 * HA for WebSocket upgrades (beyond Knox): the backend connection of an upgrade is tried on the service's URLs
 * the way an HTTP request is (dispatch/ha/service) — sticky cookie, round-robin or active URL first, the next
 * one after a connection failure — before the client gets its 101. A backend that answers the handshake with a
 * refusal is not failed over: its status is relayed.
 */
import type { IncomingMessage } from 'node:http';
import { retarget } from './retarget.ts';
import { type HaRequest, type HaService, withoutCookie } from './service.ts';

/** One upgrade's way through the service's URLs (websocket/ws-dispatch drives it). */
export interface WebSocketFailover {
  /** The backend URL to connect to now (http/https or ws/wss, as the rewrite gave it). */
  target(): string;
  /** The connection failed before the handshake: the wait before the next attempt (ms), or undefined to give up. */
  failed(err: Error): number | undefined;
  /** The backend answered the handshake (accepted or refused it): it is up. */
  answered(): void;
  /** A `Set-Cookie` header line for the client's 101, when sticky sessions move the client. */
  cookie(): string | undefined;
}

/**
 * The failover of an upgrade to `url` (the rewritten target, on the service's first URL); undefined when `url`
 * is not on the service's origin. Removes the gateway's sticky cookie from `headers`.
 */
export function webSocketFailover(
  ha: HaService,
  req: IncomingMessage,
  url: string,
  headers: Record<string, string>,
): WebSocketFailover | undefined {
  if (retarget(url, ha.primary, ha.primary) === undefined) return undefined;
  if (headers.cookie !== undefined && ha.settings.enableLoadBalancing && ha.settings.enableStickySession) {
    const rest = withoutCookie(headers.cookie, ha.cookieName);
    if (rest === undefined) delete headers.cookie;
    else headers.cookie = rest;
  }
  const request: HaRequest = ha.begin(req);
  return {
    target: () =>
      request.url.base === ha.primary ? url : (retarget(url, ha.primary, request.url.base) ?? url),
    failed: (err) =>
      request.failed(err, 'GET', true) === 'retry' ? request.service.settings.failoverSleep : undefined,
    answered: () => request.succeeded(),
    cookie: () => {
      const cookie = request.stickyCookie(ha.context);
      return cookie === undefined ? undefined : `Set-Cookie: ${cookie}`;
    },
  };
}
