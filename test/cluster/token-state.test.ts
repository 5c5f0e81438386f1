/**
 * Token state with `postern.workers=2`, as a real `postern start` (Knox's curl flow: KNOXTOKEN behind ShiroProvider
 * against the test's slapd, JWTProvider with server-managed state in front of an echo backend). For each store a
 * worker can use without another server: SQLite (every worker opens the home's file, in WAL mode) and `memory`
 * (Knox's DefaultTokenStateService: the primary keeps it for every worker). A token issued through one worker is
 * accepted by the other; revoked through one, it is refused by the other within the cache TTL (here 1 s), its
 * state renewed or listed there as the revoking worker left it. Which worker served a request is read from the
 * access log (`worker`); new connections are opened until the other worker serves (node:cluster round-robin).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { type Answer, call } from '../helpers/cluster.ts';
import { makeHome, type TestHome } from '../helpers/home.ts';
import { type PosternProcess, startPostern, workerThatServed } from '../helpers/postern-process.ts';
import { type SlapdFixture, startSlapd } from '../helpers/slapd.ts';
import {
  basic,
  bearer,
  PASSWORDS,
  passcodeBasic,
  type TokenAnswer,
  writeTopologies,
} from '../services/knoxtoken/token-fixture.ts';

const CACHE_TTL_MS = 1000;
let counter = 0;

for (const impl of ['sqlite', 'memory'] as const) {
  describe(`token state (${impl}) with two workers`, () => {
    let ldap: SlapdFixture;
    let echo: Backend;
    let home: TestHome;
    let postern: PosternProcess;

    /** One request on a new connection, and the worker that served it. */
    const send = async (
      method: string,
      path: string,
      authorization: string,
      body?: string,
    ): Promise<Answer & { worker: number }> => {
      const reqId = `token-state-${process.pid}-${++counter}`;
      const answer = await call(postern.port, method, `/gateway${path}`, {
        headers: { 'x-request-id': reqId, authorization, 'content-type': 'text/plain' },
        ...(body !== undefined ? { body: Buffer.from(body) } : {}),
      });
      return { ...answer, worker: await workerThatServed(home.dir, reqId) };
    };
    /** Requests (made by `make`) until one is served by `worker` (or, with `not`, by any other). */
    const on = async (
      want: (worker: number) => boolean,
      make: () => Promise<Answer & { worker: number }>,
    ): Promise<Answer & { worker: number }> => {
      for (let i = 0; i < 20; i++) {
        const r = await make();
        if (want(r.worker)) return r;
      }
      throw new Error('the wanted worker never served');
    };
    const as = (user: string) => basic(user, PASSWORDS[user]);
    const api = (authorization: string) => send('GET', '/api/http/resource', authorization);
    const tokenPath = (path = '') => `/sandbox/knoxtoken/api/v1/token${path}`;

    before(async () => {
      [ldap, echo] = await Promise.all([
        startSlapd(),
        startBackend((_req, res) => {
          res.writeHead(200);
          res.end('ok');
        }),
      ]);
      home = makeHome({
        'postern.workers': 2,
        'gateway.service.tokenstate.impl': impl,
        'postern.token.state.cache.ttl': CACHE_TTL_MS,
      });
      writeTopologies(home, ldap, echo.url);
      postern = await startPostern(home.dir);
    });

    after(async () => {
      await postern?.stop();
      await Promise.all([ldap?.close(), echo?.close()]);
      home?.remove();
    });

    it('accepts a token issued through one worker on the other, and refuses it there once revoked', async () => {
      const issued = await send('GET', tokenPath(), as('sam'));
      assert.equal(issued.status, 200, issued.text);
      const token = JSON.parse(issued.text) as TokenAnswer;
      const issuer = issued.worker;
      const other = (w: number) => w !== issuer;

      // Known on the other worker (and now in its cache), with its passcode where the store keeps one.
      const used = await on(other, () => api(bearer(token.access_token)));
      assert.equal(used.status, 200, `worker ${used.worker} accepts worker ${issuer}'s token: ${used.text}`);
      if (impl === 'sqlite') {
        const passcode = await on(other, () => api(passcodeBasic(token.passcode!)));
        assert.equal(passcode.status, 200, passcode.text);
      }
      const listed = await on(other, () => send('GET', tokenPath('/getUserTokens'), as('sam')));
      assert.ok(listed.text.includes(token.token_id), listed.text);

      // Revoked through the issuing worker: refused there at once, on the other within the cache TTL.
      const revoked = await on(
        (w) => w === issuer,
        () => send('POST', tokenPath('/revoke'), as('sam'), token.access_token),
      );
      assert.equal(revoked.status, 200, revoked.text);
      const started = Date.now();
      let last: Answer & { worker: number };
      do {
        last = await on(other, () => api(bearer(token.access_token)));
        if (last.status === 401) break;
        assert.equal(last.status, 200, last.text);
        await new Promise((r) => setTimeout(r, 100));
      } while (Date.now() - started < CACHE_TTL_MS + 3000);
      assert.equal(last.status, 401, `worker ${last.worker} refuses the revoked token`);
      const renew = await on(other, () => send('POST', tokenPath('/renew'), as('admin'), token.access_token));
      assert.equal(renew.status, 400, renew.text);
      assert.match(renew.text, /Unknown token: /);
    });

    it('issues tokens through both workers at once, each then listed by either', async () => {
      const issued = await Promise.all(
        Array.from({ length: 8 }, () => send('GET', tokenPath(), as('guest'))),
      );
      for (const r of issued) assert.equal(r.status, 200, r.text);
      assert.equal(new Set(issued.map((r) => r.worker)).size, 2, 'both workers issued some');
      for (const worker of [1, 2]) {
        const listed = await on(
          (w) => w === worker,
          () => send('GET', tokenPath('/getUserTokens'), as('guest')),
        );
        for (const r of issued) {
          const id = (JSON.parse(r.text) as TokenAnswer).token_id;
          assert.ok(listed.text.includes(id), `worker ${worker} lists ${id}`);
        }
      }
    });
  });
}
