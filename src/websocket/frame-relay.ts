/**
 * @module websocket/frame-relay
 * The relay of a proxied WebSocket without an extension: frames pass from one socket to the other as they arrive,
 * checked but not re-assembled into messages and framed again. This is what nginx does (it passes bytes after the
 * upgrade); postern also keeps the checks and the limits of a WebSocket endpoint:
 *
 * - every frame header is checked (RFC 6455 §5.2: reserved bits clear, a known opcode, control frames whole and at
 *   most 125 bytes, continuations only inside a fragmented message, the client's frames masked and the
 *   backend's not), and a broken rule closes that peer with 1002 and the other with 1011;
 * - text messages (and close reasons) are checked as UTF-8 across fragments and reads (1007);
 * - a message is refused (1009 to both peers) as soon as a frame header shows it passes the service's limit,
 *   before any of that frame is sent on;
 * - the client's frames get a fresh mask from the gateway's random pool before they reach the backend (the
 *   payload is re-masked in place: RFC 6455 §5.3 wants the sender's mask unpredictable, so a client cannot choose
 *   the bytes on the backend's wire);
 * - pings, pongs and close frames are relayed (a close code is checked before it is passed on); the gateway's
 *   own closes (idle timeout, credential expiry, write timeout, an undeploy) are close frames of its own;
 * - backpressure, the write timeout, the idle timeout and the credential expiry are those of websocket/relay.
 *
 * The connection's two legs are {@link FrameWebSocket}s: `ws` does both handshakes (the client's through a
 * WebSocketServer with `WebSocket: FrameWebSocket`, the backend's as a client) and then hands the socket to
 * `setSocket`, which keeps it raw when no extension was negotiated. With permessage-deflate, `ws` runs the
 * connection and websocket/relay relays messages.
 */
import { isUtf8 } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type NetConnectOpts, connect as netConnect, Socket } from 'node:net';
import { WebSocket } from 'ws';
import { CloseCodes } from '../errors.ts';
import { HIGH_WATER_MARK, type RelayLimits, type RelayStats, watchIdle } from './relay.ts';

/** How long a closing handshake may take before both sockets are cut. */
const CLOSE_TIMEOUT_MS = 10_000;

/** setTimeout's limit (about 24.8 days); a later expiry is checked again when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface BufferUtil {
  unmask(buffer: Buffer, mask: Buffer): void;
}
/** `ws`'s native masking (its optional dependency), for payloads where a JavaScript loop costs more. */
const bufferUtil: BufferUtil | undefined = (() => {
  try {
    return createRequire(import.meta.url)('bufferutil') as BufferUtil;
  } catch {
    return undefined;
  }
})();

/** The 4-byte key of one XOR pass (one process, one thread: shared). */
const key = Buffer.alloc(4);

/**
 * The payload size from which `bufferutil`'s native masking is used: below it the JavaScript loop costs less than the
 * call (and the view the call needs). Node 24 on this project's machine: 64 B 38 ns in JavaScript against 105 native,
 * 128 B 63 against 160, 256 B 120 against 74 (docs/performance.md, "Alternating rounds, the system calls, and
 * what the relay allocated per message").
 */
const NATIVE_MASK_MIN = 192;

/** XORs `buf[start, end)` in place with the 4-byte mask in `m` (a 32-bit number, byte 0 first) from offset `pos`. */
function xor(buf: Buffer, start: number, end: number, m: number, pos: number): void {
  const r = (pos & 3) * 8;
  const rotated = r === 0 ? m : ((m << r) | (m >>> (32 - r))) >>> 0;
  if (rotated === 0) return;
  const n = end - start;
  if (n >= NATIVE_MASK_MIN && bufferUtil) {
    key.writeUInt32BE(rotated, 0);
    bufferUtil.unmask(buf.subarray(start, end), key);
    return;
  }
  const k0 = rotated >>> 24;
  const k1 = (rotated >>> 16) & 0xff;
  const k2 = (rotated >>> 8) & 0xff;
  const k3 = rotated & 0xff;
  let i = start;
  for (; i + 3 < end; i += 4) {
    buf[i] ^= k0;
    buf[i + 1] ^= k1;
    buf[i + 2] ^= k2;
    buf[i + 3] ^= k3;
  }
  if (i < end) buf[i++] ^= k0;
  if (i < end) buf[i++] ^= k1;
  if (i < end) buf[i] ^= k2;
}

const POOL_SIZE = 8 * 1024;
let pool: Buffer | undefined;
let poolAt = POOL_SIZE;
/** A fresh random mask (a 32-bit number, never 0) from a pool refilled by the CSPRNG, as `ws` masks. */
function randomMask(): number {
  let m = 0;
  while (m === 0) {
    if (poolAt === POOL_SIZE) {
      pool ??= Buffer.alloc(POOL_SIZE);
      randomFillSync(pool);
      poolAt = 0;
    }
    m = pool?.readUInt32BE(poolAt) ?? 0;
    poolAt += 4;
  }
  return m;
}

