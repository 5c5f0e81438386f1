/**
 * The frame relay (src/websocket/frame-relay.ts) seen from the wire: a raw TCP client that writes its own frames
 * (any mask, split anywhere, broken on purpose) and a raw TCP backend that answers the handshake itself and keeps
 * every byte it gets. What a conforming `ws` client could never send is what these tests send.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { readIntoSharedBuffer } from '../../src/websocket/frame-relay.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const accept = (key: string) =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

interface Frame {
  fin: boolean;
  opcode: number;
  mask: number | undefined;
  payload: Buffer;
}

/** Parses whole frames from `buf`; returns them and what is left over. */
function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let at = 0;
  for (;;) {
    if (buf.length - at < 2) break;
    let len = buf[at + 1] & 0x7f;
    let h = 2;
    if (len === 126) {
      if (buf.length - at < 4) break;
      len = buf.readUInt16BE(at + 2);
      h = 4;
    } else if (len === 127) {
      if (buf.length - at < 10) break;
      len = Number(buf.readBigUInt64BE(at + 2));
      h = 10;
    }
    const masked = (buf[at + 1] & 0x80) !== 0;
    if (masked) h += 4;
    if (buf.length - at < h + len) break;
    const payload = Buffer.from(buf.subarray(at + h, at + h + len));
    const mask = masked ? buf.readUInt32BE(at + h - 4) : undefined;
    if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[at + h - 4 + (i & 3)];
    frames.push({ fin: (buf[at] & 0x80) !== 0, opcode: buf[at] & 0x0f, mask, payload });
    at += h + len;
  }
  return { frames, rest: buf.subarray(at) };
}

/** One frame as a client sends it: masked with `mask` (0 = unmasked bit clear), any opcode and bits. */
function frame(
  opcode: number,
  payload: Buffer | string,
  o: { fin?: boolean; mask?: number; rsv?: number } = {},
) {
  const data = Buffer.from(payload);
  const mask = o.mask ?? 0x1234abcd;
  const head = data.length < 126 ? 2 : data.length < 65536 ? 4 : 10;
  const out = Buffer.alloc(head + (mask ? 4 : 0) + data.length);
  out[0] = ((o.fin ?? true) ? 0x80 : 0) | (o.rsv ?? 0) | opcode;
  if (data.length < 126) out[1] = data.length;
  else if (data.length < 65536) {
    out[1] = 126;
    out.writeUInt16BE(data.length, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(data.length), 2);
  }
  if (mask) {
    out[1] |= 0x80;
    out.writeUInt32BE(mask, head);
    for (let i = 0; i < data.length; i++) out[head + 4 + i] = data[i] ^ out[head + (i & 3)];
  } else data.copy(out, head);
  return out;
}

const closeFrame = (code: number, reason = '', mask?: number) => {
  const p = Buffer.alloc(2 + Buffer.byteLength(reason));
  p.writeUInt16BE(code, 0);
  p.write(reason, 2);
  return frame(8, p, { mask });
};

/** A peer on a raw socket after its handshake: the frames it got so far, and a wait for more. */
class RawPeer {
  buf = Buffer.alloc(0);
  frames: Frame[] = [];
  ended = false;
  #waiters: (() => void)[] = [];
  readonly socket: Socket;
  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => this.take(d));
    socket.on('close', () => {
      this.ended = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }
  take(d: Buffer): void {
    const { frames, rest } = parseFrames(Buffer.concat([this.buf, d]));
    this.buf = Buffer.from(rest);
    this.frames.push(...frames);
    this.#wake();
  }
  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
  /** Waits until `test` holds of the frames (or the socket closed), at most 5 s. */
  async until(test: (frames: Frame[]) => boolean): Promise<Frame[]> {
    const deadline = Date.now() + 5000;
    while (!test(this.frames) && !this.ended && Date.now() < deadline)
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    return this.frames;
  }
  close(): Frame | undefined {
    return this.frames.find((f) => f.opcode === 8);
  }
}

const closeCode = (f: Frame | undefined) =>
  f && f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined;

