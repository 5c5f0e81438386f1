/**
 * @module bench/floor-proxy
 * The floor for any Node proxy: a bare `node:http` server that streams every request to the upstream through one
 * undici Pool and streams the answer back, with nothing else (no routing, no headers policy, no logs). A Node
 * gateway cannot be cheaper than this; the bench reports postern against it.
 *
 *   node bench/floor-proxy.ts --upstream http(s)://127.0.0.1:PORT [--port N] [--tls-cert c.pem --tls-key k.pem]
 *                             [--ca upstream-ca.pem] [--ws-upstream PORT [--ws-relay pipe|raw]]
 *
 * With `--ws-upstream`, an upgrade request is relayed to that port on 127.0.0.1 (bench/ws-backend.ts) and, once the
 * backend answers 101, the two sockets are joined as any Node WebSocket proxy joins them (http-proxy's way):
 * - `pipe` (the default): `client.pipe(backend)` and `backend.pipe(client)`, no frame is looked at;
 * - `raw`: below the streams, as postern's relay reads and writes (src/websocket/frame-relay.ts), still without
 *   looking at a frame: the backend's socket reads into one shared buffer (`net`'s `onread`), every read is written
 *   straight to the other socket's file descriptor when nothing waits in it (`fs.writeSync`), and through
 *   `socket.write` (a copy) otherwise. The client's socket, which `net` accepted, is switched to a shared buffer by
 *   the relay's own `readIntoSharedBuffer`. So `raw` is postern's I/O path with nothing of what postern checks.
 * The two are the WebSocket floor: what relaying a message costs any Node process, before a single check. `raw`
 * never stops reading a socket whose peer is slow (what it cannot write is queued): a floor for a closed-loop
 * benchmark, not a proxy.
 *
 * Prints `listening <port>` on stdout once bound.
 */
import { readFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { pipeline } from 'node:stream';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { readIntoSharedBuffer } from '../src/websocket/frame-relay.ts';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    // TLS on the listener (PEM), and the CA an https upstream is verified against.
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    ca: { type: 'string' },
    'ws-upstream': { type: 'string' },
    'ws-relay': { type: 'string', default: 'pipe' },
  },
});
if (!values.upstream) {
  process.stderr.write('usage: node bench/floor-proxy.ts --upstream http://127.0.0.1:PORT [--port N]\n');
  process.exit(2);
}

const pool = new Pool(values.upstream, {
  connections: 32,
  ...(values.ca ? { connect: { ca: readFileSync(values.ca) } } : {}),
});
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']);

const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    if (!HOP.has(name)) headers[name] = req.rawHeaders[i + 1];
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  pool.request(
    { method: req.method as 'GET', path: req.url ?? '/', headers, body: hasBody ? req : undefined },
    (err, data) => {
      if (err) {
        res.writeHead(502).end();
        return;
      }
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(data.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
      // A client that went away while the backend answered (wrk closing its connections at the end of a run).
      if (res.destroyed) {
        data.body.destroy();
        return;
      }
      res.writeHead(data.statusCode, out);
      pipeline(data.body, res, () => {});
    },
  );
};
const server =
  values['tls-cert'] && values['tls-key']
    ? https.createServer(
        { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) },
        handler,
      )
    : http.createServer(handler);
server.keepAliveTimeout = 65_000;

// --- the WebSocket floor -------------------------------------------------------------------------------------------

const wsPort = values['ws-upstream'] ? Number(values['ws-upstream']) : undefined;
const raw = values['ws-relay'] === 'raw';
if (values['ws-relay'] !== 'pipe' && !raw) {
  process.stderr.write(`--ws-relay is pipe or raw, not "${values['ws-relay']}"\n`);
  process.exit(2);
}
const shared = Buffer.allocUnsafe(64 * 1024);

/** The file descriptor of a plain TCP socket, for a write below the stream. */
const fdOf = (s: Socket): number | undefined => (s as unknown as { _handle?: { fd?: number } })._handle?.fd;

/** Writes `chunk` (which may be the shared buffer) to `to`: to its descriptor when nothing waits, else a copy queued. */
function relayWrite(to: Socket, chunk: Buffer): void {
  if (to.destroyed) return;
  const fd = fdOf(to);
  let done = 0;
  if (to.writableLength === 0 && fd !== undefined && fd >= 0) {
    try {
      done = writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
        to.destroy();
        return;
      }
    }
  }
  if (done < chunk.length) to.write(Buffer.from(chunk.subarray(done)));
}

function joinRaw(client: Socket, backend: Socket, sink: { to?: Socket }): void {
  sink.to = client;
  const toBackend = (chunk: Buffer) => relayWrite(backend, chunk);
  if (!readIntoSharedBuffer(client, toBackend)) client.on('data', toBackend);
}

if (wsPort !== undefined) {
  server.on('upgrade', (req: http.IncomingMessage, client: Socket, head: Buffer) => {
    client.setNoDelay(true);
    const sink: { to?: Socket } = {};
    let handshake: Buffer[] | undefined = [];
    const onBytes = (chunk: Buffer) => {
      if (handshake === undefined) {
        if (sink.to) relayWrite(sink.to, chunk);
        return;
      }
      handshake.push(Buffer.from(chunk));
      const all = Buffer.concat(handshake);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return;
      handshake = undefined;
      client.write(all);
      if (!all.subarray(0, end).toString('latin1').startsWith('HTTP/1.1 101')) {
        client.end();
        backend.end();
        return;
      }
      if (raw) joinRaw(client, backend, sink);
      else {
        backend.removeListener('data', onBytes);
        client.pipe(backend);
        backend.pipe(client);
      }
    };
    const backend = raw
      ? net.connect({
          host: '127.0.0.1',
          port: wsPort,
          noDelay: true,
          onread: {
            buffer: shared,
            callback: (n: number, buf: Uint8Array) => {
              onBytes(buf.subarray(0, n) as Buffer);
              return true;
            },
          },
        })
      : net.connect({ host: '127.0.0.1', port: wsPort, noDelay: true });
    if (!raw) backend.on('data', onBytes);
    let lines = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      lines += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    backend.write(`${lines}\r\n`);
    if (head.length > 0) backend.write(head);
    const close = () => {
      client.destroy();
      backend.destroy();
    };
    client.on('error', close).on('close', close);
    backend.on('error', close).on('close', close);
  });
}
server.listen(Number(values.port), values.host, () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});

const stop = () => {
  server.close();
  pool.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
