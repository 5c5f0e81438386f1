/**
 * @module websocket/relay
 * Joins a client WebSocket and a backend WebSocket: text and binary frames both ways (fragmented messages arrive
 * whole, as `ws` reassembles them), close codes and reasons relayed, both legs torn down together, and
 * backpressure — when one side's send buffer passes a high-water mark, the other side stops being read until
 * it drains, so a fast producer facing a slow consumer cannot grow memory without bound.
 *
 * Pings and pongs are relayed, not answered here (both legs run with `autoPong: false`): a backend that pings to
 * learn whether the browser is still there gets the browser's own pong, and a client's ping measures the whole
 * path. A leg that does not take a write within the async write timeout is cut, and the other learns it as 1011.
 */
import type { WebSocket } from 'ws';
import { CloseCodes } from '../errors.ts';

/** Bytes queued on one leg above which the other leg is paused. */
export const HIGH_WATER_MARK = 1024 * 1024;

/**
 * Close codes that may not be sent in a close frame (RFC 6455 §7.4.1: 1005, 1006, 1015 are reserved for
 * reporting) become what may: no status (an empty close frame came) → an empty close frame again, as nginx and
 * Knox pass it (`undefined`: `ws` then sends none); abnormal closure → 1011.
 */
export function sendableCloseCode(code: number): number | undefined {
  if (code === 1005) return undefined;
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
  /**
   * Knox's `gateway.websocket.async.write.timeout`: a leg whose queued writes do not progress for this long is
   * cut (1011 to the other leg); 0 = never.
   */
  writeTimeoutMs?: number;
  /**
   * Knox's `gateway.websocket.max.wait.buffer.count`: messages queued on one leg above which the other leg stops
   * being read (besides the byte high-water mark); 0 = no count limit.
   */
  maxQueuedMessages?: number;
  /**
   * When the credential that authenticated the connection expires (ms since the epoch, e.g. a JWT's `exp`): the
   * client is then closed with 1008 (policy violation) and the backend with 1001.
   */
  expiresAt?: number;
}

export interface RelayStats {
  bytesIn: number;
  bytesOut: number;
  closeCode?: number;
  closedBy?: 'client' | 'backend' | 'error' | 'idle' | 'expired' | 'write-timeout';
}

const IDLE_QUARTERS = 4;

/** A connection watched for idleness: set `active` on every message; `stop()` once it is closed. */
export interface IdleWatch {
  active: boolean;
  stop(): void;
}

interface Watched extends IdleWatch {
  quiet: number;
  onIdle: () => void;
}

/**
 * One sweeping timer per idle timeout in use, not one per connection: it runs every quarter of the timeout and a
 * message only sets a flag (refreshing a timer for every message costs more than the relay's own work). A
 * silent connection is closed after 1–1.25× the timeout.
 */
const sweeps = new Map<number, { timer: NodeJS.Timeout; watched: Set<Watched> }>();

export function watchIdle(timeoutMs: number, onIdle: () => void): IdleWatch {
  let sweep = sweeps.get(timeoutMs);
  if (!sweep) {
    const watched = new Set<Watched>();
    const timer = setInterval(
      () => {
        for (const w of watched) {
          if (w.active) {
            w.active = false;
            w.quiet = 0;
          } else if (++w.quiet >= IDLE_QUARTERS) {
            w.stop();
            w.onIdle();
          }
        }
      },
      Math.max(1, Math.ceil(timeoutMs / IDLE_QUARTERS)),
    );
    timer.unref();
    sweep = { timer, watched };
    sweeps.set(timeoutMs, sweep);
  }
  const set = sweep.watched;
  const w: Watched = {
    active: false,
    quiet: 0,
    onIdle,
    stop() {
      if (!set.delete(w) || set.size > 0) return;
      const current = sweeps.get(timeoutMs);
      if (current?.watched === set) {
        clearInterval(current.timer);
        sweeps.delete(timeoutMs);
      }
    },
  };
  set.add(w);
  return w;
}

/** setTimeout's limit (about 24.8 days); a later expiry is checked again when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Leg {
  /** Writes queued on `to` whose callback has not run. */
  pending: number;
  /** Runs when queued writes stop progressing for the write timeout. */
  stall?: NodeJS.Timeout;
}

