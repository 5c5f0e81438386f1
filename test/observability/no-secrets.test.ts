/**
 * Secrets never reach the logs. A real `postern start` process at log level debug (every line it has) serves a
 * run that carries every kind of credential a gateway sees: Basic passwords (right and wrong), the session cookie
 * the login sets, a JWT bearer token (valid and tampered) and one in the query, client cookies, a backend's
 * Set-Cookie, a Proxy-Authorization header, a password in a request body, WebSocket upgrades with credentials, a
 * failing backend, and the OTLP exporter's API key. After a clean stop, gateway.log, access.log and audit.log
 * are read whole: each has lines of this run, and none holds any of those values, raw or base64-encoded.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { hashPassword } from '../../src/providers/authentication/shiro/password-hash.ts';
import { type Backend, closedPort, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { type JwksServer, makeKey, signToken, startJwks, type TestKey, tamper } from '../helpers/jwks.ts';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp.ts';
import { basic, setCookie, shiroTopology } from '../providers/authentication/shiro-fixture.ts';
import { startWsBackend, type WsBackend } from '../providers/security-helpers.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ISSUER = 'https://issuer.test';

const PASSWORD = 'Pa55w0rd-alice-7f3a';
const WRONG_PASSWORD = 'Wr0ng-pass-9c2e';
const QUERY_TOKEN = 'QueryTok-5d1b8e';
const CLIENT_COOKIE = 'ClientCookie-2a7c';
const BACKEND_COOKIE = 'BackendCookie-8e4d';
const PROXY_PASSWORD = 'ProxyPw-6b0f';
const BODY_PASSWORD = 'BodyPw-3c9a';
const OTLP_KEY = 'OtlpKey-1e5d';

describe('no secret in any log of a full run', () => {
  let home: TestHome;
  let backend: Backend;
  let ws: WsBackend;
  let jwks: JwksServer;
  let key: TestKey;
  let receiver: OtlpReceiver;
  let child: ChildProcess;
  let url: string;
  /** Every secret value used, with a name for the failure message. */
  const secrets = new Map<string, string>();
  const requestIds: string[] = [];

  before(async () => {
    backend = await startBackend((req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('set-cookie', `backend.session=${BACKEND_COOKIE}; Path=/; HttpOnly`);
        res.end('ok');
      });
    });
    ws = await startWsBackend();
    key = await makeKey('k1');
    jwks = await startJwks([key]);
    receiver = await startOtlpReceiver();
    const dead = await closedPort();
    home = makeHome({
      'gateway.websocket.feature.enabled': true,
      'postern.tracing.enabled': true,
      'postern.tracing.otlp.endpoint': receiver.url,
      'postern.tracing.otlp.headers': `x-api-key=${OTLP_KEY}`,
      'postern.metrics.enabled': true,
      'postern.metrics.port': 0,
    });
    home.write(
      'conf/users.yaml',
      `users:\n  alice:\n    password: "${await hashPassword(PASSWORD)}"\n    groups: [analyst]\n`,
    );
    home.write(
      'conf/topologies/basic.xml',
      shiroTopology(
        {
          'main.fileRealm': 'postern.FileRealm',
          'main.fileRealm.usersFile': 'conf/users.yaml',
          'urls./**': 'authcBasic',
        },
        backend.url,
      ).replace(
        '</topology>',
        `  <service>\n    <role>ECHOWS</role>\n    <url>${ws.url}</url>\n  </service>\n</topology>`,
      ),
    );
    home.write(
      'conf/topologies/jwt.xml',
      topologyXml({
        providers: [
          {
            role: 'federation',
            name: 'JWTProvider',
            params: {
              'jwt.expected.issuer': ISSUER,
              'knox.token.jwks.url': jwks.url,
              'knox.token.query.param.name': 'knoxtoken',
            },
          },
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    home.write(
      'conf/topologies/down.xml',
      shiroTopology(
        {
          'main.fileRealm': 'postern.FileRealm',
          'main.fileRealm.usersFile': 'conf/users.yaml',
          'urls./**': 'authcBasic',
        },
        `http://127.0.0.1:${dead}`,
      ),
    );
    child = spawn(process.execPath, [CLI, 'start', '--home', home.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POSTERN_LOG_LEVEL: 'debug', OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        out += chunk;
        const m = /^postern listening on (http:\/\/\S+) /m.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
    });
  });

  after(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await backend?.close();
    await ws?.close();
    await jwks?.close();
    await receiver?.close();
    home?.remove();
  });

  async function send(
    path: string,
    headers: Record<string, string> = {},
    options: { method?: 'GET' | 'POST'; body?: string } = {},
  ) {
    const res = await request(`${url}${path}`, {
      headers,
      method: options.method ?? 'GET',
      body: options.body,
    });
    await res.body.dump();
    requestIds.push(String(res.headers['x-request-id']));
    return res;
  }

  it('serves a run full of credentials', async () => {
    const good = basic('alice', PASSWORD);
    const wrong = basic('alice', WRONG_PASSWORD);
    secrets.set('password', PASSWORD).set('wrong password', WRONG_PASSWORD);
    secrets
      .set('basic header', good.authorization.slice(6))
      .set('wrong basic header', wrong.authorization.slice(6));

    const login = await send('/basic/http/items', good);
    assert.equal(login.statusCode, 200);
    const session = setCookie(login.headers, 'KNOXSESSIONID');
    assert.ok(session, 'the login sets a session cookie');
    const sessionValue = session.split(';')[0].split('=')[1];
    secrets.set('session cookie', sessionValue);
    assert.equal((await send('/basic/http/items', wrong)).statusCode, 401);
    assert.equal(
      (await send('/basic/http/items', { cookie: `KNOXSESSIONID=${sessionValue}` })).statusCode,
      200,
    );

    secrets
      .set('query token', QUERY_TOKEN)
      .set('client cookie', CLIENT_COOKIE)
      .set('backend cookie', BACKEND_COOKIE);
    secrets.set('proxy password', PROXY_PASSWORD).set('body password', BODY_PASSWORD);
    const proxyAuth = Buffer.from(`proxy:${PROXY_PASSWORD}`).toString('base64');
    secrets.set('proxy authorization', proxyAuth);
    const busy = await send(
      `/basic/http/form?delegation=${QUERY_TOKEN}&doAs=bob`,
      {
        ...good,
        cookie: `hadoop.auth=${CLIENT_COOKIE}; other=1`,
        'proxy-authorization': `Basic ${proxyAuth}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      { method: 'POST', body: `user=alice&password=${BODY_PASSWORD}` },
    );
    assert.equal(busy.statusCode, 200);

    const token = await signToken(key, {
      claims: { sub: 'carol', iss: ISSUER, exp: Math.floor(Date.now() / 1000) + 300 },
    });
    const forged = tamper(token, { sub: 'root', iss: ISSUER });
    secrets.set('jwt', token).set('jwt signature', token.split('.')[2]).set('forged jwt', forged);
    assert.equal((await send('/jwt/http/x', { authorization: `Bearer ${token}` })).statusCode, 200);
    assert.equal((await send('/jwt/http/x', { authorization: `Bearer ${forged}` })).statusCode, 401);
    assert.equal((await send(`/jwt/http/x?knoxtoken=${token}`)).statusCode, 200);

    // A backend that is down: the 502 is logged at error level with its cause.
    assert.equal((await send('/down/http/x', good)).statusCode, 502);

    // WebSockets: one with credentials, one refused.
    const wsUrl = `${url.replace('http:', 'ws:')}/basic/echo/ws?delegation=${QUERY_TOKEN}`;
    const socket = new WebSocket(wsUrl, { headers: { ...good, cookie: `hadoop.auth=${CLIENT_COOKIE}` } });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const echoed = new Promise((r) => socket.once('message', r));
    socket.send(`password=${BODY_PASSWORD}`);
    await echoed;
    const closed = new Promise((r) => socket.once('close', r));
    socket.close();
    await closed;
    const refused = new WebSocket(wsUrl, { headers: wrong });
    const status = await new Promise<number>((resolve) => {
      refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      refused.once('error', () => resolve(-1));
    });
    assert.equal(status, 401);
    secrets.set('otlp key', OTLP_KEY);
    await receiver.waitFor((spans) => spans.length > 0);
    assert.ok(
      receiver.exports.some((h) => h['x-api-key'] === OTLP_KEY),
      'the exporter did use the key',
    );
  });

  it('stops cleanly, and no log holds any of them', async () => {
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
    const logs = ['gateway.log', 'access.log', 'audit.log'].map((name) => ({
      name,
      text: readFileSync(join(home.dir, 'logs', name), 'utf8'),
    }));
    const gatewayLog = logs[0].text;
    // The logs are this run's: the request-level lines are there too.
    assert.ok(gatewayLog.includes('postern stopped'));
    assert.ok(gatewayLog.includes('"msg":"websocket closed"'));
    assert.ok(gatewayLog.includes('"code":"POSTERN_ERR_UPSTREAM_UNAVAILABLE"'), 'the 502 was logged');
    for (const id of requestIds) assert.ok(logs[1].text.includes(id), `access line of ${id}`);
    assert.ok(logs[2].text.includes('"outcome":"failure"'), 'the wrong password was audited');
    assert.ok(gatewayLog.includes('"traceId"'), 'log lines carry trace ids');
    for (const { name, text } of logs) {
      assert.ok(text.length > 0, `${name} is empty`);
      for (const [what, secret] of secrets) {
        assert.ok(!text.includes(secret), `${name} contains the ${what}`);
        const encoded = Buffer.from(secret).toString('base64');
        assert.ok(!text.includes(encoded), `${name} contains the ${what}, base64-encoded`);
      }
    }
  });
});
