/**
 * The shared JWT verifier on its own, with real keys and a real JWKS server: claims, types, clock skew, groups,
 * principal claim, the signature cache (observed through the JWKS fetch count), several JWKS URLs, JWKS failures,
 * and the PEM forms Knox accepts.
 */
import assert from 'node:assert/strict';
import { KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import {
  KeysUnavailable,
  parsePublicKey,
  TokenRejected,
  TokenVerifier,
  type VerifierOptions,
} from '../../../src/providers/federation/jwt-verifier.ts';
import { closedPort } from '../../helpers/backend.ts';
import { epoch, type JwksServer, makeKey, signToken, startJwks, type TestKey } from '../../helpers/jwks.ts';

const ISSUER = 'https://issuer.test';

function options(key: TestKey, extra: Partial<VerifierOptions> = {}): VerifierOptions {
  return {
    keys: { kind: 'key', key: KeyObject.from(key.publicKey) },
    algorithms: ['RS256'],
    issuer: ISSUER,
    groupsClaim: 'groups',
    clockSkewSeconds: 30,
    cacheMax: 250,
    ...extra,
  };
}

function jwksOptions(urls: string[], extra: Partial<VerifierOptions> = {}): VerifierOptions {
  return {
    keys: {
      kind: 'jwks',
      urls: urls.map((u) => new URL(u)),
      timeoutMs: 2000,
      cooldownMs: 0,
      maxAgeMs: 0,
    },
    algorithms: ['RS256'],
    issuer: ISSUER,
    groupsClaim: 'groups',
    clockSkewSeconds: 30,
    cacheMax: 250,
    ...extra,
  };
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof TokenRejected, `expected TokenRejected, got ${err}`);
    return err.reason;
  }
  assert.fail('the token was accepted');
}

