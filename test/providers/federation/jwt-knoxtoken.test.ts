/**
 * KNOXTOKEN and JWTProvider with the gateway's own key: a user logged in at topology `knoxtoken` gets a signed
 * JWT, the gateway key is made on first use (mode 0600) and published at jwks.json without authentication, and
 * JWTProvider verifies the token with no key configured (the gateway key) and through the gateway's own JWKS.
 * A proxied WebSocket authenticated by a token is closed with 1008 when the token expires.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { startWsEcho } from '../../../src/demo/ws-echo.ts';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { tokenKeyStore } from '../../../src/services/knoxtoken/keys.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';
import { TEST_USER_PLUGIN } from '../../helpers/jwks.ts';

interface TokenAnswer {
  access_token: string;
  token_id: string;
  token_type: string;
  expires_in: number;
  target_url?: string;
}

describe('KNOXTOKEN and the gateway key', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let echo: Awaited<ReturnType<typeof startWsEcho>>;

  before(async () => {
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    });
    echo = await startWsEcho({ port: 0 });
    home = makeHome({
      'postern.plugins': './plugins/test-user.mjs',
      'gateway.websocket.feature.enabled': true,
    });
    home.write('plugins/test-user.mjs', TEST_USER_PLUGIN);
    home.write(
      'conf/topologies/knoxtoken.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'TestHeaderUser' },
          { role: 'identity-assertion', name: 'Default', params: { 'principal.mapping': 'carol=carla' } },
        ],
        services: [
          {
            role: 'KNOXTOKEN',
            urls: [],
            params: {
              'knox.token.ttl': '60000',
              'knox.token.audiences': 'postern',
              'knox.token.target.url': 'https://gw.example.com/gateway/api',
            },
          },
        ],
      }),
    );
    home.write(
      'conf/topologies/api.xml',
      topologyXml({
        providers: [
          { role: 'federation', name: 'JWTProvider', params: { 'knox.token.audiences': 'postern' } },
        ],
        services: [
          { role: 'HTTP', urls: [backend.url] },
          { role: 'ECHOWS', urls: [`ws://127.0.0.1:${echo.port}`] },
        ],
      }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await echo?.close();
    home?.remove();
  });

  async function getToken(user: string): Promise<TokenAnswer> {
    const res = await request(`${gateway.url}/knoxtoken/knoxtoken/api/v1/token`, {
      headers: { 'x-test-user': user },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    return (await res.body.json()) as TokenAnswer;
  }

  async function api(path: string, token: string): Promise<{ status: number; url?: string }> {
    const res = await request(`${gateway.url}/api${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return { status: res.statusCode };
    }
    const seen = (await res.body.json()) as { url: string; headers: IncomingHttpHeaders };
    return { status: 200, url: seen.url };
  }

  it('refuses a token to a client the topology did not authenticate, and methods other than GET/POST', async () => {
    const res = await request(`${gateway.url}/knoxtoken/knoxtoken/api/v1/token`);
    assert.equal(res.statusCode, 401);
    await res.body.dump();
    const put = await request(`${gateway.url}/knoxtoken/knoxtoken/api/v1/token`, {
      method: 'PUT',
      headers: { 'x-test-user': 'alice' },
    });
    assert.equal(put.statusCode, 405);
    await put.body.dump();
  });

  it('issues a signed JWT for the authenticated user, as Knox answers it', async () => {
    const before = Date.now();
    const answer = await getToken('alice');
    assert.equal(answer.token_type, 'Bearer');
    assert.equal(answer.target_url, 'https://gw.example.com/gateway/api');
    const header = decodeProtectedHeader(answer.access_token);
    const claims = decodeJwt(answer.access_token);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.typ, 'JWT');
    assert.equal(header.kid, tokenKeyStore(home.dir).load()?.kid);
    assert.equal(claims.iss, 'KNOXSSO');
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.aud, 'postern');
    assert.equal(claims.jti, answer.token_id);
    assert.equal(claims.exp! - claims.iat!, 60);
    // Knox's expires_in is the expiry time in ms since the epoch.
    assert.equal(answer.expires_in, claims.exp! * 1000);
    assert.ok(answer.expires_in >= before + 59_000 && answer.expires_in <= Date.now() + 61_000);
  });

  it('keeps the gateway key in data/security, readable by its owner only', () => {
    const file = join(home.dir, 'data', 'security', 'token-signing-key.pem');
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('issues for the effective user after identity assertion', async () => {
    assert.equal(decodeJwt((await getToken('carol')).access_token).sub, 'carla');
  });

  it('JWTProvider with no key configured verifies the token with the gateway key', async () => {
    const { access_token } = await getToken('alice');
    assert.deepEqual(await api('/http/data', access_token), { status: 200, url: '/data?user.name=alice' });
    // The same claims signed by another key do not pass.
    const { privateKey } = await import('node:crypto').then((c) =>
      c.generateKeyPairSync('rsa', { modulusLength: 2048 }),
    );
    const forged = await new SignJWT({ sub: 'alice', aud: 'postern' })
      .setProtectedHeader({ alg: 'RS256', kid: decodeProtectedHeader(access_token).kid, typ: 'JWT' })
      .setIssuer('KNOXSSO')
      .setExpirationTime('1m')
      .sign(privateKey);
    assert.equal((await api('/http/data', forged)).status, 401);
  });

  it('publishes the gateway key at jwks.json without authentication, and a JWKS consumer verifies with it', async () => {
    const res = await request(`${gateway.url}/knoxtoken/knoxtoken/api/v1/jwks.json`);
    assert.equal(res.statusCode, 200);
    const set = (await res.body.json()) as { keys: { kid: string; kty: string; alg: string; d?: string }[] };
    assert.equal(set.keys.length, 1);
    assert.equal(set.keys[0].kty, 'RSA');
    assert.equal(set.keys[0].alg, 'RS256');
    assert.equal(set.keys[0].d, undefined, 'no private part');
    assert.equal(set.keys[0].kid, tokenKeyStore(home.dir).load()?.kid);

    const file = home.write(
      'conf/topologies/consumer.xml',
      topologyXml({
        providers: [
          {
            role: 'federation',
            name: 'JWTProvider',
            params: { 'knox.token.jwks.url': `${gateway.url}/knoxtoken/knoxtoken/api/v1/jwks.json` },
          },
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    assert.ok(gateway.deployFile(file));
    const { access_token } = await getToken('erin');
    const r = await request(`${gateway.url}/consumer/http/x`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    assert.equal(r.statusCode, 200);
    assert.equal(((await r.body.json()) as { url: string }).url, '/x?user.name=erin');
  });

  it('closes a proxied WebSocket with 1008 when the token that opened it expires', async () => {
    const keys = tokenKeyStore(home.dir).load()!;
    const token = await new SignJWT({ sub: 'ws-user', aud: 'postern' })
      .setProtectedHeader({ alg: 'RS256', kid: keys.kid, typ: 'JWT' })
      .setIssuer('KNOXSSO')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
      .sign(keys.privateKey);
    const wsUrl = `${gateway.url.replace(/^http/, 'ws')}/api/echo/ws`;
    const refused = new WebSocket(wsUrl);
    const status = await new Promise<number>((resolve) =>
      refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    assert.equal(status, 401, 'no token, no upgrade');

    const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const echoed = new Promise<string>((resolve) => ws.once('message', (m) => resolve(String(m))));
    ws.send('hello');
    assert.equal(await echoed, 'hello');
    const started = Date.now();
    const [code] = (await new Promise((resolve) => ws.once('close', (c, r) => resolve([c, String(r)])))) as [
      number,
      string,
    ];
    assert.equal(code, 1008);
    assert.ok(Date.now() - started < 4000);
  });
});
