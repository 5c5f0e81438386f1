/**
 * The pure parts of Knox's dispatches: the percent-decoding of URLDecodingDispatch and `removeUrlEncoding`, NiFi's
 * proxied-entity escaping, the endpoint and trailing-slash tests, and the standby checks of the HA dispatches.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { atlasStandby, resourceManagerStandby, webHdfsStandby } from '../../../src/dispatch/ha/standby.ts';
import { isEndpoint, keepTrailingSlash, urlPath } from '../../../src/dispatch/knox/extend.ts';
import { proxiedEntity } from '../../../src/dispatch/knox/nifi.ts';
import { decodePathOnce, decodeQueryOnce, sendable } from '../../../src/dispatch/url-encoding.ts';
import type { Exchange } from '../../../src/spi/index.ts';

const ex = (path: string, target?: string) => ({ path, target }) as unknown as Exchange;

describe('URL decoding', () => {
  it('URLDecodingDispatch decodes the path once and leaves the query', () => {
    assert.equal(decodePathOnce('http://h:1/a%2Fb/c%2520d?x=%2F'), 'http://h:1/a/b/c%20d?x=%2F');
    assert.equal(decodePathOnce('http://h:1/a+b'), 'http://h:1/a+b');
  });

  it('re-encodes what a request target cannot carry, and never makes a dot segment', () => {
    assert.equal(decodePathOnce('http://h:1/a%20b%23c%7C%C3%A9'), 'http://h:1/a%20b%23c%7C%C3%A9');
    assert.equal(decodePathOnce('http://h:1/a/%2e%2e/b'), 'http://h:1/a/%2e%2e/b');
    assert.equal(decodePathOnce('http://h:1/a%zz'), 'http://h:1/a%zz');
    assert.equal(sendable('100%'), '100%25');
  });

  it('removeUrlEncoding decodes the query once (+ is a space) and encodes the unwise characters', () => {
    assert.equal(
      decodeQueryOnce('http://h:1/p%2F?f=a%2Fb%2Cc&q=x+y%7C'),
      'http://h:1/p%2F?f=a/b,c&q=x%20y%7C',
    );
    assert.equal(decodeQueryOnce('http://h:1/p'), 'http://h:1/p');
  });
});

describe('NiFi proxied entities', () => {
  it('escapes as NiFi does; anonymous is <>', () => {
    assert.equal(proxiedEntity('alice'), '<alice>');
    assert.equal(proxiedEntity('a><b'), '<a\\>\\<b>');
    assert.equal(proxiedEntity('Anonymous'), '<>');
    assert.equal(proxiedEntity(undefined), '<>');
    assert.equal(proxiedEntity('Алйс'), `<<${Buffer.from('Алйс').toString('base64')}>>`);
  });
});

describe('endpoints and trailing slashes', () => {
  it('matches an endpoint as a servlet container routes it', () => {
    assert.ok(isEndpoint(ex('/livy/v1/sessions'), ['/sessions']));
    assert.ok(isEndpoint(ex('/livy/v1/sessions/'), ['/sessions']));
    assert.ok(isEndpoint(ex('/livy/v1/sessions;x=1'), ['/sessions']));
    assert.ok(isEndpoint(ex('/livy/v1/session%73'), ['/sessions']));
    assert.ok(isEndpoint(ex('/x', 'http://h/v1/batches?a'), ['/batches']));
    assert.ok(!isEndpoint(ex('/livy/v1/sessions/1/statements'), ['/sessions', '/batches']));
  });

  it('puts back a trailing slash before the query', () => {
    assert.equal(keepTrailingSlash(ex('/a/'))?.('http://h/a?q=1'), 'http://h/a/?q=1');
    assert.equal(keepTrailingSlash(ex('/a/'))?.('http://h/a/'), 'http://h/a/');
    assert.equal(keepTrailingSlash(ex('/a')), undefined);
    assert.equal(urlPath('http://h:1/a/b?c#d'), '/a/b');
  });
});

describe('standby checks', () => {
  it('WebHDFS: a 403 naming StandbyException, SafeModeException or RetriableException', () => {
    assert.ok(webHdfsStandby.suspect(403, {}));
    assert.ok(!webHdfsStandby.suspect(200, {}));
    assert.ok(webHdfsStandby.body!('{"RemoteException":{"exception":"StandbyException"}}'));
    assert.ok(webHdfsStandby.body!('...SafeModeException...'));
    assert.ok(!webHdfsStandby.body!('{"RemoteException":{"exception":"AccessControlException"}}'));
  });

  it('ResourceManager: a 403 or 307 saying "This is standby RM"', () => {
    assert.ok(resourceManagerStandby.suspect(307, {}) && resourceManagerStandby.suspect(403, {}));
    assert.ok(!resourceManagerStandby.suspect(302, {}));
    assert.ok(resourceManagerStandby.body!('This is standby RM. The redirect url is: http://rm2'));
  });

  it('Atlas: a redirect (but the UI login page) or a 503', () => {
    const ui = atlasStandby(true);
    const api = atlasStandby(false);
    assert.ok(ui.suspect(302, { location: 'http://atlas2:21000/' }));
    assert.ok(!ui.suspect(302, { location: 'http://atlas1:21000/login.jsp' }));
    assert.ok(!ui.suspect(307, { location: 'http://a/x?originalUrl=y' }));
    assert.ok(api.suspect(307, { location: 'http://a/login.jsp' }));
    assert.ok(!api.suspect(302, {}));
    assert.ok(ui.suspect(503, {}) && api.suspect(503, {}));
    assert.ok(!ui.suspect(200, {}));
  });
});