describe('WebSocket frame relay on the wire', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Server;
  const backends: RawPeer[] = [];
  const sockets = new Set<Socket>();
  let port: number;

  before(async () => {
    // A backend that completes the handshake by hand and keeps every frame it gets.
    backend = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      let head = '';
      const onData = (d: Buffer) => {
        head += d.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? '';
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`,
        );
        const peer = new RawPeer(socket);
        backends.push(peer);
        const rest = Buffer.from(head.slice(end + 4), 'latin1');
        if (rest.length > 0) peer.take(rest);
      };
      socket.on('data', onData);
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const url = `ws://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    home = makeHome({ 'gateway.websocket.feature.enabled': true });
    home.write(
      'conf/topologies/raw.xml',
      topologyXml({
        providers: [{ role: 'authentication', name: 'Anonymous' }],
        services: [{ role: 'ECHOWS', urls: [url], params: { 'gateway.websocket.max.text.size': '1024' } }],
      }),
    );
    gateway = await startGateway(home);
    port = Number(new URL(gateway.url).port);
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await gateway?.close();
    backend?.close();
    home?.remove();
  });

  /** A raw client through the gateway, after its 101, and the backend's end of the same connection. */
  async function openRaw(): Promise<{ client: RawPeer; back: RawPeer }> {
    const known = backends.length;
    const socket = connect(port, '127.0.0.1');
    sockets.add(socket);
    await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
    socket.write(
      'GET /gateway/raw/echo/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const rest = await new Promise<Buffer>((resolve, reject) => {
      let head = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const status = head.subarray(0, end).toString('latin1');
        if (!status.startsWith('HTTP/1.1 101')) reject(new Error(status));
        else resolve(head.subarray(end + 4));
      };
      socket.on('data', onData);
    });
    const client = new RawPeer(socket);
    if (rest.length > 0) client.take(rest);
    while (backends.length === known) await new Promise((r) => setTimeout(r, 5));
    return { client, back: backends[known] };
  }

  it('passes the client’s frames on under a fresh mask, whatever way they are split; the backend’s frames as sent', async () => {
    const { client, back } = await openRaw();
    const clientMask = 0x0badf00d;
    // "é" (c3 a9) split between two fragments of one text message, the bytes written one at a time.
    const bytes = Buffer.concat([
      frame(1, Buffer.from([0x68, 0xc3]), { fin: false, mask: clientMask }),
      frame(0, Buffer.from([0xa9, 0x21]), { mask: clientMask }),
      frame(2, Buffer.alloc(300, 7), { mask: clientMask }),
      frame(9, 'ping?', { mask: clientMask }),
    ]);
    for (const b of bytes) {
      client.socket.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    const got = await back.until((f) => f.length >= 4);
    assert.deepEqual(
      got.map((f) => [f.opcode, f.fin, f.payload.toString('hex')]),
      [
        [1, false, '68c3'],
        [0, true, 'a921'],
        [2, true, Buffer.alloc(300, 7).toString('hex')],
        [9, true, Buffer.from('ping?').toString('hex')],
      ],
    );
    for (const f of got) {
      assert.ok(f.mask !== undefined && f.mask !== 0, 'masked for the backend');
      assert.notEqual(f.mask, clientMask, 'not with the client’s mask');
    }
    // The backend's frames reach the client unmasked and whole; its close code and reason too.
    back.socket.write(Buffer.concat([frame(1, 'héllo', { mask: 0 }), closeFrame(4001, 'bye', 0)]));
    const toClient = await client.until((f) => f.length >= 2);
    assert.equal(toClient[0].payload.toString(), 'héllo');
    assert.equal(toClient[0].mask, undefined);
    assert.equal(closeCode(client.close()), 4001);
    assert.equal(client.close()?.payload.subarray(2).toString(), 'bye');
    client.socket.write(closeFrame(4001, 'bye'));
    await client.until(() => false);
    assert.ok(client.ended, 'the gateway ends the client’s TCP connection after the closing handshake');
  });

  // The relay checks short ASCII text in JavaScript and longer or non-ASCII text natively, and masks short payloads in
  // JavaScript and longer ones natively (frame-relay's ASCII_SCAN_MAX, NATIVE_MASK_MIN): sizes on both sides of each.
  const SIZES = [1, 63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256, 257, 1000];
  const textOf = (n: number, tail: string) =>
    Buffer.concat([Buffer.alloc(n - Buffer.byteLength(tail), 'a'), Buffer.from(tail)]);

  it('passes short and long text, ASCII or not, re-masked both ways, every byte intact', async () => {
    const { client, back } = await openRaw();
    const payloads = SIZES.flatMap((n) => [
      textOf(n, ''),
      ...(n >= 3 ? [textOf(n, 'é')] : []),
      ...(n >= 4 ? [textOf(n, '€')] : []),
    ]);
    client.socket.write(
      Buffer.concat(payloads.map((p, i) => frame(1, p, { mask: (0x9e3779b9 * (i + 1)) >>> 0 }))),
    );
    const up = await back.until((f) => f.length >= payloads.length);
    assert.deepEqual(
      up.map((f) => f.payload.toString('hex')),
      payloads.map((p) => p.toString('hex')),
    );
    for (const f of up) assert.ok(f.mask !== undefined && f.mask !== 0, 'masked for the backend');
    back.socket.write(Buffer.concat(payloads.map((p) => frame(1, p, { mask: 0 }))));
    const down = await client.until((f) => f.length >= payloads.length);
    assert.deepEqual(
      down.map((f) => f.payload.toString('hex')),
      payloads.map((p) => p.toString('hex')),
    );
    client.socket.destroy();
    back.socket.destroy();
  });

  for (const n of [2, 64, 128, 129, 192, 1000]) {
    it(`closes the client with 1007 for ${n} B of text whose last byte cannot be UTF-8, and the backend with 1011`, async () => {
      const { client, back } = await openRaw();
      const bad = Buffer.concat([Buffer.alloc(n - 1, 'a'), Buffer.from([0xff])]);
      client.socket.write(frame(1, bad, { mask: 0x01020304 }));
      await client.until((f) => f.some((x) => x.opcode === 8));
      assert.equal(closeCode(client.close()), 1007);
      await back.until((f) => f.some((x) => x.opcode === 8));
      assert.equal(closeCode(back.close()), 1011);
      assert.deepEqual(
        back.frames.filter((f) => f.opcode === 1),
        [],
        'the message did not reach the backend',
      );
      client.socket.destroy();
      back.socket.destroy();
    });
  }

  it('re-masks a large frame that arrives in reads of any length, every byte intact', async () => {
    const { client, back } = await openRaw();
    const payload = randomBytes(100_000);
    const bytes = frame(2, payload, { mask: 0x5a17c3e9 });
    // Reads of 1,001 bytes: the mask's phase differs from one read to the next.
    for (let i = 0; i < bytes.length; i += 1001) {
      client.socket.write(bytes.subarray(i, i + 1001));
      await new Promise((r) => setTimeout(r, 1));
    }
    const got = await back.until((f) => f.length >= 1);
    assert.equal(got[0].opcode, 2);
    assert.ok(got[0].payload.equals(payload), 'the payload the backend unmasks is the client’s');
    client.socket.destroy();
    back.socket.destroy();
  });

  /**
   * `from` sends 3,000 frames of 16 KiB, each its own bytes (48 MiB: more than the loopback's socket buffers hold,
   * tcp_rmem's maximum is 32 MiB here), while `to` reads nothing for 300 ms: the gateway's writes to `to` stop
   * being taken whole and queue, while it keeps reading `from` into one buffer it reuses for every read. Every
   * frame must reach `to` intact.
   */
  async function burstToLateReader(from: RawPeer, to: RawPeer, mask: (i: number) => number): Promise<void> {
    to.socket.pause();
    const payloads = Array.from({ length: 3000 }, (_, i) => {
      const p = Buffer.alloc(16 * 1024, i % 251);
      p.writeUInt32BE(i, 0);
      return p;
    });
    from.socket.write(Buffer.concat(payloads.map((p, i) => frame(2, p, { mask: mask(i) }))));
    await new Promise((r) => setTimeout(r, 300));
    to.socket.resume();
    const got = await to.until((f) => f.length >= payloads.length);
    assert.equal(got.length, payloads.length);
    got.forEach((f, i) => {
      assert.ok(f.payload.equals(payloads[i]), `frame ${i} intact`);
    });
    from.socket.destroy();
    to.socket.destroy();
  }

  it('passes every byte of a backend’s burst on to a client that reads late (writes the kernel does not take whole)', async () => {
    const { client, back } = await openRaw();
    await burstToLateReader(back, client, () => 0);
  });

  it('passes every byte of a client’s burst on to a backend that reads late (the client’s reads share one buffer too)', async () => {
    const { client, back } = await openRaw();
    // Masked as a client sends them.
    await burstToLateReader(client, back, (i) => (0x9e3779b9 ^ i) >>> 0);
  });

  for (const [what, bytes, code] of [
    ['an unmasked client frame', frame(1, 'x', { mask: 0 }), 1002],
    ['a reserved bit with no extension', frame(1, 'x', { rsv: 0x40 }), 1002],
    ['an unknown opcode', frame(3, 'x'), 1002],
    ['a fragmented ping', frame(9, 'x', { fin: false }), 1002],
    ['a continuation of no message', frame(0, 'x'), 1002],
    ['a close code no peer may send (1005)', closeFrame(1005), 1002],
    [
      'text that is not UTF-8 across two fragments',
      Buffer.concat([
        frame(1, Buffer.from([0x61, 0xe2]), { fin: false }),
        frame(0, Buffer.from([0x28, 0xa1])),
      ]),
      1007,
    ],
    ['a text message that ends inside a character', frame(1, Buffer.from([0x61, 0xe2, 0x82])), 1007],
  ] as const) {
    it(`closes the client with ${code} for ${what}, and the backend with 1011`, async () => {
      const { client, back } = await openRaw();
      client.socket.write(bytes);
      await client.until((f) => f.some((x) => x.opcode === 8));
      assert.equal(closeCode(client.close()), code);
      await back.until((f) => f.some((x) => x.opcode === 8));
      assert.equal(closeCode(back.close()), 1011);
      assert.deepEqual(
        back.frames.filter((f) => f.opcode !== 8 && f.fin),
        [],
        'no whole message of the faulty peer reached the backend',
      );
      client.socket.destroy();
      back.socket.destroy();
    });
  }

  for (const [what, bad, code] of [
    ['a reserved bit', frame(1, 'x', { rsv: 0x40 }), 1002],
    ['text that is not UTF-8', frame(1, Buffer.from([0x61, 0xff])), 1007],
  ] as const) {
    it(`passes on the whole frames that came in the same read before ${what}, then the closes (${code}, 1011)`, async () => {
      const { client, back } = await openRaw();
      client.socket.write(
        Buffer.concat([frame(1, 'first'), frame(9, 'ping'), frame(2, Buffer.from([1, 2, 3])), bad]),
      );
      await back.until((f) => f.some((x) => x.opcode === 8));
      assert.deepEqual(
        back.frames.map((f) => [f.opcode, f.opcode === 8 ? closeCode(f) : f.payload.toString('hex')]),
        [
          [1, Buffer.from('first').toString('hex')],
          [9, Buffer.from('ping').toString('hex')],
          [2, '010203'],
          [8, 1011],
        ],
      );
      await client.until((f) => f.some((x) => x.opcode === 8));
      assert.equal(closeCode(client.close()), code);
      client.socket.destroy();
      back.socket.destroy();
    });
  }

  it('ends the backend without a close frame when a frame it got the start of turns out invalid (1007 to the client)', async () => {
    const { client, back } = await openRaw();
    const bytes = frame(
      1,
      Buffer.concat([Buffer.alloc(60, 0x61), Buffer.from([0xff]), Buffer.alloc(29, 0x62)]),
    );
    // The header and 34 valid bytes go on before the invalid byte arrives.
    client.socket.write(bytes.subarray(0, 40));
    while (back.buf.length < 40) await new Promise((r) => setTimeout(r, 5));
    client.socket.write(bytes.subarray(40));
    await client.until((f) => f.some((x) => x.opcode === 8));
    assert.equal(closeCode(client.close()), 1007);
    // A close frame now would be read as the rest of that frame's payload: the backend's TCP connection ends.
    await back.until(() => false);
    assert.ok(back.ended, 'the backend connection is ended');
    assert.deepEqual(back.frames, []);
    assert.equal(back.buf.length, 40, 'nothing after the start of the frame reached the backend');
    client.socket.destroy();
  });

  it('ends the client without a close frame when the backend goes in the middle of a frame the client got the start of', async () => {
    const { client, back } = await openRaw();
    const bytes = frame(2, Buffer.alloc(1000, 7), { mask: 0 });
    back.socket.write(bytes.subarray(0, 300));
    while (client.buf.length < 300) await new Promise((r) => setTimeout(r, 5));
    back.socket.destroy();
    // A close frame (1011) now would be read as the rest of that frame's payload: the connection ends instead.
    await client.until(() => false);
    assert.ok(client.ended, 'the client connection is ended');
    assert.deepEqual(client.frames, []);
    assert.equal(client.buf.length, 300, 'nothing after the start of the frame reached the client');
  });

  it('passes an empty close frame on empty both ways (the other peer sees 1005, as through nginx and Knox)', async () => {
    const { client, back } = await openRaw();
    client.socket.write(frame(8, Buffer.alloc(0), { mask: 0x11223344 }));
    await back.until((f) => f.some((x) => x.opcode === 8));
    const got = back.close();
    assert.equal(got?.payload.length, 0, 'the backend gets a close without a code');
    assert.ok(got?.mask !== undefined && got.mask !== 0x11223344, 'under a fresh mask');
    back.socket.write(frame(8, Buffer.alloc(0), { mask: 0 }));
    await client.until((f) => f.some((x) => x.opcode === 8));
    assert.equal(client.close()?.payload.length, 0, 'the client gets the backend’s empty close as sent');
    await client.until(() => false);
    assert.ok(client.ended, 'the closing handshake completes');
    // The backend closing first, the same way round.
    const second = await openRaw();
    second.back.socket.write(frame(8, Buffer.alloc(0), { mask: 0 }));
    await second.client.until((f) => f.some((x) => x.opcode === 8));
    assert.equal(second.client.close()?.payload.length, 0);
    second.client.socket.write(frame(8, Buffer.alloc(0)));
    await second.back.until((f) => f.some((x) => x.opcode === 8));
    assert.equal(second.back.close()?.payload.length, 0);
    second.client.socket.destroy();
    second.back.socket.destroy();
  });

  it('refuses a message over the limit from its first header (1009 to both): none of it reaches the backend', async () => {
    const { client, back } = await openRaw();
    const big = frame(1, 'a'.repeat(1500));
    // Only the header and a few bytes: the relay must not wait for the payload to know.
    client.socket.write(big.subarray(0, 12));
    await client.until((f) => f.some((x) => x.opcode === 8));
    assert.equal(closeCode(client.close()), 1009);
    await back.until((f) => f.some((x) => x.opcode === 8));
    assert.deepEqual(
      back.frames.map((f) => [f.opcode, closeCode(f)]),
      [[8, 1009]],
    );
    client.socket.destroy();
    back.socket.destroy();
  });

  it('closes the backend with 1002 when it masks a frame, and tells the client 1011', async () => {
    const { client, back } = await openRaw();
    back.socket.write(frame(1, 'masked', { mask: 0x01020304 }));
    await back.until((f) => f.some((x) => x.opcode === 8));
    assert.equal(closeCode(back.close()), 1002);
    await client.until((f) => f.some((x) => x.opcode === 8));
    assert.equal(closeCode(client.close()), 1011);
    assert.deepEqual(
      client.frames.filter((f) => f.opcode !== 8),
      [],
    );
    client.socket.destroy();
    back.socket.destroy();
  });
});

