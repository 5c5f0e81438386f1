/**
 * A look-alike web UI on loopback: a table of pages by path (query ignored), each a function of the fake's own
 * origin (`http://127.0.0.1:PORT`, which the real products print into their pages), answered as written —
 * gzip-encoded when the page says so and the request accepts it, as Jetty's GzipHandler does. Every request is
 * recorded, so a test can tell which fake path a link followed through the gateway reached.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

export interface FakePage {
  status?: number;
  type?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body gzip-encoded (Content-Encoding: gzip) when the request accepts gzip. */
  gzip?: boolean;
}

export type PageFn = (origin: string, url: URL) => FakePage;

export interface Fake {
  name: string;
  origin: string;
  host: string;
  port: number;
  /** Requests received, oldest first: method, path with query, headers. */
  requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  /** The page as the fake serves it (uncompressed). */
  page(path: string): FakePage;
  close(): Promise<void>;
}

export async function startFake(name: string, pages: Record<string, PageFn>): Promise<Fake> {
  const requests: Fake['requests'] = [];
  let origin = '';
  const render = (url: URL): FakePage | undefined => pages[url.pathname]?.(origin, url);
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    const url = new URL(req.url ?? '/', origin);
    const p = render(url);
    if (!p) {
      res.writeHead(404, { 'content-type': 'text/plain;charset=utf-8' });
      res.end(`${name}: no page ${url.pathname}\n`);
      return;
    }
    const headers: Record<string, string> = { ...(p.headers ?? {}) };
    if (p.type) headers['content-type'] = p.type;
    let body: Buffer = Buffer.from(p.body ?? '', 'utf8');
    if (p.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      body = zlib.gzipSync(body);
      headers['content-encoding'] = 'gzip';
      headers.vary = 'Accept-Encoding';
    }
    headers['content-length'] = String(body.length);
    res.writeHead(p.status ?? 200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    name,
    origin,
    host: '127.0.0.1',
    port,
    requests,
    page(path) {
      const url = new URL(path, origin);
      const p = render(url);
      if (!p) throw new Error(`${name}: no page ${path}`);
      return p;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export const HTML = 'text/html;charset=utf-8';
export const JSON_TYPE = 'application/json;charset=utf-8';
export const JS = 'application/javascript';
