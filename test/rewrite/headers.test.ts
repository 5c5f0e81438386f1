import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scopeSetCookiePath } from '../../src/rewrite/index.ts';
import { compile, ctx } from './fixtures.ts';

const xml = `
  <rule dir="OUT" name="SVC/loc" pattern="*://*:*/{path=**}?{**}">
    <rewrite template="{$frontend[url]}/svc/{path=**}?{**}"/>
  </rule>
  <rule dir="OUT" name="SVC/relative" pattern="{a}/{b}">
    <rewrite template="/relative/{a}/{b}"/>
  </rule>
  <rule dir="OUT" name="SVC/special">
    <match pattern="*://*:*/{path=**}"/>
    <rewrite template="{$frontend[url]}/special/{path=**}"/>
  </rule>
  <rule dir="IN" name="SVC/in/dest">
    <match pattern="*://*:*/**/svc/{path=**}"/>
    <rewrite template="http://backend:1/{path=**}"/>
  </rule>
  <rule dir="OUT" name="SVC/fails"><rewrite template="{$serviceUrl[NOSUCH]}"/></rule>
  <filter name="SVC/headers">
    <content type="application/x-http-headers">
      <apply path="Location" rule="SVC/special"/>
      <apply path="X-Broken" rule="SVC/fails"/>
    </content>
  </filter>
  <filter name="SVC/request-headers">
    <content type="application/x-http-headers">
      <apply path="Destination" rule="SVC/in/dest"/>
    </content>
  </filter>
  <filter name="SVC/body-only">
    <content type="*/json"><apply path="$.x" rule="SVC/loc"/></content>
  </filter>`;

const c = ctx();

describe('header filters', () => {
  it('rewrites the headers the filter names (ignoring case) and leaves the others', () => {
    const { rules } = compile(xml);
    const rewrite = rules.headers('SVC/headers', 'OUT');
    const input = {
      location: 'http://backend.internal:8080/a/b',
      'Content-Location': 'http://backend.internal:8080/c',
      'X-Broken': 'http://backend.internal:8080/d',
      'X-Missing': undefined,
    };
    assert.deepEqual(rewrite(input, c), {
      location: 'https://localhost:8443/gateway/sandbox/special/a/b',
      'Content-Location': 'http://backend.internal:8080/c',
      'X-Broken': 'http://backend.internal:8080/d',
      'X-Missing': undefined,
    });
    assert.equal(input.location, 'http://backend.internal:8080/a/b', 'input untouched');
  });

  it('rewrites every value of a repeated header', () => {
    const { rules } = compile(xml);
    const out = rules.headers('SVC/headers', 'OUT')({ Location: ['http://b:1/x', 'http://b:1/y'] }, c);
    assert.deepEqual(out.Location, [
      'https://localhost:8443/gateway/sandbox/special/x',
      'https://localhost:8443/gateway/sandbox/special/y',
    ]);
  });

  it('applies request header filters inward', () => {
    const { rules } = compile(xml);
    const out = rules.headers('SVC/request-headers', 'IN')(
      { Destination: 'https://localhost:8443/gateway/sandbox/svc/new/name', Host: 'localhost' },
      c,
    );
    assert.deepEqual(out, { Destination: 'http://backend:1/new/name', Host: 'localhost' });
  });

  it('an unknown filter, or one without headers content, falls back to best match (as Knox)', () => {
    const { rules } = compile(xml);
    for (const name of ['SVC/nope', 'SVC/body-only']) {
      const out = rules.headers(name, 'OUT')({ Location: 'http://b:1/x?y=1' }, c);
      assert.equal(out.Location, 'https://localhost:8443/gateway/sandbox/svc/x?y=1', name);
    }
  });
});

describe('default response headers', () => {
  it('rewrites Location and Content-Location by best-match OUT rules', () => {
    const { rules } = compile(xml);
    const out = rules.defaultResponseHeaders()(
      {
        Location: 'http://backend.internal:8080/a?op=1',
        'content-location': 'http://backend.internal:8080/b',
        'X-Other': 'no match here',
      },
      c,
    );
    assert.deepEqual(out, {
      Location: 'https://localhost:8443/gateway/sandbox/svc/a?op=1',
      'content-location': 'https://localhost:8443/gateway/sandbox/svc/b',
      'X-Other': 'no match here',
    });
  });

  it('never feeds headers without URLs to the rules', () => {
    const { rules } = compile(xml);
    const headers = {
      'Content-Type': 'text/html; charset=utf-8',
      'Set-Cookie': 'a=b; Path=/',
      'Content-Length': '12',
      'X-Relative': 'text/html',
    };
    const out = rules.defaultResponseHeaders()(headers, c);
    assert.equal(out['Content-Type'], 'text/html; charset=utf-8');
    assert.equal(out['Set-Cookie'], 'a=b; Path=/');
    assert.equal(out['Content-Length'], '12');
    // The relative rule does apply to a header that may carry a URL.
    assert.equal(out['X-Relative'], '/relative/text/html');
  });
});

describe('scopeSetCookiePath', () => {
  it('prefixes an existing path with the topology path', () => {
    assert.equal(
      scopeSetCookiePath('JSESSIONID=x; Path=/; HttpOnly', '/gateway/sandbox'),
      'JSESSIONID=x; Path=/gateway/sandbox/; HttpOnly',
    );
    assert.equal(scopeSetCookiePath('a=b; path=/app', '/gateway/sandbox/'), 'a=b; path=/gateway/sandbox/app');
  });

  it('adds a scoped path when the cookie has none', () => {
    assert.equal(scopeSetCookiePath('a=b', '/gateway/sandbox'), 'a=b; Path=/gateway/sandbox/');
    assert.equal(
      scopeSetCookiePath('a=b; Secure;', 'gateway/sandbox'),
      'a=b; Secure; Path=/gateway/sandbox/',
    );
  });

  it('leaves a Path= inside the value alone and scopes an invalid path to the default', () => {
    assert.equal(
      scopeSetCookiePath('next=Path=/x; Path=/y', '/gateway/t'),
      'next=Path=/x; Path=/gateway/t/y',
    );
    assert.equal(scopeSetCookiePath('a=b; Path=relative', '/gateway/t'), 'a=b; Path=/gateway/t/');
  });
});
