/**
 * Bodies built to hurt a rewriter, streamed through the driver as a backend would send them: the live heap
 * (measured after a forced collection, every few MiB) stays within a generous bound far below the body's size,
 * and every body comes out complete. Bounds are about memory, never time.
 */
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { HtmlRewriter } from '../../../src/rewrite/body/html.ts';
import { compileJsonContent, JsonRewriter } from '../../../src/rewrite/body/json.ts';
import { RewriteTransform } from '../../../src/rewrite/body/stream.ts';
import type { TextRewriter } from '../../../src/rewrite/body/values.ts';
import { compileXmlContent, XmlRewriter } from '../../../src/rewrite/body/xml.ts';
import { v8Gc } from '../../helpers/gc.ts';
import { mapValue, testContext } from './helpers.ts';

const gc = v8Gc();
const MiB = 1024 * 1024;
/** The limit the filters run with here (postern's default). */
const LIMIT = MiB;

/** A body produced piece by piece (never whole in memory), in chunks of about 64 KiB. */
function generated(pieces: () => Generator<string>): Readable {
  return Readable.from(
    (function* () {
      let buf = '';
      for (const p of pieces()) {
        buf += p;
        if (buf.length >= 64 * 1024) {
          yield Buffer.from(buf, 'latin1');
          buf = '';
        }
      }
      if (buf) yield Buffer.from(buf, 'latin1');
    })(),
    { objectMode: false },
  );
}

interface Outcome {
  bytesIn: number;
  bytesOut: number;
  /** Largest live-heap growth seen, after collections (bytes). */
  peakHeap: number;
  reports: string[];
  /** Counts of a marker in the output (checked incrementally, across chunk edges). */
  count: number;
}

async function stream(
  make: (ctx: ReturnType<typeof testContext>) => TextRewriter,
  body: Readable,
  marker: string,
): Promise<Outcome> {
  // mapValue, not the recording rewrite of testContext: a million recorded values would be the only leak here.
  const ctx = testContext({ limit: LIMIT, rewrite: mapValue });
  const reports: string[] = [];
  const t = new RewriteTransform(make(ctx), { report: (w) => reports.push(w) });
  gc();
  const base = process.memoryUsage().heapUsed;
  let bytesIn = 0;
  let bytesOut = 0;
  let peakHeap = 0;
  let nextSample = 0;
  let count = 0;
  let carry = '';
  let nextInSample = 0;
  const sample = () => {
    gc();
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - base);
  };
  body.on('data', (c: Buffer) => {
    bytesIn += c.length;
    if (bytesIn >= nextInSample) {
      nextInSample = bytesIn + 8 * MiB;
      sample();
    }
  });
  await pipeline(
    body,
    t,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        bytesOut += chunk.length;
        const text = carry + chunk.toString('latin1');
        count += text.split(marker).length - 1;
        carry = text.slice(-(marker.length - 1));
        if (bytesOut >= nextSample) {
          nextSample = bytesOut + 8 * MiB;
          sample();
        }
        cb();
      },
    }),
  );
  return { bytesIn, bytesOut, peakHeap, reports, count };
}

