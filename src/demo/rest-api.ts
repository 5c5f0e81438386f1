/**
 * @module demo/rest-api
 * A small JSON REST API on `node:http`, the `HTTP` backend of the sandbox topology and the target of proxy tests
 * and benchmarks. Every answer is JSON except `/bytes`. Endpoints:
 *
 * | method | path | answer |
 * |---|---|---|
 * | GET | `/` | service info and the endpoint list |
 * | GET | `/health` | `{"status":"ok"}`: what an HA health check (`healthCheckPath=/health`) asks |
 * | GET | `/items` | all items |
 * | GET | `/items/:id` | one item, 404 if unknown |
 * | POST | `/items` | JSON object body; 201, the item, and `Location` = absolute backend URL of the item |
 * | PUT | `/items/:id` | JSON object body; replaces the item (200), 404 if unknown |
 * | DELETE | `/items/:id` | 204, 404 if unknown |
 * | any | `/echo`, `/echo/**` | method, path, raw URL, query, headers, body length and SHA-256 |
 * | GET | `/redirect?to=/path&status=302` | a redirect with an absolute backend `Location` |
 * | GET | `/bytes?size=N&chunked=1` | N bytes (byte i = i mod 256), streamed with backpressure |
 * | GET | `/slow?ms=N` | answers after N ms |
 * | any | `/status/:code` | that status code |
 *
 * Absolute URLs (POST `Location`, `/redirect`) are built from the request's `Host` header, the way servlet
 * containers do, so they name the backend as the caller addressed it; without a `Host` the listening address is
 * used. A gateway must therefore rewrite them (Knox's `Location` header rules).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RestApiOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; 0 picks a free port. Default 18080. */
  port?: number;
}

export interface RunningBackend {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:18080`. */
  url: string;
  /** The port actually bound (useful with port 0). */
  port: number;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

export interface Item {
  id: number;
  [field: string]: unknown;
}

/** Largest request body `/items` accepts; `/echo` only counts and hashes, so it takes any size. */
const MAX_JSON_BODY = 1024 * 1024;
/** Largest `/slow` delay, so a typo cannot pin a test run for hours. */
const MAX_SLOW_MS = 10 * 60 * 1000;
/** Chunk size `/bytes` writes. */
const BYTES_CHUNK = 64 * 1024;
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

const ENDPOINTS = [
  'GET /',
  'GET /items',
  'GET /items/:id',
  'POST /items',
  'PUT /items/:id',
  'DELETE /items/:id',
  '* /echo/**',
  'GET /redirect?to=/path&status=302',
  'GET /bytes?size=N&chunked=1',
  'GET /slow?ms=N',
  '* /status/:code',
];

class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** One 64 KiB block of the `/bytes` pattern; any slice starting at a multiple of 256 continues the pattern. */
const PATTERN_BLOCK = Buffer.from(Array.from({ length: BYTES_CHUNK }, (_, i) => i % 256));

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req, MAX_JSON_BODY);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Parses a non-negative integer query value; `undefined` when absent. */
function intParam(value: string | null, name: string, max: number): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new HttpError(400, `${name} must be a non-negative integer`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n > max) throw new HttpError(400, `${name} must be at most ${max}`);
  return n;
}

/** Query parameters as name → value, or name → values when repeated. */
function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of params) {
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else out[name] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

function methodNotAllowed(allow: string[]): HttpError {
  return new HttpError(405, 'method not allowed', { allow: allow.join(', ') });
}

/**
 * Starts the demo REST API.
 *
 * @example
 * const api = await startRestApi({ port: 0 });
 * const res = await fetch(`${api.url}/items`);
 * await api.close();
 */
export async function startRestApi(options: RestApiOptions = {}): Promise<RunningBackend> {
  const host = options.host ?? '127.0.0.1';
  const items = new Map<number, Item>([
    [1, { id: 1, name: 'alpha', tags: ['demo'] }],
    [2, { id: 2, name: 'beta', tags: [] }],
  ]);
  let nextId = 3;
  let selfUrl = '';

  /** The backend's absolute base URL as the caller addressed it. */
  const baseOf = (req: IncomingMessage): string =>
    req.headers.host ? `http://${req.headers.host}` : selfUrl;

  const itemId = (segment: string): number => {
    if (!/^\d+$/.test(segment)) throw new HttpError(404, `no item ${segment}`);
    const id = Number(segment);
    if (!items.has(id)) throw new HttpError(404, `no item ${id}`);
    return id;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, 'http://backend.invalid');
    const segments = url.pathname.split('/').filter((s) => s !== '');
    const head = segments[0] ?? '';

    if (head === 'health' && segments.length === 1 && (method === 'GET' || method === 'HEAD')) {
      sendJson(res, 200, { status: 'ok' });
      return;
    }

