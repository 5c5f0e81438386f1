/**
 * The route's provider chain on WebSocket upgrades (issue 4), provider by provider, against a backend that records
 * every TCP connection and every handshake it receives:
 *
 * - a refusal is a plain HTTP answer on the upgrade (401 or 403; never a 101 then a close, never a redirect), and
 *   the backend was not contacted at all;
 * - an accepted upgrade carries the asserted identity to the backend as HTTP does (`user.name`, or `doAs` under
 *   `gateway.hadoop.kerberos.secured=true`), and none of the client's credentials or identity claims: no
 *   `Authorization`, no session or JWT cookie, no `SM_USER`, no `doAs` / `user.name` of its own, no actor header;
 * - a socket authenticated by a JWT is closed with 1008 when the token expires, its backend leg with 1001.
 */
import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { hashPassword } from '../../src/providers/authentication/shiro/password-hash.ts';
import { makeHome, siteXml, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { epoch, type JwksServer, makeKey, signToken, startJwks, type TestKey } from '../helpers/jwks.ts';
import { offlineKerberosSite } from '../helpers/kerberos.ts';

const ISSUER = 'https://issuer.ws.test';
const APP = 'https://app.example.com';
const ALICE_PASSWORD = 'alice-ws-Secret-77';

interface Handshake {
  url: string;
  headers: IncomingHttpHeaders;
}

/** A WebSocket echo backend that records every TCP connection and every upgrade request, accepted or not. */
interface RecordingBackend {
  url: string;
  handshakes: Handshake[];
  connections: number;
  /** The backend end of the most recent WebSocket. */
  last?: WebSocket;
  close(): Promise<void>;
}

async function startRecordingBackend(): Promise<RecordingBackend> {
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<Socket>();
  const backend: RecordingBackend = {
    url: '',
    handshakes: [],
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (socket: Socket) => {
    backend.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket, head) => {
    backend.handshakes.push({ url: req.url ?? '', headers: req.headers });
    wss.handleUpgrade(req, socket, head, (ws) => {
      backend.last = ws;
      ws.on('message', (data: RawData, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return backend;
}

interface Outcome {
  status: number;
  headers: IncomingHttpHeaders;
  ws?: WebSocket;
}

/**
 * Opens a WebSocket: the open socket (101), or the status and headers of the HTTP answer that refused it. A
 * redirect is reported as its status, not followed.
 */
function upgrade(
  url: string,
  options: { headers?: Record<string, string>; origin?: string; localAddress?: string } = {},
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ...options, followRedirects: false });
    ws.once('open', () => resolve({ status: 101, headers: {}, ws }));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string; at: number }> {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason), at: Date.now() })),
  );
}

function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.send(text);
  });
}

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

/** The query of a backend handshake's URL, every value of every name. */
function queryOf(h: Handshake): [string, string][] {
  return [...new URL(h.url, 'http://backend').searchParams];
}

