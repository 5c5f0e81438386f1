import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTokenCipher } from '../../src/rewrite/crypto.ts';

const secret = new Uint8Array(32).fill(1);

describe('token cipher', () => {
  it('round-trips text and produces base64url without padding', () => {
    const c = createTokenCipher(secret, 'sandbox', 'encrypt-query');
    const token = c.encrypt('scheme=http&host=dn1&port=50075&op=CREATE');
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    assert.equal(c.decrypt(token), 'scheme=http&host=dn1&port=50075&op=CREATE');
  });

  it('uses a fresh IV each time', () => {
    const c = createTokenCipher(secret, 'sandbox', 'encrypt-query');
    assert.notEqual(c.encrypt('a=b'), c.encrypt('a=b'));
  });

  it('rejects a tampered, truncated or extended token', () => {
    const c = createTokenCipher(secret, 'sandbox', 'encrypt-query');
    const token = c.encrypt('a=b');
    const flipped = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21);
    assert.equal(c.decrypt(flipped), undefined);
    assert.equal(c.decrypt(token.slice(0, -2)), undefined);
    assert.equal(c.decrypt(`${token}==`), undefined);
    assert.equal(c.decrypt(''), undefined);
    assert.equal(c.decrypt('not a token!'), undefined);
  });

  it('keys differ per topology and per purpose', () => {
    const token = createTokenCipher(secret, 'sandbox', 'encrypt-query').encrypt('a=b');
    assert.equal(createTokenCipher(secret, 'other', 'encrypt-query').decrypt(token), undefined);
    assert.equal(createTokenCipher(secret, 'sandbox', 'encrypt').decrypt(token), undefined);
    assert.equal(
      createTokenCipher(new Uint8Array(32).fill(2), 'sandbox', 'encrypt-query').decrypt(token),
      undefined,
    );
  });

  it('refuses a short secret', () => {
    assert.throws(() => createTokenCipher(new Uint8Array(8), 'sandbox', 'encrypt'), RangeError);
  });
});
