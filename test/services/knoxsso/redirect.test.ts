/**
 * The pieces of KNOXSSO's redirect decision on their own: the whitelist check on the base URL, Knox's derived
 * whitelist for a gateway host, the cookie Domain rule and the reassembly of an unencoded originalUrl.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cookieDomain, originalFromQuery } from '../../../src/services/knoxsso/index.ts';
import {
  checkRedirect,
  compileWhitelist,
  DEFAULT_REDIRECT_WHITELIST,
  derivedWhitelist,
} from '../../../src/services/knoxsso/redirect-whitelist.ts';

describe('KNOXSSO redirect decision', () => {
  const loopback = compileWhitelist(DEFAULT_REDIRECT_WHITELIST);

  it('matches the whitelist against scheme://host:port only, with the default port written', () => {
    assert.deepEqual(checkRedirect('https://localhost/x?y=1#z', loopback), {
      ok: true,
      url: 'https://localhost/x?y=1#z',
    });
    assert.equal(checkRedirect('http://0x7f.1:8080/', loopback).ok, true, 'IPv4 shorthand is 127.0.0.1');
    assert.equal(checkRedirect('http://evil.com/http://localhost:1/', loopback).ok, false);
    assert.equal(checkRedirect('http://evil.com/?u=http://127.0.0.1:1', loopback).ok, false);
  });

  it('derives a whitelist from the gateway host domain only when it has three labels or more', () => {
    const corp = compileWhitelist(derivedWhitelist('gw.corp.example.com')!);
    assert.equal(checkRedirect('https://app.corp.example.com/', corp).ok, true);
    assert.equal(checkRedirect('https://app.corp.example.com.evil.com/', corp).ok, false);
    assert.equal(checkRedirect('https://corp.example.com/', corp).ok, false);
    assert.equal(checkRedirect('https://evilcorp.example.com/', corp).ok, false);
    assert.equal(derivedWhitelist('example.com'), undefined, 'never a whole top-level domain');
    assert.equal(derivedWhitelist('10.0.0.1'), undefined);
    assert.equal(derivedWhitelist('localhost'), undefined);
    assert.equal(derivedWhitelist('[::1]'), undefined);
  });

  it('refuses invalid whitelist regexes by name', () => {
    assert.throws(
      () => compileWhitelist('^ok$;^(broken$'),
      /"\^\(broken\$" is not a valid regular expression/,
    );
  });

  it('scopes the cookie to the parent domain as Knox does, or to the host', () => {
    assert.equal(cookieDomain('app.corp.example.com', undefined), '.corp.example.com');
    assert.equal(cookieDomain('app.example.com', undefined), '.example.com');
    assert.equal(cookieDomain('example.com', undefined), undefined);
    assert.equal(cookieDomain('localhost', undefined), undefined);
    assert.equal(cookieDomain('127.0.0.1', undefined), undefined);
    assert.equal(cookieDomain('app.corp.example.com', 'example.com'), '.example.com');
    assert.equal(cookieDomain('app.other.org', 'example.com'), '.other.org');
  });

  it('puts an unencoded originalUrl back together, except the expected params', () => {
    const expected = new Set(['knoxsso.state']);
    assert.equal(
      originalFromQuery('originalUrl=http://h:1/p?a=1&b=2&c=x%20y', expected),
      'http://h:1/p?a=1&b=2&c=x%20y',
    );
    assert.equal(
      originalFromQuery('originalUrl=http://h:1/p&b=2&knoxsso.state=s', expected),
      'http://h:1/p?b=2',
    );
    assert.equal(
      originalFromQuery('originalUrl=http%3A%2F%2Fh%3A1%2Fp%3Fa%3D1', expected),
      'http://h:1/p?a=1',
    );
    assert.equal(originalFromQuery('b=2', expected), undefined);
    assert.equal(originalFromQuery('originalUrl=', expected), undefined);
  });
});
