/**
 * End to end through a real gateway and real backends on loopback: routing, streaming both ways, header rules,
 * identity, rewrite of redirects, and the faults a client must see as clean JSON errors.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, closedPort, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

describe('gateway proxy end to end', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let base: string;
  const aborted: string[] = [];

  before(async () => {
    backend = await startBackend((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/echo' || url.pathname.startsWith('/echo/')) {
        const hash = createHash('sha256');
        let length = 0;
        req.on('data', (c: Buffer) => {
          hash.update(c);
          length += c.length;
        });
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              method: req.method,
              url: req.url,
              headers: req.headers,
              length,
              sha256: hash.digest('hex'),
            }),
          );
        });
        return;
      }
      if (url.pathname === '/bytes') {
        const size = Number(url.searchParams.get('size'));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
        const chunk = Buffer.alloc(64 * 1024, 7);
        let left = size;
        const pump = () => {
          while (left > 0) {
            const n = Math.min(left, chunk.length);
            left -= n;
            if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      if (url.pathname === '/created') {
        res.writeHead(201, {
          location: `${backend.url}/items/42?x=1`,
          'content-location': `${backend.url}/items/42`,
        });
        res.end();
        return;
      }
      if (url.pathname === '/offsite') {
        res.writeHead(302, { location: 'https://idp.example.com/login?next=%2Fitems' });
        res.end();
        return;
      }
      if (url.pathname === '/cookies') {
        res.writeHead(200, {
          'set-cookie': ['hadoop.auth=secret; Path=/', 'JSESSIONID=abc; Path=/'],
          'www-authenticate': 'Negotiate',
          connection: 'x-internal',
          'x-internal': 'hop',
          'x-kept': 'yes',
        });
        res.end('ok');
        return;
      }
      if (url.pathname === '/hang') {
        req.on('close', () => aborted.push(req.url ?? ''));
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('started');
        return; // never ends
      }
      if (url.pathname === '/silent') {
        req.on('close', () => aborted.push(req.url ?? ''));
        return; // never answers
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('backend 404');
    });
    const dead = await closedPort();
    home = makeHome({ 'gateway.httpclient.socketTimeout': '1s' });
    home.write(
      'conf/topologies/sandbox.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }),
    );
    home.write(
      'conf/topologies/broken-backend.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [`http://127.0.0.1:${dead}`] }] }),
    );
    gateway = await startGateway(home);
    base = `${gateway.url}/sandbox/http`;
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('forwards a GET and keeps the client X-Request-Id', async () => {
    const res = await request(`${base}/echo?a=1`, { headers: { 'x-request-id': 'req-abc.1' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-request-id'], 'req-abc.1');
    const body = (await res.body.json()) as { url: string; headers: Record<string, string> };
    assert.equal(body.headers['x-request-id'], 'req-abc.1');
    assert.equal(body.url, '/echo?a=1&user.name=anonymous');
  });

  it('keeps a trailing slash of the path on the generic HTTP service, with or without a query', async () => {
    for (const [path, sent] of [
      ['/echo/me/', '/echo/me/?user.name=anonymous'],
      ['/echo/me', '/echo/me?user.name=anonymous'],
      ['/echo/me/?a=1', '/echo/me/?a=1&user.name=anonymous'],
      ['/echo/', '/echo/?user.name=anonymous'],
    ]) {
      const res = await request(`${base}${path}`);
      assert.equal(((await res.body.json()) as { url: string }).url, sent, path);
    }
  });

  it('creates an X-Request-Id when the client sent none or an unsafe one', async () => {
    const res = await request(`${base}/echo`, { headers: { 'x-request-id': 'bad id\twith spaces' } });
    const id = res.headers['x-request-id'] as string;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const body = (await res.body.json()) as { headers: Record<string, string> };
    assert.equal(body.headers['x-request-id'], id);
  });

  it('streams a 5 MiB request body to the backend unchanged', async () => {
    const data = randomBytes(5 * 1024 * 1024);
    const res = await request(`${base}/echo`, { method: 'PUT', body: data });
    const body = (await res.body.json()) as { method: string; length: number; sha256: string };
    assert.equal(body.method, 'PUT');
    assert.equal(body.length, data.length);
    assert.equal(body.sha256, createHash('sha256').update(data).digest('hex'));
  });

  it('accepts an upload that expects 100-continue (curl does for large bodies)', async () => {
    const body = Buffer.alloc(300_000, 1);
    const result = await new Promise<{ status: number; text: string; continued: boolean }>(
      (resolve, reject) => {
        let continued = false;
        const req = http.request(
          {
            host: '127.0.0.1',
            port: gateway.port,
            method: 'PUT',
            path: '/gateway/sandbox/http/echo',
            headers: { expect: '100-continue', 'content-length': body.length },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              text += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text, continued }));
          },
        );
        req.on('continue', () => {
          continued = true;
          req.end(body);
        });
        req.on('error', reject);
      },
    );
    assert.equal(result.continued, true);
    assert.equal(result.status, 200);
    const echoed = JSON.parse(result.text) as { length: number; headers: Record<string, string> };
    assert.equal(echoed.length, body.length);
    assert.equal(echoed.headers.expect, undefined);
  });

  it('streams a chunked request body (no Content-Length)', async () => {
    async function* parts() {
      for (let i = 0; i < 20; i++) yield Buffer.alloc(10_000, i);
    }
    const res = await request(`${base}/echo`, { method: 'POST', body: Readable.from(parts()) });
    const body = (await res.body.json()) as { length: number; headers: Record<string, string> };
    assert.equal(body.length, 200_000);
    assert.equal(body.headers['transfer-encoding'], 'chunked');
  });

  it('streams a 16 MiB response with its Content-Length', async () => {
    const size = 16 * 1024 * 1024;
    const res = await request(`${base}/bytes?size=${size}`);
    assert.equal(res.headers['content-length'], String(size));
    let got = 0;
    for await (const chunk of res.body) got += (chunk as Buffer).length;
    assert.equal(got, size);
  });

  it('forwards every method but TRACE and CONNECT', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND'] as const) {
      const res = await request(`${base}/echo`, { method });
      const body = (await res.body.json()) as { method: string };
      assert.equal(body.method, method);
    }
    const head = await request(`${base}/echo`, { method: 'HEAD' });
    assert.equal(head.statusCode, 200);
    await head.body.dump();
    const trace = await request(`${base}/echo`, { method: 'TRACE' });
    assert.equal(trace.statusCode, 405);
    assert.equal(
      ((await trace.body.json()) as { error: { code: string } }).error.code,
      'POSTERN_ERR_METHOD_NOT_ALLOWED',
    );
  });

  it('adds X-Forwarded-* and drops Authorization and hop-by-hop request headers', async () => {
    // node:http, because undici refuses to send hop-by-hop headers at all.
    const text = await new Promise<string>((resolve, reject) => {
      http
        .get(
          {
            host: '127.0.0.1',
            port: gateway.port,
            path: '/gateway/sandbox/http/echo',
            headers: {
              authorization: 'Basic dXNlcjpwYXNz',
              connection: 'keep-alive, x-private',
              'x-private': 'hop',
              'keep-alive': 'timeout=5',
              te: 'trailers',
              'proxy-authorization': 'Basic eDp5',
              'x-forwarded-for': '10.0.0.1',
              'x-custom': 'kept',
            },
          },
          (res) => {
            let data = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              data += c;
            });
            res.on('end', () => resolve(data));
          },
        )
        .on('error', reject);
    });
    const { headers } = JSON.parse(text) as { headers: Record<string, string> };
    for (const h of ['authorization', 'x-private', 'te', 'proxy-authorization']) {
      assert.equal(headers[h], undefined, h);
    }
    assert.notEqual(headers['keep-alive'], 'timeout=5');
    assert.equal(headers['x-custom'], 'kept');
    // The client is no trusted proxy (postern.trusted.proxies): its own X-Forwarded-For is replaced.
    assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.equal(headers['x-forwarded-port'], String(gateway.port));
    assert.equal(headers['x-forwarded-context'], '/gateway/sandbox');
    assert.equal(headers.host, `127.0.0.1:${backend.port}`);
  });

  it('replaces client-supplied impersonation parameters with the asserted user', async () => {
    const res = await request(`${base}/echo?doAs=root&user.name=admin&op=LIST`);
    const body = (await res.body.json()) as { url: string };
    assert.equal(body.url, '/echo?op=LIST&user.name=anonymous');
  });

  it('rewrites Location and Content-Location of a backend response to gateway URLs', async () => {
    const res = await request(`${base}/created`, { method: 'POST' });
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers.location, `${base}/items/42?x=1`);
    assert.equal(res.headers['content-location'], `${base}/items/42`);
    await res.body.dump();
  });

  it('passes a redirect to another site through unchanged', async () => {
    const res = await request(`${base}/offsite`);
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, 'https://idp.example.com/login?next=%2Fitems');
    await res.body.dump();
  });

  it('drops WWW-Authenticate, Knox auth cookies and Connection-listed response headers', async () => {
    const res = await request(`${base}/cookies`);
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(res.headers['x-internal'], undefined);
    assert.equal(res.headers['x-kept'], 'yes');
    assert.deepEqual(res.headers['set-cookie'], 'JSESSIONID=abc; Path=/');
    await res.body.dump();
  });

  it('answers 404 as JSON with the request id when no route matches', async () => {
    const res = await request(`${gateway.url}/sandbox/nothing/here`, {
      headers: { 'x-request-id': 'r-404' },
    });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(await res.body.json(), {
      error: {
        status: 404,
        code: 'POSTERN_ERR_NOT_FOUND',
        message: 'No service of this topology matches the request URL',
        requestId: 'r-404',
      },
    });
    const topo = await request(`${gateway.url}/nosuch/http/x`);
    assert.equal(topo.statusCode, 404);
    assert.equal(
      ((await topo.body.json()) as { error: { code: string } }).error.code,
      'POSTERN_ERR_TOPOLOGY_NOT_FOUND',
    );
  });

  it('refuses paths that climb out of the service prefix', async () => {
    // node:http sends the path as written (a WHATWG URL would normalize the dots away before sending).
    for (const path of ['/http/%2e%2e/%2e%2e/etc/passwd', '/http/..%2f..%2fsecret', '/http/a/../../x']) {
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: gateway.port, path: `/gateway/sandbox${path}` }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
      assert.equal(status, 400, path);
    }
  });

  it('answers 502 without the backend address when the backend refuses the connection', async () => {
    const res = await request(`${gateway.url}/broken-backend/http/echo`);
    assert.equal(res.statusCode, 502);
    const text = await res.body.text();
    const body = JSON.parse(text) as { error: { code: string; requestId: string } };
    assert.equal(body.error.code, 'POSTERN_ERR_UPSTREAM_UNAVAILABLE');
    assert.equal(body.error.requestId, res.headers['x-request-id']);
    assert.doesNotMatch(text, /127\.0\.0\.1|ECONNREFUSED/);
  });

  it('answers 504 when the backend does not answer within the socket timeout', async () => {
    const res = await request(`${base}/silent`);
    assert.equal(res.statusCode, 504);
    const body = (await res.body.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'POSTERN_ERR_UPSTREAM_TIMEOUT');
  });

  it('cancels the backend request when the client goes away', async () => {
    const before = aborted.length;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${base}/hang?id=abort-1`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    });
    for (let i = 0; i < 100 && aborted.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      aborted.some((u) => u.startsWith('/hang?id=abort-1')),
      'backend saw the request end',
    );
  });
});
