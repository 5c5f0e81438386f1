import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasDotSegment, parseRequestTarget } from '../../src/gateway/request-target.ts';

describe('request target', () => {
  it('splits topology, path and query', () => {
    assert.deepEqual(parseRequestTarget('/gateway/sandbox/webhdfs/v1/tmp?op=LISTSTATUS', '/gateway/'), {
      ok: true,
      target: { topology: 'sandbox', path: '/webhdfs/v1/tmp', query: 'op=LISTSTATUS' },
    });
    assert.deepEqual(parseRequestTarget('/gateway/sandbox', '/gateway/'), {
      ok: true,
      target: { topology: 'sandbox', path: '/', query: '' },
    });
  });

  it('refuses URLs outside the gateway path and without a topology', () => {
    assert.deepEqual(parseRequestTarget('/other/sandbox/x', '/gateway/'), {
      ok: false,
      reason: 'not-gateway',
    });
    assert.deepEqual(parseRequestTarget('/gateway/', '/gateway/'), { ok: false, reason: 'no-topology' });
  });

  for (const path of [
    '/gateway/sandbox/http/../../etc/passwd',
    '/gateway/sandbox/http/%2e%2e/secret',
    '/gateway/sandbox/http/%2E%2e/secret',
    '/gateway/sandbox/http/..%2fsecret',
    '/gateway/sandbox/http/..%5csecret',
    '/gateway/sandbox/http/%252e%252e/secret',
    '/gateway/sandbox/http/./x',
    '/gateway/sandbox/http/x%00y',
    '/gateway/sandbox/http/%zz/..',
  ]) {
    it(`refuses a path that could escape its prefix: ${path}`, () => {
      assert.deepEqual(parseRequestTarget(path, '/gateway/'), { ok: false, reason: 'bad-path' });
    });
  }

  it('accepts dots that are not dot segments', () => {
    assert.equal(hasDotSegment('/gateway/s/http/file.tar.gz/.hidden/a..b/...'), false);
    assert.equal(hasDotSegment('/gateway/s/http/100%25'), false);
  });
});
