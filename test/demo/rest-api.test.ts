/**
 * @module test/demo/rest-api
 * The demo REST API, endpoint by endpoint, over real sockets on port 0.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type RunningBackend, startRestApi } from '../../src/demo/rest-api.ts';

let api: RunningBackend;

before(async () => {
  api = await startRestApi({ port: 0 });
});
after(async () => {
  await api.close();
});

// biome-ignore lint/suspicious/noExplicitAny: the tests read arbitrary JSON answers field by field.
type Json = any;

async function json(path: string, init?: RequestInit): Promise<{ res: Response; body: Json }> {
  const res = await fetch(`${api.url}${path}`, { redirect: 'manual', ...init });
  const text = await res.text();
  return { res, body: text === '' ? undefined : JSON.parse(text) };
}

const jsonInit = (method: string, body: unknown): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('demo REST API', () => {
  it('listens on the requested interface and reports a usable URL', () => {
    assert.match(api.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(api.port > 0);
  });

  it('GET / describes the service', async () => {
    const { res, body } = await json('/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(body.service, 'postern-demo-rest-api');
    assert.ok(body.endpoints.includes('POST /items'));
  });

  it('GET /items lists the seeded items and GET /items/:id returns one', async () => {
    const list = await json('/items');
    assert.equal(list.res.status, 200);
    assert.deepEqual(
      list.body.items.map((i: { id: number }) => i.id),
      [1, 2],
    );
    const one = await json('/items/2');
    assert.equal(one.res.status, 200);
    assert.deepEqual(one.body, { id: 2, name: 'beta', tags: [] });
  });

  it('GET /items/:id is 404 for an unknown or malformed id', async () => {
    assert.equal((await json('/items/999')).res.status, 404);
    assert.equal((await json('/items/abc')).res.status, 404);
  });

  it('POST /items creates an item: 201, body, absolute Location that resolves', async () => {
    const { res, body } = await json('/items', jsonInit('POST', { name: 'gamma', id: 77 }));
    assert.equal(res.status, 201);
    assert.equal(body.name, 'gamma');
    assert.equal(typeof body.id, 'number');
    assert.notEqual(body.id, 77, 'the server assigns ids');
    const location = res.headers.get('location');
    assert.equal(location, `${api.url}/items/${body.id}`);
    const again = await json(new URL(location!).pathname);
    assert.deepEqual(again.body, body);
  });

  it('POST /items builds Location from the Host header, like a servlet container', async () => {
    const res = await new Promise<{ status: number; location?: string }>((resolve, reject) => {
      const req = request(`${api.url}/items`, {
        method: 'POST',
        headers: { host: 'backend.example:1234', 'content-type': 'application/json' },
      });
      req.on('response', (r) => {
        r.resume();
        resolve({ status: r.statusCode!, location: r.headers.location });
      });
      req.on('error', reject);
      req.end('{"name":"via-host"}');
    });
    assert.equal(res.status, 201);
    assert.match(res.location ?? '', /^http:\/\/backend\.example:1234\/items\/\d+$/);
  });

  it('POST /items rejects bodies that are not a JSON object', async () => {
    const bad = await json('/items', { method: 'POST', body: '{not json' });
    assert.equal(bad.res.status, 400);
    assert.match(bad.body.error, /JSON/);
    assert.equal((await json('/items', jsonInit('POST', [1, 2]))).res.status, 400);
    assert.equal((await json('/items', jsonInit('POST', 'text'))).res.status, 400);
  });

  it('POST /items rejects bodies over 1 MiB with 413', async () => {
    const { res } = await json('/items', { method: 'POST', body: 'x'.repeat(1024 * 1024 + 1) });
    assert.equal(res.status, 413);
  });

  it('PUT /items/:id replaces an item and keeps its id', async () => {
    const created = await json('/items', jsonInit('POST', { name: 'delta', colour: 'red' }));
    const id = created.body.id;
    const put = await json(`/items/${id}`, jsonInit('PUT', { name: 'delta2', id: 5 }));
    assert.equal(put.res.status, 200);
    assert.deepEqual(put.body, { name: 'delta2', id });
    assert.deepEqual((await json(`/items/${id}`)).body, { name: 'delta2', id });
    assert.equal((await json('/items/4242', jsonInit('PUT', { name: 'x' }))).res.status, 404);
  });

  it('DELETE /items/:id answers 204 and the item is gone', async () => {
    const created = await json('/items', jsonInit('POST', { name: 'doomed' }));
    const del = await json(`/items/${created.body.id}`, { method: 'DELETE' });
    assert.equal(del.res.status, 204);
    assert.equal(del.body, undefined);
    assert.equal((await json(`/items/${created.body.id}`)).res.status, 404);
    assert.equal((await json(`/items/${created.body.id}`, { method: 'DELETE' })).res.status, 404);
  });

  it('answers 405 with Allow for a method a resource does not support', async () => {
    const { res } = await json('/items', { method: 'DELETE' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, POST');
    assert.equal((await json('/', { method: 'POST', body: '' })).res.status, 405);
  });

  it('GET /echo echoes method, path, raw URL, repeated query values and headers', async () => {
    const { res, body } = await json('/echo?a=1&b=x%20y&a=2', { headers: { 'x-probe': 'p1' } });
    assert.equal(res.status, 200);
    assert.equal(body.method, 'GET');
    assert.equal(body.path, '/echo');
    assert.equal(body.url, '/echo?a=1&b=x%20y&a=2');
    assert.deepEqual(body.query, { a: ['1', '2'], b: 'x y' });
    assert.equal(body.headers['x-probe'], 'p1');
    assert.equal(body.bodyLength, 0);
  });

  it('any method on /echo/** echoes the path and counts and hashes the body', async () => {
    const payload = Buffer.alloc(300_000, 7);
    const { body } = await json('/echo/deep/er/path', { method: 'PATCH', body: payload });
    assert.equal(body.method, 'PATCH');
    assert.equal(body.path, '/echo/deep/er/path');
    assert.equal(body.bodyLength, payload.length);
    assert.equal(body.bodySha256, createHash('sha256').update(payload).digest('hex'));
    for (const method of ['PUT', 'DELETE', 'OPTIONS', 'POST']) {
      assert.equal(
        (await json('/echo/m', { method, body: method === 'POST' ? 'x' : undefined })).body.method,
        method,
      );
    }
  });

  it('HEAD /echo answers headers without a body', async () => {
    const res = await fetch(`${api.url}/echo`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('GET /redirect answers 302 with an absolute backend Location', async () => {
    const { res } = await json('/redirect?to=/items/1');
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), `${api.url}/items/1`);
    const followed = await fetch(`${api.url}/redirect?to=/items/1`);
    assert.equal(followed.status, 200);
    assert.equal(((await followed.json()) as Json).name, 'alpha');
  });

  it('GET /redirect takes a redirect status, defaults to /, and refuses non-local targets', async () => {
    const r307 = await json('/redirect?to=/echo%3Fx%3D1&status=307');
    assert.equal(r307.res.status, 307);
    assert.equal(r307.res.headers.get('location'), `${api.url}/echo?x=1`);
    assert.equal((await json('/redirect')).res.headers.get('location'), `${api.url}/`);
    assert.equal((await json('/redirect?to=//evil.example/')).res.status, 400);
    assert.equal((await json('/redirect?to=http://evil.example/')).res.status, 400);
    assert.equal((await json('/redirect?to=/x&status=200')).res.status, 400);
  });

  it('GET /bytes streams exactly N bytes of the i mod 256 pattern with Content-Length', async () => {
    const size = 200_003;
    const res = await fetch(`${api.url}/bytes?size=${size}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.headers.get('content-length'), String(size));
    const data = Buffer.from(await res.arrayBuffer());
    assert.equal(data.length, size);
    for (const i of [0, 1, 255, 256, 65_535, 65_536, 131_077, size - 1]) assert.equal(data[i], i % 256);
  });

  it('GET /bytes?chunked=1 omits Content-Length; size=0 is an empty body', async () => {
    const res = await fetch(`${api.url}/bytes?size=70000&chunked=1`);
    assert.equal(res.headers.get('content-length'), null);
    assert.equal(res.headers.get('transfer-encoding'), 'chunked');
    assert.equal((await res.arrayBuffer()).byteLength, 70_000);
    const empty = await fetch(`${api.url}/bytes?size=0`);
    assert.equal((await empty.arrayBuffer()).byteLength, 0);
    assert.equal((await json('/bytes?size=-1')).res.status, 400);
    assert.equal((await json('/bytes?size=1e3')).res.status, 400);
  });

  it('GET /bytes streams a large body with backpressure, read slowly', async () => {
    const size = 8 * 1024 * 1024;
    const res = await fetch(`${api.url}/bytes?size=${size}`);
    let total = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.length;
      if (total < 1024 * 1024) await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(total, size);
  });

  it('GET /slow answers after the requested delay', async () => {
    const started = performance.now();
    const { res, body } = await json('/slow?ms=150');
    const elapsed = performance.now() - started;
    assert.equal(res.status, 200);
    assert.deepEqual(body, { waitedMs: 150 });
    assert.ok(elapsed >= 140, `answered after ${elapsed} ms`);
    assert.equal((await json('/slow?ms=abc')).res.status, 400);
    assert.equal((await json('/slow?ms=99999999')).res.status, 400);
  });

  it('GET /slow gives up its timer when the client aborts', async () => {
    await assert.rejects(fetch(`${api.url}/slow?ms=5000`, { signal: AbortSignal.timeout(50) }), {
      name: 'TimeoutError',
    });
    // The server is still healthy afterwards.
    assert.equal((await json('/')).res.status, 200);
  });

  it('/status/:code answers with that code', async () => {
    for (const code of [200, 201, 400, 401, 403, 404, 418, 500, 502, 503, 504]) {
      const { res, body } = await json(`/status/${code}`);
      assert.equal(res.status, code);
      assert.equal(body.status, code);
    }
    const noContent = await json('/status/204');
    assert.equal(noContent.res.status, 204);
    assert.equal(noContent.body, undefined);
    assert.equal((await json('/status/302', { method: 'POST', body: 'x' })).res.status, 302);
    assert.equal((await json('/status/99')).res.status, 400);
    assert.equal((await json('/status/600')).res.status, 400);
  });

  it('unknown paths are 404 JSON', async () => {
    const { res, body } = await json('/nowhere/at/all');
    assert.equal(res.status, 404);
    assert.match(body.error, /no route for GET \/nowhere\/at\/all/);
  });

  it('close() drops idle keep-alive connections so it resolves promptly', async () => {
    const other = await startRestApi({ port: 0 });
    await (await fetch(`${other.url}/`)).text();
    const started = performance.now();
    await other.close();
    assert.ok(performance.now() - started < 1000);
    await assert.rejects(fetch(`${other.url}/`));
  });
});
