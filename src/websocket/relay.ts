/**
 * @module websocket/relay
 * Joins a client WebSocket and a backend WebSocket: text and binary frames both ways (fragmented messages arrive
 * whole, as `ws` reassembles them), close codes and reasons relayed, both legs torn down together, and
 * backpressure — when one side's send buffer passes a high-water mark, the other side stops being read until
 * it drains, so a fast producer facing a slow consumer cannot grow memory without bound.
 */
import type { WebSocket } from 'ws';

/** Bytes queued on one leg above which the other leg is paused. */
export const HIGH_WATER_MARK = 1024 * 1024;

/**
 * Close codes that may not be sent in a close frame (RFC 6455 §7.4.1: 1005, 1006, 1015 are reserved for
 * reporting) become the nearest code that may: no status → 1000, abnormal closure → 1011.
 */
export function sendableCloseCode(code: number): number {
  if (code === 1005) return 1000;
  if (code === 1006 || code === 1015) return 1011;
  if ((code >= 1000 && code <= 1014 && code !== 1004) || (code >= 3000 && code <= 4999)) return code;
  return 1011;
}

/** Knox's per-message limits and idle timeout (gateway-site, overridable per service). */
export interface RelayLimits {
  maxTextBytes: number;
  maxBinaryBytes: number;
  /** Both legs are closed with 1001 after this long without a message either way; 0 = never. */
  idleTimeoutMs: number;
}

export interface RelayStats {
  bytesIn: number;
  bytesOut: number;
  closeCode?: number;
  closedBy?: 'client' | 'backend' | 'error' | 'idle';
}

/** Pipes one direction with backpressure and the message limits. */
function pipe(from: WebSocket, to: WebSocket, limits: RelayLimits, count: (n: number) => void): void {
  from.on('message', (data, isBinary) => {
    if (to.readyState !== to.OPEN) return;
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
    if (size > (isBinary ? limits.maxBinaryBytes : limits.maxTextBytes)) {
      // RFC 6455 §7.4.1: 1009, a message too big to process; neither leg can go on without it.
      from.close(1009, 'message too big');
      to.close(1009, 'message too big');
      return;
    }
    count(size);
    to.send(data, { binary: isBinary }, () => {
      if (to.bufferedAmount < HIGH_WATER_MARK / 2 && from.isPaused) from.resume();
    });
    if (to.bufferedAmount > HIGH_WATER_MARK && !from.isPaused) from.pause();
  });
}

/** Relays until either side closes; resolves with what happened. */
export function relay(client: WebSocket, backend: WebSocket, limits: RelayLimits): Promise<RelayStats> {
  const stats: RelayStats = { bytesIn: 0, bytesOut: 0 };
  const idle =
    limits.idleTimeoutMs > 0
      ? setTimeout(() => {
          stats.closedBy = 'idle';
          client.close(1001, 'idle timeout');
          backend.close(1001, 'idle timeout');
        }, limits.idleTimeoutMs)
      : undefined;
  idle?.unref();
  pipe(client, backend, limits, (n) => {
    stats.bytesIn += n;
    idle?.refresh();
  });
  pipe(backend, client, limits, (n) => {
    stats.bytesOut += n;
    idle?.refresh();
  });
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      if (idle) clearTimeout(idle);
      resolve(stats);
    };
    client.on('close', (code, reason) => {
      stats.closedBy ??= 'client';
      stats.closeCode ??= code;
      if (backend.readyState === backend.OPEN) backend.close(sendableCloseCode(code), reason);
      else backend.terminate();
      finish();
    });
    backend.on('close', (code, reason) => {
      stats.closedBy ??= 'backend';
      stats.closeCode ??= code;
      if (client.readyState === client.OPEN) client.close(sendableCloseCode(code), reason);
      else client.terminate();
      finish();
    });
    const failed = (side: WebSocket, other: WebSocket) => () => {
      stats.closedBy ??= 'error';
      // An error on one leg: the other learns it as 1011 (internal error), and the failed leg is dropped.
      if (other.readyState === other.OPEN) other.close(1011, 'proxied connection failed');
      side.terminate();
      finish();
    };
    client.on('error', failed(client, backend));
    backend.on('error', failed(backend, client));
  });
}
