/**
 * A decompression bomb on the body-rewrite path (`postern.rewrite.body.inflate.maxBytes` / `.maxRatio`, defaults
 * 64 MiB and 100): a gzip'd HTML page that inflates 1000-fold is decoded only as far as the limits allow, then
 * goes to the client exactly as the backend sent it, with one warning in the log (a body over the limits after
 * rewritten bytes went out has its connection cut instead). A 4 MiB page that compresses as text does is still rewritten.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import pino from 'pino';
import { request } from 'undici';
import { Gateway } from '../../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import { writeRewriteService } from '../../helpers/rewrite-service.ts';

/** An HTML page of `size` bytes with a link to the backend at its start, its text `filler`, gzip'd. */
function page(backend: string, size: number, filler: (n: number) => string): { html: string; gzip: Buffer } {
  const head = `<html><body><a href="${backend}/next">next</a><p>`;
  const html = `${head + filler(size - head.length - 4)}</p>`;
  return { html, gzip: zlib.gzipSync(html, { level: 9 }) };
}

describe('inflate limits on the body-rewrite path', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let bomb: Buffer;
  let small: { html: string; gzip: Buffer };
  const logs: { msg: string }[] = [];

  before(async () => {
    backend = await startBackend((req, res) => {
      req.resume();
      const body = req.url?.startsWith('/bomb') ? bomb : small.gzip;
      res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' });
      res.end(body);
    });
    // 50 MB of HTML in about 50 kB of gzip: 1000-fold.
    bomb = page(backend.url, 50 * 1024 * 1024, (n) => ' '.repeat(n)).gzip;
    // Text that compresses as text does (about 4-fold): rewritten whatever its size.
    small = page(backend.url, 4 * 1024 * 1024, (n) => randomBytes(n).toString('base64').slice(0, n));
    home = makeHome();
    writeRewriteService(home, 'RWTEST', {
      responseBody: '<content type="*/json"><apply path="$.href" rule="RWTEST/out"/></content>',
    });
    home.write(
      'conf/topologies/sandbox.xml',
      topologyXml({ services: [{ role: 'RWTEST', urls: [backend.url] }] }),
    );
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
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('a bomb is decoded only to the ratio floor, then passes exactly as sent, logged once', async () => {
    const res = await request(`${gateway.url}/sandbox/rw/bomb.html`, { signal: AbortSignal.timeout(60_000) });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    const received = Buffer.from(await res.body.arrayBuffer());
    assert.ok(received.equals(bomb), 'the bomb was inflated and rewritten instead of passed as sent');
    const warnings = logs.filter((l) => /inflate/.test(l.msg));
    assert.equal(warnings.length, 1, JSON.stringify(logs));
    assert.match(warnings[0].msg, /sent unchanged/);
  });

  it('a large page that compresses as text does is still rewritten', async () => {
    const res = await request(`${gateway.url}/sandbox/rw/small.html`);
    assert.equal(res.statusCode, 200);
    const html = zlib.gunzipSync(Buffer.from(await res.body.arrayBuffer())).toString();
    assert.ok(html.includes(`${gateway.url}/sandbox/rw/next`), html.slice(0, 200));
    assert.equal(html.length, small.html.length - backend.url.length + `${gateway.url}/sandbox/rw`.length);
  });
});
