/**
 * HTTP/2 to clients on the TLS listener (gateway/http2): curl `--http2`, undici with `allowH2` and Node's own
 * HTTP/2 client against a real TLS gateway and loopback HTTP/1.1 backends — chains with authentication and
 * authorization, an HTML body rewritten, 502 and 504, Expect: 100-continue, large bodies both ways with
 * backpressure, many streams on one connection, a stream reset mid-body that releases its backend request, a
 * WebSocket over HTTP/1.1 beside it, the access line's protocol, GOAWAY at shutdown, and
 * `gateway.http2.enabled=false` offering only http/1.1.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { promisify } from 'node:util';
import pino from 'pino';
import { Agent, request } from 'undici';
import { WebSocket } from 'ws';
import { type RunningBackend, startWsEcho } from '../../src/demo/index.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { createH2Server } from '../../src/gateway/http2.ts';
import { generateSelfSigned } from '../../src/gateway/tls.ts';
import { type Backend, closedPort, startBackend } from '../helpers/backend.ts';
import { connectH2 } from '../helpers/h2-client.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { writeRewriteService } from '../helpers/rewrite-service.ts';
import { settle } from '../helpers/settle.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
/** What may cross while the client reads nothing: flow-control windows and the socket buffers of two hops. */
const IN_FLIGHT_BOUND = 48 * MiB;

interface Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One request on `session`; `body` is sent whole, then the stream is ended. */
function exchange(
  session: ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer | string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    collect(stream).then(resolve, reject);
    if (body !== undefined) stream.end(body);
  });
}

function collect(stream: ClientHttp2Stream): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('response', (headers) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () =>
        resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) }),
      );
    });
    stream.on('error', reject);
  });
}

/** The protocol a TLS handshake that offers h2 and http/1.1 agrees on. */
function alpn(port: number): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { port, host: '127.0.0.1', ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: false },
      () => {
        resolve(socket.alpnProtocol ?? false);
        socket.destroy();
      },
    );
    socket.once('error', reject);
  });
}

async function curl(...args: string[]): Promise<{ version: string; status: number; body: string }> {
  const { stdout } = await run('curl', ['-sk', '-w', '\n%{http_version} %{http_code}', ...args], {
    maxBuffer: 64 * MiB,
  });
  const nl = stdout.lastIndexOf('\n');
  const [version, status] = stdout.slice(nl + 1).split(' ');
  return { version, status: Number(status), body: stdout.slice(0, nl) };
}