describe('the provider chain on WebSocket upgrades', () => {
  let home: TestHome;
  let kerberosHome: TestHome;
  let gateway: Gateway;
  let kerberos: Gateway;
  let backend: RecordingBackend;
  let pages: http.Server;
  let jwks: JwksServer;
  let key: TestKey;
  let ws: string;
  let kws: string;

  before(async () => {
    key = await makeKey('ws-k1');
    [backend, jwks] = await Promise.all([startRecordingBackend(), startJwks([key])]);
    pages = http.createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/plain' }).end('page'),
    );
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    const pagesUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;

    const users = `users:\n  alice:\n    password: "${await hashPassword(ALICE_PASSWORD, { ln: 10, r: 8, p: 1 })}"\n    groups: [analyst]\n`;
    const shiro = {
      role: 'authentication',
      name: 'ShiroProvider',
      params: {
        'main.fileRealm': 'postern.FileRealm',
        'main.fileRealm.usersFile': 'conf/users.yaml',
        'urls./**': 'authcBasic',
      },
    };
    const preauth = (params: Record<string, string> = {}) => ({
      role: 'federation',
      name: 'HeaderPreAuth',
      params,
    });
    const jwt = {
      role: 'federation',
      name: 'JWTProvider',
      params: {
        'jwt.expected.issuer': ISSUER,
        'knox.token.jwks.url': jwks.url,
        'knox.token.query.param.name': 'knoxtoken',
        'knox.token.use.cookie': 'true',
      },
    };
    const sso = {
      role: 'federation',
      name: 'SSOCookieProvider',
      params: { 'jwt.expected.issuer': ISSUER, 'sso.token.verification.jwks.urls': jwks.url },
    };
    const identity = { role: 'identity-assertion', name: 'Default' };
    const topologies: Record<string, { role: string; name: string; params?: Record<string, string> }[]> = {
      shiro: [shiro, identity],
      jwt: [jwt, identity],
      sso: [sso, identity],
      preauth: [
        preauth({
          'preauth.validation.method': 'preauth.ip.validation',
          'preauth.ip.addresses': '127.0.0.1',
        }),
        identity,
      ],
      acl: [
        preauth(),
        identity,
        { role: 'authorization', name: 'AclsAuthz', params: { 'echows.acl': 'alice;*;*' } },
      ],
      csrf: [
        { role: 'webappsec', name: 'WebAppSec', params: { 'csrf.enabled': 'true' } },
        preauth(),
        identity,
      ],
      cors: [
        { role: 'webappsec', name: 'WebAppSec', params: { 'cors.enabled': 'true', 'cors.allowOrigin': APP } },
        preauth(),
        identity,
      ],
    };
    const write = (h: TestHome, name: string, providers: (typeof topologies)[string]) =>
      h.write(
        `conf/topologies/${name}.xml`,
        topologyXml({
          providers,
          services: [
            { role: 'HTTP', urls: [pagesUrl] },
            { role: 'ECHOWS', urls: [backend.url] },
          ],
        }),
      );

    home = makeHome({ 'gateway.websocket.feature.enabled': true });
    home.write('conf/users.yaml', users);
    for (const [name, providers] of Object.entries(topologies)) write(home, name, providers);
    kerberosHome = makeHome({ 'gateway.websocket.feature.enabled': true });
    // A login valid on disk: secured=true deploys only with one (the echo backend never asks for Negotiate).
    kerberosHome.write(
      'conf/gateway-site.xml',
      siteXml({
        'gateway.port': 0,
        'gateway.host': '127.0.0.1',
        'ssl.enabled': false,
        'gateway.websocket.feature.enabled': true,
        ...offlineKerberosSite(join(kerberosHome.dir, 'conf', 'kerberos')),
      }),
    );
    kerberosHome.write('conf/users.yaml', users);
    write(kerberosHome, 'shiro', topologies.shiro);
    write(kerberosHome, 'jwt', topologies.jwt);

    [gateway, kerberos] = await Promise.all([startGateway(home), startGateway(kerberosHome)]);
    assert.equal(gateway.server.deployments.size, Object.keys(topologies).length, 'every topology deployed');
    assert.equal(kerberos.server.deployments.size, 2, 'every kerberos topology deployed');
    ws = gateway.url.replace(/^http/, 'ws');
    kws = kerberos.url.replace(/^http/, 'ws');
  });

  after(async () => {
    await Promise.allSettled([gateway?.close(), kerberos?.close()]);
    await Promise.allSettled([backend?.close(), jwks?.close(), new Promise((r) => pages?.close(r))]);
    home?.remove();
    kerberosHome?.remove();
  });

  const token = (sub: string, claims: Record<string, unknown> = {}) =>
    signToken(key, { claims: { sub, iss: ISSUER, exp: epoch(600), ...claims } });

  /**
   * Expects the upgrade to be refused with this status as a plain HTTP answer, with no contact to the backend.
   * Browser-like headers are added so that a provider that would redirect a browser shows it.
   */
  async function refused(
    url: string,
    status: number,
    options: Parameters<typeof upgrade>[1] = {},
  ): Promise<Outcome> {
    const [connections, handshakes] = [backend.connections, backend.handshakes.length];
    const outcome = await upgrade(url, {
      ...options,
      headers: {
        accept: 'text/html,application/xhtml+xml',
        'sec-fetch-mode': 'navigate',
        ...options.headers,
      },
    });
    assert.equal(outcome.ws, undefined, `${url}: no WebSocket was opened`);
    assert.equal(outcome.status, status, `${url}: refused with ${status}`);
    assert.equal(outcome.headers.location, undefined, 'not a redirect');
    assert.equal(outcome.headers.upgrade, undefined, 'no upgrade in the answer');
    assert.equal(backend.connections, connections, 'the backend was not contacted');
    assert.equal(backend.handshakes.length, handshakes, 'the backend saw no handshake');
    return outcome;
  }

  /**
   * Expects the upgrade to be accepted; returns the backend's handshake, checked for what must never be in it,
   * after a message went both ways.
   */
  async function accepted(
    url: string,
    options: Parameters<typeof upgrade>[1] = {},
  ): Promise<{ handshake: Handshake; ws: WebSocket }> {
    const [connections, handshakes] = [backend.connections, backend.handshakes.length];
    const outcome = await upgrade(url, options);
    assert.equal(outcome.status, 101, `${url}: accepted`);
    // (What `refused` counts does count: an accepted upgrade shows up in both.)
    assert.ok(backend.connections > connections, 'the backend was contacted');
    assert.equal(await echo(outcome.ws!, 'ping?'), 'ping?');
    assert.equal(backend.handshakes.length, handshakes + 1, 'one handshake reached the backend');
    const handshake = backend.handshakes.at(-1)!;
    const h = handshake.headers;
    assert.equal(h.authorization, undefined, 'no Authorization reaches the backend');
    assert.doesNotMatch(h.cookie ?? '', /KNOXSESSIONID|hadoop-jwt/, 'no gateway credential cookie');
    // HeaderPreAuth's own header is consumed there (other chains do not read it, and forward it as any header).
    if (/\/(preauth|acl|csrf|cors)\//.test(url)) assert.equal(h.sm_user, undefined, 'no SM_USER');
    assert.equal(h['x-knox-actor-id'], undefined, 'no client actor header');
    const names = queryOf(handshake).map(([n]) => n.toLowerCase());
    assert.ok(!names.includes('knoxtoken'), 'no token query parameter');
    return { handshake, ws: outcome.ws! };
  }

  /** The identity the backend was told: the one assertion parameter, and no other. */
  function assertedIdentity(h: Handshake, param: 'user.name' | 'doAs'): string {
    const q = queryOf(h);
    const identities = q.filter(([n]) => ['user.name', 'doas'].includes(n.toLowerCase()));
    assert.equal(identities.length, 1, `exactly one identity parameter in ${h.url}`);
    assert.equal(identities[0][0], param);
    return identities[0][1];
  }

  /** Client-supplied identity claims that must all be dropped. */
  const SPOOF = {
    query: 'x=1&user.name=mallory&doAs=mallory&DOAS=root&User.Name=root',
    headers: { 'x-knox-actor-id': 'mallory', 'x-knox-actor-groups-1': 'admin' },
  };

  describe('ShiroProvider (Basic, session cookie)', () => {
    it('refuses an upgrade without credentials, or with wrong ones, with 401 and a Basic challenge', async () => {
      const none = await refused(`${ws}/shiro/echo/ws`, 401);
      assert.match(String(none.headers['www-authenticate']), /^BASIC realm=/i);
      await refused(`${ws}/shiro/echo/ws`, 401, { headers: basic('alice', 'wrong-password') });
      await refused(`${ws}/shiro/echo/ws`, 401, { headers: { cookie: `KNOXSESSIONID=${'A'.repeat(43)}` } });
    });

    it('accepts Basic: the backend sees user.name=alice and none of the client’s credentials or claims', async () => {
      const { handshake, ws: socket } = await accepted(`${ws}/shiro/echo/ws?${SPOOF.query}`, {
        headers: { ...basic('alice', ALICE_PASSWORD), ...SPOOF.headers },
      });
      assert.equal(assertedIdentity(handshake, 'user.name'), 'alice');
      assert.ok(
        queryOf(handshake).some(([n, v]) => n === 'x' && v === '1'),
        'the rest of the query is kept',
      );
      socket.close();
    });

    it('accepts the session cookie an HTTP login set, and keeps it from the backend (other cookies pass)', async () => {
      const login = await request(`${gateway.url}/shiro/http/`, { headers: basic('alice', ALICE_PASSWORD) });
      await login.body.text();
      assert.equal(login.statusCode, 200);
      const set = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
      const session = set.map((c) => /^KNOXSESSIONID=([^;]+)/.exec(c)?.[1]).find(Boolean);
      assert.ok(session, 'the login set a session cookie');
      const { handshake, ws: socket } = await accepted(`${ws}/shiro/echo/ws`, {
        headers: { cookie: `app=1; KNOXSESSIONID=${session}; theme=dark` },
      });
      assert.equal(assertedIdentity(handshake, 'user.name'), 'alice');
      assert.equal(handshake.headers.cookie, 'app=1; theme=dark');
      socket.close();
    });
  });

  describe('JWTProvider (Bearer, query parameter, cookie)', () => {
    it('refuses a missing, expired, tampered or unsigned token with 401', async () => {
      const none = await refused(`${ws}/jwt/echo/ws`, 401);
      assert.match(String(none.headers['www-authenticate']), /^Bearer realm="jwt"/);
      const expired = await token('alice', { exp: epoch(-120) });
      const bad = await refused(`${ws}/jwt/echo/ws`, 401, {
        headers: { authorization: `Bearer ${expired}` },
      });
      assert.match(String(bad.headers['www-authenticate']), /error="invalid_token"/);
      const [h, , s] = (await token('alice')).split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'admin', iss: ISSUER })).toString('base64url')}.${s}`;
      await refused(`${ws}/jwt/echo/ws`, 401, { headers: { authorization: `Bearer ${forged}` } });
      await refused(`${ws}/jwt/echo/ws?knoxtoken=${expired}`, 401);
      await refused(`${ws}/jwt/echo/ws`, 401, { headers: { cookie: `hadoop-jwt=${expired}` } });
    });

    it('refuses a token past its exp but within the clock-skew allowance (HTTP takes it; a socket would die at once)', async () => {
      const lately = await token('ivan', { exp: epoch(-10) });
      const page = await request(`${gateway.url}/jwt/http/`, {
        headers: { authorization: `Bearer ${lately}` },
      });
      await page.body.text();
      assert.equal(page.statusCode, 200, 'within the 30 s allowance for HTTP');
      const answer = await refused(`${ws}/jwt/echo/ws`, 401, {
        headers: { authorization: `Bearer ${lately}` },
      });
      assert.match(String(answer.headers['www-authenticate']), /error="invalid_token"/);
      await refused(`${ws}/jwt/echo/ws`, 401, { headers: { cookie: `hadoop-jwt=${lately}` } });
      await refused(`${ws}/sso/echo/ws`, 401, { headers: { cookie: `hadoop-jwt=${lately}` } });
    });

    it('accepts a Bearer token: user.name is its subject; the token, and client claims, stay behind', async () => {
      const { handshake, ws: socket } = await accepted(`${ws}/jwt/echo/ws?${SPOOF.query}`, {
        headers: { authorization: `Bearer ${await token('bob')}`, ...SPOOF.headers },
      });
      assert.equal(assertedIdentity(handshake, 'user.name'), 'bob');
      socket.close();
    });

    it('accepts the token as a query parameter or a cookie, and forwards neither', async () => {
      const q = await accepted(`${ws}/jwt/echo/ws?a=b&knoxtoken=${await token('carol')}`);
      assert.equal(assertedIdentity(q.handshake, 'user.name'), 'carol');
      assert.deepEqual(queryOf(q.handshake), [
        ['a', 'b'],
        ['user.name', 'carol'],
      ]);
      q.ws.close();
      const c = await accepted(`${ws}/jwt/echo/ws`, {
        headers: { cookie: `hadoop-jwt=${await token('dave')}; app=2` },
      });
      assert.equal(assertedIdentity(c.handshake, 'user.name'), 'dave');
      assert.equal(c.handshake.headers.cookie, 'app=2');
      c.ws.close();
    });

    it('closes the socket with 1008 when the token expires, and the backend leg with 1001', {
      timeout: 20_000,
    }, async () => {
      // A real JWT whose exp is a couple of seconds ahead (the verifier's clock-skew allowance does not extend a
      // socket's life: it ends at exp).
      const exp = epoch(3);
      const { ws: socket } = await accepted(`${ws}/jwt/echo/ws`, {
        headers: { authorization: `Bearer ${await token('erin', { exp })}` },
      });
      const backendLeg = backend.last!;
      const backendClosed = closed(backendLeg);
      const clientClosed = closed(socket);
      assert.equal(await echo(socket, 'still valid'), 'still valid');
      const client = await clientClosed;
      assert.equal(client.code, 1008);
      assert.equal(client.reason, 'credential expired');
      // Not before the token's exp (a timer may fire a few ms around its time).
      assert.ok(client.at >= exp * 1000 - 50, `closed ${exp * 1000 - client.at} ms before exp`);
      assert.equal((await backendClosed).code, 1001);
    });
  });

  describe('SSOCookieProvider', () => {
    it('refuses an upgrade without a valid cookie with 401, not a redirect to log in', async () => {
      const none = await refused(`${ws}/sso/echo/ws`, 401);
      assert.match(String(none.headers['www-authenticate']), /^KnoxSSO realm="sso"/);
      const expired = await token('alice', { exp: epoch(-120) });
      await refused(`${ws}/sso/echo/ws`, 401, { headers: { cookie: `hadoop-jwt=${expired}` } });
      await refused(`${ws}/sso/echo/ws`, 401, { headers: { cookie: 'hadoop-jwt=garbage' } });
      // The same request over plain HTTP is a browser navigation, and is redirected: the upgrade is what differs.
      const page = await request(`${gateway.url}/sso/http/`, {
        headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' },
      });
      await page.body.text();
      assert.equal(page.statusCode, 302);
    });

    it('accepts a valid cookie and keeps it from the backend', async () => {
      const { handshake, ws: socket } = await accepted(`${ws}/sso/echo/ws?${SPOOF.query}`, {
        headers: { cookie: `hadoop-jwt=${await token('frank')}; app=3`, ...SPOOF.headers },
      });
      assert.equal(assertedIdentity(handshake, 'user.name'), 'frank');
      assert.equal(handshake.headers.cookie, 'app=3');
      socket.close();
    });
  });

  describe('HeaderPreAuth', () => {
    it('refuses an upgrade without the user header with 401, and one from an untrusted address with 403', async () => {
      await refused(`${ws}/preauth/echo/ws`, 401);
      await refused(`${ws}/preauth/echo/ws`, 401, { headers: { sm_user: '  ' } });
      await refused(`${ws}/preauth/echo/ws`, 403, {
        headers: { sm_user: 'grace' },
        localAddress: '127.0.0.2',
      });
      // What the client says about its address is not its address.
      await refused(`${ws}/preauth/echo/ws`, 403, {
        headers: { sm_user: 'grace', 'x-forwarded-for': '127.0.0.1', forwarded: 'for=127.0.0.1' },
        localAddress: '127.0.0.2',
      });
    });

    it('accepts a trusted user header: user.name is the user, and SM_USER is not forwarded', async () => {
      const { handshake, ws: socket } = await accepted(`${ws}/preauth/echo/ws?${SPOOF.query}`, {
        headers: { ...SPOOF.headers, sm_user: 'grace', authorization: 'Basic Z3JhY2U6c2VjcmV0' },
      });
      assert.equal(assertedIdentity(handshake, 'user.name'), 'grace');
      socket.close();
    });
  });

  describe('AclsAuthz', () => {
    it('refuses a user the service ACL does not allow with 403, and lets an allowed one through', async () => {
      await refused(`${ws}/acl/echo/ws`, 403, { headers: { sm_user: 'mallory' } });
      await refused(`${ws}/acl/echo/ws?doAs=alice&user.name=alice`, 403, { headers: { sm_user: 'mallory' } });
      const { handshake, ws: socket } = await accepted(`${ws}/acl/echo/ws`, {
        headers: { sm_user: 'alice' },
      });
      assert.equal(assertedIdentity(handshake, 'user.name'), 'alice');
      socket.close();
    });
  });

  describe('WebAppSec', () => {
    it('CSRF: refuses a cross-site upgrade with 403, before authentication; same-site and non-browser pass', async () => {
      await refused(`${ws}/csrf/echo/ws`, 403, {
        origin: 'https://evil.example',
        headers: { sm_user: 'alice' },
      });
      await refused(`${ws}/csrf/echo/ws`, 403, { origin: 'https://evil.example' });
      const own = await accepted(`${ws}/csrf/echo/ws`, {
        origin: new URL(gateway.url).origin,
        headers: { sm_user: 'alice' },
      });
      own.ws.close();
      const tool = await accepted(`${ws}/csrf/echo/ws`, { headers: { sm_user: 'alice' } });
      tool.ws.close();
    });

    it('CORS: refuses an upgrade from an origin not allowed with 403, accepts an allowed one', async () => {
      for (const origin of ['https://evil.example', `${APP}.evil.example`, 'null', 'not an origin']) {
        await refused(`${ws}/cors/echo/ws`, 403, { origin, headers: { sm_user: 'alice' } });
      }
      const { handshake, ws: socket } = await accepted(`${ws}/cors/echo/ws`, {
        origin: APP,
        headers: { sm_user: 'alice' },
      });
      assert.equal(assertedIdentity(handshake, 'user.name'), 'alice');
      socket.close();
    });
  });

  describe('gateway.hadoop.kerberos.secured=true', () => {
    it('asserts the user as doAs (no user.name), whatever identity the client put in the query', async () => {
      const basicAuth = await accepted(`${kws}/shiro/echo/ws?${SPOOF.query}`, {
        headers: { ...basic('alice', ALICE_PASSWORD), ...SPOOF.headers },
      });
      assert.equal(assertedIdentity(basicAuth.handshake, 'doAs'), 'alice');
      basicAuth.ws.close();
      const bearer = await accepted(`${kws}/jwt/echo/ws?${SPOOF.query}`, {
        headers: { authorization: `Bearer ${await token('heidi')}` },
      });
      assert.equal(assertedIdentity(bearer.handshake, 'doAs'), 'heidi');
      bearer.ws.close();
    });

    it('refuses as the other gateway does: 401 without credentials, no backend contact', async () => {
      await refused(`${kws}/shiro/echo/ws`, 401);
      await refused(`${kws}/jwt/echo/ws?doAs=alice`, 401);
    });
  });
});