describe('readIntoSharedBuffer (the client leg read below its stream)', () => {
  /** An accepted socket and its client, on loopback. */
  async function pair(): Promise<{ server: Server; accepted: Socket; client: Socket }> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const acceptedP = new Promise<Socket>((r) => server.once('connection', r));
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const accepted = await acceptedP;
    await new Promise((r) => client.once('connect', r));
    return { server, accepted, client };
  }

  /** Waits until `test` holds, at most 5 s. */
  async function until(test: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!test()) {
      if (Date.now() > deadline) assert.fail(`not within 5 s: ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('hands every read of an accepted TCP socket to the sink, none as a data event, and pauses its reads', async () => {
    const { server, accepted, client } = await pair();
    const got: Buffer[] = [];
    let events = 0;
    accepted.on('data', () => events++);
    // On the Node this project pins, the slots are there: the fast path is taken, not silently skipped.
    assert.equal(
      readIntoSharedBuffer(accepted, (chunk) => got.push(Buffer.from(chunk))),
      true,
    );
    client.write('one');
    await until(() => got.length >= 1, 'the first read reaches the sink');
    accepted.pause();
    client.write('two');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(Buffer.concat(got).toString(), 'one', 'nothing is read while paused');
    accepted.resume();
    await until(() => Buffer.concat(got).length >= 6, 'the read after resume reaches the sink');
    assert.equal(Buffer.concat(got).toString(), 'onetwo');
    assert.equal(events, 0);
    const ended = new Promise((r) => accepted.once('end', r));
    client.end();
    await ended;
    accepted.destroy();
    server.close();
  });

  it('leaves a socket with bytes already read into its stream as it was', async () => {
    const { server, accepted, client } = await pair();
    accepted.pause();
    client.write('early');
    await until(() => {
      accepted.read(0);
      return accepted.readableLength > 0;
    }, 'the bytes are read into the stream');
    assert.equal(
      readIntoSharedBuffer(accepted, () => assert.fail('no read reaches the sink')),
      false,
    );
    const chunk = await new Promise<Buffer>((r) => accepted.once('data', r).resume());
    assert.equal(chunk.toString(), 'early');
    client.destroy();
    accepted.destroy();
    server.close();
  });
});
