/**
 * Body rewriting through a real gateway: a service definition written for the test binds every kind of body
 * filter, and a loopback backend answers with bodies that exercise the driver (Content-Length, encodings,
 * charsets, bodies that are not what they say, streaming, request bodies).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import pino from 'pino';
import { request } from 'undici';
import { Gateway } from '../../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import { writeRewriteService } from '../../helpers/rewrite-service.ts';

describe('body rewriting through the gateway', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let be: string;
  let gw: string;
  const logs: { msg: string; problem?: string }[] = [];
  const received: { url: string; body: string; headers: Record<string, unknown> }[] = [];
  /** Lets the slow page finish once the client has seen its first part. */
  let releaseSlow: () => void = () => {};

  const html = (be: string) =>
    `<html><head><link href="/static/app.css" rel="stylesheet"></head><body><a href="${be}/next?page=2">next</a></body></html>`;
  const expected = (gw: string) =>
    `<html><head><link href="${gw}/rw/static/app.css" rel="stylesheet"></head><body><a href="${gw}/rw/next?page=2">next</a></body></html>`;

  before(async () => {
    backend = await startBackend((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        received.push({
          url: req.url ?? '',
          body: Buffer.concat(chunks).toString('latin1'),
          headers: req.headers,
        });
        const page = html(be);
        switch (url.pathname) {
          case '/links.json':
            res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
            res.end(JSON.stringify({ links: [{ rel: 'self', href: `${be}/links.json` }], other: `${be}/x` }));
            return;
          case '/page.html':
            res.writeHead(200, { 'content-type': 'text/html', etag: '"v1"' });
            res.end(page);
            return;
          case '/gzip.html':
          case '/deflate.html':
          case '/br.html': {
            const coding = url.pathname.slice(1, -5);
            const encode = { gzip: zlib.gzipSync, deflate: zlib.deflateSync, br: zlib.brotliCompressSync }[
              coding
            ]!;
            res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': coding });
            res.end(encode(page));
            return;
          }
          case '/not-gzip.html':
            res.writeHead(200, {
              'content-type': 'text/html',
              'content-encoding': 'gzip',
              'content-length': page.length,
            });
            res.end(page);
            return;
          case '/error.json':
            // A proxy's HTML error page labelled as JSON: not JSON, so it must come back exactly as sent.
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': page.length });
            res.end(page);
            return;
          case '/utf16.html': {
            const body = Buffer.from(page, 'utf16le');
            res.writeHead(200, {
              'content-type': 'text/html; charset=utf-16le',
              'content-length': body.length,
            });
            res.end(body);
            return;
          }
          case '/range.html':
            res.writeHead(206, {
              'content-type': 'text/html',
              'content-range': `bytes 0-${page.length - 1}/9999`,
            });
            res.end(page);
            return;
          case '/slow.html':
            res.writeHead(200, { 'content-type': 'text/html' });
            res.write(`<p><a href="${be}/first">first</a></p>`);
            releaseSlow = () => res.end(`<p><a href="${be}/second">second</a></p>`);
            return;
          default:
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end('ok');
        }
      });
    });
    be = backend.url;
    home = makeHome();
    writeRewriteService(home, 'RWTEST', {
      rules: `  <rule dir="OUT" name="RWTEST/out/static" pattern="/static/{path=**}">
    <rewrite template="{$frontend[url]}/rw/static/{path=**}"/>
  </rule>
`,
      responseBody: '<content type="*/json"><apply path="$.links[*].href" rule="RWTEST/out"/></content>',
      requestBody:
        '<content type="application/x-www-form-urlencoded"><apply path="callback" rule="RWTEST/in"/></content>',
    });
    home.write('conf/topologies/sandbox.xml', topologyXml({ services: [{ role: 'RWTEST', urls: [be] }] }));
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
        cb();
      },
    });
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log: pino({ level: 'warn' }, sink),
      watch: false,
    });
    gw = `${gateway.url}/sandbox`;
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  const get = async (path: string, init: Parameters<typeof request>[1] = {}) => {
    const res = await request(`${gw}/rw${path}`, init);
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body };
  };

  it('rewrites what the JSON content selects, and the rest by best match, with an exact Content-Length', async () => {
    const res = await get('/links.json');
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.toString()), {
      links: [{ rel: 'self', href: `${gw}/rw/links.json` }],
      other: `${gw}/rw/x`,
    });
    assert.equal(res.headers['content-length'], String(res.body.length));
  });

  it('rewrites HTML without a content for it (best match, as Knox)', async () => {
    const res = await get('/page.html');
    assert.equal(res.body.toString(), expected(gw));
    // The backend's strong validator no longer names these bytes: it is sent weak.
    assert.equal(res.headers.etag, 'W/"v1"');
  });

  for (const coding of ['gzip', 'deflate', 'br']) {
    it(`rewrites a ${coding} page and sends it ${coding}`, async () => {
      const res = await get(`/${coding}.html`);
      assert.equal(res.headers['content-encoding'], coding);
      const decode = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync, br: zlib.brotliDecompressSync }[
        coding
      ]!;
      assert.equal(decode(res.body).toString(), expected(gw));
      assert.equal(res.headers['content-length'], String(res.body.length));
    });
  }

  it('sends a body that does not decode as its Content-Encoding says exactly as the backend sent it', async () => {
    const res = await get('/not-gzip.html');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.body.toString(), html(be));
    assert.equal(res.headers['content-length'], String(res.body.length));
  });

  it('passes a body that is not what its type says unchanged (never an error), and logs it once per route', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await get('/error.json');
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), html(be));
    }
    const problems = logs.filter((l) => l.problem === 'unparsable');
    assert.equal(problems.length, 1, JSON.stringify(logs));
    assert.match(problems[0].msg, /body passed without rewriting: not JSON/);
  });

  it('leaves a charset it cannot rewrite as bytes (UTF-16) alone', async () => {
    const res = await get('/utf16.html');
    assert.equal(res.body.toString('utf16le'), html(be));
    assert.ok(logs.some((l) => l.problem === 'charset'));
  });

  it('does not touch a partial (206) body or a HEAD response', async () => {
    const range = await get('/range.html');
    assert.equal(range.status, 206);
    assert.equal(range.body.toString(), html(be));
    const head = await get('/page.html', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  it('streams: the client reads the first part while the backend has not finished', async () => {
    const res = await request(`${gw}/rw/slow.html`);
    const reader = res.body[Symbol.asyncIterator]();
    const first = await reader.next();
    assert.equal(res.headers['content-length'], undefined);
    assert.match(String(first.value), new RegExp(`href="${gw}/rw/first"`));
    releaseSlow();
    let rest = '';
    for (let r = await reader.next(); !r.done; r = await reader.next()) rest += r.value;
    assert.equal(
      `${first.value}${rest}`,
      `<p><a href="${gw}/rw/first">first</a></p><p><a href="${gw}/rw/second">second</a></p>`,
    );
  });

  it('rewrites the form fields a request.body content names, and nothing else', async () => {
    const body = `callback=${encodeURIComponent(`${gw}/rw/done?x=1`)}&note=${encodeURIComponent(`${gw}/rw/kept`)}`;
    const res = await get('/echo', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 200);
    const got = received.at(-1)!;
    const form = new URLSearchParams(got.body);
    assert.equal(form.get('callback'), `${be}/done?x=1`);
    assert.equal(form.get('note'), `${gw}/rw/kept`);
    // Sent chunked, or with the rewritten body's own length when it was complete before the request left.
    if (got.headers['content-length'] !== undefined) {
      assert.equal(got.headers['content-length'], String(Buffer.byteLength(got.body, 'latin1')));
    }
    // A compressed request body is sent as it came (Knox does not filter those either).
    const zipped = zlib.gzipSync(body);
    await get('/echo', {
      method: 'POST',
      body: zipped,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' },
    });
    assert.deepEqual(Buffer.from(received.at(-1)!.body, 'latin1'), zipped);
  });
});

describe('postern.rewrite.body.maxBytes', () => {
  it('defaults to 1 MiB, is read from gateway-site, and refuses a limit below 1 KiB', async () => {
    const { defaultSettings, parseGatewaySite } = await import('../../../src/config/gateway-site.ts');
    assert.equal(defaultSettings().rewriteBodyMaxBytes, 1024 * 1024);
    const site = (v: string) =>
      `<configuration><property><name>postern.rewrite.body.maxBytes</name><value>${v}</value></property></configuration>`;
    assert.equal(parseGatewaySite(site('65536'), 'gateway-site.xml').rewriteBodyMaxBytes, 65536);
    assert.throws(() => parseGatewaySite(site('10'), 'gateway-site.xml'), /maxBytes|integer from 1024/);
  });
});