describe('HTTP/2 to clients', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let echo: RunningBackend;
  let base: string;
  let gw: string;
  let hugeSent = 0;
  let uploadReceived = 0;
  /** Resolves when the backend's answer to /slow is closed, with whether it had finished. */
  let slowClosed: Promise<boolean> = Promise.resolve(true);
  const access: Record<string, unknown>[] = [];

  before(async () => {
    backend = await startBackend((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/api/hello':
          res.setHeader('connection', 'keep-alive');
          res.setHeader('keep-alive', 'timeout=5');
          res.writeHead(200, 'Fine Thanks', { 'content-type': 'application/json' });
          res.end(JSON.stringify({ headers: req.headers, url: req.url }));
          return;
        case '/api/echo': {
          // Streams the request body back as it comes, with what framed it.
          res.writeHead(200, {
            'content-type': 'application/octet-stream',
            'x-framing': req.headers['content-length'] ? 'length' : String(req.headers['transfer-encoding']),
          });
          req.pipe(res);
          return;
        }
        case '/api/huge': {
          const total = 128 * MiB;
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
          const pump = () => {
            while (hugeSent < total) {
              hugeSent += CHUNK.length;
              if (!res.write(CHUNK)) return void res.once('drain', pump);
            }
            res.end();
          };
          res.on('close', () => res.removeAllListeners('drain'));
          pump();
          return;
        }
        case '/api/sink':
          // Reads 1 MiB of the upload, then stops reading.
          req.on('data', (c: Buffer) => {
            uploadReceived += c.length;
            if (uploadReceived >= MiB) req.pause();
          });
          return;
        case '/api/slow': {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.write(CHUNK);
          const timer = setInterval(() => res.write(CHUNK), 100);
          slowClosed = new Promise((resolve) =>
            res.once('close', () => {
              clearInterval(timer);
              resolve(res.writableFinished);
            }),
          );
          return;
        }
        case '/api/hang':
          return;
        case '/api/page.html':
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end(`<html><body><a href="${backend.url}/api/next?page=2">next</a></body></html>`);
          return;
        default:
          res.writeHead(404);
          res.end();
      }
    });
    echo = await startWsEcho({ port: 0 });
    const dead = await closedPort();
    home = makeHome({
      'ssl.enabled': true,
      'gateway.websocket.feature.enabled': true,
      'gateway.httpclient.socketTimeout': '1500',
    });
    writeRewriteService(home, 'RWH2');
    home.write(
      'conf/topologies/t.xml',
      topologyXml({
        providers: [
          { role: 'federation', name: 'HeaderPreAuth', params: { 'preauth.custom.header': 'X-User' } },
          { role: 'identity-assertion', name: 'Default' },
          { role: 'authorization', name: 'AclsAuthz', params: { 'http.acl': 'alice;*;*' } },
        ],
        services: [{ role: 'HTTP', urls: [`${backend.url}/api`] }],
      }),
    );
    home.write(
      'conf/topologies/open.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [`${backend.url}/api`] },
          { role: 'RWH2', urls: [`${backend.url}/api`] },
          { role: 'ECHOWS', urls: [echo.url] },
        ],
      }),
    );
    home.write(
      'conf/topologies/down.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [`http://127.0.0.1:${dead}`] }] }),
    );
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
    gw = gateway.url;
    base = new URL(gw).origin;
  });

  after(async () => {
    await backend?.close();
    await gateway?.close();
    await echo?.close();
    home?.remove();
  });

  it('negotiates h2 with curl --http2 and serves the chain: authenticated, authorized, refused', async () => {
    const alice = await curl('--http2', '-H', 'X-User: alice', `${gw}/t/http/hello?x=1`);
    assert.equal(alice.version, '2');
    assert.equal(alice.status, 200);
    const seen = JSON.parse(alice.body) as { headers: Record<string, string>; url: string };
    assert.equal(seen.url, '/api/hello?x=1&user.name=alice');
    // The backend is spoken to over HTTP/1.1 with a Host of its own and the gateway's X-Forwarded-*.
    assert.equal(seen.headers.host, new URL(backend.url).host);
    assert.equal(seen.headers['x-forwarded-host'], new URL(gw).host);
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-user'], undefined, 'the pre-auth header is not forwarded');
    for (const name of Object.keys(seen.headers)) assert.doesNotMatch(name, /^:/);
    assert.equal((await curl('--http2', '-H', 'X-User: bob', `${gw}/t/http/hello`)).status, 403);
    assert.equal((await curl('--http2', `${gw}/t/http/hello`)).status, 401);
    // HTTP/1.1 on the same listener, as before.
    const h1 = await curl('--http1.1', '-H', 'X-User: alice', `${gw}/t/http/hello`);
    assert.equal(h1.version, '1.1');
    assert.equal(h1.status, 200);
  });

  it('drops hop-by-hop headers of the backend and the reason phrase from an h2 answer', async () => {
    const { stdout } = await run('curl', [
      '-sk',
      '--http2',
      '-D',
      '-',
      '-o',
      '/dev/null',
      `${gw}/open/http/hello`,
    ]);
    assert.match(stdout, /^HTTP\/2 200/);
    assert.doesNotMatch(stdout, /^(connection|keep-alive|transfer-encoding|upgrade):/im);
    assert.doesNotMatch(stdout, /Fine Thanks/);
  });

  it('rewrites an HTML body over h2', async () => {
    const res = await curl('--http2', `${gw}/open/rw/page.html`);
    assert.equal(res.version, '2');
    assert.equal(res.body, `<html><body><a href="${gw}/open/rw/next?page=2">next</a></body></html>`);
  });

  it('answers 502 for a backend that is down and 504 for one that does not answer', async () => {
    const session = await connectH2(base);
    try {
      const down = await exchange(session, { ':path': '/gateway/down/http/x' });
      assert.equal(down.status, 502);
      assert.match(down.body.toString(), /POSTERN_ERR_UPSTREAM_UNAVAILABLE/);
      const hang = await exchange(session, { ':path': '/gateway/open/http/hang' });
      assert.equal(hang.status, 504);
      assert.match(hang.body.toString(), /POSTERN_ERR_UPSTREAM_TIMEOUT/);
    } finally {
      session.close();
    }
  });

  it('refuses a request whose Host and :authority disagree, and takes :authority as the Host', async () => {
    const session = await connectH2(base);
    try {
      const authority = new URL(gw).host;
      const conflict = await exchange(session, {
        ':path': '/gateway/open/http/hello',
        ':authority': authority,
        host: 'elsewhere.example:443',
      });
      assert.equal(conflict.status, 400);
      assert.match(conflict.body.toString(), /Host header and :authority disagree/);
      const ok = await exchange(session, { ':path': '/gateway/open/http/hello', ':authority': authority });
      assert.equal(ok.status, 200);
      const seen = JSON.parse(ok.body.toString()) as { headers: Record<string, string> };
      assert.equal(seen.headers['x-forwarded-host'], authority);
    } finally {
      session.close();
    }
  });

  it('streams a request body without Content-Length to the backend as chunked, and one with it as is', async () => {
    const session = await connectH2(base);
    try {
      const body = Buffer.alloc(3 * MiB + 17, 0x62);
      const chunked = await new Promise<Answer>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': '/gateway/open/http/echo' });
        collect(stream).then(resolve, reject);
        // In pieces, with no declared length: DATA frames are the framing.
        let at = 0;
        const pump = () => {
          while (at < body.length) {
            const piece = body.subarray(at, at + 100_000);
            at += piece.length;
            if (!stream.write(piece)) return void stream.once('drain', pump);
          }
          stream.end();
        };
        pump();
      });
      assert.equal(chunked.status, 200);
      assert.equal(chunked.headers['x-framing'], 'chunked');
      assert.ok(chunked.body.equals(body));
      const sized = await exchange(
        session,
        { ':method': 'PUT', ':path': '/gateway/open/http/echo', 'content-length': body.length },
        body,
      );
      assert.equal(sized.headers['x-framing'], 'length');
      assert.ok(sized.body.equals(body));
    } finally {
      session.close();
    }
  });

  it('sends 100 Continue over h2 only once the chain accepted the request', async () => {
    const session = await connectH2(base);
    try {
      const ask = (user: string | undefined) =>
        new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
          const stream = session.request(
            {
              ':method': 'POST',
              ':path': '/gateway/t/http/echo',
              expect: '100-continue',
              'content-length': 5,
              ...(user ? { 'x-user': user } : {}),
            },
            { endStream: false },
          );
          let continued = false;
          stream.once('continue', () => {
            continued = true;
            stream.end('hello');
          });
          collect(stream).then(
            (a) => resolve({ status: a.status, continued }),
            (err) => (continued ? reject(err) : resolve({ status: -1, continued })),
          );
        });
      assert.deepEqual(await ask('bob'), { status: 403, continued: false });
      assert.deepEqual(await ask('alice'), { status: 200, continued: true });
    } finally {
      session.close();
    }
  });

  it('serves many concurrent streams on one connection, more than it lets run at once', async () => {
    const session = await connectH2(base);
    try {
      assert.equal(session.remoteSettings.maxConcurrentStreams, 128);
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          exchange(session, { ':path': `/gateway/open/http/hello?i=${i}` }),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        answers.map(() => 200),
      );
      assert.deepEqual(
        answers.map((a) => (JSON.parse(a.body.toString()) as { url: string }).url),
        answers.map((_, i) => `/api/hello?i=${i}&user.name=anonymous`),
      );
    } finally {
      session.close();
    }
  });

  it('undici with allowH2 streams through the gateway over h2 (the access line says HTTP/2.0)', async () => {
    const agent = new Agent({ allowH2: true, connect: { rejectUnauthorized: false } });
    try {
      const before = access.length;
      const res = await request(`${gw}/t/http/echo`, {
        dispatcher: agent,
        method: 'POST',
        headers: { 'x-user': 'alice', 'x-request-id': 'h2-undici-1' },
        body: Buffer.alloc(MiB, 0x63),
      });
      assert.equal(res.statusCode, 200);
      const got = Buffer.from(await res.body.arrayBuffer());
      assert.equal(got.length, MiB);
      await sleep(100);
      const line = access.slice(before).find((a) => a.reqId === 'h2-undici-1');
      assert.ok(line, 'an access line for the request');
      assert.equal(line.protocol, 'HTTP/2.0');
      assert.equal(line.status, 200);
      assert.equal(line.path, '/gateway/t/http/echo');
      const h1 = await request(`${gw}/open/http/hello`, {
        dispatcher: new Agent({ connect: { rejectUnauthorized: false } }),
        headers: { 'x-request-id': 'h1-undici-1' },
      });
      await h1.body.dump();
      await sleep(100);
      assert.equal(access.find((a) => a.reqId === 'h1-undici-1')?.protocol, 'HTTP/1.1');
    } finally {
      await agent.close();
    }
  });

  it('downloads a large body with backpressure: a client that stops reading holds the backend back', async () => {
    const session = await connectH2(base);
    try {
      hugeSent = 0;
      const stream = session.request({ ':path': '/gateway/open/http/huge' });
      const status = await new Promise<number>((resolve) =>
        stream.once('response', (h) => resolve(Number(h[':status']))),
      );
      assert.equal(status, 200);
      // Nothing is read: HTTP/2 flow control, then the gateway's writes, then the backend stop.
      stream.pause();
      const stalled = await settle(() => hugeSent, 400, 8000);
      assert.ok(stalled < IN_FLIGHT_BOUND, `${stalled} bytes crossed while the client read nothing`);
      // Reading again, the whole body comes.
      let received = 0;
      stream.on('data', (c: Buffer) => {
        received += c.length;
      });
      stream.resume();
      await new Promise((resolve) => stream.once('end', resolve));
      assert.equal(received, 128 * MiB);
    } finally {
      session.close();
    }
  });

  it('uploads with backpressure: a backend that stops reading holds the h2 client back', async () => {
    const session = await connectH2(base);
    try {
      uploadReceived = 0;
      const stream = session.request({ ':method': 'POST', ':path': '/gateway/open/http/sink' });
      stream.on('error', () => {});
      let handed = 0;
      const pump = () => {
        while (handed < 512 * MiB) {
          handed += CHUNK.length;
          if (!stream.write(CHUNK)) return void stream.once('drain', pump);
        }
      };
      pump();
      const stalled = await settle(() => handed, 400, 8000);
      assert.ok(uploadReceived >= MiB, 'the backend read its first MiB');
      assert.ok(stalled < IN_FLIGHT_BOUND, `${stalled} bytes left the client while the backend read nothing`);
      stream.close(http2.constants.NGHTTP2_CANCEL);
    } finally {
      session.close();
    }
  });

  it('a stream reset mid-body ends its backend request; the connection and its other streams go on', async () => {
    const session = await connectH2(base);
    try {
      const inflight = gateway.inflight;
      const stream = session.request({ ':path': '/gateway/open/http/slow' });
      stream.on('error', () => {});
      await new Promise((resolve) => stream.once('data', resolve));
      stream.close(http2.constants.NGHTTP2_CANCEL);
      const finished = await Promise.race([slowClosed, sleep(5000, 'timeout' as const)]);
      assert.equal(finished, false, 'the backend response was aborted, not finished or left open');
      await settle(() => gateway.inflight, 200, 3000);
      assert.equal(gateway.inflight, inflight);
      const next = await exchange(session, { ':path': '/gateway/open/http/hello' });
      assert.equal(next.status, 200);
    } finally {
      session.close();
    }
  });

  it('keeps WebSockets on HTTP/1.1 beside h2 (the upgrade reaches the gateway)', async () => {
    const port = Number(new URL(gw).port);
    assert.equal(await alpn(port), 'h2');
    const ws = new WebSocket(`wss://127.0.0.1:${port}/gateway/open/echo/ws`, { rejectUnauthorized: false });
    try {
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const reply = new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
      ws.send('ping over h1');
      assert.equal(await reply, 'ping over h1');
    } finally {
      ws.close();
    }
  });

  it('sends GOAWAY at shutdown: the stream in flight finishes, the session takes no new one', async () => {
    const h = makeHome({ 'ssl.enabled': true });
    try {
      h.write(
        'conf/topologies/open.xml',
        topologyXml({ services: [{ role: 'HTTP', urls: [`${backend.url}/api`] }] }),
      );
      const g = await startGateway(h);
      const session = await connectH2(new URL(g.url).origin);
      const goaway = new Promise((resolve) => session.once('goaway', resolve));
      const stream = session.request({ ':path': '/gateway/open/http/slow' });
      stream.on('error', () => {});
      await new Promise((resolve) => stream.once('data', resolve));
      const closing = g.shutdown(3000);
      // At once, not when the grace period ends.
      assert.equal(await Promise.race([goaway.then(() => 'goaway'), sleep(1000, 'late')]), 'goaway');
      // The stream in flight is still served after GOAWAY (until the grace period ends it).
      let more = 0;
      stream.on('data', (c: Buffer) => {
        more += c.length;
      });
      await sleep(300);
      assert.ok(more > 0, 'the stream in flight kept receiving after GOAWAY');
      await assert.rejects(exchange(session, { ':path': '/gateway/open/http/hello' }), {
        code: 'ERR_HTTP2_GOAWAY_SESSION',
      });
      assert.equal(await closing, 1, 'the endless stream was cut at the end of the grace period');
      session.destroy();
    } finally {
      h.remove();
    }
  });

  it('with gateway.http2.enabled=false the listener offers only http/1.1', async () => {
    const h = makeHome({ 'ssl.enabled': true, 'gateway.http2.enabled': false });
    try {
      h.write(
        'conf/topologies/open.xml',
        topologyXml({ services: [{ role: 'HTTP', urls: [`${backend.url}/api`] }] }),
      );
      const g = await startGateway(h);
      try {
        assert.equal(await alpn(Number(new URL(g.url).port)), 'http/1.1');
        const res = await curl('--http2', `${g.url}/open/http/hello`);
        assert.equal(res.version, '1.1');
        assert.equal(res.status, 200);
      } finally {
        await g.close();
      }
    } finally {
      h.remove();
    }
  });

  it('an h2 answer drops connection-specific headers and the reason phrase whoever writes them', async () => {
    // The dispatch already filters a backend's hop-by-hop headers; this is the response object itself, for any
    // other writer (a service, an error with `connection: close`), where Node would throw on most of them.
    const h = makeHome();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      await generateSelfSigned(join(h.dir, 'c.crt'), join(h.dir, 'c.key'));
      const server = createH2Server(
        { cert: readFileSync(join(h.dir, 'c.crt')), key: readFileSync(join(h.dir, 'c.key')) },
        { maxHeaderSize: 8192, requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 },
        (req, res) => {
          if (req.url === '/set') {
            res.setHeader('keep-alive', 'timeout=5');
            res.setHeader('upgrade', 'h2c');
            res.setHeader('x-kept', 'set');
            res.end('set');
            return;
          }
          res.writeHead(408, 'Request Timeout', {
            connection: 'close',
            'keep-alive': 'timeout=5',
            'transfer-encoding': 'chunked',
            'proxy-connection': 'close',
            upgrade: 'h2c',
            'x-kept': 'yes',
          });
          res.end('late');
        },
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      const session = await connectH2(`https://127.0.0.1:${port}`);
      try {
        for (const [path, status, kept, body] of [
          ['/head', 408, 'yes', 'late'],
          ['/set', 200, 'set', 'set'],
        ] as const) {
          const answer = await exchange(session, { ':path': path });
          assert.equal(answer.status, status);
          assert.equal(answer.headers['x-kept'], kept);
          assert.equal(answer.body.toString(), body);
          for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade'])
            assert.equal(answer.headers[name], undefined, name);
        }
      } finally {
        session.close();
        await new Promise((resolve) => server.close(resolve));
      }
      // Node warns (once per process) when a reason phrase reaches an HTTP/2 response.
      assert.deepEqual(
        warnings.filter((w) => /status message|connection header/i.test(w)),
        [],
      );
    } finally {
      process.off('warning', onWarning);
      h.remove();
    }
  });
});
