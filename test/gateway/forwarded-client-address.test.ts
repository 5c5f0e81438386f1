/**
 * The client's address policies decide on (gateway/client-address.ts): the peer, unless the peer is a trusted
 * proxy; then X-Forwarded-For read from the right, past the trusted proxies, never believing what a client wrote.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIpList } from '../../src/config/ip-list.ts';
import { forwardedClientAddress } from '../../src/gateway/client-address.ts';

describe('forwardedClientAddress', () => {
  const lbs = parseIpList('10.0.0.1, 10.0.0.2, fd00::/8');

  it('is the peer without trusted proxies, or when the peer is not one', () => {
    assert.equal(forwardedClientAddress('192.0.2.7', '198.51.100.1', parseIpList('')), '192.0.2.7');
    assert.equal(forwardedClientAddress('192.0.2.7', '198.51.100.1', lbs), '192.0.2.7');
    assert.equal(forwardedClientAddress('10.0.0.1', undefined, lbs), '10.0.0.1');
  });

  it('is the right-most address no trusted proxy wrote', () => {
    assert.equal(forwardedClientAddress('10.0.0.1', '198.51.100.1', lbs), '198.51.100.1');
    // Two balancers in a row: the first appended the client, the second the first balancer.
    assert.equal(forwardedClientAddress('10.0.0.2', '198.51.100.1, 10.0.0.1', lbs), '198.51.100.1');
    // What the client wrote (left of the first untrusted entry) is not believed.
    assert.equal(forwardedClientAddress('10.0.0.1', '203.0.113.9, 198.51.100.1', lbs), '198.51.100.1');
    // Repeated headers are one list.
    assert.equal(forwardedClientAddress('10.0.0.1', ['203.0.113.9', '198.51.100.1'], lbs), '198.51.100.1');
    assert.equal(forwardedClientAddress('fd00::1', '[2001:db8::5]', lbs), '2001:db8::5');
  });

  it('stops at a malformed entry, at the last address a trusted proxy wrote', () => {
    assert.equal(forwardedClientAddress('10.0.0.1', 'unknown', lbs), '10.0.0.1');
    assert.equal(forwardedClientAddress('10.0.0.2', 'garbage, 10.0.0.1', lbs), '10.0.0.1');
    assert.equal(forwardedClientAddress('10.0.0.1', '', lbs), '10.0.0.1');
  });

  it('is the left-most entry when every entry is a trusted proxy', () => {
    assert.equal(forwardedClientAddress('10.0.0.2', '10.0.0.1', lbs), '10.0.0.1');
  });
});
