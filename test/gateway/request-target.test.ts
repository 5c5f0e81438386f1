import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodedSlashRefusal,
  hasDotSegment,
  normalizeEveryPath,
  normalizeRequestPath,
  parseRequestTarget,
  prefixSegments,
} from '../../src/gateway/request-target.ts';

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

  describe('the normal form (issue 14)', () => {
    const normal = (raw: string) => {
      const n = normalizeRequestPath(raw);
      return n.ok ? n.path : undefined;
    };

    it('decodes escapes of unreserved characters and upper-cases the others', () => {
      assert.equal(normal('/gateway/t/http/%61dmin/%7E%2d%2E%5f'), '/gateway/t/http/admin/~-._');
      assert.equal(normal('/gateway/t/http/%c3%a9/a%3ab/%25'), '/gateway/t/http/%C3%A9/a%3Ab/%25');
      assert.equal(normal('/gateway/t/http/%2561'), '/gateway/t/http/%2561');
    });

    it('removes path parameters, merges empty segments, keeps a trailing slash', () => {
      assert.equal(normal('/gateway/t/http/admin;x=1/b;jsessionid=A;c'), '/gateway/t/http/admin/b');
      assert.equal(normal('//gateway///t/http//x//'), '/gateway/t/http/x/');
      assert.equal(normal('/gateway/t/http/;x/y'), '/gateway/t/http/y');
      assert.equal(normal('/gateway/t/http/a%3Bb'), '/gateway/t/http/a%3Bb');
    });

    for (const raw of [
      '/gateway/t/http/a#b',
      '/gateway/t/http/a\\b',
      '/gateway/t/http/..;/x',
      '/gateway/t/http/.;x=1/x',
      '/gateway/t/http/%2e%2e;/x',
      '/gateway/t/http/%2E;/x',
      '/gateway/t/http/..%3B/x',
      '/gateway/t/http/%252e%252e%253b/x',
      '/gateway/t/http/a%2f..%2fb',
      '/gateway/t/http/x%7f',
      '/gateway/t/http/%4',
    ]) {
      it(`refuses ${raw}`, () => {
        assert.equal(normalizeRequestPath(raw).ok, false);
        assert.deepEqual(parseRequestTarget(raw, '/gateway/'), { ok: false, reason: 'bad-path' });
      });
    }

    it('refuses a fragment after the query too', () => {
      assert.deepEqual(parseRequestTarget('/gateway/t/http/a?x=1#f', '/gateway/'), {
        ok: false,
        reason: 'bad-path',
      });
    });

    it('marks encoded separators; a route accepts them only with postern.path.allowEncodedSlash', () => {
      const parsed = parseRequestTarget('/gateway/t/http/a%2fb%5Cc?q', '/gateway/');
      assert.ok(parsed.ok);
      assert.deepEqual(parsed.target, {
        topology: 't',
        path: '/http/a%2Fb%5Cc',
        query: 'q',
        encodedSlash: true,
      });
      assert.match(encodedSlashRefusal(parsed.target, new Map()) ?? '', /postern\.path\.allowEncodedSlash/);
      const optIn = new Map([['postern.path.allowEncodedSlash', 'true']]);
      assert.equal(encodedSlashRefusal(parsed.target, optIn), undefined);
      const double = parseRequestTarget('/gateway/t/http/a%252Fb', '/gateway/');
      assert.ok(double.ok && double.target.encodedSlash);
    });

    it('counts the segments of the gateway path and topology', () => {
      assert.equal(prefixSegments('gateway'), 2);
      assert.equal(prefixSegments('a/b'), 3);
      assert.equal(prefixSegments(''), 1);
    });
  });

  it('takes its shortcut for paths already normal only: the same answer as the full normaliser', () => {
    const pieces = [
      '/',
      '//',
      'a',
      'Zz9',
      '.',
      '..',
      '%2e',
      '%2F',
      '%41',
      '%',
      ';x=1',
      ';',
      '\\',
      '#',
      '~',
      '-_',
      "!$&'()*+,=:@",
      '"',
      '<',
      '{',
      '|',
      '\u0001',
      ' ',
      'é',
    ];
    let seed = 11;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const cases = ['', '/', '/a', '/a/', '/a/b.c/', '/./', '/a/..', '/.a/..b/', '//a', '/a//b'];
    for (let i = 0; i < 5000; i++) {
      let raw = rand() < 0.9 ? '/' : '';
      const n = Math.floor(rand() * 8);
      for (let k = 0; k < n; k++) raw += pieces[Math.floor(rand() * pieces.length)];
      cases.push(raw);
    }
    for (const raw of cases)
      assert.deepEqual(normalizeRequestPath(raw), normalizeEveryPath(raw), JSON.stringify(raw));
  });
});
