import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HtmlRewriter } from '../../../src/rewrite/body/html.ts';
import { compileRegexApply } from '../../../src/rewrite/body/regex.ts';
import { bytes, runChunks, runEverySplit, testContext } from './helpers.ts';

const applies = (...pairs: [string, string][]) =>
  pairs.map(([path, rule]) => compileRegexApply({ path, rule }));

describe('HTML filter', () => {
  it('rewrites every attribute value a rule applies to, whatever the quoting, and leaves every other byte', () => {
    const page =
      '<!DOCTYPE html>\n<html><head><link rel="stylesheet" href="/static/app.css">\n' +
      "<script src='http://backend:8080/js/app.js' defer></script></head>\n" +
      '<body class="main"><form action=http://backend:8080/submit method=post>' +
      '<img src=/static/logo.png alt="the logo" data-next="http://backend:8080/next">' +
      '<a HREF = "http://backend:8080/cluster/apps" title=\'apps\'>Apps</a></form></body></html>\n';
    const ctx = testContext();
    const out = runEverySplit(() => new HtmlRewriter([], ctx), page);
    assert.equal(
      out,
      '<!DOCTYPE html>\n<html><head><link rel="stylesheet" href="/gateway/t/static/app.css">\n' +
        "<script src='https://gw/gateway/t/js/app.js' defer></script></head>\n" +
        '<body class="main"><form action=https://gw/gateway/t/submit method=post>' +
        '<img src=/gateway/t/static/logo.png alt="the logo" data-next="https://gw/gateway/t/next">' +
        '<a HREF = "https://gw/gateway/t/cluster/apps" title=\'apps\'>Apps</a></form></body></html>\n',
    );
  });

  it('names the rule of the first apply whose expression matches the whole value, else best match', () => {
    const ctx = testContext();
    const rw = () =>
      new HtmlRewriter(
        applies(
          ["(https?://[^/':,]+:[\\d]+)?/proxy/[^']*", 'PROXY'],
          ['http://backend:8080/cluster/.*', 'CLUSTER'],
          ['.*', 'LAST'],
        ),
        ctx,
      );
    const out = runEverySplit(
      rw,
      '<a href="http://backend:8080/proxy/application_1/">x</a><a href="http://backend:8080/cluster/app/a_1">y</a>' +
        '<a href="/static/js/x.js">z</a>',
    );
    assert.equal(
      out,
      '<a href="https://gw/gateway/t/proxy/application_1/#PROXY">x</a>' +
        '<a href="https://gw/gateway/t/cluster/app/a_1#CLUSTER">y</a><a href="/gateway/t/static/js/x.js#LAST">z</a>',
    );
    // Only whole matches count: a rule for "/proxy/…" does not take a value that merely contains it.
    const partial = runChunks(
      () => new HtmlRewriter(applies(["/proxy/[^']*", 'PROXY']), ctx),
      '<a href="http://backend:8080/proxy/a">x</a>',
      5,
    );
    assert.equal(partial, '<a href="https://gw/gateway/t/proxy/a">x</a>');
  });

  it('hands the value as written, entities and all (KNOX-791), and escapes the quote of its attribute', () => {
    const ctx = testContext({
      rewrite: (v) => (v.startsWith('http://backend:8080') ? `https://gw/it's "${v.slice(20)}"` : undefined),
    });
    const out = runEverySplit(
      () => new HtmlRewriter([], ctx),
      `<a href="http://backend:8080/a?x=1&amp;y=2">a</a><a href='http://backend:8080/b'>b</a><a href=http://backend:8080/c>c</a>`,
    );
    assert.equal(
      out,
      `<a href="https://gw/it's &quot;a?x=1&amp;y=2&quot;">a</a><a href='https://gw/it&#39;s "b"'>b</a>` +
        `<a href="https://gw/it's &quot;c&quot;">c</a>`,
    );
  });

  it('rewrites a text that is one URL, keeping the blanks around it; not prose, comments or attributes without a value', () => {
    const ctx = testContext();
    const out = runEverySplit(
      () => new HtmlRewriter([], ctx),
      '<td>\n  http://backend:8080/logs/\n</td><p>see http://backend:8080/x here</p>' +
        '<!-- http://backend:8080/hidden --><input disabled><title>/static/t</title>',
    );
    assert.equal(
      out,
      '<td>\n  https://gw/gateway/t/logs/\n</td><p>see http://backend:8080/x here</p>' +
        '<!-- http://backend:8080/hidden --><input disabled><title>/gateway/t/static/t</title>',
    );
  });

  it("runs inline <script> and <style> through the content's applies (every match), only when there are applies", () => {
    const page =
      "<script>\nvar a = '/static/a.js';\r\nvar b = '/static/b.js'; load('http://backend:8080/api');\n</script>" +
      '<style>body { background: url(/static/bg.png) }</style><p>/static/p</p>';
    const ctx = testContext();
    const out = runEverySplit(() => new HtmlRewriter(applies(["/static/[^')]*", 'S']), ctx), page);
    assert.equal(
      out,
      "<script>\nvar a = '/gateway/t/static/a.js#S';\r\nvar b = '/gateway/t/static/b.js#S'; load('http://backend:8080/api');\n</script>" +
        '<style>body { background: url(/gateway/t/static/bg.png#S) }</style><p>/gateway/t/static/p#S</p>',
    );
    const plain = runChunks(() => new HtmlRewriter([], ctx), page, 4);
    assert.equal(
      plain,
      "<script>\nvar a = '/static/a.js';\r\nvar b = '/static/b.js'; load('http://backend:8080/api');\n</script>" +
        '<style>body { background: url(/static/bg.png) }</style><p>/gateway/t/static/p</p>',
    );
  });

  it('passes malformed markup through byte for byte, rewriting what it can still find', () => {
    const broken =
      '<p <a href="http://backend:8080/a"><<div>& &amp x</p></p><b title=\'open>text' +
      '<img src="http://backend:8080/i.png"<br/>\n<!-- never closed <a href="http://backend:8080/c">';
    const ctx = testContext();
    const out = runEverySplit(() => new HtmlRewriter([], ctx), broken);
    assert.equal(out.replaceAll('https://gw/gateway/t', 'http://backend:8080'), broken);
    assert.match(out, /href="https:\/\/gw\/gateway\/t\/a"/);
    const none = testContext({ rewrite: () => undefined });
    assert.equal(
      runEverySplit(() => new HtmlRewriter([], none), broken),
      broken,
    );
  });

  it('decodes a UTF-8 value for its rule and writes the result back as UTF-8; other bytes are untouched', () => {
    const ctx = testContext();
    const page = bytes('<a href="/static/café/ü.html">Zürich — naïve</a>\xff\xfe');
    const out = runEverySplit(() => new HtmlRewriter([], ctx), page);
    assert.equal(out, bytes('<a href="/gateway/t/static/café/ü.html">Zürich — naïve</a>\xff\xfe'));
    assert.ok(ctx.seen.includes('/static/café/ü.html'));
    // A single-byte body: the rule sees its latin1 view, and the bytes come back as they were.
    const latin1 = testContext({ charset: 'iso-8859-1' });
    const body = '<a href="/static/caf\xe9">caf\xe9</a>';
    assert.equal(
      runEverySplit(() => new HtmlRewriter([], latin1), body),
      '<a href="/gateway/t/static/caf\xe9">caf\xe9</a>',
    );
  });

  it('does not parse values best match cannot select', () => {
    const ctx = testContext({ bestMatchMayApply: (v) => v.startsWith('/static/') });
    const out = runEverySplit(
      () => new HtmlRewriter([], ctx),
      '<a href="http://backend:8080/x" class="nav">/static/y</a>',
    );
    assert.equal(out, '<a href="http://backend:8080/x" class="nav">/gateway/t/static/y</a>');
    assert.deepEqual([...new Set(ctx.seen)], ['/static/y']);
  });

  it('holds at most the limit: a larger attribute value passes unchanged, and the rest of the page is still rewritten', () => {
    const huge = `http://backend:8080/${'x'.repeat(20_000)}`;
    const page = `<img src="${huge}"><a href="http://backend:8080/after">a</a>`;
    // (A value that arrives whole in one chunk was never held across chunks, so it is rewritten whatever its size.)
    for (const size of [1000, 4095, 4097]) {
      const ctx = testContext({ limit: 4096 });
      const out = runChunks(() => new HtmlRewriter([], ctx), page, size);
      assert.equal(out, `<img src="${huge}"><a href="https://gw/gateway/t/after">a</a>`, `chunks of ${size}`);
      assert.deepEqual(ctx.reports, ['value-over-limit'], `chunks of ${size}`);
    }
  });
});
