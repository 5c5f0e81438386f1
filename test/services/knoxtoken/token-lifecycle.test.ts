/**
 * Knox's documented KNOXTOKEN flow through a running gateway with the embedded token state (SQLite in the home's
 * data/): a user logs in with Basic against a real slapd and gets a token, calls a JWT-protected topology with
 * it, an admin renews it (renewer), the user lists it and revokes it, and the next call gets 401 at once (the
 * revoking node drops its cache entry). The state survives a restart of the gateway. Passcode tokens work until
 * revoked; disabling refuses a token until it is enabled again; a renewed token outlives its own `exp`. Bad
 * input gets Knox's answers: an unknown token's revocation (code 50), a renewal by a non-renewer (403, code 20),
 * a garbage token (code 40).
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { makeHome, startGateway, type TestHome } from '../../helpers/home.ts';
import { type SlapdFixture, startSlapd } from '../../helpers/slapd.ts';
import { bearer, client, passcodeBasic, writeTopologies } from './token-fixture.ts';

describe('KNOXTOKEN lifecycle with the embedded token state', () => {
  let ldap: SlapdFixture;
  let backend: Backend;
  let home: TestHome;
  let gateway: Gateway;
  const c = client(() => gateway.url);

  before(async () => {
    ldap = await startSlapd();
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url }));
    });
    home = makeHome({
      'gateway.knox.token.management.users.can.see.all.tokens': 'admin',
      'gateway.knox.token.eviction.grace.period': 0,
    });
    writeTopologies(home, ldap, backend.url, { 'knox.token.exp.renew-interval': '3600000' });
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await ldap?.close();
    home?.remove();
  });

  it("runs Knox's curl flow: token with Basic, call, renew, list, revoke, 401", async () => {
    const token = await c.getToken('sam', '?comment=laptop');
    assert.equal(token.managed, 'true');
    assert.equal(token.token_type, 'Bearer');
    const claims = decodeJwt(token.access_token);
    assert.equal(claims.sub, 'sam');
    assert.equal(claims['knox.id'], token.token_id);
    assert.ok(token.passcode, 'a persistent store issues a passcode');
    assert.equal(await c.api(bearer(token.access_token)), 200);

    // Renewal by a renewer (admin); Knox's v1 is POST, v2 PUT.
    const renewed = await c.op('admin', 'POST', '/renew', token.access_token);
    assert.equal(renewed.status, 200, renewed.text);
    assert.equal(renewed.body.renewed, 'true');
    assert.ok(Number(renewed.body.expires) > Date.now() + 3_500_000, renewed.text);
    assert.equal(renewed.text, `{\n  "renewed": "true",\n  "expires": "${renewed.body.expires}"\n}\n`);
    const v2 = await c.op('admin', 'PUT', '/renew', token.access_token, 'v2');
    assert.equal(v2.status, 200, v2.text);

    const listed = await c.op('sam', 'GET', '/getUserTokens');
    assert.equal(listed.status, 200);
    const mine = listed.body.tokens.find((t: { tokenId: string }) => t.tokenId === token.token_id);
    assert.ok(mine, listed.text);
    assert.equal(mine.metadata.userName, 'sam');
    assert.equal(mine.metadata.comment, 'laptop');
    assert.equal(mine.metadata.enabled, true);
    assert.equal(mine.expirationLong, Number(v2.body.expires));
    assert.ok(!listed.text.includes('passcode'), 'the passcode hash is never listed');

    const revoked = await c.op('sam', 'POST', '/revoke', token.access_token);
    assert.equal(revoked.status, 200, revoked.text);
    assert.deepEqual(revoked.body, { revoked: 'true' });
    assert.equal(await c.api(bearer(token.access_token)), 401);
  });

  it('accepts the passcode as Basic Passcode:… and as a Bearer value, until the token is revoked (v2 DELETE)', async () => {
    const token = await c.getToken('sam');
    assert.equal(await c.api(passcodeBasic(token.passcode!)), 200);
    assert.equal(await c.api(bearer(token.passcode!)), 200);
    // A passcode of another token id, or a changed passcode, is refused.
    const inner = Buffer.from(token.passcode!, 'base64').toString().split('::');
    const wrong = Buffer.from(`${inner[0]}::${Buffer.from('not-the-passcode').toString('base64')}`).toString(
      'base64',
    );
    assert.equal(await c.api(passcodeBasic(wrong)), 401);
    const revoked = await c.op('sam', 'DELETE', '/revoke', token.token_id, 'v2');
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(await c.api(passcodeBasic(token.passcode!)), 401);
    assert.equal(await c.api(bearer(token.access_token)), 401);
  });

  it('refuses a disabled token until it is enabled again', async () => {
    const token = await c.getToken('sam');
    const disabled = await c.op('sam', 'PUT', '/disable', token.token_id);
    assert.deepEqual(disabled.body, { setEnabledFlag: 'true', isEnabled: 'false' });
    assert.equal(await c.api(bearer(token.access_token)), 401);
    const again = await c.op('sam', 'PUT', '/disable', token.token_id);
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, { setEnabledFlag: 'false', error: 'Token is already disabled', code: 60 });
    const enabled = await c.op('sam', 'PUT', '/enableTokens', JSON.stringify([token.token_id]));
    assert.equal(enabled.status, 200, enabled.text);
    assert.equal(await c.api(bearer(token.access_token)), 200);
    // Another user may not change sam's token.
    const guest = await c.op('guest', 'PUT', '/disable', token.token_id);
    assert.equal(guest.status, 403);
    assert.equal(guest.body.code, 20);
  });

  it("answers bad input with Knox's errors: unknown token, non-renewer, garbage, others' tokens", async () => {
    const unknown = await c.op('sam', 'POST', '/revoke', '0b5b1d2e-1111-4222-8333-944455556666');
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body, {
      revoked: 'false',
      error: 'Unknown token: 0b5b1d2e...944455556666',
      code: 50,
    });
    assert.equal(
      unknown.text,
      '{\n  "revoked": "false",\n  "error": "Unknown token: 0b5b1d2e...944455556666",\n  "code": 50\n}\n',
    );

    const token = await c.getToken('sam');
    const byUser = await c.op('sam', 'POST', '/renew', token.access_token);
    assert.equal(byUser.status, 403);
    assert.deepEqual(byUser.body, {
      renewed: 'false',
      error: 'Caller (sam) not authorized to renew tokens.',
      code: 20,
    });

    const garbage = await c.op('sam', 'POST', '/revoke', 'not-a-token');
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.code, 40);

    const theirs = await c.op('guest', 'POST', '/revoke', token.token_id);
    assert.equal(theirs.status, 403);
    assert.equal(theirs.body.code, 20);
    assert.equal(
      await c.api(bearer(token.access_token)),
      200,
      'a refused revocation leaves the token working',
    );

    const others = await c.op('sam', 'GET', '/getUserTokens?userName=guest');
    assert.equal(others.status, 403);
    const all = await c.op('admin', 'GET', '/getUserTokens?allTokens=true');
    assert.equal(all.status, 200);
    assert.ok(all.body.tokens.some((t: { tokenId: string }) => t.tokenId === token.token_id));

    const wrongMethod = await c.op('sam', 'PUT', '/revoke', token.token_id);
    assert.equal(wrongMethod.status, 405);
    const noSuchOp = await c.op('sam', 'GET', '/nothing');
    assert.equal(noSuchOp.status, 404);
  });

  it('reports its state as Knox getTssStatus does', async () => {
    const status = await c.op('sam', 'GET', '/getTssStatus');
    assert.equal(status.status, 200);
    assert.deepEqual(status.body, {
      tokenManagementEnabled: 'true',
      configuredTssBackend: '',
      actualTssBackend: 'DerbyDBTokenStateService',
      allowedTssForTokengen: 'true',
      maximumLifetimeSeconds: '600',
      maximumLifetimeText: '10 minutes',
      lifespanInputEnabled: 'true',
      impersonationEnabled: 'false',
    });
  });

  it('caps lifespan at knox.token.ttl, and lets a renewal carry a token past its own exp', async () => {
    const short = await c.getToken('sam', '?lifespan=PT2S');
    const claims = decodeJwt(short.access_token);
    assert.equal(claims.exp! - claims.iat!, 2);
    const capped = await c.getToken('sam', '?lifespan=P30D');
    const cappedClaims = decodeJwt(capped.access_token);
    assert.equal(cappedClaims.exp! - cappedClaims.iat!, 600);
    const renewed = await c.op('admin', 'POST', '/renew', short.access_token);
    assert.equal(renewed.status, 200, renewed.text);
    await new Promise((r) => setTimeout(r, 3100));
    // The JWT's exp has passed; the server-managed expiration (renewed by an hour) rules.
    assert.equal(await c.api(bearer(short.access_token)), 200);
  });

  it('evicts expired token state on its schedule (grace period 0 here)', async () => {
    const token = await c.getToken('guest', '?lifespan=PT1S');
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(await c.api(bearer(token.access_token)), 401);
    assert.ok((await gateway.tokenState.evictExpiredTokens()) >= 1);
    const listed = await c.op('guest', 'GET', '/getUserTokens');
    assert.ok(!listed.text.includes(token.token_id), 'the evicted token is gone');
  });

  it('keeps token state across a restart (data/token-state.db, mode 0600)', async () => {
    const kept = await c.getToken('sam');
    const dropped = await c.getToken('sam');
    assert.equal((await c.op('sam', 'POST', '/revoke', dropped.token_id)).status, 200);
    const file = join(home.dir, 'data', 'token-state.db');
    assert.ok(existsSync(file));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    await gateway.close();
    gateway = await startGateway(home);
    assert.equal(await c.api(bearer(kept.access_token)), 200);
    assert.equal(await c.api(passcodeBasic(kept.passcode!)), 200);
    assert.equal(await c.api(bearer(dropped.access_token)), 401);
    assert.equal((await c.op('sam', 'POST', '/revoke', kept.access_token)).status, 200);
    assert.equal(await c.api(bearer(kept.access_token)), 401);
  });
});
