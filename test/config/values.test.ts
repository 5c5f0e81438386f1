import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isAbsoluteUrl,
  parseBoolean,
  parseDurationMs,
  parseNonNegativeInt,
  splitList,
} from '../../src/config/values.ts';

describe('config values', () => {
  it('parses booleans strictly', () => {
    assert.equal(parseBoolean(' TRUE '), true);
    assert.equal(parseBoolean('false'), false);
    assert.equal(parseBoolean('yes'), undefined);
    assert.equal(parseBoolean(''), undefined);
  });

  it('parses Knox durations', () => {
    assert.equal(parseDurationMs('20000'), 20000);
    assert.equal(parseDurationMs('20s'), 20000);
    assert.equal(parseDurationMs('5m'), 300000);
    assert.equal(parseDurationMs('1m30s'), 90000);
    assert.equal(parseDurationMs('2s500'), 2500);
    assert.equal(parseDurationMs('250ms'), 250);
    assert.equal(parseDurationMs(''), undefined);
    assert.equal(parseDurationMs('5h'), undefined);
    assert.equal(parseDurationMs('-1'), undefined);
  });

  it('parses non-negative integers only', () => {
    assert.equal(parseNonNegativeInt('8443'), 8443);
    assert.equal(parseNonNegativeInt('8443.5'), undefined);
    assert.equal(parseNonNegativeInt('99999999999999999999'), undefined);
  });

  it('splits lists on commas and pipes', () => {
    assert.deepEqual(splitList(' a, b|c ,, '), ['a', 'b', 'c']);
    assert.deepEqual(splitList('a|b', /,/), ['a|b']);
  });

  it('accepts only absolute URLs with the given schemes', () => {
    assert.equal(isAbsoluteUrl('http://nn:50070/webhdfs', ['http']), true);
    assert.equal(isAbsoluteUrl('wss://h/x', ['http', 'wss']), true);
    assert.equal(isAbsoluteUrl('ftp://h/x', ['http']), false);
    assert.equal(isAbsoluteUrl('nn:50070', ['http']), false);
    assert.equal(isAbsoluteUrl('/webhdfs', ['http']), false);
  });
});
