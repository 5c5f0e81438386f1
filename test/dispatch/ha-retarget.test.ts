/**
 * Moving a rewritten target from the service's first URL to another one (dispatch/ha/retarget): origin and base
 * path replaced, everything else kept byte for byte; a target on another origin is not the service's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retarget, urlBase } from '../../src/dispatch/ha/retarget.ts';

const move = (url: string, from: string, to: string) => retarget(url, urlBase(from)!, urlBase(to)!);

describe('retarget', () => {
  it('replaces the origin and the base path, keeping path, query and encoding', () => {
    assert.equal(
      move(
        'http://nn1:9870/webhdfs/v1/a%20b?op=OPEN&x=%2F',
        'http://nn1:9870/webhdfs',
        'http://nn2:9871/webhdfs',
      ),
      'http://nn2:9871/webhdfs/v1/a%20b?op=OPEN&x=%2F',
    );
    assert.equal(move('http://a:1/one/x?q', 'http://a:1/one/', 'https://b:2/two'), 'https://b:2/two/x?q');
    assert.equal(move('http://a:1/one', 'http://a:1/one', 'http://b:2'), 'http://b:2/');
    assert.equal(move('http://a:1/x', 'http://a:1', 'http://b:2/base'), 'http://b:2/base/x');
    assert.equal(move('http://a:1?q=1', 'http://a:1', 'http://b:2'), 'http://b:2/?q=1');
    assert.equal(move('ws://a:1/socket', 'ws://a:1', 'ws://b:2'), 'ws://b:2/socket');
  });

  it('compares origins without regard to case, and keeps a path not under the base as it is', () => {
    assert.equal(move('HTTP://A:1/other', 'http://a:1/one', 'http://b:2/two'), 'http://b:2/other');
    assert.equal(move('http://a:1/onex', 'http://a:1/one', 'http://b:2/two'), 'http://b:2/onex');
  });

  it('leaves a target on another origin to the caller', () => {
    assert.equal(
      move('http://datanode:9864/x', 'http://nn1:9870/webhdfs', 'http://nn2:9870/webhdfs'),
      undefined,
    );
    assert.equal(move('http://a:10/x', 'http://a:1', 'http://b:2'), undefined);
    assert.equal(urlBase('not a url'), undefined);
  });
});