describe('pathological bodies', () => {
  it('a 100 MiB JSON document streams in bounded memory, every URL rewritten', async (t) => {
    const item = (i: number) =>
      `{"id":${i},"name":"application_1700000000000_${i}","trackingUrl":"http://backend:8080/proxy/application_${i}/",` +
      `"diagnostics":"${'x'.repeat(200)}","progress":100.0,"tags":["a","b"],"ok":true,"none":null}`;
    const per = item(0).length + 1;
    const n = Math.ceil((100 * MiB) / per);
    const body = generated(function* () {
      yield '{"apps":{"app":[';
      for (let i = 0; i < n; i++) yield i === 0 ? item(i) : `,${item(i)}`;
      yield ']}}';
    });
    const out = await stream(
      (ctx) =>
        new JsonRewriter(compileJsonContent([{ path: '$.apps.app[*].trackingUrl', rule: 'T' }], []), ctx),
      body,
      'https://gw/gateway/t/proxy/',
    );
    assert.ok(out.bytesIn >= 100 * MiB, `${out.bytesIn}`);
    assert.equal(out.count, n, 'every tracking URL rewritten');
    assert.deepEqual(out.reports, []);
    t.diagnostic(
      `${(out.bytesIn / MiB).toFixed(0)} MiB in, live heap grew by ${(out.peakHeap / MiB).toFixed(1)} MiB at most`,
    );
    assert.ok(out.peakHeap < 16 * MiB, `live heap grew by ${(out.peakHeap / MiB).toFixed(1)} MiB`);
  });

  it('an HTML page with a million attributes (half of them in one tag) streams in bounded memory', async (t) => {
    const body = generated(function* () {
      yield '<!DOCTYPE html><html><body><div';
      for (let i = 0; i < 500_000; i++) yield ` data-a${i}="http://backend:8080/${i}"`;
      yield '>';
      for (let i = 0; i < 250_000; i++) yield `<a href="/static/${i}" class="c${i}">x</a>`;
      yield '</div></body></html>';
    });
    const out = await stream((ctx) => new HtmlRewriter([], ctx), body, '/gateway/t');
    assert.equal(out.count, 750_000);
    assert.deepEqual(out.reports, []);
    t.diagnostic(
      `${(out.bytesIn / MiB).toFixed(0)} MiB in, live heap grew by ${(out.peakHeap / MiB).toFixed(1)} MiB at most`,
    );
    assert.ok(out.peakHeap < 16 * MiB, `live heap grew by ${(out.peakHeap / MiB).toFixed(1)} MiB`);
  });

  it('XML nested a million deep: the levels past the depth limit pass as they came, in bounded memory', async (t) => {
    const depth = 1_000_000;
    const body = generated(function* () {
      for (let i = 0; i < depth; i++) yield '<n a="http://backend:8080/x">';
      for (let i = 0; i < depth; i++) yield '</n>';
    });
    const out = await stream(
      (ctx) => new XmlRewriter(compileXmlContent([{ path: '//n/@a', rule: 'A' }], []), ctx),
      body,
      'https://gw',
    );
    // The first 4096 levels were rewritten (and sent); from the level that is too deep on, the body is as it came.
    assert.equal(out.count, 4096);
    assert.equal(
      out.bytesOut,
      out.bytesIn + 4096 * ('https://gw/gateway/t/x#A'.length - 'http://backend:8080/x'.length),
    );
    assert.deepEqual(out.reports, ['over-limit']);
    t.diagnostic(
      `${(out.bytesIn / MiB).toFixed(0)} MiB in, live heap grew by ${(out.peakHeap / MiB).toFixed(1)} MiB at most`,
    );
    assert.ok(out.peakHeap < 16 * MiB, `live heap grew by ${(out.peakHeap / MiB).toFixed(1)} MiB`);
  });

  it('XML nested within the limit is rewritten at every level', async () => {
    const depth = 4000;
    const body = generated(function* () {
      for (let i = 0; i < depth; i++) yield '<n a="http://backend:8080/x">';
      for (let i = 0; i < depth; i++) yield '</n>';
    });
    const out = await stream(
      (ctx) => new XmlRewriter(compileXmlContent([{ path: '//n/@a', rule: 'A' }], []), ctx),
      body,
      'https://gw/gateway/t/x#A',
    );
    assert.equal(out.count, depth);
  });

  it('a single 20 MiB JSON string passes unchanged instead of being held', async (t) => {
    const body = generated(function* () {
      yield '{"before":"http://backend:8080/a","blob":"';
      for (let i = 0; i < 20 * 16; i++) yield 'y'.repeat(64 * 1024);
      yield '","after":"http://backend:8080/b"}';
    });
    const out = await stream(
      (ctx) => new JsonRewriter(compileJsonContent([], []), ctx),
      body,
      'http://backend:8080/',
    );
    // What went out before the string (the first window) stays rewritten; from the string on, the body is as it came.
    assert.equal(out.bytesOut, out.bytesIn + 1);
    assert.equal(out.count, 1, 'only the value after the string is left as it was');
    assert.deepEqual(out.reports, ['over-limit']);
    t.diagnostic(
      `${(out.bytesIn / MiB).toFixed(0)} MiB in, live heap grew by ${(out.peakHeap / MiB).toFixed(1)} MiB at most`,
    );
    assert.ok(out.peakHeap < 16 * MiB, `live heap grew by ${(out.peakHeap / MiB).toFixed(1)} MiB`);
  });

  it('a body mixing encodings keeps every byte a rule did not rewrite', async () => {
    // UTF-8, Latin-1 and bytes that are not UTF-8 at all, in one page declared UTF-8.
    const bytes = Buffer.concat([
      Buffer.from('<p>Zürich</p><a href="/static/caf\u00e9">', 'utf8'),
      Buffer.from([0x3c, 0x70, 0x3e, 0xe9, 0xe8, 0xff, 0xfe, 0x3c, 0x2f, 0x70, 0x3e]),
      Buffer.from('<a href="/static/x', 'latin1'),
      Buffer.from([0xe9]),
      Buffer.from('">', 'latin1'),
    ]);
    const out = await new Promise<Buffer>((resolve, reject) => {
      const t = new RewriteTransform(new HtmlRewriter([], testContext({ charset: 'utf-8' })), {
        report: () => {},
      });
      const parts: Buffer[] = [];
      t.on('data', (c: Buffer) => parts.push(c));
      t.once('end', () => resolve(Buffer.concat(parts)));
      t.once('error', reject);
      for (let i = 0; i < bytes.length; i += 3) t.write(bytes.subarray(i, i + 3));
      t.end();
    });
    const expected = Buffer.concat([
      Buffer.from('<p>Zürich</p><a href="/gateway/t/static/caf\u00e9">', 'utf8'),
      Buffer.from([0x3c, 0x70, 0x3e, 0xe9, 0xe8, 0xff, 0xfe, 0x3c, 0x2f, 0x70, 0x3e]),
      Buffer.from('<a href="/gateway/t/static/x', 'latin1'),
      Buffer.from([0xe9]),
      Buffer.from('">', 'latin1'),
    ]);
    assert.deepEqual(out, expected);
  });
});
