/**
 * SPNEGO towards Kerberos-secured backends (`gateway.hadoop.kerberos.secured=true`, dispatch/spnego) against a
 * real MIT KDC and Apache httpd with mod_auth_gssapi (test/helpers/kerberos.ts): the backend sees the gateway's
 * principal and `doAs=<end user>`; its auth cookie is kept and sent back instead of a new token; a body goes with
 * a token at once; a backend that refuses a fresh token is a 502 (one attempt); the gateway's ticket is renewed
 * from its keytab; a JAAS file naming a keytab without the principal does not deploy; a KDC that is down is a 503
 * and the gateway recovers when it is back.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { runKnoxCli } from '../../src/cli/knox-cli.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { closedPort } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { GATEWAY_PRINCIPAL, type KerberosFixture, startKerberos } from '../helpers/kerberos.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';
import { topology } from '../providers/identity-assertion/fixture.ts';

const TEST_USER_PLUGIN = `
export function register(registry) {
  registry.provider({
    role: 'authentication',
    name: 'TestUser',
    create() {
      return (ex, next) => {
        const name = ex.req.headers['x-test-user'];
        if (typeof name === 'string') ex.user = { name, groups: [] };
        return next();
      };
    },
  });
}
`;

const IA = [{ role: 'identity-assertion', name: 'Default' }];
/** The gateway's ticket lives 8 s: MIT's GSSAPI gets a new one from the keytab after half of it. */
const TICKET_LIFE_S = 8;

