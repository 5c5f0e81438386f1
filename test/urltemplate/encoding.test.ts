/**
 * @module test/urltemplate/encoding
 * Encoding rules (spec §5 and Knox's Expander): nothing is decoded when matching, path values are inserted
 * verbatim, query names and values are form-encoded like Java's URLEncoder.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rewriteUrl } from '../../src/rewrite/template-rewriter.ts';
import { expandTemplate, formEncode, parseLiteral, parseTemplate } from '../../src/urltemplate/index.ts';

const passThrough = (url: string) => rewriteUrl(url, '/p/{path=**}?{**}', '/q/{path=**}?{**}');

describe('formEncode (java.net.URLEncoder, UTF-8)', () => {
  it('keeps A-Z a-z 0-9 . - * _ and turns space into +', () => {
    assert.equal(formEncode('Az09.-*_'), 'Az09.-*_');
    assert.equal(formEncode('a b'), 'a+b');
  });
  it('percent-encodes reserved characters with upper-case hex', () => {
    assert.equal(formEncode('/?&=+%#:~'), '%2F%3F%26%3D%2B%25%23%3A%7E');
  });
  it('encodes unicode as UTF-8 bytes, a lone surrogate as %3F', () => {
    assert.equal(formEncode('é'), '%C3%A9');
    assert.equal(formEncode('€'), '%E2%82%AC');
    assert.equal(formEncode('😀'), '%F0%9F%98%80');
    assert.equal(formEncode('a\uD800b'), 'a%3Fb');
  });
});

describe('matching decodes nothing', () => {
  it('%2F stays inside one path segment and is not a separator', () => {
    assert.equal(parseLiteral('/a%2Fb/c').path.length, 2);
    assert.equal(parseLiteral('/a%2Fb/c').path[0].pattern, 'a%2Fb');
    assert.equal(rewriteUrl('/a%2Fb', '/a/b', '/x'), undefined);
  });
  it('a static template segment does not match its percent-encoded form', () => {
    assert.equal(rewriteUrl('/a%20b', '/a b', '/x'), undefined);
    assert.equal(rewriteUrl('/caf%C3%A9', '/café', '/x'), undefined);
    assert.equal(rewriteUrl('/caf%C3%A9', '/caf%C3%A9', '/x'), '/x');
  });
  it('captures query values as raw text (+ and %XX untouched)', () => {
    const t = parseLiteral('/p?q=a+b%20c');
    assert.equal(t.query.get('q')?.pattern, 'a+b%20c');
  });
});

describe('expansion encoding', () => {
  it('inserts path values verbatim: %2F, spaces and unicode are not re-encoded', () => {
    assert.equal(passThrough('/p/a%2Fb/c%20d'), '/q/a%2Fb/c%20d');
    assert.equal(expandTemplate(parseTemplate('/{p}'), new Map([['p', ['a b', 'é']]])), '/a b/é');
  });
  it('form-encodes query values from parameters, so an encoded input value is encoded again (as in Knox)', () => {
    // Knox's request wrapper URL-decodes the rewritten query string once, which undoes this.
    assert.equal(passThrough('/p/x?q=a%20b'), '/q/x?q=a%2520b');
    assert.equal(passThrough('/p/x?q=a+b'), '/q/x?q=a%2Bb');
  });
  it('form-encodes spaces, slashes and unicode in parameter values', () => {
    const p = new Map([['v', ['a b/c', 'é']]]);
    assert.equal(expandTemplate(parseTemplate('/x?v={v}'), p), '/x?v=a+b%2Fc&v=%C3%A9');
  });
  it('form-encodes query names emitted by {**}', () => {
    const p = new Map([['a b', ['1']]]);
    assert.equal(expandTemplate(parseTemplate('/x?{**}'), p), '/x?a+b=1');
  });
  it('a valueless query part containing / expands to version%2Fhive', () => {
    assert.equal(
      rewriteUrl('/p/x?version/hive', '/p/{path=**}?{**}', '/q/{path=**}?{**}'),
      '/q/x?version%2Fhive',
    );
  });
  it('createflag= and createflag survive a match -> {**} round trip', () => {
    assert.equal(passThrough('/p/x?createflag='), '/q/x?createflag=');
    assert.equal(passThrough('/p/x?createflag'), '/q/x?createflag');
    assert.equal(passThrough('/p/x?a=1&createflag&b=&c=3'), '/q/x?a=1&createflag&b=&c=3');
  });
  it('prints static query text from the template as written, unescaping \\{ and \\}', () => {
    assert.equal(expandTemplate(parseTemplate('/x?a=b c&d=\\{e\\}')), '/x?a=b c&d={e}');
  });
});
