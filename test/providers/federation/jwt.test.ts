/**
 * JWTProvider end to end: a gateway, a real backend and a real JWKS server on loopback. Every token location,
 * every way a token can be wrong, key rotation, an unreachable JWKS, the identity the backend sees (and that it
 * never sees the token), the audit trail, and deployment errors for unsafe configuration.
 */
import assert from 'node:assert/strict';
import { createHmac, KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { Gateway } from '../../../src/gateway/gateway.ts';
import { auditLogOn } from '../../../src/observability/audit.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { type Backend, closedPort, startBackend } from '../../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import {
  epoch,
  type JwksServer,
  makeKey,
  signToken,
  startJwks,
  type TestKey,
  tamper,
  unsecuredToken,
} from '../../helpers/jwks.ts';

const ISSUER = 'https://issuer.test';

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

function xmlEscape(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

describe('JWTProvider', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let jwks: JwksServer;
  let k1: TestKey;
  let k2: TestKey;
  let pemKey: TestKey;
  const audit: Record<string, unknown>[] = [];

  before(async () => {
    k1 = await makeKey('k1');
    k2 = await makeKey('k2');
    pemKey = await makeKey('pem');
    jwks = await startJwks([k1]);
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    });
    const down = await closedPort();
    home = makeHome();
    const jwtProvider = (params: Record<string, string>) => ({
      role: 'federation',
      name: 'JWTProvider',
      params: { 'jwt.expected.issuer': ISSUER, ...params },
    });
    home.write(
      'conf/topologies/api.xml',
      topologyXml({
        providers: [
          jwtProvider({
            'knox.token.jwks.url': jwks.url,
            'knox.token.audiences': 'postern, other',
            'knox.token.query.param.name': 'knoxtoken',
            'knox.token.use.cookie': 'true',
            'knox.token.principal.claim': 'upn',
            'jwt.unauthenticated.path.list': '/http/public',
            'postern.jwks.cooldown': '0',
          }),
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    home.write(
      'conf/topologies/down.xml',
      topologyXml({
        providers: [jwtProvider({ 'knox.token.jwks.urls': `http://127.0.0.1:${down}/jwks` })],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    // Knox's form: only the base64 body of the key, no BEGIN/END lines.
    const body = pemKey.spki.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    home.write(
      'conf/topologies/pem.xml',
      topologyXml({
        providers: [jwtProvider({ 'knox.token.verification.pem': body })],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    home.write(
      'conf/topologies/hmac.xml',
      topologyXml({
        providers: [jwtProvider({ 'jwt.expected.sigalg': 'HS256' })],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    home.write(
      'conf/topologies/badpem.xml',
      topologyXml({
        providers: [
          jwtProvider({
            'knox.token.verification.pem': xmlEscape(pemKey.spki),
            'jwt.expected.sigalg': 'ES256',
          }),
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
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
    await jwks?.close();
    home?.remove();
  });

  const good = (claims: Record<string, unknown> = {}, key: TestKey = k1) =>
    signToken(key, { claims: { iss: ISSUER, sub: 'alice', aud: 'postern', exp: epoch(300), ...claims } });

  async function call(
    path: string,
    headers: Record<string, string> = {},
    topology = 'api',
  ): Promise<{ status: number; headers: IncomingHttpHeaders; seen?: Seen; body: string }> {
    const before = backend.requests.length;
    const res = await request(`${gateway.url}/${topology}${path}`, { headers });
    const body = await res.body.text();
    const seen = backend.requests.length > before ? (JSON.parse(body) as Seen) : undefined;
    return { status: res.statusCode, headers: res.headers, seen, body };
  }

  function assertNoToken(seen: Seen, token: string): void {
    const signature = token.split('.')[2];
    const text = JSON.stringify(seen);
    assert.ok(!text.includes(signature), `the backend saw the token: ${text}`);
  }

  it('accepts a bearer token: the backend sees user.name=<sub> and never the token', async () => {
    const token = await good();
    const r = await call('/http/items?x=1', { authorization: `Bearer ${token}` });
    assert.equal(r.status, 200);
    assert.equal(r.seen?.url, '/items?x=1&user.name=alice');
    assert.equal(r.seen?.headers.authorization, undefined);
    assertNoToken(r.seen!, token);
  });

  it('accepts HTTP Basic with the user Token and the JWT as password', async () => {
    const token = await good({ sub: 'bi-tool' });
    const basic = Buffer.from(`Token:${token}`).toString('base64');
    const r = await call('/http/q', { authorization: `Basic ${basic}` });
    assert.equal(r.status, 200);
    assert.equal(r.seen?.url, '/q?user.name=bi-tool');
    assertNoToken(r.seen!, token);
  });

  it('refuses Basic with the user Passcode (no server-managed tokens) and with any other user', async () => {
    const token = await good();
    const passcode = await call('/http/q', {
      authorization: `Basic ${Buffer.from(`Passcode:${token}`).toString('base64')}`,
    });
    assert.equal(passcode.status, 401);
    const other = await call('/http/q', {
      authorization: `Basic ${Buffer.from(`alice:${token}`).toString('base64')}`,
    });
    assert.equal(other.status, 401);
    assert.equal(other.headers['www-authenticate'], 'Bearer realm="api"');
  });

  it('accepts the token in the configured query parameter and removes it before dispatch', async () => {
    const token = await good({ sub: 'q-user' });
    const r = await call(`/http/p?a=1&knoxtoken=${token}&b=2&KnoxToken=${token}`);
    assert.equal(r.status, 200);
    assert.equal(r.seen?.url, '/p?a=1&b=2&user.name=q-user');
    assertNoToken(r.seen!, token);
  });

  it('accepts the token in the hadoop-jwt cookie and strips that cookie from what the backend gets', async () => {
    const token = await good({ sub: 'cookie-user' });
    const r = await call('/http/c', { cookie: `theme=dark; hadoop-jwt=${token}; lang=en` });
    assert.equal(r.status, 200);
    assert.equal(r.seen?.url, '/c?user.name=cookie-user');
    assert.equal(r.seen?.headers.cookie, 'theme=dark; lang=en');
    assertNoToken(r.seen!, token);
  });

  it('refuses when the token cookie is invalid, without falling back to the Authorization header (Knox)', async () => {
    const r = await call('/http/c', {
      cookie: `hadoop-jwt=${await good({ exp: epoch(-600) })}`,
      authorization: `Bearer ${await good()}`,
    });
    assert.equal(r.status, 401);
    assert.match(r.headers['www-authenticate'] as string, /error="invalid_token"/);
  });

  it('takes the principal from knox.token.principal.claim when present (lower-cased)', async () => {
    const r = await call('/http/u', { authorization: `Bearer ${await good({ upn: 'Bob@Corp.Example' })}` });
    assert.equal(r.seen?.url, '/u?user.name=bob%40corp.example');
  });

  it('answers 401 with a Bearer challenge when there is no token', async () => {
    const r = await call('/http/x');
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="api"');
    assert.equal(r.seen, undefined);
  });

  it('refuses every token that is not valid with 401 invalid_token, and nothing reaches the backend', async () => {
    const valid = await good();
    const other = await makeKey('k1'); // same kid, another key
    const hmacSecret = KeyObject.from(k1.publicKey).export({ format: 'pem', type: 'spki' });
    const h = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const hsInput = `${h({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${h({ iss: ISSUER, sub: 'mallory', aud: 'postern', exp: epoch(300) })}`;
    const hsToken = `${hsInput}.${createHmac('sha256', hmacSecret).update(hsInput).digest('base64url')}`;
    const cases: [string, string][] = [
      ['expired', await good({ exp: epoch(-600) })],
      ['not yet valid', await good({ nbf: epoch(600) })],
      ['wrong audience', await good({ aud: 'somebody-else' })],
      ['no audience', await good({ aud: undefined })],
      ['wrong issuer', await good({ iss: 'https://evil.test' })],
      [
        'wrong algorithm (RS384)',
        await signToken(
          { privateKey: KeyObject.from(k1.privateKey), kid: 'k1', alg: 'RS384' },
          { claims: { iss: ISSUER, sub: 'a', aud: 'postern' } },
        ),
      ],
      ['alg none', unsecuredToken({ iss: ISSUER, sub: 'mallory', aud: 'postern', exp: epoch(300) })],
      ['HS256 keyed with the public key', hsToken],
      ['tampered payload', tamper(valid, { iss: ISSUER, sub: 'admin', aud: 'postern', exp: epoch(300) })],
      ['signed by an unknown key with a known kid', await good({}, other)],
      [
        'typ at+jwt (not allowed by default)',
        await signToken(k1, { claims: { iss: ISSUER, sub: 'a', aud: 'postern' }, header: { typ: 'at+jwt' } }),
      ],
      ['garbage', 'not-a-token'],
      ['three garbage parts', 'a.b.c'],
      ['a JWE', 'eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d'],
    ];
    const seen = backend.requests.length;
    for (const [what, token] of cases) {
      const r = await call('/http/x', { authorization: `Bearer ${token}` });
      assert.equal(r.status, 401, what);
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="api", error="invalid_token"', what);
    }
    assert.equal(backend.requests.length, seen, 'nothing reached the backend');
  });

  it('lets the unauthenticated paths through as anonymous, and only those paths exactly', async () => {
    const r = await call('/http/public');
    assert.equal(r.status, 200);
    assert.equal(r.seen?.url, '/public?user.name=anonymous');
    assert.equal((await call('/http/public/x')).status, 401);
    assert.equal((await call('/http/publicx')).status, 401);
  });

  it('accepts a token signed with a new kid once the JWKS publishes it (key rotation)', async () => {
    const rotated = await good({ sub: 'rotated' }, k2);
    assert.equal((await call('/http/r', { authorization: `Bearer ${rotated}` })).status, 401);
    jwks.setKeys([k1, k2]);
    const r = await call('/http/r', { authorization: `Bearer ${rotated}` });
    assert.equal(r.status, 200);
    assert.equal(r.seen?.url, '/r?user.name=rotated');
  });

  it('answers 503, not 401, when the JWKS cannot be reached', async () => {
    const r = await call('/http/x', { authorization: `Bearer ${await good()}` }, 'down');
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '5');
    assert.equal(r.seen, undefined);
  });

  it('verifies with a PEM given as Knox does (base64 body only)', async () => {
    const token = await signToken(pemKey, { claims: { iss: ISSUER, sub: 'pem-user', exp: epoch(60) } });
    const r = await call('/http/k', { authorization: `Bearer ${token}` }, 'pem');
    assert.equal(r.status, 200);
    assert.equal(r.seen?.url, '/k?user.name=pem-user');
    assert.equal((await call('/http/k', { authorization: `Bearer ${await good()}` }, 'pem')).status, 401);
  });

  it('refuses to deploy an HMAC expected algorithm, or a PEM that cannot verify the expected one', () => {
    for (const [name, pattern] of [
      ['hmac', /jwt\.expected\.sigalg "HS256" is refused/],
      ['badpem', /holds a rsa key, which cannot verify ES256/],
    ] as const) {
      const status = gateway.status.get(name);
      assert.equal(status?.deployed, false, name);
      assert.ok(
        status.diagnostics.some((d) => pattern.test(d.message)),
        JSON.stringify(status.diagnostics),
      );
    }
  });

  it('records each decision in the audit log, never the token', async () => {
    const token = await good({ sub: 'audited' });
    audit.length = 0;
    await call('/http/a', { authorization: `Bearer ${token}` });
    await call('/http/a', { authorization: `Bearer ${await good({ exp: epoch(-600) })}` });
    await call('/http/a', { authorization: `Bearer ${token}` }, 'down');
    await call(`/http/a?knoxtoken=${token}`);
    const federation = audit.filter((e) => e.action === 'federation');
    assert.deepEqual(
      federation.map((e) => [e.topology, e.outcome, e.user, e.reason]),
      [
        ['api', 'success', 'audited', 'jwt'],
        ['api', 'failure', undefined, 'expired token'],
        ['down', 'unavailable', undefined, 'jwks unreachable'],
        ['api', 'success', 'audited', 'jwt query parameter'],
      ],
    );
    assert.equal(federation[0].provider, 'JWTProvider');
    const text = JSON.stringify(audit);
    assert.ok(
      !text.includes(token.split('.')[2]) && !text.includes(token.split('.')[1]),
      'no token in the audit log',
    );
  });
});