interface Running {
  gateway: Gateway;
  home: TestHome;
  logs: Record<string, unknown>[];
  get(path: string, options?: { topology?: string; method?: 'GET' | 'POST'; body?: string }): Promise<Answer>;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function startSecured(krb: KerberosFixture, jaas: string, backend = krb.backendUrl): Promise<Running> {
  const closed = await closedPort();
  const home = makeHome({
    'postern.plugins': './plugins/test-user.mjs',
    'gateway.hadoop.kerberos.secured': true,
    'java.security.krb5.conf': krb.krb5Conf,
    'java.security.auth.login.config': jaas,
    'gateway.websocket.feature.enabled': true,
    'postern.services.dirs': KNOX_SERVICES,
  });
  home.write('plugins/test-user.mjs', TEST_USER_PLUGIN);
  home.write('conf/topologies/secure.xml', topology(backend, IA, {}));
  // WebSockets: httpd's /ws/ (Negotiate) proxies the upgrade to the test's WebSocket server.
  home.write(
    'conf/topologies/wst.xml',
    topologyXml({ services: [{ role: 'ECHOWS', urls: [`${backend.replace(/^http/, 'ws')}/ws`] }] }),
  );
  // Knox's HIVE (HiveDispatch, its HTTP transport's POSTs), basicAuthPreemptive on as a Knox topology may have it.
  home.write(
    'conf/topologies/hive.xml',
    topologyXml({
      services: [
        {
          role: 'HIVE',
          name: 'hive',
          version: '0.13.0',
          urls: [`${backend}/secure/cliservice`],
          params: { basicAuthPreemptive: 'true' },
        },
      ],
    }),
  );
  // HA: the first URL refuses connections, the second is httpd by its address (an origin not seen yet).
  home.write(
    'conf/topologies/ha.xml',
    topologyXml({
      providers: [
        { role: 'authentication', name: 'Anonymous' },
        { role: 'identity-assertion', name: 'Default' },
        {
          role: 'ha',
          name: 'HaProvider',
          params: { HTTP: 'enabled=true;maxFailoverAttempts=2;failoverSleep=10' },
        },
      ],
      services: [
        { role: 'HTTP', urls: [`http://127.0.0.1:${closed}`, backend.replace('localhost', '127.0.0.1')] },
      ],
    }),
  );
  // The same backend by its address: another origin, which the gateway has not seen yet.
  home.write('conf/topologies/fresh.xml', topology(backend.replace('localhost', '127.0.0.1'), IA, {}));
  const logs: Record<string, unknown>[] = [];
  const log = createLogger({ level: process.env.POSTERN_TEST_LOG ?? 'silent', stdout: true });
  const capture = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const gateway = await Gateway.start({
    home: home.dir,
    port: 0,
    host: '127.0.0.1',
    log: process.env.POSTERN_TEST_LOG ? log : capture,
    watch: false,
  });
  return {
    gateway,
    home,
    logs,
    async get(path, options = {}) {
      const r = await request(`${gateway.url}/${options.topology ?? 'secure'}/http${path}`, {
        method: options.method ?? 'GET',
        headers: { 'x-test-user': 'alice' },
        body: options.body,
      });
      return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
    },
    async close() {
      await gateway.close();
      home.remove();
    },
  };
}

/**
 * The backend's access-log lines since `before` that `keep` selects, once `done` says they are all there: httpd
 * writes a request's line after sending its response, so the client may be answered first.
 */
async function logLines(
  krb: KerberosFixture,
  before: number,
  keep: (line: string) => boolean,
  done: (lines: string[]) => boolean,
): Promise<string[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = krb.accessLog().slice(before).filter(keep);
    if (done(lines) || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SPNEGO to Kerberos-secured backends', () => {
  let krb: KerberosFixture;
  let gw: Running;
  let wss: WebSocketServer;
  const upgrades: { url?: string; headers: IncomingHttpHeaders }[] = [];

  before(async () => {
    // The WebSocket backend behind httpd: echoes messages, records each upgrade request.
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    wss.on('connection', (socket, req) => {
      upgrades.push({ url: req.url, headers: req.headers });
      socket.on('message', (data, binary) => socket.send(data, { binary }));
    });
    const wsPort = (wss.address() as AddressInfo).port;
    krb = await startKerberos({
      gatewayTicketLife: `${TICKET_LIFE_S}s`,
      wsBackend: `ws://127.0.0.1:${wsPort}`,
    });
    gw = await startSecured(krb, krb.jaas(krb.keytabs.knox, GATEWAY_PRINCIPAL));
  });

  after(async () => {
    await gw?.close();
    await krb?.close();
    wss?.close();
  });

  it("upgrades a WebSocket through a Negotiate-protected backend as the gateway's principal", async () => {
    const before = upgrades.length;
    const socket = new WebSocket(`${gw.gateway.url.replace(/^http/, 'ws')}/wst/echo/ws/room?x=1`);
    await once(socket, 'open');
    socket.send('hello');
    const [reply] = await once(socket, 'message');
    assert.equal(String(reply), 'hello');
    socket.close();
    const seen = upgrades.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].headers['x-remote-user'], GATEWAY_PRINCIPAL);
    const query = new URLSearchParams(seen[0].url?.split('?')[1]);
    assert.equal(query.get('doAs'), 'anonymous');
    assert.equal(query.get('x'), '1');
  });

