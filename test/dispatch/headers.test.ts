import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  filterResponseHeaders,
  forwardRequestHeaders,
  type HeaderPolicy,
  parseAppendHeaders,
  parseResponseExclude,
} from '../../src/dispatch/headers.ts';

const configurable: HeaderPolicy = {
  requestExclude: new Set(['host', 'authorization', 'transfer-encoding']),
  requestAppend: [],
  responseExclude: new Set(['www-authenticate']),
  responseCookieBlock: new Set(['hadoop.auth', 'hive.server2.auth', 'impala.auth']),
};

describe('request headers', () => {
  it('drops hop-by-hop headers, Host and Authorization, keeps the rest', () => {
    const out = forwardRequestHeaders(
      [
        'Host',
        'gw:8443',
        'Authorization',
        'Basic c2VjcmV0',
        'Connection',
        'keep-alive, X-Secret-Hop',
        'Keep-Alive',
        'timeout=5',
        'TE',
        'trailers',
        'Upgrade',
        'h2c',
        'Proxy-Authorization',
        'Basic eA==',
        'X-Secret-Hop',
        'hidden',
        'Accept',
        'application/json',
        'Content-Length',
        '12',
      ],
      configurable,
    );
    assert.deepEqual({ ...out }, { accept: 'application/json', 'content-length': '12' });
  });

  it('keeps only the first value of a repeated header, as Knox does, but joins cookies', () => {
    const out = forwardRequestHeaders(
      ['X-A', '1', 'x-a', '2', 'Cookie', 'a=1', 'Cookie', 'b=2'],
      configurable,
    );
    assert.equal(out['x-a'], '1');
    assert.equal(out.cookie, 'a=1; b=2');
  });

  it('appends fixed headers (requestAppendHeaders)', () => {
    const policy = { ...configurable, requestAppend: parseAppendHeaders('X-One:1;X-Two: two ') };
    const out = forwardRequestHeaders([], policy);
    assert.deepEqual({ ...out }, { 'x-one': '1', 'x-two': 'two' });
  });
});

describe('response headers', () => {
  it('drops WWW-Authenticate, hop-by-hop headers and Knox auth cookies', () => {
    const out = filterResponseHeaders(
      {
        'www-authenticate': 'Negotiate',
        connection: 'close, x-hop',
        'x-hop': '1',
        'transfer-encoding': 'chunked',
        'set-cookie': ['hadoop.auth=abc; Path=/', 'JSESSIONID=1; Path=/', 'Impala.Auth=x'],
        'content-type': 'text/plain',
      },
      configurable,
    );
    assert.deepEqual(out, { 'set-cookie': ['JSESSIONID=1; Path=/'], 'content-type': 'text/plain' });
  });

  it('responseExcludeHeaders with SET-COOKIE:names drops only those cookies', () => {
    const policy = {
      ...configurable,
      ...parseResponseExclude('WWW-AUTHENTICATE,SET-COOKIE:a;b,X-Powered-By'),
    };
    const out = filterResponseHeaders(
      { 'set-cookie': ['a=1', 'b=2', 'hadoop.auth=3'], 'x-powered-by': 'x', 'www-authenticate': 'y' },
      policy,
    );
    assert.deepEqual(out, { 'set-cookie': ['hadoop.auth=3'] });
  });

  it('SET-COOKIE without names drops every cookie', () => {
    const policy = { ...configurable, ...parseResponseExclude('SET-COOKIE') };
    assert.deepEqual(filterResponseHeaders({ 'set-cookie': ['a=1'] }, policy), {});
  });
});
