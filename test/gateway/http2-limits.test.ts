/**
 * HTTP/2's limits on a real TLS gateway (gateway/http2): the SETTINGS postern advertises; a header block above
 * `gateway.httpserver.requestHeaderBuffer` answered 431 on its stream over h2 as over HTTP/1.1 (curl, Node's
 * client, the access line); a block beyond what the session decodes resets that stream only; too many header
 * fields likewise; the rapid reset attack (CVE-2023-44487, raw frames) ends the session with GOAWAY.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2, { type ClientHttp2Session, constants } from 'node:http2';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { promisify } from 'node:util';
import pino from 'pino';
import { Gateway } from '../../src/gateway/gateway.ts';
import {
  MAX_CONCURRENT_STREAMS,
  STREAM_RESET_BURST,
  sessionHeaderListSize,
} from '../../src/gateway/http2.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { connectH2 } from '../helpers/h2-client.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';

const run = promisify(execFile);
const LIMIT = 8192;
/** Frames of a flood: more than nghttp2 queues ACKs for (1000). */
const FLOOD = 10_000;

async function curl(...args: string[]): Promise<{ version: string; status: number; body: string }> {
  const { stdout } = await run('curl', ['-sk', '-w', '\n%{http_version} %{http_code}', ...args]);
  const nl = stdout.lastIndexOf('\n');
  const [version, status] = stdout.slice(nl + 1).split(' ');
  return { version, status: Number(status), body: stdout.slice(0, nl) };
}

/** The client's own ceiling on what it sends (64 KiB) would stop the largest blocks before they leave. */
const connect = (base: string) => connectH2(base, { maxSendHeaderBlockLength: 1 << 20 });

/** One GET on `session`: its status, or the code of the stream's reset. */
function get(session: ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<number | string> {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': '/gateway/t/http/x', ...headers });
    stream.on('response', (h) => {
      stream.resume();
      stream.on('end', () => resolve(Number(h[':status'])));
    });
    stream.on('error', () => resolve(`reset ${stream.rstCode}`));
    stream.on('close', () => resolve(`reset ${stream.rstCode}`));
  });
}

/** An HTTP/2 frame: length, type, flags, stream id, payload (RFC 9113 §4.1). */
function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** A frame the gateway sent. */
interface Frame {
  type: number;
  flags: number;
  payload: Buffer;
}

/**
 * A raw HTTP/2 connection (preface and an empty SETTINGS sent): the frames the gateway sends, and a wait for the
 * first that matches, or for the connection's end (undefined).
 */
async function rawSession(port: number) {
  const socket = tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  assert.equal(socket.alpnProtocol, 'h2');
  socket.on('error', () => {});
  const frames: Frame[] = [];
  let waiting: (() => void) | undefined;
  let ended = false;
  let received = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    received = Buffer.concat([received, d]);
    while (received.length >= 9) {
      const length = received.readUIntBE(0, 3);
      if (received.length < 9 + length) break;
      frames.push({ type: received[3], flags: received[4], payload: received.subarray(9, 9 + length) });
      received = received.subarray(9 + length);
    }
    waiting?.();
  });
  socket.once('close', () => {
    ended = true;
    waiting?.();
  });
  socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(0x4, 0, 0)]));
  return {
    socket,
    frames,
    /** The first frame `match` accepts, or undefined when the connection ended without one. */
    async first(match: (f: Frame) => boolean): Promise<Frame | undefined> {
      for (;;) {
        const found = frames.find(match);
        if (found || ended) return found;
        await new Promise<void>((resolve) => {
          waiting = resolve;
        });
      }
    },
    closed: new Promise<void>((resolve) => socket.once('close', () => resolve())),
  };
}

const GOAWAY = (f: Frame) => f.type === 0x7;
const goawayCode = (f: Frame | undefined) => f?.payload.readUInt32BE(4);