  it('authenticates each HA attempt to the URL it goes to (a probe, then one retry with a token)', async () => {
    const before = krb.accessLog().length;
    const r = await gw.get('/secure/ha?b=2', { topology: 'ha' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['x-remote-user'], GATEWAY_PRINCIPAL);
    const query = new URLSearchParams(String(r.headers['x-query']));
    assert.equal(query.get('doAs'), 'anonymous');
    // (A WebSocket's line is written when it closes: only this request's lines count.)
    const lines = await logLines(
      krb,
      before,
      (l) => l.startsWith('GET /secure/ha'),
      (ls) => ls.some((l) => / 200 /.test(l)),
    );
    assert.ok(lines.length <= 2, lines.join('\n'));
    assert.match(lines.at(-1)!, / 200 auth=Negotiate /);
  });

  it("HiveDispatch authenticates with SPNEGO, never with its preemptive Basic (Knox's Kerberos rule)", async () => {
    const before = krb.accessLog().length;
    // A GET first: to an origin this topology has not seen, it goes without a token (then retried with one).
    const probe = await request(`${gw.gateway.url}/hive/hive`);
    await probe.body.text();
    assert.equal(probe.headers['x-remote-user'], GATEWAY_PRINCIPAL, String(probe.statusCode));
    const r = await request(`${gw.gateway.url}/hive/hive`, { method: 'POST', body: 'thrift bytes' });
    await r.body.text();
    assert.equal(r.headers['x-remote-user'], GATEWAY_PRINCIPAL, String(r.statusCode));
    assert.equal(new URLSearchParams(String(r.headers['x-query'])).get('doAs'), 'anonymous');
    const lines = await logLines(
      krb,
      before,
      (l) => l.includes(' /secure/cliservice'),
      (ls) => ls.length >= 3,
    );
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.match(lines[0], /^GET \S+ HTTP\/1.1 401 auth=- /, 'the probe carried credentials');
    assert.match(lines[2], /^POST \S+ HTTP\/1.1 \d+ auth=Negotiate /);
  });

  it("authenticates as the gateway's principal and names the end user as doAs", async () => {
    const r = await gw.get('/secure/x?a=1');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['x-remote-user'], GATEWAY_PRINCIPAL);
    const query = new URLSearchParams(String(r.headers['x-query']));
    assert.equal(query.get('doAs'), 'alice');
    assert.equal(query.get('a'), '1');
    assert.equal(query.get('user.name'), null);
  });

  it("keeps the backend's hadoop.auth cookie and sends it instead of a second Negotiate", async () => {
    const before = krb.accessLog().length;
    const first = await gw.get('/session/one');
    const second = await gw.get('/session/two');
    assert.equal(first.status, 200, first.body);
    assert.equal(second.status, 200, second.body);
    // The cookie is the gateway's: never handed to the client.
    assert.equal(first.headers['set-cookie'], undefined);
    assert.equal(second.headers['x-remote-user'], GATEWAY_PRINCIPAL);
    assert.equal(second.headers['x-negotiated'], undefined, 'the second request negotiated again');
    const lines = await logLines(
      krb,
      before,
      (l) => l.startsWith('GET /session/'),
      (ls) => ls.some((l) => l.startsWith('GET /session/two')),
    );
    const one = lines.filter((l) => l.startsWith('GET /session/one'));
    const two = lines.filter((l) => l.startsWith('GET /session/two'));
    assert.ok(
      one.some((l) => /auth=Negotiate /.test(l) && / 200 /.test(l)),
      one.join('\n'),
    );
    assert.equal(two.length, 1, `one request, no second round trip: ${two.join('\n')}`);
    assert.match(two[0], / 200 auth=- cookie=hadoop\.auth=/);
  });

