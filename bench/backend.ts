/**
 * @module bench/backend
 * The benchmark's backend: a minimal keep-alive Node `http` server. `GET /small` answers a ~100-byte text body,
 * `GET /big` a 1 MiB body from one preallocated Buffer (any query is ignored), `GET /big64` 64 MiB written 64 KiB at a time,
 * `PUT /upload` reads and counts a body and answers 201 (the large-body rows, bench/bodies.ts), `GET /stream/N`
 * N bytes written 64 KiB at a time as the client takes them (bench/flat-memory.ts: a GiB without holding it), `GET /rewrite/…`
 * the bodies of the body-rewrite rows (bench/rewrite-bodies.ts); anything else is a 404. Every proxy under test (postern,
 * nginx, @fastify/http-proxy) and the `direct` row talk to this same server.
 *
 *   node bench/backend.ts [--port N] [--host 127.0.0.1] [--tls-cert cert.pem --tls-key key.pem]
 *
 * Prints `listening <port>` on stdout once bound (port 0 picks a free one).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { REWRITE_BODIES } from './rewrite-bodies.ts';

export const SMALL_BODY = Buffer.from(
  `${'postern bench: a small response body of about one hundred bytes, the shape of a JSON status'.padEnd(99, '.')}\n`,
);
export const BIG_BODY = Buffer.alloc(1024 * 1024, 'x');
/** The size of the 64 MiB body of the large-body rows (bench/bodies.ts). */
const HUGE_BYTES = 64 * 1024 * 1024;

const SMALL_HEADERS = { 'content-type': 'text/plain', 'content-length': String(SMALL_BODY.length) };
/** The body-rewrite rows (bench/rewrite-bodies.ts): each body as its own type, and as bytes no filter reads. */
const REWRITE_PATHS = new Map<string, [Buffer, string]>([
  ['/rewrite/page.html', [REWRITE_BODIES.html, 'text/html; charset=utf-8']],
  ['/rewrite/page.bin', [REWRITE_BODIES.html, 'application/octet-stream']],
  ['/rewrite/doc.json', [REWRITE_BODIES.json, 'application/json']],
  ['/rewrite/doc.bin', [REWRITE_BODIES.json, 'application/octet-stream']],
]);
const BIG_HEADERS = { 'content-type': 'application/octet-stream', 'content-length': String(BIG_BODY.length) };

const CHUNK = Buffer.alloc(64 * 1024, 'z');

/** Writes `total` bytes from one 64 KiB buffer, waiting for 'drain' whenever the socket is full. */
function streamBytes(res: http.ServerResponse, total: number): void {
  if (!Number.isSafeInteger(total) || total < 0) {
    res.writeHead(400, { 'content-length': '0' });
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void res.once('drain', pump);
    }
    res.end();
  };
  res.once('close', () => {
    left = 0;
  });
  pump();
}

/** `{ cert, key }` (PEM) serves https: the TLS-backend rows of bench/bodies.ts. */
export function createBackend(tls?: { cert: Buffer; key: Buffer }): http.Server {
  const options = { keepAliveTimeout: 120_000, requestTimeout: 0 };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    // The path without the query: postern's Default identity assertion appends `user.name=…`, as Knox does.
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/small') {
      res.writeHead(200, SMALL_HEADERS);
      res.end(SMALL_BODY);
    } else if (path === '/big') {
      res.writeHead(200, BIG_HEADERS);
      res.end(BIG_BODY);
    } else if (path === '/big64') {
      // Streamed in 64 KiB writes, as a datanode sends a block. One `res.end` of 64 MiB made this process copy the
      // body behind the header (a writev of a string and a buffer) and, over TLS, encrypt all of it into memory
      // at once: it then spent more of the shared core than the proxy measured (docs/performance.md, "TLS
      // downloads: the backend was the bottleneck at 64 MiB").
      streamBytes(res, HUGE_BYTES);
    } else if (path.startsWith('/stream/')) {
      streamBytes(res, Number(path.slice('/stream/'.length)));
    } else if (path === '/upload' && (req.method === 'PUT' || req.method === 'POST')) {
      // A sink, as a datanode answers a CREATE: the body is read and counted, then 201 with a small JSON body.
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      req.once('end', () => {
        const body = `{"bytes":${bytes}}`;
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': String(body.length) });
        res.end(body);
      });
    } else if (REWRITE_PATHS.has(path)) {
      const [body, type] = REWRITE_PATHS.get(path)!;
      res.writeHead(200, { 'content-type': type, 'content-length': String(body.length) });
      res.end(body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': '10' });
      res.end('not found\n');
    }
  };
  const server = tls
    ? https.createServer({ ...options, ...tls }, handler)
    : http.createServer(options, handler);
  server.keepAliveTimeout = 120_000;
  return server;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
    },
  });
  const tls =
    values['tls-cert'] && values['tls-key']
      ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) }
      : undefined;
  const server = createBackend(tls);
  server.listen(Number(values.port), values.host, () => {
    process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