describe('TokenVerifier', () => {
  let k1: TestKey;
  let k2: TestKey;
  let jwks: JwksServer;
  let jwks2: JwksServer;

  before(async () => {
    k1 = await makeKey('k1');
    k2 = await makeKey('k2');
    jwks = await startJwks([k1]);
    jwks2 = await startJwks([k2]);
  });

  after(async () => {
    await jwks?.close();
    await jwks2?.close();
  });

  it('returns the subject, the groups claim and the expiry', async () => {
    const v = new TokenVerifier(options(k1));
    const exp = epoch(300);
    const token = await signToken(k1, {
      claims: { iss: ISSUER, sub: 'alice', exp, groups: ['admins', 'users'] },
    });
    assert.deepEqual(await v.verify(token), {
      principal: 'alice',
      groups: ['admins', 'users'],
      expiresAt: exp * 1000,
    });
    const csv = await signToken(k1, { claims: { iss: ISSUER, sub: 'bob', groups: 'a, b,,c' } });
    assert.deepEqual(await v.verify(csv), {
      principal: 'bob',
      groups: ['a', 'b', 'c'],
      expiresAt: undefined,
    });
  });

  it('takes a token in one spelling only: padded or otherwise non-base64url segments are malformed', async () => {
    const v = new TokenVerifier(options(k1));
    const token = await signToken(k1, { claims: { iss: ISSUER, sub: 'alice' } });
    assert.equal((await v.verify(token)).principal, 'alice');
    const [h, p, s] = token.split('.');
    // jose alone verifies the first of these (its decoder takes `=` padding): the same signature, another string.
    for (const variant of [
      `${token}==`,
      `${h}.${p}.${s}=`,
      `${h}==.${p}.${s}`,
      `${h}.${p}+.${s}`,
      ` ${token}`,
    ]) {
      assert.equal(await rejection(v.verify(variant)), 'malformed token', variant.slice(-12));
    }
  });

  it('takes the principal from the configured claim, lower-cased as Knox does, else from sub', async () => {
    const v = new TokenVerifier(options(k1, { principalClaim: 'upn' }));
    const withClaim = await signToken(k1, { claims: { iss: ISSUER, sub: 'x1', upn: 'Carol@Example.COM' } });
    assert.equal((await v.verify(withClaim)).principal, 'carol@example.com');
    const without = await signToken(k1, { claims: { iss: ISSUER, sub: 'dave' } });
    assert.equal((await v.verify(without)).principal, 'dave');
    const none = await signToken(k1, { claims: { iss: ISSUER } });
    assert.equal(await rejection(v.verify(none)), 'no principal');
    const control = await signToken(k1, { claims: { iss: ISSUER, sub: 'eve\nadmin' } });
    assert.equal(await rejection(v.verify(control)), 'no principal');
  });

  it('allows 30 s of clock skew on exp and nbf, and no more', async () => {
    const v = new TokenVerifier(options(k1));
    const sign = (claims: Record<string, unknown>) =>
      signToken(k1, { claims: { iss: ISSUER, sub: 'a', ...claims } });
    await v.verify(await sign({ exp: epoch(-10) }));
    await v.verify(await sign({ nbf: epoch(10) }));
    assert.equal(await rejection(v.verify(await sign({ exp: epoch(-40) }))), 'expired token');
    assert.equal(await rejection(v.verify(await sign({ nbf: epoch(60) }))), 'token not yet valid');
    assert.equal(await rejection(v.verify(await sign({ exp: 'soon' }))), 'malformed token');
  });

  it('accepts typ JWT or none by default, and only the configured types otherwise', async () => {
    const plain = new TokenVerifier(options(k1));
    const claims = { iss: ISSUER, sub: 'a' };
    await plain.verify(await signToken(k1, { claims, header: { typ: undefined } }));
    await plain.verify(await signToken(k1, { claims, header: { typ: 'jwt' } }));
    const at = await signToken(k1, { claims, header: { typ: 'at+jwt' } });
    assert.equal(await rejection(plain.verify(at)), 'token type not accepted');

    const typed = new TokenVerifier(options(k1, { allowedTypes: new Set(['at+jwt']) }));
    await typed.verify(at);
    await typed.verify(await signToken(k1, { claims, header: { typ: 'application/AT+JWT' } }));
    assert.equal(
      await rejection(typed.verify(await signToken(k1, { claims, header: { typ: undefined } }))),
      'token type not accepted',
    );
  });

  it('checks the audience: any configured one in aud', async () => {
    const v = new TokenVerifier(options(k1, { audiences: ['postern', 'other'] }));
    await v.verify(await signToken(k1, { claims: { iss: ISSUER, sub: 'a', aud: ['x', 'other'] } }));
    await v.verify(await signToken(k1, { claims: { iss: ISSUER, sub: 'a', aud: 'postern' } }));
    assert.equal(
      await rejection(v.verify(await signToken(k1, { claims: { iss: ISSUER, sub: 'a', aud: 'x' } }))),
      'audience not accepted',
    );
    assert.equal(
      await rejection(v.verify(await signToken(k1, { claims: { iss: ISSUER, sub: 'a' } }))),
      'audience not accepted',
    );
  });

  it('caches a verified signature per whole token, bounded by jwt.verified.cache.max', async () => {
    // cacheMaxAge 0: every signature check fetches the JWKS again, so the fetch count shows the cache at work.
    const v = new TokenVerifier(jwksOptions([jwks.url], { cacheMax: 2 }));
    const t1 = await signToken(k1, { claims: { iss: ISSUER, sub: 'u1' } });
    const t2 = await signToken(k1, { claims: { iss: ISSUER, sub: 'u2' } });
    const t3 = await signToken(k1, { claims: { iss: ISSUER, sub: 'u3' } });
    const start = jwks.fetches;
    await v.verify(t1);
    assert.equal(jwks.fetches, start + 1);
    await v.verify(t1);
    assert.equal(jwks.fetches, start + 1, 'the second use of a token is not checked again');
    const [h, p, s] = t1.split('.');
    const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    assert.equal(await rejection(v.verify(flipped)), 'bad signature');
    assert.equal(jwks.fetches, start + 2, 'a different signature is checked');
    await v.verify(t2);
    await v.verify(t3);
    assert.equal(jwks.fetches, start + 4);
    await v.verify(t1);
    assert.equal(jwks.fetches, start + 5, 't1 was evicted by t2 and t3');
  });

  it('tries each JWKS URL in turn; an unreachable one only matters when no other verifies', async () => {
    const port = await closedPort();
    const down = `http://127.0.0.1:${port}/jwks`;
    const both = new TokenVerifier(jwksOptions([jwks.url, jwks2.url]));
    await both.verify(await signToken(k2, { claims: { iss: ISSUER, sub: 'a' } }));
    const withDown = new TokenVerifier(jwksOptions([down, jwks2.url]));
    await withDown.verify(await signToken(k2, { claims: { iss: ISSUER, sub: 'a' } }));
    await assert.rejects(
      withDown.verify(await signToken(k1, { claims: { iss: ISSUER, sub: 'a' } })),
      KeysUnavailable,
    );
    const other = await makeKey('k3');
    assert.equal(
      await rejection(both.verify(await signToken(other, { claims: { iss: ISSUER, sub: 'a' } }))),
      'unknown signing key',
    );
  });

  it('reports a JWKS that answers an error status as unavailable', async () => {
    const broken = await startJwks([k1]);
    try {
      broken.failWith(500);
      const v = new TokenVerifier(jwksOptions([broken.url]));
      await assert.rejects(
        v.verify(await signToken(k1, { claims: { iss: ISSUER, sub: 'a' } })),
        KeysUnavailable,
      );
    } finally {
      await broken.close();
    }
  });
});

describe('parsePublicKey', () => {
  it('reads a public key PEM, its bare base64 body, a certificate PEM and its bare body', async () => {
    const key = await makeKey('p');
    const spki = KeyObject.from(key.publicKey).export({ format: 'der', type: 'spki' });
    assert.ok(parsePublicKey(key.spki).equals(KeyObject.from(key.publicKey)));
    const body = key.spki.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    assert.deepEqual(parsePublicKey(body).export({ format: 'der', type: 'spki' }), spki);

    const pems = await generate([{ name: 'commonName', value: 'issuer' }], { keyType: 'rsa', keySize: 2048 });
    const fromCert = parsePublicKey(pems.cert);
    assert.equal(fromCert.asymmetricKeyType, 'rsa');
    const certBody = pems.cert.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    assert.ok(parsePublicKey(certBody).equals(fromCert));
  });

  it('refuses a private key and text that is no key', () => {
    assert.throws(
      () => parsePublicKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'),
      /private key/,
    );
    assert.throws(() => parsePublicKey('not a key!'), /neither PEM nor base64/);
    assert.throws(() => parsePublicKey('AAAA'));
  });
});
