/**
 * The backplane's `secret` header in AWX's exact format (behaviours 35–41 of src/services/channels/README.md): the reference's two
 * test vectors, Python `json.dumps` escaping, the 300 s window either way, and every malformed shape refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  pythonJsonString,
  secretDigest,
  secretHeader,
  signedMessage,
  verifySecretHeader,
} from '../../../src/services/channels/secret.ts';

const NOW = 1_700_000_000;

describe('backplane secret header', () => {
  it('reproduces the reference test vector for secret "foobar", nonce 1700000000', () => {
    assert.equal(signedMessage('foobar', '1700000000'), '{"secret": "foobar", "nonce": "1700000000"}');
    assert.equal(
      secretDigest('foobar', '1700000000'),
      '3c9b42dbcc65ca01cd2507c9c67613060dd8da01c757bd04a21091ad30b8f7a6',
    );
    assert.equal(
      secretHeader('foobar', NOW),
      'HMAC-SHA256 1700000000:3c9b42dbcc65ca01cd2507c9c67613060dd8da01c757bd04a21091ad30b8f7a6',
    );
  });

  it('41: reproduces the non-ASCII vector: \\uXXXX escapes (surrogate pairs) in the message, raw UTF-8 key', () => {
    const secret = '🤖starscream🤖';
    assert.equal(
      signedMessage(secret, '1700000000'),
      '{"secret": "\\ud83e\\udd16starscream\\ud83e\\udd16", "nonce": "1700000000"}',
    );
    assert.equal(
      secretDigest(secret, '1700000000'),
      '1b03ddd654031dc9a0eb63b393f415ff41e012c081a65f69e10b750789d33857',
    );
  });

  it("escapes strings as Python's json.dumps(ensure_ascii=True) does", () => {
    assert.equal(pythonJsonString('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(pythonJsonString('\n\r\t\b\f'), '"\\n\\r\\t\\b\\f"');
    assert.equal(pythonJsonString('\u0001\u001f'), '"\\u0001\\u001f"');
    assert.equal(pythonJsonString('\u007f'), '"\u007f"', 'DEL is written as is');
    assert.equal(pythonJsonString('é€'), '"\\u00e9\\u20ac"');
    assert.equal(pythonJsonString('/'), '"/"');
  });

  it('35/36: accepts a header made now, and the reference vector at its own time', () => {
    assert.deepEqual(verifySecretHeader(secretHeader('s3cret'), 's3cret'), {
      ok: true,
      nonce: Math.floor(Date.now() / 1000),
    });
    assert.equal(
      verifySecretHeader(
        'HMAC-SHA256 1700000000:3c9b42dbcc65ca01cd2507c9c67613060dd8da01c757bd04a21091ad30b8f7a6',
        'foobar',
        NOW,
      ).ok,
      true,
    );
  });

  it('39: the nonce may be 300 s away either way, not 301', () => {
    for (const skew of [-300, 300, 0, 299]) {
      assert.equal(verifySecretHeader(secretHeader('k', NOW + skew), 'k', NOW).ok, true, `skew ${skew}`);
    }
    for (const skew of [-301, 301, 10_000]) {
      assert.deepEqual(verifySecretHeader(secretHeader('k', NOW + skew), 'k', NOW), {
        ok: false,
        reason: 'stale',
      });
    }
  });

  it('37/38: a missing header or one made with another secret is refused', () => {
    assert.deepEqual(verifySecretHeader(undefined, 'k', NOW), { ok: false, reason: 'missing' });
    assert.deepEqual(verifySecretHeader('', 'k', NOW), { ok: false, reason: 'missing' });
    assert.deepEqual(verifySecretHeader(secretHeader('other', NOW), 'k', NOW), {
      ok: false,
      reason: 'mismatch',
    });
  });

  it('40: every other shape is refused (docs form without prefix, spaces, colons, case, base64)', () => {
    const digest = secretDigest('k', String(NOW));
    const bad = [
      `${NOW}:${digest}`, // the docs' form: no prefix
      `hmac-sha256 ${NOW}:${digest}`,
      `HMAC-SHA256  ${NOW}:${digest}`,
      `HMAC-SHA256 ${NOW}:${digest} `,
      `HMAC-SHA256 ${NOW}:${digest}:x`,
      `HMAC-SHA256 ${NOW}${digest}`,
      `HMAC-SHA256 ${NOW}:${digest.toUpperCase()}`,
      `HMAC-SHA256 ${NOW}:${Buffer.from(digest, 'hex').toString('base64')}`,
      `HMAC-SHA256 ${NOW}:${digest.slice(1)}`,
      `SHA256 ${NOW}:${digest}`,
    ];
    for (const value of bad) {
      const r = verifySecretHeader(value, 'k', NOW);
      assert.equal(r.ok, false, value);
      assert.equal((r as { reason: string }).reason, 'malformed', value);
    }
  });

  it('a nonce that is not an integer is refused even with its correct HMAC', () => {
    for (const nonce of ['abc', '1.5', '', '17e8']) {
      assert.equal(
        verifySecretHeader(`HMAC-SHA256 ${nonce}:${secretDigest('k', nonce)}`, 'k', NOW).ok,
        false,
      );
    }
  });
});