  it('sends a request with a body with a token at once (no replay of the body)', async () => {
    const before = krb.accessLog().length;
    const r = await gw.get('/secure/upload', {
      topology: 'fresh',
      method: 'POST',
      body: 'x'.repeat(100_000),
    });
    assert.equal(r.headers['x-remote-user'], GATEWAY_PRINCIPAL, `${r.status} ${r.body}`);
    const lines = await logLines(
      krb,
      before,
      (l) => l.includes(' /secure/upload'),
      (ls) => ls.length >= 1,
    );
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /^POST \/secure\/upload\S* HTTP\/1.1 \d+ auth=Negotiate /);
  });

  it('answers 502, without retrying, when the backend refuses a fresh token', async () => {
    const before = krb.accessLog().length;
    const r = await gw.get('/wrongkey/x');
    assert.equal(r.status, 502, r.body);
    assert.equal(JSON.parse(r.body).error.code, 'POSTERN_ERR_UPSTREAM_AUTH');
    const lines = await logLines(
      krb,
      before,
      (l) => l.startsWith('GET /wrongkey'),
      (ls) => ls.some((l) => / 401 auth=Negotiate /.test(l)),
    );
    // At most a probe without credentials (an origin not seen yet) and one attempt with a token: no retry storm.
    const withToken = lines.filter((l) => / 401 auth=Negotiate /.test(l));
    assert.equal(withToken.length, 1, lines.join('\n'));
    assert.ok(lines.length <= 2 && lines.at(-1) === withToken[0], lines.join('\n'));
    const logged = gw.logs.find((l) => String(l.msg).includes('refused') || String(l.msg).includes('401'));
    assert.ok(logged, JSON.stringify(gw.logs.slice(-3)));
    assert.doesNotMatch(JSON.stringify(gw.logs), /Negotiate [A-Za-z0-9+/]{20}/, 'a token was logged');
  });

  it('renews the gateway ticket from its keytab before it expires', async () => {
    const first = await gw.get('/secure/renew-1');
    assert.equal(first.status, 200);
    const asReqs = () => krb.kdcLog().filter((l) => /AS_REQ.*knox\/localhost@/.test(l)).length;
    const before = asReqs();
    await new Promise((r) => setTimeout(r, (TICKET_LIFE_S + 2) * 1000));
    const second = await gw.get('/secure/renew-2');
    assert.equal(second.status, 200, second.body);
    assert.equal(second.headers['x-remote-user'], GATEWAY_PRINCIPAL);
    assert.ok(asReqs() > before, 'no new ticket was obtained from the keytab');
  });

  it('postern cli kerberos-test logs in from the keytab and gets a service ticket, or says why not', async () => {
    const run = async (home: string) => {
      let out = '';
      const stdout = new Writable({
        write(chunk, _enc, done) {
          out += String(chunk);
          done();
        },
      });
      const io = { stdin: process.stdin, stdout, stderr: process.stderr };
      const code = await runKnoxCli(['kerberos-test', '--home', home, '--service-host', 'localhost'], io);
      return { code, out };
    };
    const ok = await run(gw.home.dir);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /obtained a ticket for HTTP\/localhost/);
    const wrongHome = makeHome({
      'java.security.krb5.conf': krb.krb5Conf,
      'java.security.auth.login.config': krb.jaas(krb.keytabs.other, GATEWAY_PRINCIPAL, 'cli-wrong.conf'),
    });
    try {
      const wrong = await run(wrongHome.dir);
      assert.equal(wrong.code, 1);
      assert.match(
        wrong.out,
        /cli-wrong.conf:7:\d+: the keytab .*other.keytab does not hold knox\/localhost@POSTERN.TEST/,
      );
    } finally {
      wrongHome.remove();
    }
  });

  it('fails the service at deployment when the keytab does not hold the principal', async () => {
    const jaas = krb.jaas(krb.keytabs.other, GATEWAY_PRINCIPAL, 'wrong-keytab.conf');
    const wrong = await startSecured(krb, jaas);
    try {
      const r = await wrong.get('/secure/x');
      assert.equal(r.status, 503, r.body);
      assert.equal(JSON.parse(r.body).error.code, 'POSTERN_ERR_SERVICE_NOT_DEPLOYED');
      const text = JSON.stringify(wrong.logs);
      assert.match(text, /wrong-keytab.conf:7:\d+: .*does not hold knox\/localhost@POSTERN.TEST/);
    } finally {
      await wrong.close();
    }
  });

  it('answers 503 while the KDC is down on first use, and recovers when it is back', async () => {
    // Another JAAS file: a new login with an empty credential cache, as after a restart.
    const jaas = join(krb.dir, 'fresh.conf');
    copyFileSync(krb.jaas(krb.keytabs.knox, GATEWAY_PRINCIPAL), jaas);
    await krb.stopKdc();
    const fresh = await startSecured(krb, jaas);
    try {
      const down = await fresh.get('/secure/kdc-down');
      assert.equal(down.status, 503, down.body);
      assert.equal(JSON.parse(down.body).error.code, 'POSTERN_ERR_KERBEROS_UNAVAILABLE');
      await krb.startKdc();
      const up = await fresh.get('/secure/kdc-up');
      assert.equal(up.status, 200, up.body);
      assert.equal(up.headers['x-remote-user'], GATEWAY_PRINCIPAL);
    } finally {
      await krb.startKdc();
      await fresh.close();
    }
  });
});