/** Pipes one direction with backpressure, the message limits and the write timeout. */
function pipe(
  from: WebSocket,
  to: WebSocket,
  limits: RelayLimits,
  activity: (n: number) => void,
  onStall: () => void,
): Leg {
  const leg: Leg = { pending: 0 };
  const maxQueued = limits.maxQueuedMessages ?? 0;
  const writeTimeout = limits.writeTimeoutMs ?? 0;
  const written = () => {
    leg.pending--;
    if (leg.stall) {
      if (leg.pending === 0) {
        clearTimeout(leg.stall);
        leg.stall = undefined;
      } else leg.stall.refresh();
    }
    if (
      from.isPaused &&
      to.bufferedAmount < HIGH_WATER_MARK / 2 &&
      (maxQueued === 0 || leg.pending < maxQueued / 2)
    )
      from.resume();
  };
  const queued = () => {
    leg.pending++;
    // Only bytes the kernel did not take can stall: a write it took whole needs no timer (most of them).
    if (writeTimeout > 0 && !leg.stall && to.bufferedAmount > 0) {
      leg.stall = setTimeout(onStall, writeTimeout);
      leg.stall.unref();
    }
    if (!from.isPaused && (to.bufferedAmount > HIGH_WATER_MARK || (maxQueued > 0 && leg.pending > maxQueued)))
      from.pause();
  };
  from.on('message', (data, isBinary) => {
    if (to.readyState !== to.OPEN) return;
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
    if (size > (isBinary ? limits.maxBinaryBytes : limits.maxTextBytes)) {
      // RFC 6455 §7.4.1: 1009, a message too big to process; neither leg can go on without it.
      from.close(CloseCodes.messageTooBig, 'message too big');
      to.close(CloseCodes.messageTooBig, 'message too big');
      return;
    }
    activity(size);
    to.send(data, { binary: isBinary }, written);
    queued();
  });
  from.on('ping', (data) => {
    activity(0);
    if (to.readyState === to.OPEN) {
      to.ping(data, undefined, written);
      queued();
    }
  });
  from.on('pong', (data) => {
    activity(0);
    if (to.readyState === to.OPEN) {
      to.pong(data, undefined, written);
      queued();
    }
  });
  return leg;
}

/** Relays until either side closes; resolves with what happened. */
export function relay(client: WebSocket, backend: WebSocket, limits: RelayLimits): Promise<RelayStats> {
  const stats: RelayStats = { bytesIn: 0, bytesOut: 0 };
  const idle =
    limits.idleTimeoutMs > 0
      ? watchIdle(limits.idleTimeoutMs, () => {
          stats.closedBy = 'idle';
          client.close(CloseCodes.goingAway, 'idle timeout');
          backend.close(CloseCodes.goingAway, 'idle timeout');
        })
      : undefined;
  let expiry: NodeJS.Timeout | undefined;
  const armExpiry = () => {
    if (limits.expiresAt === undefined) return;
    const left = limits.expiresAt - Date.now();
    if (left > MAX_TIMER_MS) {
      expiry = setTimeout(armExpiry, MAX_TIMER_MS);
    } else {
      expiry = setTimeout(
        () => {
          stats.closedBy = 'expired';
          // RFC 6455 §7.4.1: 1008, the connection violates a policy — its credential is no longer valid.
          client.close(CloseCodes.policyViolation, 'credential expired');
          backend.close(CloseCodes.goingAway, 'going away');
        },
        Math.max(0, left),
      );
    }
    expiry.unref();
  };
  armExpiry();
  const stalled = (slow: WebSocket, other: WebSocket) => () => {
    stats.closedBy ??= 'write-timeout';
    slow.terminate();
    if (other.readyState === other.OPEN) other.close(CloseCodes.internalError, 'peer write timeout');
  };
  const toBackend = pipe(
    client,
    backend,
    limits,
    (n) => {
      stats.bytesIn += n;
      if (idle) idle.active = true;
    },
    stalled(backend, client),
  );
  const toClient = pipe(
    backend,
    client,
    limits,
    (n) => {
      stats.bytesOut += n;
      if (idle) idle.active = true;
    },
    stalled(client, backend),
  );
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      idle?.stop();
      if (expiry) clearTimeout(expiry);
      if (toBackend.stall) clearTimeout(toBackend.stall);
      if (toClient.stall) clearTimeout(toClient.stall);
      resolve(stats);
    };
    client.on('close', (code, reason) => {
      stats.closedBy ??= 'client';
      stats.closeCode ??= code;
      if (backend.readyState === backend.OPEN) closeWith(backend, sendableCloseCode(code), reason);
      else backend.terminate();
      finish();
    });
    backend.on('close', (code, reason) => {
      stats.closedBy ??= 'backend';
      stats.closeCode ??= code;
      if (client.readyState === client.OPEN) closeWith(client, sendableCloseCode(code), reason);
      else client.terminate();
      finish();
    });
    const failed = (side: WebSocket, other: WebSocket) => () => {
      stats.closedBy ??= 'error';
      // An error on one leg: the other learns it as 1011 (internal error), and the failed leg is dropped.
      if (other.readyState === other.OPEN) other.close(CloseCodes.internalError, 'proxied connection failed');
      side.terminate();
      finish();
    };
    client.on('error', failed(client, backend));
    backend.on('error', failed(backend, client));
  });
}

/** Closes `ws` with `code` and `reason`, or with an empty close frame when there is no code. */
function closeWith(ws: WebSocket, code: number | undefined, reason: Buffer): void {
  if (code === undefined) ws.close();
  else ws.close(code, reason);
}
