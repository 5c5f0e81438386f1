import assert from 'node:assert/strict';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { HtmlRewriter } from '../../../src/rewrite/body/html.ts';
import { compileJsonContent, JsonRewriter } from '../../../src/rewrite/body/json.ts';
import { openBodyStreams, parseCoding, RewriteTransform } from '../../../src/rewrite/body/stream.ts';
import { testContext } from './helpers.ts';

/** Pushes chunks through a transform (or a whole body-stream pipeline) and collects what comes out. */
async function through(input: Writable, output: Readable, chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    output.on('data', (c: Buffer) => out.push(c));
    output.once('end', resolve);
    output.once('error', reject);
  });
  await pipeline(Readable.from(chunks), input);
  await done;
  return Buffer.concat(out);
}

const split = (b: Buffer, size: number) => {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
};

const json = () => new JsonRewriter(compileJsonContent([], []), testContext());

describe('streaming driver', () => {
  it('passes a body that fails to parse within the window through whole and unchanged, reporting it once', async () => {
    const reports: string[] = [];
    const body = Buffer.from('{"a":"http://backend:8080/x", oops this is not JSON');
    const t = new RewriteTransform(json(), { report: (w) => reports.push(w) });
    const out = await through(t, t, split(body, 5));
    assert.equal(out.toString('latin1'), body.toString('latin1'));
    assert.deepEqual(reports, ['unparsable']);
  });

  it('past the window: what was rewritten stays, the rest goes out as it came', async () => {
    const reports: string[] = [];
    const items = Array.from({ length: 200 }, (_, i) => `"http://backend:8080/${i}"`).join(',');
    const body = Buffer.from(`[${items}, broken, "http://backend:8080/after"]`);
    const t = new RewriteTransform(json(), { window: 1024, report: (w) => reports.push(w) });
    const out = (await through(t, t, split(body, 300))).toString('latin1');
    assert.ok(out.startsWith('["https://gw/gateway/t/0","https://gw/gateway/t/1"'), out.slice(0, 80));
    assert.ok(
      out.endsWith('"https://gw/gateway/t/199", broken, "http://backend:8080/after"]'),
      out.slice(-80),
    );
    // Nothing lost, nothing doubled: undo the rewrite of the prefix and it is the input again.
    assert.equal(out.replaceAll('https://gw/gateway/t/', 'http://backend:8080/'), body.toString('latin1'));
    assert.deepEqual(reports, ['unparsable']);
  });

  for (const coding of ['gzip', 'deflate', 'br'] as const) {
    it(`decodes and encodes again a ${coding} body`, async () => {
      const page = Buffer.from(`<html>${'<a href="http://backend:8080/x">x</a>'.repeat(5000)}</html>`);
      const encode = { gzip: zlib.gzipSync, deflate: zlib.deflateSync, br: zlib.brotliCompressSync }[coding];
      const decode = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync, br: zlib.brotliDecompressSync }[
        coding
      ];
      const streams = openBodyStreams(new HtmlRewriter([], testContext()), coding, { report: () => {} });
      const out = await through(streams.input, streams.output, split(encode(page), 1000));
      assert.equal(
        decode(out).toString('latin1'),
        `<html>${'<a href="https://gw/gateway/t/x">x</a>'.repeat(5000)}</html>`,
      );
    });
  }

  it('reports a body that is not what its Content-Encoding says', async () => {
    const streams = openBodyStreams(new HtmlRewriter([], testContext()), 'gzip', { report: () => {} });
    const failed = new Promise<Error>((resolve) => streams.onError(resolve));
    streams.output.resume();
    streams.input.end(Buffer.from('<html>not gzip</html>'));
    assert.match((await failed).message, /header|check|gzip|incorrect/i);
  });

  it('reads the single codings it can undo and refuses the rest', () => {
    assert.equal(parseCoding(undefined), 'identity');
    assert.equal(parseCoding('GZIP'), 'gzip');
    assert.equal(parseCoding('x-gzip'), 'gzip');
    assert.equal(parseCoding('br'), 'br');
    assert.equal(parseCoding('gzip, br'), undefined);
    assert.equal(parseCoding('zstd'), undefined);
  });
});
