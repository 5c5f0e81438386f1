/**
 * Named loopback backends that a test can kill and restart on the same port (for HA tests), each answering
 * HTTP and WebSocket with its own name:
 * - any request: 200 JSON `{ name, method, url, bytes }` once its body is read (`bytes`: the body's length);
 * - `/slow...`: the same, 5 ms later (so that kills find requests in flight);
 * - `/hold...`: read the body, then never answer (the test kills the backend with the request in flight);
 * - `/health`: 200, or 503 while `sick` is set;
 * - a path with `/redirect`: 302 to this backend's absolute URL, with `/elsewhere` in its place;
 * - a WebSocket upgrade: accepted, and the first message says `hello from {name}`.
 * A kill closes the listener and cuts every connection, WebSockets included.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bytes: number;
}

export interface Node {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** Every request whose body was read, in order. */
  readonly received: Received[];
  /** Requests being handled now (including held ones). */
  readonly open: number;
  up: boolean;
  /** The health endpoint answers 503. */
  sick: boolean;
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** Resolves when a request whose URL starts with `prefix` has arrived (its body read). */
  arrival(prefix: string): Promise<Received>;
}

export async function startNode(name: string): Promise<Node> {
  const waiters: { prefix: string; resolve: (r: Received) => void }[] = [];
  let open = 0;
  const server = http.createServer((req, res) => {
    open++;
    res.once('close', () => open--);
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    req.on('end', () => {
      const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes };
      node.received.push(r);
      for (const w of waiters.splice(0)) {
        if (r.url.startsWith(w.prefix)) w.resolve(r);
        else waiters.push(w);
      }
      if (r.url.startsWith('/hold')) return;
      if (r.url.includes('/redirect')) {
        // An absolute redirect to this backend, under the path it was asked for.
        res.writeHead(302, {
          location: `http://127.0.0.1:${port}${r.url.replace('/redirect', '/elsewhere')}`,
        });
        res.end();
        return;
      }
      if (r.url === '/health') {
        res.writeHead(node.sick ? 503 : 200).end();
        return;
      }
      const body = JSON.stringify({ name, method: r.method, url: r.url, bytes });
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      if (r.url.startsWith('/slow')) setTimeout(answer, 5);
      else answer();
    });
  });
  // Idle keep-alive connections go quickly, so a test's socket count comes back to rest.
  server.keepAliveTimeout = 100;
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket) => {
    socket.send(`hello from ${name}`);
    socket.on('message', (data) => socket.send(data));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const node: Node = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    received: [],
    get open() {
      return open;
    },
    up: true,
    sick: false,
    async kill() {
      if (!node.up) return;
      node.up = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await closed;
    },
    async restart() {
      if (node.up) return;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      node.up = true;
    },
    arrival(prefix) {
      const seen = node.received.find((r) => r.url.startsWith(prefix));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ prefix, resolve }));
    },
  };
  return node;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The backend's JSON answer, when the gateway relayed one. */
  json?: { name: string; method: string; url: string; bytes: number };
  /** The gateway's error code, when it answered with an error. */
  code?: string;
}

/**
 * One request on a fresh connection (no client keep-alive, so nothing of the client pools). `chunked` sends the
 * body without a Content-Length.
 */
export function call(
  port: number,
  method: string,
  path: string,
  options: { body?: Buffer; headers?: Record<string, string>; chunked?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body && !options.chunked) headers['content-length'] = options.body.length;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const answer: Answer = { status: res.statusCode ?? 0, headers: res.headers, text };
        try {
          const parsed = JSON.parse(text);
          if (parsed?.error) answer.code = parsed.error.code;
          else answer.json = parsed;
        } catch {
          // not JSON
        }
        resolve(answer);
      });
    });
    req.on('error', reject);
    if (options.body) {
      if (options.chunked) {
        // Two writes, so the body really goes out in chunks.
        const half = Math.floor(options.body.length / 2);
        req.write(options.body.subarray(0, half));
        req.end(options.body.subarray(half));
      } else req.end(options.body);
    } else req.end();
  });
}
