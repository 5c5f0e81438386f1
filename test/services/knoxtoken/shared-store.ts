/**
 * The shared-store suite, run once per shared token state (PostgreSQL, Redis): two real `postern start`
 * processes whose homes share the master secret and token signing key (as nodes of one cluster do) and the
 * store. A token issued on one node works on the other, a revocation on one stops it on the other within the
 * cache TTL (here 1 s), passcodes work on both; with the store down, token-protected requests get 503 once the
 * cache has nothing fresh (fail closed), the outage is logged once, and requests pass again when it is back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { makeHome, type TestHome } from '../../helpers/home.ts';
import { type PosternProcess, startPostern } from '../../helpers/postern-process.ts';
import { type SlapdFixture, startSlapd } from '../../helpers/slapd.ts';
import {
  bearer,
  client,
  logLines,
  passcodeBasic,
  shareIdentity,
  until,
  writeTopologies,
} from './token-fixture.ts';

export const CACHE_TTL_MS = 1000;

export interface SharedStore {
  /** gateway-site properties selecting and configuring the store. */
  site: Record<string, string | number | boolean>;
  /** Prepares a home (aliases). */
  prepare?(home: TestHome): void;
  /** The fixture keeps its data across stop/start (the Redis fixture runs without persistence). */
  durable: boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export function sharedStoreSuite(
  name: string,
  backend: string,
  open: () => Promise<SharedStore & { close(): Promise<void> }>,
) {
  describe(`KNOXTOKEN on two gateway processes sharing ${name}`, () => {
    let ldap: SlapdFixture;
    let echo: Backend;
    let store: SharedStore & { close(): Promise<void> };
    const homes: TestHome[] = [];
    const nodes: PosternProcess[] = [];
    const a = client(() => `${nodes[0].url}`);
    const b = client(() => `${nodes[1].url}`);

    before(async () => {
      [ldap, echo, store] = await Promise.all([
        startSlapd(),
        startBackend((_req, res) => {
          res.writeHead(200);
          res.end('ok');
        }),
        open(),
      ]);
      for (let i = 0; i < 2; i++) {
        // One process per gateway: the outage is logged once per process, and read here.
        const home = makeHome({
          ...store.site,
          'postern.workers': 1,
          'postern.token.state.cache.ttl': CACHE_TTL_MS,
        });
        writeTopologies(home, ldap, echo.url);
        homes.push(home);
      }
      await shareIdentity(homes[0], homes[1]);
      for (const home of homes) store.prepare?.(home);
      nodes.push(...(await Promise.all(homes.map((h) => startPostern(h.dir)))));
    });

    after(async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await Promise.all([ldap?.close(), echo?.close(), store?.close()]);
      for (const h of homes) h.remove();
    });

    it('issues on one node and accepts the token and its passcode on the other', async () => {
      const token = await a.getToken('sam');
      assert.equal(await b.api(bearer(token.access_token)), 200);
      assert.equal(await b.api(passcodeBasic(token.passcode!)), 200);
      const listed = await b.op('sam', 'GET', '/getUserTokens');
      assert.ok(listed.text.includes(token.token_id), listed.text);
      const status = await b.op('sam', 'GET', '/getTssStatus');
      assert.equal(status.body.actualTssBackend, backend);
    });

    it('stops a token revoked on one node on the other within the cache TTL', async () => {
      const token = await a.getToken('sam');
      assert.equal(await b.api(bearer(token.access_token)), 200); // now cached on b
      const revoked = await a.op('sam', 'POST', '/revoke', token.access_token);
      assert.equal(revoked.status, 200, revoked.text);
      assert.equal(await a.api(bearer(token.access_token)), 401, 'at once on the revoking node');
      const took = await until(() => b.api(bearer(token.access_token)), 401, CACHE_TTL_MS + 2000);
      assert.ok(took <= CACHE_TTL_MS + 500, `${took} ms`);
      assert.equal(await b.api(passcodeBasic(token.passcode!)), 401);
      const renew = await b.op('admin', 'PUT', '/renew', token.access_token, 'v2');
      assert.equal(renew.status, 400);
      assert.match(renew.body.error, /^Unknown token: /);
    });

    it('fails closed with 503 while the store is down, logs the outage once, and recovers', async () => {
      const token = await a.getToken('sam');
      await store.stop();
      await new Promise((r) => setTimeout(r, CACHE_TTL_MS + 200));
      for (let i = 0; i < 4; i++) assert.equal(await b.api(bearer(token.access_token)), 503);
      assert.equal(await b.api(passcodeBasic(token.passcode!)), 503);
      const issue = await b.op('sam', 'GET', '');
      assert.equal(issue.status, 503, 'no token is issued without its state');
      assert.equal(logLines(homes[1], 'token state store unreachable').length, 1);
      await store.start();
      // Back: the old token again where the store kept it, and a token issued now on the other node.
      const fresh = async () => {
        const res = await a.op('sam', 'GET', '');
        return res.status === 200 ? b.api(bearer(res.body.access_token)) : res.status;
      };
      await until(fresh, 200, 15_000);
      if (store.durable) assert.equal(await b.api(bearer(token.access_token)), 200);
      assert.equal(logLines(homes[1], 'token state store answers again').length, 1);
      assert.equal(logLines(homes[1], token.access_token).length, 0, 'no token in the log');
    });
  });
}