describe('HTTP/2 limits', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let base: string;
  const access: Record<string, unknown>[] = [];

  before(async () => {
    backend = await startBackend((_req, res) => res.end('ok'));
    home = makeHome({ 'ssl.enabled': true });
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.type === 'access') access.push(entry);
        }
        cb();
      },
    });
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log: pino({ level: 'info' }, sink),
      watch: false,
    });
    base = new URL(gateway.url).origin;
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('advertises its limits in SETTINGS: streams, header list, no push, no extended CONNECT', async () => {
    const session = await connect(base);
    try {
      const s = session.remoteSettings;
      assert.equal(s.maxConcurrentStreams, MAX_CONCURRENT_STREAMS);
      assert.equal(s.maxHeaderListSize, sessionHeaderListSize(LIMIT));
      assert.ok(sessionHeaderListSize(LIMIT) > LIMIT);
      assert.equal(s.enablePush, false);
      assert.equal(s.enableConnectProtocol, false);
    } finally {
      session.close();
    }
  });

  it('answers 431 to a header block above the limit over h2, as over HTTP/1.1; just below it is served', async () => {
    // The HTTP/1 parser's measure: request target, names and values; curl adds Host, User-Agent and Accept.
    const path = `${gateway.url}/t/http/x`;
    const fill = (n: number) => `X-Fill: ${'a'.repeat(n)}`;
    for (const version of ['--http2', '--http1.1']) {
      const big = await curl(version, '-H', fill(LIMIT), path);
      assert.equal(big.status, 431, version);
      assert.equal(big.version, version === '--http2' ? '2' : '1.1');
      const small = await curl(version, '-H', fill(LIMIT - 200), path);
      assert.equal(small.status, 200, version);
    }
    const over = await curl('--http2', '-H', fill(LIMIT), path);
    assert.equal(JSON.parse(over.body).error.code, 'POSTERN_ERR_HEADER_FIELDS_TOO_LARGE');
    assert.ok(access.some((l) => l.status === 431 && l.protocol === 'HTTP/2.0'));
    // Many fields add up as one block: 20 of 500 bytes.
    const many = Array.from({ length: 20 }, (_, i) => ['-H', `X-F${i}: ${'b'.repeat(500)}`]).flat();
    assert.equal((await curl('--http2', ...many, path)).status, 431);
    assert.equal((await curl('--http1.1', ...many, path)).status, 431);
  });

  it('resets only the stream of a block beyond what the session decodes; the session goes on', async () => {
    const session = await connect(base);
    try {
      const huge = 'c'.repeat(sessionHeaderListSize(LIMIT) + 1024);
      assert.equal(await get(session, { 'x-huge': huge }), `reset ${constants.NGHTTP2_ENHANCE_YOUR_CALM}`);
      // Between the limit and the session's ceiling: decoded and answered.
      assert.equal(await get(session, { 'x-big': 'd'.repeat(LIMIT + 100) }), 431);
      assert.equal(await get(session, {}), 200);
      assert.equal(session.closed || session.destroyed, false);
    } finally {
      session.close();
    }
  });

  it('resets only the stream of a request with more header fields than the session takes', async () => {
    const session = await connect(base);
    try {
      const fields: http2.OutgoingHttpHeaders = {};
      for (let i = 0; i < 2100; i++) fields[`x${i}`] = '';
      assert.equal(await get(session, fields), `reset ${constants.NGHTTP2_ENHANCE_YOUR_CALM}`);
      assert.equal(await get(session, {}), 200);
    } finally {
      session.close();
    }
  });

  it('ends a session that opens and resets streams faster than any client needs to (rapid reset)', async () => {
    const raw = await rawSession(gateway.port);
    // GET / on :authority 127.0.0.1 (HPACK: indexed :method GET, :scheme https, :path /; literal :authority).
    const authority = Buffer.from('127.0.0.1');
    const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, authority.length]), authority]);
    const cancel = Buffer.alloc(4);
    cancel.writeUInt32BE(constants.NGHTTP2_CANCEL);
    const frames: Buffer[] = [];
    for (let i = 0; i < STREAM_RESET_BURST * 2; i++) {
      const id = 2 * i + 1;
      frames.push(frame(0x1, 0x4 | 0x1, id, block), frame(0x3, 0, id, cancel));
    }
    // A PING last: a session that took every reset answers it; one that ended the session never reads it.
    frames.push(frame(0x6, 0, 0, Buffer.alloc(8)));
    raw.socket.write(Buffer.concat(frames));
    const first = await raw.first((f) => GOAWAY(f) || (f.type === 0x6 && (f.flags & 0x1) === 1));
    assert.equal(first?.type, 0x7, 'the session answered a PING after the whole burst of resets');
    // nghttp2 ends a session over its reset rate with INTERNAL_ERROR.
    assert.equal(goawayCode(first), constants.NGHTTP2_INTERNAL_ERROR);
    await raw.closed;
  });

  it('takes 128 open streams; a client that acknowledged that and opens more is ended (PROTOCOL_ERROR)', async () => {
    // GET /gateway/t/http/x, its END_STREAM withheld: each stream stays open (half-closed) after its answer.
    const path = Buffer.from('/gateway/t/http/x');
    const authority = Buffer.from('127.0.0.1');
    const block = Buffer.concat([
      Buffer.from([0x82, 0x87, 0x04, path.length]),
      path,
      Buffer.from([0x01, authority.length]),
      authority,
    ]);
    /** Opens `count` streams after acknowledging the gateway's SETTINGS, then PINGs: the GOAWAY or PING ACK. */
    const open = async (count: number) => {
      const raw = await rawSession(gateway.port);
      await raw.first((f) => f.type === 0x4 && (f.flags & 0x1) === 0);
      const frames = [frame(0x4, 0x1, 0)];
      for (let i = 0; i < count; i++) frames.push(frame(0x1, 0x4, 2 * i + 1, block));
      frames.push(frame(0x6, 0, 0, Buffer.alloc(8)));
      raw.socket.write(Buffer.concat(frames));
      const last = await raw.first((f) => GOAWAY(f) || (f.type === 0x6 && (f.flags & 0x1) === 1));
      raw.socket.destroy();
      return last;
    };
    const within = await open(MAX_CONCURRENT_STREAMS);
    assert.equal(within?.type, 0x6, 'PING answered with 128 streams open');
    const beyond = await open(MAX_CONCURRENT_STREAMS + 50);
    assert.equal(beyond?.type, 0x7);
    assert.equal(goawayCode(beyond), constants.NGHTTP2_PROTOCOL_ERROR);
    // Last stream processed: the 128th (ids 1, 3, … 255).
    assert.equal(beyond?.payload.readUInt32BE(0), 2 * MAX_CONCURRENT_STREAMS - 1);
  });

  // nghttp2 queues at most 1000 ACKs (PING, SETTINGS) not yet sent (CVE-2019-9512, -9515): a burst beyond that
  // ends the session: a SETTINGS flood with GOAWAY (INTERNAL_ERROR), a PING flood by Node destroying the
  // session on nghttp2's flood error, without GOAWAY. Either way far from every frame is answered, and not by the
  // idle close (GOAWAY NO_ERROR, 60 s), which is what a client that PINGs at a sane rate meets.
  for (const [kind, type] of [
    ['PING', 0x6],
    ['SETTINGS', 0x4],
  ] as const) {
    it(`ends a session that floods ${kind} frames, each of which asks for an ACK`, async () => {
      const raw = await rawSession(gateway.port);
      const flood: Buffer[] = [];
      for (let i = 0; i < FLOOD; i++)
        flood.push(frame(type, 0, 0, type === 0x6 ? Buffer.alloc(8) : undefined));
      raw.socket.write(Buffer.concat(flood));
      await raw.closed;
      const goaway = raw.frames.find(GOAWAY);
      if (goaway) assert.notEqual(goawayCode(goaway), constants.NGHTTP2_NO_ERROR);
      const acks = raw.frames.filter((f) => f.type === type && (f.flags & 0x1) === 1).length;
      assert.ok(acks < FLOOD / 2, `${acks} ACKs of ${FLOOD}`);
    });
  }
});
