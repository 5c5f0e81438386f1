/**
 * Web SSO across topologies, end to end: topology `knoxsso` (KNOXSSO behind a test authentication plugin)
 * issues the signed cookie and redirects back; topology `sandbox` (SSOCookieProvider) sends a browser there
 * and then accepts the cookie. API clients and WebSocket upgrades get 401, never a redirect; KNOXSSO refuses
 * every open-redirect attempt with 400 and issues no cookie then.
 */
import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import pino from 'pino';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { Gateway } from '../../../src/gateway/gateway.ts';
import { auditLogOn } from '../../../src/observability/audit.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { tokenKeyStore } from '../../../src/services/knoxtoken/keys.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import { epoch, TEST_USER_PLUGIN, tamper } from '../../helpers/jwks.ts';

const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

describe('KnoxSSO and SSOCookieProvider', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let wsBackend: WebSocketServer;
  const wsHandshakes: IncomingHttpHeaders[] = [];
  const audit: Record<string, unknown>[] = [];

  before(async () => {
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    });
    wsBackend = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wsBackend.on('connection', (socket, req) => {
      wsHandshakes.push(req.headers);
      socket.on('message', (m) => socket.send(String(m)));
    });
    await new Promise((resolve) => wsBackend.once('listening', resolve));
    const wsPort = (wsBackend.address() as AddressInfo).port;
    home = makeHome({
      'postern.plugins': './plugins/test-user.mjs',
      'gateway.websocket.feature.enabled': true,
    });
    home.write('plugins/test-user.mjs', TEST_USER_PLUGIN);
    home.write(
      'conf/topologies/knoxsso.xml',
      topologyXml({
        providers: [{ role: 'authentication', name: 'TestHeaderUser' }],
        services: [{ role: 'KNOXSSO', urls: [], params: { 'knoxsso.token.ttl': '120000' } }],
      }),
    );
    home.write(
      'conf/topologies/corp.xml',
      topologyXml({
        providers: [{ role: 'authentication', name: 'TestHeaderUser' }],
        services: [
          {
            role: 'KNOXSSO',
            urls: [],
            params: {
              'knoxsso.redirect.whitelist.regex': '^https:\\/\\/[a-z]+\\.example\\.com:443$',
              'knoxsso.cookie.secure.only': 'true',
              'knoxsso.cookie.max.age': '600',
              'knoxsso.cookie.samesite': 'lax',
              'knoxsso.token.audiences': 'ui',
            },
          },
        ],
      }),
    );
    home.write(
      'conf/topologies/sandbox.xml',
      topologyXml({
        providers: [
          {
            role: 'federation',
            name: 'SSOCookieProvider',
            params: { 'sso.unauthenticated.path.list': '/http/public' },
          },
        ],
        services: [
          { role: 'HTTP', urls: [backend.url] },
          { role: 'ECHOWS', urls: [`ws://127.0.0.1:${wsPort}`] },
        ],
      }),
    );
    const sink = { write: (line: string) => audit.push(JSON.parse(line)) };
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log: createLogger({ level: 'silent' }),
      audit: auditLogOn(pino({ level: 'info', base: undefined }, sink)),
      watch: false,
    });
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    for (const client of wsBackend?.clients ?? []) client.terminate();
    await new Promise((resolve) => wsBackend?.close(resolve));
    home?.remove();
  });

  async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
    const res = await request(url, { method, headers });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  const ssoUrl = (original: string, topology = 'knoxsso') =>
    `${gateway.url}/${topology}/api/v1/websso?originalUrl=${encodeURIComponent(original)}`;

  /** The value of the hadoop-jwt cookie a KNOXSSO answer sets. */
  function cookieOf(answer: Answer): { value: string; attributes: string } {
    const header = answer.headers['set-cookie'];
    const line = Array.isArray(header) ? header[0] : header;
    assert.ok(line, 'a cookie was set');
    const m = /^hadoop-jwt=([^;]+); (.*)$/.exec(line);
    assert.ok(m, line);
    return { value: m[1], attributes: m[2] };
  }

  it('redirects a browser without a cookie to KNOXSSO, which logs it in and sends it back with the cookie', async () => {
    const page = `${gateway.url}/sandbox/http/page?x=1&y=b`;
    const first = await get(page, BROWSER);
    assert.equal(first.status, 302);
    const location = first.headers.location as string;
    assert.equal(location, ssoUrl(page));
    assert.equal(first.headers['cache-control'], 'no-store');

    // At KNOXSSO, the topology's authentication provider logs the user in (here: a header).
    assert.equal((await get(location, BROWSER)).status, 401, 'KNOXSSO runs its authentication first');
    const login = await get(location, { ...BROWSER, 'x-test-user': 'alice' });
    assert.equal(login.status, 307);
    assert.equal(login.headers.location, page);
    const cookie = cookieOf(login);
    assert.equal(
      cookie.attributes,
      'Path=/; HttpOnly; SameSite=Strict',
      'no Secure on http, host-only cookie',
    );

    const back = await get(page, { ...BROWSER, cookie: `theme=dark; hadoop-jwt=${cookie.value}` });
    assert.equal(back.status, 200);
    const seen = JSON.parse(back.body) as { url: string; headers: IncomingHttpHeaders };
    assert.equal(seen.url, '/page?x=1&y=b&user.name=alice');
    assert.equal(seen.headers.cookie, 'theme=dark', 'the SSO cookie is not forwarded');
    assert.ok(!back.body.includes(cookie.value.split('.')[2]));
  });

  it('answers API clients, XHRs, non-GET requests and fetches 401 instead of redirecting', async () => {
    const url = `${gateway.url}/sandbox/http/api`;
    const cases: [string, Record<string, string>, string?][] = [
      ['curl', { accept: '*/*' }],
      ['JSON client', { accept: 'application/json' }],
      ['no Accept', {}],
      ['XHR', { ...BROWSER, 'x-requested-with': 'XMLHttpRequest' }],
      ['POST form', BROWSER, 'POST'],
      ['fetch()', { ...BROWSER, 'sec-fetch-mode': 'cors' }],
    ];
    for (const [what, headers, method] of cases) {
      const r = await get(url, headers, method);
      assert.equal(r.status, 401, what);
      assert.equal(r.headers.location, undefined, what);
      assert.equal(r.headers['www-authenticate'], 'KnoxSSO realm="sandbox"', what);
    }
    const navigate = await get(url, { accept: '*/*', 'sec-fetch-mode': 'navigate' });
    assert.equal(navigate.status, 302, 'a navigation is redirected whatever its Accept');
  });

  it('answers a WebSocket upgrade without a valid cookie with 401, never a redirect', async () => {
    const { port } = new URL(gateway.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port,
        path: '/gateway/sandbox/echo/ws',
        headers: {
          ...BROWSER,
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 401);
  });

  it('lets a WebSocket in with a valid cookie, and the backend handshake does not carry the SSO cookie', async () => {
    const login = await get(ssoUrl(`${gateway.url}/sandbox/echo/ws`), { 'x-test-user': 'wendy' });
    const token = cookieOf(login).value;
    const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/sandbox/echo/ws`, {
      headers: { cookie: `hadoop-jwt=${token}; lang=en` },
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const echoed = new Promise<string>((resolve) => ws.once('message', (m) => resolve(String(m))));
    ws.send('ping');
    assert.equal(await echoed, 'ping');
    ws.close();
    const handshake = wsHandshakes.at(-1)!;
    assert.equal(handshake.cookie, 'lang=en');
    assert.ok(!JSON.stringify(handshake).includes(token.split('.')[2]));
  });

  it('redirects a browser whose cookie is tampered with or expired, and refuses an API client with 401', async () => {
    const login = await get(ssoUrl(`${gateway.url}/sandbox/http/x`), { 'x-test-user': 'bob' });
    const good = cookieOf(login).value;
    const forged = tamper(good, { iss: 'KNOXSSO', sub: 'admin', exp: epoch(300) });
    const keys = tokenKeyStore(home.dir).load();
    assert.ok(keys, 'KNOXSSO made the gateway key');
    const expired = await new SignJWT({ sub: 'bob' })
      .setProtectedHeader({ alg: 'RS256', kid: keys.kid, typ: 'JWT' })
      .setIssuer('KNOXSSO')
      .setExpirationTime(epoch(-600))
      .sign(keys.privateKey);
    for (const token of [forged, expired, 'garbage']) {
      const browser = await get(`${gateway.url}/sandbox/http/x`, {
        ...BROWSER,
        cookie: `hadoop-jwt=${token}`,
      });
      assert.equal(browser.status, 302);
      const api = await get(`${gateway.url}/sandbox/http/x`, { cookie: `hadoop-jwt=${token}` });
      assert.equal(api.status, 401);
      assert.match(api.headers['www-authenticate'] as string, /error="invalid_token"/);
    }
    // Of several cookies of the name, the one that verifies wins.
    const both = await get(`${gateway.url}/sandbox/http/x`, {
      cookie: `hadoop-jwt=${forged}; hadoop-jwt=${good}`,
    });
    assert.equal(both.status, 200);
  });

  it('lets the unauthenticated paths through as anonymous', async () => {
    const r = await get(`${gateway.url}/sandbox/http/public`, { accept: '*/*' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { url: string }).url, '/public?user.name=anonymous');
  });

  it('refuses every redirect outside the whitelist with 400 and sets no cookie', async () => {
    const attempts = [
      'https://evil.com/',
      '//evil.com/x',
      '/\\evil.com',
      '/relative/path',
      'https:evil.com',
      'https:///evil.com',
      'https://evil.com@127.0.0.1:8443/',
      'https://127.0.0.1:8443@evil.com/',
      'http://127.0.0.1:1\\@evil.com/',
      'http://127.0.0.1:1/\\evil.com',
      'http://evil.com/?next=http://localhost:1/',
      'http://localhost.evil.com:80/',
      'http://127.0.0.1.nip.io:80/',
      'http://loc\talhost:1/',
      'javascript:alert(1)//127.0.0.1:1',
      'https%3A%2F%2Fevil.com',
      'data:text/html,hi',
    ];
    for (const original of attempts) {
      const r = await get(ssoUrl(original), { 'x-test-user': 'alice' });
      assert.equal(r.status, 400, original);
      assert.equal(r.headers['set-cookie'], undefined, original);
      assert.equal(r.headers.location, undefined, original);
      assert.ok(!r.body.includes('evil'), 'the refused URL is not echoed');
    }
    // Double-encoded: decoded once it is still not an absolute URL.
    const double = await get(
      `${gateway.url}/knoxsso/api/v1/websso?originalUrl=https%253A%252F%252Fevil.com`,
      { 'x-test-user': 'alice' },
    );
    assert.equal(double.status, 400);
    const missing = await get(`${gateway.url}/knoxsso/api/v1/websso`, { 'x-test-user': 'alice' });
    assert.equal(missing.status, 400);
    assert.match(missing.body, /Original URL not found/);
  });

  it('redirects within the default (loopback) whitelist, normalized, and appends stray parameters as Knox', async () => {
    const ok: [string, string][] = [
      ['http://[::1]:8080/ok', 'http://[::1]:8080/ok'],
      ['https://LOCALHOST/', 'https://localhost/'],
      ['http://127.0.0.1:9999/a/b?c=d', 'http://127.0.0.1:9999/a/b?c=d'],
    ];
    for (const [original, location] of ok) {
      const r = await get(ssoUrl(original), { 'x-test-user': 'alice' });
      assert.equal(r.status, 307, original);
      assert.equal(r.headers.location, location);
    }
    // A client that does not encode originalUrl splits its query; KNOXSSO puts it back together.
    const raw = await get(`${gateway.url}/knoxsso/api/v1/websso?originalUrl=http://127.0.0.1:1/p?a=1&b=2`, {
      'x-test-user': 'alice',
    });
    assert.equal(raw.headers.location, 'http://127.0.0.1:1/p?a=1&b=2');
    const post = await get(ssoUrl('http://127.0.0.1:1/form'), { 'x-test-user': 'alice' }, 'POST');
    assert.equal(post.status, 303);
  });

  it('applies a configured whitelist, and scopes the cookie to the parent domain with its attributes', async () => {
    const allowed = await get(ssoUrl('https://app.example.com/x', 'corp'), { 'x-test-user': 'carol' });
    assert.equal(allowed.status, 307);
    assert.equal(
      cookieOf(allowed).attributes,
      'Path=/; Domain=.example.com; HttpOnly; Secure; Max-Age=600; SameSite=Lax',
    );
    for (const refused of [
      'http://app.example.com/x',
      'https://app.example.com:8443/',
      'http://127.0.0.1:1/',
    ]) {
      assert.equal((await get(ssoUrl(refused, 'corp'), { 'x-test-user': 'carol' })).status, 400, refused);
    }
  });

  it('audits the login redirect and the issued cookie, never the token', async () => {
    audit.length = 0;
    const page = `${gateway.url}/sandbox/http/audited`;
    await get(page, BROWSER);
    const login = await get(ssoUrl(page), { 'x-test-user': 'dora' });
    const token = cookieOf(login).value;
    await get(page, { cookie: `hadoop-jwt=${token}` });
    await get(ssoUrl('https://evil.com/'), { 'x-test-user': 'dora' });
    assert.deepEqual(
      audit
        .filter((e) => e.action !== 'dispatch')
        .map((e) => [e.topology, e.action, e.outcome, e.user, e.reason]),
      [
        ['sandbox', 'federation', 'failure', undefined, 'no sso cookie; redirected to log in'],
        ['knoxsso', 'authentication', 'success', 'dora', 'sso cookie issued'],
        ['sandbox', 'federation', 'success', 'dora', 'sso cookie'],
        ['knoxsso', 'authentication', 'denied', 'dora', 'original URL does not match the redirect whitelist'],
      ],
    );
    const text = JSON.stringify(audit);
    assert.ok(!text.includes(token.split('.')[1]) && !text.includes(token.split('.')[2]));
  });
});
