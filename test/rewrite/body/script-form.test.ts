import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFormContent, FormRewriter } from '../../../src/rewrite/body/form.ts';
import { bodyKind, isAsciiCompatible, parseMediaType } from '../../../src/rewrite/body/media-type.ts';
import { compileRegexApply, RegexTextRewriter } from '../../../src/rewrite/body/regex.ts';
import { runChunks, runEverySplit, testContext } from './helpers.ts';

describe('media types', () => {
  it("picks Knox's filter by subtype, plus CSS and +json/+xml, and reads the charset", () => {
    const kind = (t: string) => {
      const mt = parseMediaType(t);
      return mt && bodyKind(mt);
    };
    assert.equal(kind('text/html; charset=UTF-8'), 'html');
    assert.equal(kind('application/json'), 'json');
    assert.equal(kind('application/vnd.api+json'), 'json');
    assert.equal(kind('text/xml'), 'xml');
    assert.equal(kind('application/atom+xml'), 'xml');
    assert.equal(kind('application/x-javascript'), 'javascript');
    assert.equal(kind('text/javascript'), 'javascript');
    assert.equal(kind('text/css'), 'css');
    assert.equal(kind('application/x-www-form-urlencoded'), 'form');
    assert.equal(kind('text/plain'), undefined);
    assert.equal(kind('image/png'), undefined);
    assert.equal(parseMediaType('nonsense'), undefined);
    assert.equal(parseMediaType('text/html; Charset="ISO-8859-1"')?.charset, 'iso-8859-1');
    assert.ok(isAsciiCompatible(undefined));
    assert.ok(isAsciiCompatible('utf-8'));
    assert.ok(isAsciiCompatible('windows-1252'));
    assert.ok(!isAsciiCompatible('utf-16'));
    assert.ok(!isAsciiCompatible('shift_jis'));
  });
});

describe('JavaScript and CSS filter', () => {
  const apply = (path: string, rule: string) => compileRegexApply({ path, rule });

  it('replaces every match of each apply in turn, a line at a time (CRLF kept, never inside the match)', () => {
    const js =
      "var api = '/static/api/v1';\r\nfetch('/static/jmx?qry=x');var u='http://backend:8080/a'\n" +
      "// '/static/in comment'\nlast('/static/end')";
    const ctx = testContext();
    const out = runEverySplit(
      () =>
        new RegexTextRewriter([apply("/static/[^']*", 'S'), apply("http://backend:8080/[^']*", 'B')], ctx),
      js,
    );
    assert.equal(
      out,
      "var api = '/gateway/t/static/api/v1#S';\r\nfetch('/gateway/t/static/jmx?qry=x#S');var u='https://gw/gateway/t/a#B'\n" +
        "// '/gateway/t/static/in comment#S'\nlast('/gateway/t/static/end#S')",
    );
    // An expression never reaches past the end of its line, as in Knox's line-at-a-time reader.
    const greedy = runChunks(
      () => new RegexTextRewriter([apply('/static/.*', 'G')], ctx),
      'a=/static/x\r\nb=1\n',
      3,
    );
    assert.equal(greedy, 'a=/gateway/t/static/x#G\r\nb=1\n');
  });

  it('streams a minified line longer than the window in pieces, cutting only where no match straddles', () => {
    const ctx = testContext();
    const unit = "x('/static/app/chunk.js');";
    const line = unit.repeat(20_000); // 520 KB on one line
    const out = runChunks(() => new RegexTextRewriter([apply("/static/[^']*", 'S')], ctx), line, 4000);
    assert.equal(out, "x('/gateway/t/static/app/chunk.js#S');".repeat(20_000));
  });

  it('passes a stretch it cannot cut (one match longer than the limit) unchanged', () => {
    const ctx = testContext({ limit: 64 * 1024 });
    const huge = `'/static/${'y'.repeat(200_000)}'`;
    const out = runChunks(
      () => new RegexTextRewriter([apply("/static/[^']*", 'S')], ctx),
      `${huge};\nz('/static/ok')`,
      8192,
    );
    assert.equal(out, `${huge};\nz('/gateway/t/static/ok#S')`);
    assert.deepEqual(ctx.reports, ['line-over-limit']);
  });

  it("translates Java's inline flags and \\Q…\\E, and refuses possessive quantifiers", () => {
    assert.ok(apply('(?i)/API/V1', 'A').whole.test('/api/v1'));
    assert.ok(apply('\\Q/a.b?\\E', 'Q').whole.test('/a.b?'));
    assert.ok(!apply('\\Q/a.b?\\E', 'Q').whole.test('/axb'));
    assert.throws(() => apply('a*+', 'P'), /possessive/);
    assert.throws(() => apply('(unclosed', 'P'), /cannot be used/);
  });
});

describe('form filter', () => {
  it('rewrites the fields an apply names (any case), leaving every other pair as written', () => {
    const ctx = testContext();
    const content = compileFormContent({
      applies: [{ path: 'url', rule: 'U', pos: { file: 'x', line: 1, column: 1 } }],
      buffers: [],
    });
    const body =
      'a=1&URL=http%3A%2F%2Fbackend%3A8080%2Fx%3Fy%3D1&other=http%3A%2F%2Fbackend%3A8080%2Fz&flag&e=';
    const out = runEverySplit(() => new FormRewriter(content, ctx), body);
    assert.equal(
      out,
      'a=1&URL=https%3A%2F%2Fgw%2Fgateway%2Ft%2Fx%3Fy%3D1%23U&other=http%3A%2F%2Fbackend%3A8080%2Fz&flag&e=',
    );
  });

  it('with no selectors, hands every value to best match', () => {
    const ctx = testContext();
    const content = compileFormContent({ applies: [], buffers: [] });
    const out = runEverySplit(() => new FormRewriter(content, ctx), 'next=%2Fstatic%2Fhome+page&n=2');
    assert.equal(out, 'next=%2Fgateway%2Ft%2Fstatic%2Fhome+page&n=2');
  });
});