/** Close codes a peer may send (RFC 6455 §7.4.1, as `ws` checks them). */
function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}

/** The length of the UTF-8 sequence a lead byte starts (0: not a lead byte). */
function sequenceLength(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/**
 * Up to this many bytes, a piece of a text message is first scanned for ASCII in JavaScript (see checkUtf8): 64 B in
 * 30 ns against 45 for the native check and its view, 128 B in 56 against 45 (the view's allocation aside).
 */
const ASCII_SCAN_MAX = 128;

/**
 * Checks the next piece of a text message, `buf[start, end)`, as UTF-8, `carry` being the incomplete sequence the
 * previous piece ended with: returns the new carry (`undefined` when none), or `false` when the bytes cannot be
 * UTF-8. A short piece with no carry that is all ASCII (most chat and JSON messages) is settled by a JavaScript scan,
 * without the views and the native call the full check needs.
 */
function checkUtf8(
  carry: Buffer | undefined,
  buf: Buffer,
  start: number,
  end: number,
): Buffer | undefined | false {
  if (carry === undefined && end - start <= ASCII_SCAN_MAX) {
    let bits = 0;
    for (let i = start; i < end; i++) bits |= buf[i];
    if (bits < 0x80) return undefined;
  }
  let from = start;
  if (carry) {
    const need = sequenceLength(carry[0]) - carry.length;
    const take = Math.min(need, end - start);
    const joined = Buffer.concat([carry, buf.subarray(start, start + take)]);
    for (let i = carry.length; i < joined.length; i++) if ((joined[i] & 0xc0) !== 0x80) return false;
    if (take < need) return joined;
    if (!isUtf8(joined)) return false;
    from = start + take;
  }
  let to = end;
  let p = to - 1;
  while (p >= from && to - p <= 3 && (buf[p] & 0xc0) === 0x80) p--;
  if (p >= from && buf[p] >= 0xc0) {
    const n = sequenceLength(buf[p]);
    if (n === 0) return false;
    if (n > to - p) to = p;
  }
  if (to > from && !isUtf8(buf.subarray(from, to))) return false;
  return to < end ? Buffer.from(buf.subarray(to, end)) : undefined;
}

class ProtocolError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

interface Internals {
  _extensions: Record<string, unknown>;
  _readyState: number;
  setSocket(socket: Socket, head: Buffer, options: unknown): void;
}

/**
 * A `ws` WebSocket whose socket stays raw when the handshake negotiated no extension (`raw`), for
 * {@link relayFrames}; with permessage-deflate it is an ordinary `ws` WebSocket.
 */
export class FrameWebSocket extends WebSocket {
  /** The socket, read by {@link relayFrames}; undefined while connecting and when `ws` runs the connection. */
  raw: Socket | undefined;
  /** What the peer sent right after its handshake. */
  rawHead: Buffer | undefined;
  /** The relay once it runs. */
  frames: FrameRelay | undefined;

  /** Called by `ws` once a handshake succeeded. */
  setSocket(socket: Socket, head: Buffer, options: unknown): void {
    const self = this as unknown as Internals;
    if (Object.keys(self._extensions).length > 0) {
      (WebSocket.prototype as unknown as Internals).setSocket.call(this, socket, head, options);
      return;
    }
    this.raw = socket;
    this.rawHead = head.length > 0 ? head : undefined;
    // Nothing is read until the relay listens; an error until then only ends the socket.
    socket.pause();
    socket.on('error', ignoreEarly);
    // A Duplex that is not a TCP socket (an HTTP/2 stream of RFC 8441) has neither.
    if (typeof socket.setTimeout === 'function') socket.setTimeout(0);
    if (typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    self._readyState = WebSocket.OPEN;
    this.emit('open');
  }

  override close(code?: number, reason?: string | Buffer): void {
    if (this.frames) this.frames.closeBoth(code ?? CloseCodes.normal, String(reason ?? ''));
    else if (this.raw) this.terminate();
    else super.close(code, reason);
  }

  override terminate(): void {
    if (this.frames) this.frames.terminate();
    else if (this.raw) {
      this.raw.destroy();
      (this as unknown as Internals)._readyState = WebSocket.CLOSED;
    } else super.terminate();
  }
}

/**
 * Ends a socket's writing side once: `end()` on a socket already ended or destroyed does nothing but make an error
 * object (`ERR_STREAM_ALREADY_FINISHED`, `ERR_STREAM_DESTROYED`, a stack trace each) that nothing reads, and a
 * relay's legs are ended from several paths (a close frame each way, the peer's end, its close).
 */
function endSocket(socket: Socket): void {
  if (!socket.writableEnded && !socket.destroyed) socket.end();
}

function ignoreEarly(): void {}

/**
 * The one buffer every {@link DirectReader} reads into. Reads are parsed and written on before the next one (one
 * thread): a write that the kernel does not take whole at once is copied (see FrameRelay's #write), so nothing
 * refers to these bytes once a read has been relayed.
 */
const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

/**
 * Reads a socket into {@link READ_BUFFER} (`net`'s `onread` option): no Readable stream, no push, no 'data' event
 * and no fresh 64 KiB allocation per read. Until the relay takes over (the handshake), each read is emitted as a
 * 'data' event of its own copy.
 */
export class DirectReader {
  readonly socket: Socket;
  /** The relay's parser, once it runs. */
  sink: ((chunk: Buffer) => void) | undefined;

  constructor(options: NetConnectOpts) {
    this.socket = netConnect({
      ...options,
      onread: { buffer: READ_BUFFER, callback: (n: number) => this.#read(n) },
    });
    readers.set(this.socket, this);
  }

  #read(n: number): boolean {
    const chunk = READ_BUFFER.subarray(0, n);
    if (this.sink) this.sink(chunk);
    else this.socket.emit('data', Buffer.from(chunk));
    return true;
  }
}

/**
 * `net.Socket`'s own slots for its `onread` option (lib/net.js `kBuffer` and `kBufferCb`, which every socket has,
 * null when it reads into fresh buffers), found on a probe socket by their descriptions; undefined on a Node that
 * has them no more (then sockets are read as streams).
 */
const onreadSlots = (() => {
  const probe = new Socket();
  const slots = new Map(Object.getOwnPropertySymbols(probe).map((sym) => [sym.description, sym]));
  probe.destroy();
  const buffer = slots.get('kBuffer');
  const callback = slots.get('kBufferCb');
  return buffer && callback ? { buffer, callback } : undefined;
})();

/**
 * Makes an accepted socket (the client's, which `net` gave no `onread`) read into {@link READ_BUFFER} from now on,
 * each read handed to `sink` before the next can happen, as `onread` would: the slots net.Socket reads it by, and
 * the handle's `useUserBuffer`, which that option calls. Only a plain TCP socket, idle (nothing read and not yet
 * taken), with the slots as `net` leaves them; false otherwise, and the socket is left as it was.
 */
export function readIntoSharedBuffer(socket: Socket, sink: (chunk: Buffer) => void): boolean {
  const handle = handleOf(socket) as { useUserBuffer?: (buffer: Uint8Array) => void } | null | undefined;
  if (
    onreadSlots === undefined ||
    plainFd(socket) < 0 ||
    typeof handle?.useUserBuffer !== 'function' ||
    socket.destroyed ||
    socket.readableLength > 0
  )
    return false;
  const slots = socket as unknown as Record<symbol, unknown>;
  if (slots[onreadSlots.buffer] !== null || slots[onreadSlots.callback] !== null) return false;
  // Through a variable (test/source-closures.test.ts).
  const onread = (n: number) => {
    sink(READ_BUFFER.subarray(0, n));
    return true;
  };
  slots[onreadSlots.callback] = onread;
  slots[onreadSlots.buffer] = READ_BUFFER;
  handle.useUserBuffer(READ_BUFFER);
  return true;
}

/** What a socket given the shared buffer reads with once its relay is over (nothing comes after its close). */
const readNothing = () => true;

/**
 * Lets go of the reader {@link readIntoSharedBuffer} gave a closed socket: its `onread` slot no longer leads to the
 * relay. The socket object itself outlives its close through scavenges (see {@link FrameRelay}'s `#release`).
 */
function releaseSharedBuffer(socket: Socket): void {
  const slots = socket as unknown as Record<symbol, unknown>;
  if (onreadSlots !== undefined && typeof slots[onreadSlots.callback] === 'function')
    slots[onreadSlots.callback] = readNothing;
}

/** A socket's libuv handle (`socket._handle`: Node's, set to null when the socket is destroyed). */
type Handle = { fd?: unknown } | null | undefined;
const handleOf = (socket: Socket) => (socket as unknown as { _handle?: Handle })._handle;

/**
 * The file descriptor of a plain `net.Socket` on a TCP handle (`socket._handle.fd`, the handle's property on
 * Unix), or -1: a TLS socket (whose bytes must go through TLS), an HTTP/2 stream, any other Duplex, Windows.
 */
function plainFd(socket: Socket): number {
  if (Object.getPrototypeOf(socket) !== Socket.prototype) return -1;
  const fd = handleOf(socket)?.fd;
  return typeof fd === 'number' && fd > 2 ? fd : -1;
}

/** The sockets read by a {@link DirectReader}. */
const readers = new WeakMap<Socket, DirectReader>();

/**
 * A `createConnection` for `ws` (plain TCP only): the backend's socket, read by a {@link DirectReader}. `ws` calls
 * it with its options object only (typed as `net.connect` for its option).
 */
export const directConnection = ((options: NetConnectOpts & { socketPath?: string }): Socket =>
  // As `ws`'s own netConnect: a UNIX socket path, when the URL named one.
  new DirectReader({ ...options, path: options.socketPath } as NetConnectOpts).socket) as typeof netConnect;

const HEADER = 0;
const PAYLOAD = 1;
const CONTROL = 2;
const DONE = 3;

/** One peer of a relayed connection: its socket, and the parse state of the frames it sends. */
class Peer {
  readonly socket: Socket;
  /** Its frames arrive masked (the client's). */
  readonly masked: boolean;
  other!: Peer;
  phase = HEADER;
  /** A header split across reads, as far as it came. */
  head: Buffer | undefined;
  /** Payload bytes of the current frame not read yet. */
  left = 0;
  opcode = 0;
  fin = false;
  /** The frame's mask as it came, and the one it leaves with (32-bit numbers). */
  maskIn = 0;
  maskOut = 0;
  /** Payload bytes of the current frame read so far (for the mask's phase). */
  pos = 0;
  /** The opcode of the fragmented message in progress (1 text, 2 binary), 0 between messages. */
  message = 0;
  size = 0;
  utf8: Buffer | undefined;
  /** A control frame being collected (header + payload) and how much of it came. */
  control: Buffer | undefined;
  controlAt = 0;
  controlHeader = 0;
  /** A close frame came from this peer / was sent to it. */
  closeReceived = false;
  closeSent = false;
  /** Writes to this peer queued behind others whose callback has not run. */
  pending = 0;
  /** Bytes written to this peer in all, and how many of them had left at the last look of the stall timer. */
  sent = 0;
  flushed = 0;
  stall: NodeJS.Timeout | undefined;
  paused = false;
  gone = false;
  /** Its reads land in {@link READ_BUFFER} (a {@link DirectReader}'s socket, or one given that buffer later). */
  shared = false;
  /** The file descriptor of a plain TCP socket (written to directly when nothing is queued), else -1... */
  readonly fd: number;
  /** ...valid while this handle is the socket's (never once it is closed: the number may be another's then). */
  readonly handle: Handle;
  readonly written: () => void;
  /** The relay's listeners on the socket (event, listener), taken off when the relay is over. */
  listeners: [string, (chunk: Buffer) => void][] = [];

  constructor(socket: Socket, masked: boolean, written: (peer: Peer) => void) {
    this.socket = socket;
    this.masked = masked;
    this.fd = plainFd(socket);
    this.handle = handleOf(socket);
    // Through a variable (test/source-closures.test.ts).
    const onWritten = () => written(this);
    this.written = onWritten;
  }
}

/** The relay of one connection (see the module). */
export class FrameRelay {
  readonly #client: Peer;
  readonly #backend: Peer;
  readonly #limits: RelayLimits;
  readonly #stats: RelayStats = { bytesIn: 0, bytesOut: 0 };
  readonly #done: (stats: RelayStats) => void;
  readonly #idle: ReturnType<typeof watchIdle> | undefined;
  #expiry: NodeJS.Timeout | undefined;
  #closing: NodeJS.Timeout | undefined;
  #finished = false;
  readonly #clientWs: FrameWebSocket;

  constructor(
    client: FrameWebSocket,
    backend: FrameWebSocket,
    limits: RelayLimits,
    done: (s: RelayStats) => void,
  ) {
    this.#clientWs = client;
    this.#limits = limits;
    this.#done = done;
    const written = (peer: Peer) => this.#written(peer);
    const c = new Peer(client.raw as Socket, true, written);
    const b = new Peer(backend.raw as Socket, false, written);
    c.other = b;
    b.other = c;
    this.#client = c;
    this.#backend = b;
    client.frames = this;
    backend.frames = this;
    this.#idle =
      limits.idleTimeoutMs > 0
        ? watchIdle(limits.idleTimeoutMs, () => {
            this.#stats.closedBy ??= 'idle';
            this.closeBoth(CloseCodes.goingAway, 'idle timeout');
          })
        : undefined;
    if (limits.expiresAt !== undefined) this.#armExpiry(limits.expiresAt);
    for (const peer of [c, b]) {
      const s = peer.socket;
      s.off('error', ignoreEarly);
      const reader = readers.get(s);
      const sink = (chunk: Buffer) => this.#read(peer, chunk);
      if (reader) {
        reader.sink = sink;
        peer.shared = true;
      } else if (readIntoSharedBuffer(s, sink)) {
        // A plain socket opened without `onread` (the client's, accepted by the server; a backend's that `ws`
        // opened itself because an extension was offered) is given the shared buffer now.
        peer.shared = true;
      } else {
        // TLS, an HTTP/2 stream, or bytes already read into the stream: read as a stream.
        peer.listeners.push(['data', sink]);
      }
      peer.listeners.push(
        ['error', () => this.#failed(peer)],
        ['close', () => this.#gone(peer)],
        ['end', () => this.#ended(peer)],
        // A write over the socket's own high-water mark (one big frame) is followed by a drain, not a callback.
        ['drain', () => this.#drained(peer)],
      );
      for (const [event, listener] of peer.listeners) s.on(event, listener);
    }
    const heads: [Peer, Buffer | undefined][] = [
      [b, backend.rawHead],
      [c, client.rawHead],
    ];
    client.rawHead = undefined;
    backend.rawHead = undefined;
    for (const [peer, head] of heads) {
      if (peer.socket.destroyed) {
        this.#gone(peer);
        continue;
      }
      if (head) this.#read(peer, head);
    }
    if (!c.gone && !c.paused) c.socket.resume();
    if (!b.gone && !b.paused) b.socket.resume();
  }

  #armExpiry(at: number): void {
    const left = at - Date.now();
    this.#expiry =
      left > MAX_TIMER_MS
        ? setTimeout(() => this.#armExpiry(at), MAX_TIMER_MS)
        : setTimeout(
            () => {
              this.#stats.closedBy ??= 'expired';
              // RFC 6455 §7.4.1: 1008, the connection violates a policy — its credential is no longer valid.
              this.#sendClose(this.#client, CloseCodes.policyViolation, 'credential expired');
              this.#sendClose(this.#backend, CloseCodes.goingAway, 'going away');
            },
            Math.max(0, left),
          );
    this.#expiry.unref();
  }

  /** Closes both peers with `code` (an undeploy, the idle timeout). */
  closeBoth(code: number, reason: string): void {
    this.#sendClose(this.#client, code, reason);
    this.#sendClose(this.#backend, code, reason);
  }

  terminate(): void {
    this.#client.socket.destroy();
    this.#backend.socket.destroy();
  }

  #read(from: Peer, chunk: Buffer): void {
    if (from.phase === DONE) return;
    if (this.#idle) this.#idle.active = true;
    /** Start of the bytes of `chunk` not yet passed on (they are passed on as they lie, after in-place edits). */
    let run = 0;
    let i = 0;
    /** Where the frame being parsed starts in `chunk` (0 when it began in an earlier read). */
    let frameAt = 0;
    /** Bytes of the frame being parsed have already been passed on (its header went in an earlier write). */
    let partial = from.phase === PAYLOAD;
    const len = chunk.length;
    try {
      while (i < len) {
        if (from.phase === PAYLOAD) {
          // Passed on from where it lies: unmasked to check text, masked again with the gateway's mask.
          const n = Math.min(from.left, len - i);
          const end = i + n;
          if (from.masked) {
            if (from.message === 1) {
              xor(chunk, i, end, from.maskIn, from.pos);
              this.#text(from, chunk, i, end);
              xor(chunk, i, end, from.maskOut, from.pos);
            } else xor(chunk, i, end, (from.maskIn ^ from.maskOut) >>> 0, from.pos);
          } else if (from.message === 1) this.#text(from, chunk, i, end);
          from.pos += n;
          from.left -= n;
          i = end;
          if (from.left === 0) this.#frameEnd(from);
          continue;
        }
        if (from.phase === CONTROL) {
          const control = from.control as Buffer;
          const n = Math.min(control.length - from.controlAt, len - i);
          chunk.copy(control, from.controlAt, i, i + n);
          from.controlAt += n;
          i += n;
          run = i;
          if (from.controlAt === control.length) this.#control(from);
          continue;
        }
        if (from.phase === DONE) {
          // Nothing a peer sends after its close frame (or a fault) is passed on.
          if (i > run) this.#pass(from, chunk, run, i);
          return;
        }
        // HEADER, whole in this read or begun in an earlier one.
        frameAt = i;
        partial = false;
        let h = chunk;
        let at = i;
        let size = headerSize(chunk, i, len);
        const begun = from.head;
        if (begun !== undefined) {
          const joined = Buffer.concat([begun, chunk.subarray(i, Math.min(len, i + 14 - begun.length))]);
          size = headerSize(joined, 0, joined.length);
          if (size === 0 || joined.length < size) {
            from.head = joined;
            i = run = len;
            continue;
          }
          from.head = undefined;
          h = joined.subarray(0, size);
          at = 0;
          i = run = i + size - begun.length;
        } else if (size === 0 || i + size > len) {
          if (i > run) this.#pass(from, chunk, run, i);
          from.head = Buffer.from(chunk.subarray(i));
          i = run = len;
          continue;
        } else i += size;
        this.#header(from, h, at);
        if (from.phase === CONTROL) {
          // Control frames are collected whole: their payload is read (a close code) before they go on.
          if (h === chunk && at > run) this.#pass(from, chunk, run, at);
          from.control = Buffer.allocUnsafe(size + from.left);
          h.copy(from.control, 0, at, at + size);
          from.controlAt = size;
          from.controlHeader = size;
          run = i;
          if (from.left === 0) this.#control(from);
        } else {
          if (h !== chunk) {
            this.#pass(from, h, 0, h.length);
            partial = true;
          }
          if (from.left === 0) this.#frameEnd(from);
        }
      }
      if (i > run) this.#pass(from, chunk, run, i);
    } catch (err) {
      // The whole frames before the faulty one are passed on first, then the closes.
      if (!partial && frameAt > run) this.#pass(from, chunk, run, frameAt);
      // Anything else is the relay's own fault: the connection fails closed (1011 both ways), the gateway goes on.
      this.#protocolError(
        from,
        err instanceof ProtocolError ? err : new ProtocolError(CloseCodes.internalError, 'relay failure'),
        partial,
      );
    }
  }

  /** Passes `buf[start, end)` on to the other peer, unless it is closing or gone (the whole read, most often). */
  #pass(from: Peer, buf: Buffer, start: number, end: number): void {
    const to = from.other;
    if (to.closeSent || to.gone) return;
    this.#write(from, to, buf, start, end);
  }

  /** Checks a parsed header and sets up the frame. */
  #header(from: Peer, h: Buffer, at: number): void {
    const b0 = h[at];
    const b1 = h[at + 1];
    if ((b0 & 0x70) !== 0) throw new ProtocolError(CloseCodes.protocolError, 'reserved bits set');
    if (((b1 & 0x80) !== 0) !== from.masked)
      throw new ProtocolError(
        CloseCodes.protocolError,
        from.masked ? 'unmasked client frame' : 'masked server frame',
      );
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let maskAt = at + 2;
    if (length === 126) {
      length = h.readUInt16BE(at + 2);
      maskAt += 2;
    } else if (length === 127) {
      const high = h.readUInt32BE(at + 2);
      if (high > 0x1fffff) throw new ProtocolError(CloseCodes.messageTooBig, 'payload length over 2^53 - 1');
      length = high * 2 ** 32 + h.readUInt32BE(at + 6);
      maskAt += 8;
    }
    from.opcode = opcode;
    from.fin = fin;
    from.left = length;
    from.pos = 0;
    if (from.masked) {
      from.maskIn = h.readUInt32BE(maskAt);
      from.maskOut = randomMask();
      h.writeUInt32BE(from.maskOut, maskAt);
    }
    if (opcode >= 8) {
      if (opcode > 10) throw new ProtocolError(CloseCodes.protocolError, `invalid opcode ${opcode}`);
      if (!fin) throw new ProtocolError(CloseCodes.protocolError, 'fragmented control frame');
      if (length > 125) throw new ProtocolError(CloseCodes.protocolError, 'control frame over 125 bytes');
      from.phase = CONTROL;
      return;
    }
    if (opcode === 0) {
      if (from.message === 0) throw new ProtocolError(CloseCodes.protocolError, 'continuation of no message');
    } else if (opcode === 1 || opcode === 2) {
      if (from.message !== 0)
        throw new ProtocolError(CloseCodes.protocolError, 'new message inside a fragmented one');
      from.message = opcode;
      from.size = 0;
    } else throw new ProtocolError(CloseCodes.protocolError, `invalid opcode ${opcode}`);
    from.size += length;
    const max = from.message === 1 ? this.#limits.maxTextBytes : this.#limits.maxBinaryBytes;
    if (from.size > max) throw new ProtocolError(CloseCodes.messageTooBig, 'message too big');
    if (from === this.#client) this.#stats.bytesIn += length;
    else this.#stats.bytesOut += length;
    from.phase = PAYLOAD;
  }

  #text(from: Peer, buf: Buffer, start: number, end: number): void {
    const carry = checkUtf8(from.utf8, buf, start, end);
    if (carry === false) throw new ProtocolError(CloseCodes.invalidPayload, 'invalid UTF-8');
    from.utf8 = carry;
  }

  #frameEnd(from: Peer): void {
    from.phase = HEADER;
    if (!from.fin) return;
    if (from.message === 1 && from.utf8 !== undefined)
      throw new ProtocolError(CloseCodes.invalidPayload, 'invalid UTF-8');
    from.message = 0;
    from.size = 0;
  }

  /** A whole control frame from `from`: a ping or pong goes on; a close is checked, then goes on. */
  #control(from: Peer): void {
    const frame = from.control as Buffer;
    const at = from.controlHeader;
    from.control = undefined;
    from.phase = HEADER;
    const to = from.other;
    if (from.opcode !== 8) {
      if (from.masked) xor(frame, at, frame.length, (from.maskIn ^ from.maskOut) >>> 0, 0);
      if (!to.closeSent && !to.gone) this.#write(from, to, frame);
      return;
    }
    if (from.masked) xor(frame, at, frame.length, from.maskIn, 0);
    const payload = frame.subarray(at);
    let code = 1005;
    if (payload.length === 1) throw new ProtocolError(CloseCodes.protocolError, 'close frame of 1 byte');
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code))
        throw new ProtocolError(CloseCodes.protocolError, `invalid close code ${code}`);
      if (!isUtf8(payload.subarray(2))) throw new ProtocolError(CloseCodes.invalidPayload, 'invalid UTF-8');
    }
    from.closeReceived = true;
    from.phase = DONE;
    this.#stats.closedBy ??= from === this.#client ? 'client' : 'backend';
    this.#stats.closeCode ??= code;
    if (!to.closeSent && !to.gone) {
      if (from.masked) xor(frame, at, frame.length, from.maskOut, 0);
      to.closeSent = true;
      this.#write(from, to, frame);
      this.#closingStarted();
      if (to.closeReceived) endSocket(to.socket);
    }
    if (from.closeSent) endSocket(from.socket);
  }

  /** Sends a close frame of the gateway's own to `to` (once). */
  #sendClose(to: Peer, code: number, reason: string): void {
    if (to.closeSent || to.gone) return;
    to.closeSent = true;
    if (to.other.phase === PAYLOAD) {
      // `to` got the start of a frame whose rest has not come (a read is passed on whole by the time it ends): a
      // close frame now would be read as that frame's payload, so its connection ends without one (it sees 1006).
      endSocket(to.socket);
      this.#closingStarted();
      return;
    }
    const text = Buffer.from(reason.slice(0, 123));
    const payload = text.length + 2;
    const frame = Buffer.allocUnsafe((to === this.#backend ? 6 : 2) + payload);
    frame[0] = 0x88;
    let at = 2;
    if (to === this.#backend) {
      frame[1] = 0x80 | payload;
      const m = randomMask();
      frame.writeUInt32BE(m, 2);
      at = 6;
      frame.writeUInt16BE(code, at);
      text.copy(frame, at + 2);
      xor(frame, at, frame.length, m, 0);
    } else {
      frame[1] = payload;
      frame.writeUInt16BE(code, at);
      text.copy(frame, at + 2);
    }
    to.socket.write(frame);
    this.#closingStarted();
    if (to.closeReceived) endSocket(to.socket);
  }

  #closingStarted(): void {
    if (this.#closing) return;
    this.#closing = setTimeout(() => this.terminate(), CLOSE_TIMEOUT_MS);
    this.#closing.unref();
  }

  /** `from` broke a rule; `partial`: part of its faulty frame already went to the other peer. */
  #protocolError(from: Peer, err: ProtocolError, partial: boolean): void {
    from.phase = DONE;
    const to = from.other;
    this.#stats.closedBy ??= 'error';
    this.#stats.closeCode ??= err.code;
    this.#sendClose(from, err.code, err.code === CloseCodes.messageTooBig ? 'message too big' : err.message);
    endSocket(from.socket);
    // The other peer got the start of a frame whose rest will never come: a close frame now would be read as
    // that frame's payload, so its connection is ended without one (it sees 1006).
    if (partial) {
      if (!to.closeSent && !to.gone) {
        to.closeSent = true;
        endSocket(to.socket);
        this.#closingStarted();
      }
      return;
    }
    // A message over the limit is refused to both (neither can go on without it); any other fault of one peer
    // is the other's 1011.
    if (err.code === CloseCodes.messageTooBig)
      this.#sendClose(to, CloseCodes.messageTooBig, 'message too big');
    else this.#sendClose(to, CloseCodes.internalError, 'proxied connection failed');
  }

  /** Writes `buf[start, end)` to `to`. */
  #write(from: Peer, to: Peer, buf: Buffer, start = 0, end = buf.length): void {
    const socket = to.socket;
    to.sent += end - start;
    if (socket.writableLength === 0) {
      // Nothing queued: the bytes go to the kernel at once, as libuv's own first try of a write does, without a
      // write request, a Writable stream's state or a tick; what it does not take goes the usual way below.
      if (to.fd >= 0 && !socket.destroyed && !socket.writableEnded && handleOf(socket) === to.handle) {
        try {
          start += writeSync(to.fd, buf, start, end - start);
        } catch {
          // EAGAIN (the kernel's buffer is full) and real failures alike: socket.write queues the bytes or
          // reports the failure as the socket's 'error'.
        }
        if (start === end) return;
      }
    }
    // A piece of the shared read buffer is copied: the next read overwrites it.
    const piece = from.shared
      ? Buffer.from(buf.subarray(start, end))
      : start === 0 && end === buf.length
        ? buf
        : buf.subarray(start, end);
    // A write to a socket with nothing queued is most often taken whole by the kernel at once: no callback (its
    // tick costs more than the rest of the relay's work). One queued behind others is counted until it leaves.
    if (socket.writableLength === 0) socket.write(piece);
    else {
      to.pending++;
      socket.write(piece, to.written);
    }
    const buffered = socket.writableLength;
    if (buffered === 0) return;
    const writeTimeout = this.#limits.writeTimeoutMs ?? 0;
    // Only bytes the kernel did not take can stall: a write it took whole needs no timer (most of them).
    if (writeTimeout > 0 && !to.stall) {
      to.flushed = to.sent - buffered;
      to.stall = setTimeout(() => this.#stallCheck(to), writeTimeout);
      to.stall.unref();
    }
    const maxQueued = this.#limits.maxQueuedMessages ?? 0;
    if (!from.paused && (buffered > HIGH_WATER_MARK || (maxQueued > 0 && to.pending > maxQueued))) {
      from.paused = true;
      from.socket.pause();
    }
  }

  #written(to: Peer): void {
    to.pending--;
    this.#drained(to);
  }

  /** Bytes left for `to`: the other peer is read again once they are under half the high-water mark. */
  #drained(to: Peer): void {
    if (to.stall && to.socket.writableLength === 0) {
      clearTimeout(to.stall);
      to.stall = undefined;
    }
    const from = to.other;
    const maxQueued = this.#limits.maxQueuedMessages ?? 0;
    if (
      from.paused &&
      to.socket.writableLength < HIGH_WATER_MARK / 2 &&
      (maxQueued === 0 || to.pending < maxQueued / 2)
    ) {
      from.paused = false;
      if (!from.gone) from.socket.resume();
    }
  }

  /** The write timeout ran out with bytes still queued for `to`: cut it unless some of them left since. */
  #stallCheck(to: Peer): void {
    const buffered = to.socket.writableLength;
    const flushed = to.sent - buffered;
    if (buffered === 0) to.stall = undefined;
    else if (flushed > to.flushed) {
      to.flushed = flushed;
      to.stall?.refresh();
    } else this.#stalled(to);
  }

  #stalled(slow: Peer): void {
    this.#stats.closedBy ??= 'write-timeout';
    slow.socket.destroy();
    this.#sendClose(slow.other, CloseCodes.internalError, 'peer write timeout');
  }

  #failed(peer: Peer): void {
    this.#stats.closedBy ??= 'error';
    // An error on one leg: the other learns it as 1011 (internal error), and the failed leg is dropped.
    this.#sendClose(peer.other, CloseCodes.internalError, 'proxied connection failed');
    peer.socket.destroy();
  }

  /** The peer ended its side of TCP: after a close frame that is the end; without one, the other learns 1011. */
  #ended(peer: Peer): void {
    if (!peer.closeReceived) {
      this.#stats.closedBy ??= peer === this.#client ? 'client' : 'backend';
      this.#stats.closeCode ??= 1006;
      this.#sendClose(peer.other, CloseCodes.internalError, '');
    }
    endSocket(peer.socket);
  }

  #gone(peer: Peer): void {
    if (peer.gone) return;
    peer.gone = true;
    if (peer.stall) clearTimeout(peer.stall);
    const other = peer.other;
    if (!peer.closeReceived) {
      this.#stats.closedBy ??= peer === this.#client ? 'client' : 'backend';
      this.#stats.closeCode ??= 1006;
      // (While `peer` still counts as mid-frame, if it was: the other then gets no close frame.)
      this.#sendClose(other, CloseCodes.internalError, '');
    } else if (!other.gone && other.closeSent && other.closeReceived) endSocket(other.socket);
    peer.phase = DONE;
    if (other.gone) {
      if (this.#closing) clearTimeout(this.#closing);
      this.#release();
    } else if (other.paused) {
      // What it still sends up to its close frame is read (and dropped): a paused socket would never get there.
      other.paused = false;
      other.socket.resume();
    }
    // Done once either leg is closed, as websocket/relay is: the other is closing and the close timer cuts it.
    this.#finish();
  }

  /**
   * Both legs are closed: nothing on either socket leads to the relay any more (listeners, read callbacks). A
   * closed socket is garbage, but Node's own `WritableState` holds it through scavenges until a mark-compact (its
   * `onwrite` is an arrow assigned to a property, which this V8 allocates in the old generation:
   * test/source-closures.test.ts), and with it whatever it still points at; without this, each short connection
   * kept its relay, peers and their buffers there too (docs/performance.md, "WebSocket connections").
   */
  #release(): void {
    for (const peer of [this.#client, this.#backend]) {
      const socket = peer.socket;
      for (const [event, listener] of peer.listeners) socket.off(event, listener);
      peer.listeners = [];
      // Nothing should come after a socket's close; were an error to, it must not find the socket without a listener.
      socket.on('error', ignoreEarly);
      const reader = readers.get(socket);
      if (reader) reader.sink = undefined;
      else if (peer.shared) releaseSharedBuffer(socket);
    }
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#idle?.stop();
    if (this.#expiry) clearTimeout(this.#expiry);
    const ws = this.#clientWs as unknown as Internals;
    ws._readyState = WebSocket.CLOSED;
    this.#done(this.#stats);
    this.#clientWs.emit('close', this.#stats.closeCode ?? 1006, Buffer.alloc(0));
  }
}

/** The size of the frame header at `buf[at]` (bytes up to `end` there), or 0 when too few bytes tell it yet. */
function headerSize(buf: Buffer, at: number, end: number): number {
  if (end - at < 2) return 0;
  const l = buf[at + 1] & 0x7f;
  // The mask bit itself is checked with the rest of the header; the size follows the bit as sent.
  const m = (buf[at + 1] & 0x80) !== 0 ? 4 : 0;
  return 2 + (l === 126 ? 2 : l === 127 ? 8 : 0) + m;
}

/** Relays a connection whose two legs are raw {@link FrameWebSocket}s; resolves with what happened. */
export function relayFrames(
  client: FrameWebSocket,
  backend: FrameWebSocket,
  limits: RelayLimits,
): Promise<RelayStats> {
  return new Promise((resolve) => {
    new FrameRelay(client, backend, limits, resolve);
  });
}