    if (head === 'echo') {
      const hash = createHash('sha256');
      let length = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        length += chunk.length;
        hash.update(chunk);
      }
      sendJson(res, 200, {
        method,
        path: url.pathname,
        url: rawUrl,
        query: queryObject(url.searchParams),
        headers: req.headers,
        bodyLength: length,
        bodySha256: hash.digest('hex'),
      });
      return;
    }

    if (segments.length === 0) {
      if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
      sendJson(res, 200, { service: 'postern-demo-rest-api', version: '1.0.0', endpoints: ENDPOINTS });
      return;
    }

    if (head === 'items' && segments.length === 1) {
      if (method === 'GET' || method === 'HEAD') {
        sendJson(res, 200, { items: [...items.values()] });
        return;
      }
      if (method === 'POST') {
        const fields = await readJsonObject(req);
        const item: Item = { ...fields, id: nextId++ };
        items.set(item.id, item);
        sendJson(res, 201, item, { location: `${baseOf(req)}/items/${item.id}` });
        return;
      }
      throw methodNotAllowed(['GET', 'HEAD', 'POST']);
    }

    if (head === 'items' && segments.length === 2) {
      if (method === 'GET' || method === 'HEAD') {
        sendJson(res, 200, items.get(itemId(segments[1])));
        return;
      }
      if (method === 'PUT') {
        const id = itemId(segments[1]);
        const item: Item = { ...(await readJsonObject(req)), id };
        items.set(id, item);
        sendJson(res, 200, item);
        return;
      }
      if (method === 'DELETE') {
        items.delete(itemId(segments[1]));
        res.writeHead(204).end();
        return;
      }
      throw methodNotAllowed(['GET', 'HEAD', 'PUT', 'DELETE']);
    }

    if (head === 'status' && segments.length === 2) {
      const code = Number(segments[1]);
      if (!/^\d{3}$/.test(segments[1]) || code < 200 || code > 599) {
        throw new HttpError(400, 'status code must be between 200 and 599');
      }
      if (code === 204 || code === 304) res.writeHead(code).end();
      else sendJson(res, code, { status: code });
      return;
    }

    if (segments.length === 1 && (head === 'redirect' || head === 'bytes' || head === 'slow')) {
      if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
      const q = url.searchParams;
      if (head === 'redirect') {
        const to = q.get('to') || '/';
        // Only paths on this backend: an open redirector would be a poor thing to ship, even in a demo.
        if (!to.startsWith('/') || to.startsWith('//') || to.includes('\\')) {
          throw new HttpError(400, 'to must be a path on this backend, starting with a single "/"');
        }
        const status = intParam(q.get('status'), 'status', 999) ?? 302;
        if (!REDIRECT_CODES.has(status)) throw new HttpError(400, 'status must be 301, 302, 303, 307 or 308');
        sendJson(res, status, { location: to }, { location: `${baseOf(req)}${to}` });
        return;
      }
      if (head === 'slow') {
        const ms = intParam(q.get('ms'), 'ms', MAX_SLOW_MS) ?? 1000;
        await waitUnlessClosed(res, ms);
        if (!res.destroyed) sendJson(res, 200, { waitedMs: ms });
        return;
      }
      const size = intParam(q.get('size'), 'size', Number.MAX_SAFE_INTEGER) ?? 1024;
      await streamBytes(
        res,
        size,
        q.get('chunked') === '1' || q.get('chunked') === 'true',
        method === 'HEAD',
      );
      return;
    }

    throw new HttpError(404, `no route for ${method} ${url.pathname}`);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      const status = err instanceof HttpError ? err.status : 500;
      const headers = err instanceof HttpError ? err.headers : {};
      sendJson(res, status, { error: err instanceof Error ? err.message : String(err), status }, headers);
      // An unread request body would otherwise be left on a keep-alive socket.
      if (!req.complete) req.resume();
    });
  });

  server.listen(options.port ?? 18080, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  selfUrl = `http://${hostPart}:${address.port}`;

  return {
    url: selfUrl,
    port: address.port,
    close: () => closeServer(server),
  };
}

/** Resolves after `ms`, or early when the client goes away. */
function waitUnlessClosed(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.on('close', done);
  });
}

async function streamBytes(
  res: ServerResponse,
  size: number,
  chunked: boolean,
  headOnly: boolean,
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    ...(chunked ? {} : { 'content-length': String(size) }),
  });
  if (headOnly) {
    res.end();
    return;
  }
  let sent = 0;
  while (sent < size) {
    if (res.destroyed) return;
    const n = Math.min(BYTES_CHUNK, size - sent);
    sent += n;
    if (!res.write(n === BYTES_CHUNK ? PATTERN_BLOCK : PATTERN_BLOCK.subarray(0, n))) {
      await drainOrClose(res);
    }
  }
  res.end();
}

/** Waits for the response to drain or to go away, leaving no listener behind. */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Stops a server and drops its keep-alive and in-flight connections. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
