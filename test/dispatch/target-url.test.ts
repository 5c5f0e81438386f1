import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replaceQueryParams, splitTarget } from '../../src/dispatch/target-url.ts';

describe('backend target URL', () => {
  it('splits origin and request target', () => {
    assert.deepEqual(splitTarget('http://h:8080/a/b?x=1'), { origin: 'http://h:8080', path: '/a/b?x=1' });
    assert.deepEqual(splitTarget('https://h'), { origin: 'https://h', path: '/' });
    assert.deepEqual(splitTarget('http://h?x'), { origin: 'http://h', path: '/?x' });
    assert.deepEqual(splitTarget('http://[::1]:9/p#frag'), { origin: 'http://[::1]:9', path: '/p' });
    assert.equal(splitTarget('/relative'), undefined);
    assert.equal(splitTarget('http:///nohost'), undefined);
  });

  it('replaces impersonation parameters whatever their case or encoding', () => {
    const drop = new Set(['doas', 'user.name']);
    assert.equal(replaceQueryParams('http://h/p', drop, 'user.name=alice'), 'http://h/p?user.name=alice');
    assert.equal(
      replaceQueryParams(
        'http://h/p?op=LIST&doAs=root&DOAS=x&user%2Ename=bob&user.name&a=%20',
        drop,
        'user.name=alice',
      ),
      'http://h/p?op=LIST&a=%20&user.name=alice',
    );
    assert.equal(replaceQueryParams('http://h/p?', drop, 'user.name=a'), 'http://h/p?user.name=a');
  });

  it('only removes when there is nothing to add, dropping a query left empty', () => {
    const drop = new Set(['doas', 'user.name']);
    assert.equal(replaceQueryParams('http://h/p?a=1&doAs=x&b', drop), 'http://h/p?a=1&b');
    assert.equal(replaceQueryParams('http://h/p?doAs=x&USER.NAME=y', drop), 'http://h/p');
    assert.equal(replaceQueryParams('http://h/p', drop), 'http://h/p');
  });

  it('keeps a fragment after the query it edits', () => {
    const drop = new Set(['doas']);
    assert.equal(replaceQueryParams('http://h/p#top', drop, 'user.name=a'), 'http://h/p?user.name=a#top');
    assert.equal(
      replaceQueryParams('http://h/p?doAs=x#top', drop, 'user.name=a'),
      'http://h/p?user.name=a#top',
    );
    assert.equal(replaceQueryParams('http://h/p?doAs=x#top', drop), 'http://h/p#top');
  });
});
