/**
 * Several nodes sharing their state through one real Redis (`postern.state.redis.url`): two real `postern start`
 * processes (TLS, one home each) share a Basic-login session, a client’s rate limit, a user’s failed logins
 * (exactly, under concurrent attempts) and a topology’s WebSocket limit; with Redis stopped the requests that need it get 503 (logged once) and the nodes recover when it is
 * back. Then, behind Debian's nginx with the bundled ops/nginx/postern-lb.conf (a copy with the test's ports and
 * certificates), a real Chromium signed in once keeps its KNOXSESSIONID cookie and stays signed in while node A
 * is stopped and restarted, and is then served by the restarted A alone. Last, RedisSessions itself against a real
 * Redis: sign-out, the timeout restarted by use, and a changed user's sessions ended on every node.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { type ClientOptions, WebSocket } from 'ws';
import {
  acquireSharedState,
  digest,
  NODE_TTL_MS,
  type RedisState,
  sharedState,
} from '../../src/cluster/redis-state.ts';
import type { GatewaySettings } from '../../src/config/gateway-site.ts';
import { RedisSessions } from '../../src/providers/authentication/shiro/sessions.ts';
import { closedPort } from '../helpers/backend.ts';
import { launchChromium } from '../helpers/browser.ts';
import { type Node as Backend, startNode as startBackend } from '../helpers/cluster.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { startNginxLb } from '../helpers/nginx-lb.ts';
import { makeAuthority } from '../helpers/pki.ts';
import { type RedisFixture, startRedis } from '../helpers/redis.ts';
import { basic, channelsTopology, PUBLISHERS, writeUsers } from '../services/channels/fixture.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO, 'src/cli/main.ts');

interface GatewayNode {
  name: string;
  home: TestHome;
  port: number;
  child?: ChildProcess;
  out: string;
}

async function startGatewayNode(node: GatewayNode): Promise<void> {
  const child = spawn(process.execPath, [CLI, 'start', '--home', node.home.dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  node.child = child;
  node.out = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    node.out += c;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      node.out += chunk;
      if (/^postern listening on /m.test(node.out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`node ${node.name} exited with ${code}: ${node.out}`)));
  });
}

async function stopGatewayNode(node: GatewayNode): Promise<void> {
  const child = node.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const sessionCookie = (setCookie: string | string[] | undefined): string | undefined =>
  ([] as string[])
    .concat(setCookie ?? [])
    .find((c) => c.startsWith('KNOXSESSIONID='))
    ?.split(';')[0];

async function until(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('several nodes sharing state through Redis (postern.state.redis.url)', () => {
  let redis: RedisFixture;
  let backend: Backend;
  let pkiHome: TestHome;
  let agent: Agent;
  let ca: string;
  const nodes: GatewayNode[] = [];
  let nginx: ChildProcess | undefined;

  /** One request to a node (TLS, verified as postern.internal); no keep-alive across tests matters here. */
  const send = async (node: GatewayNode, path: string, headers: Record<string, string> = {}) => {
    const res = await request(`https://127.0.0.1:${node.port}/gateway${path}`, {
      dispatcher: agent,
      headers,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  };

  const openWs = (node: GatewayNode): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${node.port}/gateway/ws/echo/ws`, {
        perMessageDeflate: false,
        ca,
        // ws hands it to tls.connect (its types do not list it)
        servername: 'postern.internal',
      } as ClientOptions);
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        reject(new Error(`status ${res.statusCode}`));
      });
      ws.once('error', reject);
    });

  before(async () => {
    redis = await startRedis();
    backend = await startBackend('one');
    pkiHome = makeHome();
    const authority = makeAuthority(pkiHome.dir, 'nodes-ca');
    const nodeCert = authority.issue({ name: 'node', cn: 'node', dns: ['postern.internal'] });
    ca = authority.cert;
    agent = new Agent({ connect: { ca, servername: 'postern.internal' }, pipelining: 0 });
    for (const name of ['A', 'B']) {
      const port = await closedPort();
      const home = makeHome({
        // Node A is one process (its log is read for lines said once per process); node B runs two workers:
        // each reaches Redis itself, as a node of its own.
        'postern.workers': name === 'B' ? 2 : 1,
        'gateway.port': port,
        'ssl.enabled': true,
        'gateway.tls.certificate.path': nodeCert.certFile,
        'gateway.tls.key.path': nodeCert.keyFile,
        'gateway.websocket.feature.enabled': true,
        'postern.state.redis.url': redis.url,
        'postern.shutdown.grace': '5s',
        'postern.auth.failures.per.user': 3,
      });
      await writeUsers(home);
      home.write(
        'conf/topologies/app.xml',
        channelsTopology(PUBLISHERS).replace(
          '</topology>',
          `  <service><role>HTTP</role><url>${backend.url}</url></service>\n</topology>`,
        ),
      );
      home.write(
        'conf/topologies/limited.xml',
        topologyXml({
          providers: [
            { role: 'authentication', name: 'Anonymous' },
            { role: 'identity-assertion', name: 'Default' },
            {
              role: 'webappsec',
              name: 'WebAppSec',
              params: { 'rate.limiting.enabled': 'true', 'rate.limiting.maxRequestsPerSec': '1' },
            },
          ],
          services: [{ role: 'HTTP', urls: [backend.url] }],
        }),
      );
      home.write(
        'conf/topologies/ws.xml',
        topologyXml({
          services: [
            { role: 'ECHOWS', urls: [backend.url], params: { 'postern.websocket.max.connections': '1' } },
          ],
        }),
      );
      nodes.push({ name, home, port, out: '' });
    }
    await Promise.all(nodes.map(startGatewayNode));
  });

  after(async () => {
    nginx?.kill('SIGKILL');
    for (const n of nodes) {
      await stopGatewayNode(n);
      n.home.remove();
    }
    await agent?.close();
    await backend?.kill();
    await redis?.close();
    pkiHome?.remove();
  });

  it('accepts a Basic login session made on node A on node B', async () => {
    const [a, b] = nodes;
    const login = await send(a, '/app/http/login', { authorization: basic('alice') });
    assert.equal(login.status, 200, login.text);
    const cookie = sessionCookie(login.headers['set-cookie']);
    assert.ok(cookie, 'a session cookie');
    const onB = await send(b, '/app/http/with-session', { cookie });
    assert.equal(onB.status, 200, `node B accepts the session: ${onB.text}`);
    const unknown = await send(b, '/app/http/no-session', { cookie: `KNOXSESSIONID=${'x'.repeat(43)}` });
    assert.equal(unknown.status, 401);
    // The id itself is nowhere in Redis: only its digest names the key.
    const id = cookie.slice('KNOXSESSIONID='.length);
    const dump = await redisKeys(redis.port);
    assert.ok(
      dump.some((k) => k.startsWith('postern:state:session:app:')),
      dump.join('\n'),
    );
    assert.ok(!dump.some((k) => k.includes(id)), 'no key holds the session id');
  });

  it('counts a client’s rate limit over both nodes', async () => {
    // 1 request a second per address: the one token A spends is gone on B too (a bucket per node would let B
    // pass). Retried when the machine was so slow that a second went by between the two.
    const [a, b] = nodes;
    for (let attempt = 0; ; attempt++) {
      await new Promise((r) => setTimeout(r, 1100)); // a full bucket
      const started = performance.now();
      const first = await send(a, '/limited/http/rate');
      const second = await send(b, '/limited/http/rate');
      const ms = performance.now() - started;
      if (ms >= 900 && attempt < 3) continue;
      assert.equal(first.status, 200, first.text);
      assert.equal(first.headers['x-ratelimit-remaining'], '0');
      assert.equal(second.status, 429, `node B counts node A's request (${ms.toFixed(0)} ms apart)`);
      assert.equal(second.headers['retry-after'], '1');
      break;
    }
  });

  it('counts a user’s failed logins over both nodes (the login throttle in Redis)', async () => {
    // 3 failures per user: two on A and one on B reach it; a count per node would let both go on.
    const [a, b] = nodes;
    const wrong = `Basic ${Buffer.from('eve:not-her-password').toString('base64')}`;
    for (const node of [a, b, a]) {
      const r = await send(node, '/app/http/wrong', { authorization: wrong });
      assert.equal(r.status, 401, `node ${node.name}: ${r.text}`);
    }
    for (const node of [b, a]) {
      const r = await send(node, '/app/http/refused', { authorization: basic('eve') });
      assert.equal(r.status, 429, `node ${node.name} refuses eve, her right password too: ${r.text}`);
      assert.ok(Number(r.headers['retry-after']) > 0);
    }
    // Keyed by digests: neither the user name nor the address is in Redis.
    const dump = await redisKeys(redis.port);
    assert.ok(
      dump.some((k) => k.startsWith('postern:state:login:user:')),
      dump.join('\n'),
    );
    assert.ok(
      dump.some((k) => k.startsWith('postern:state:login:address:')),
      dump.join('\n'),
    );
    const login = dump.filter((k) => k.startsWith('postern:state:login:') || k.includes(':bucket:login:'));
    assert.ok(!login.some((k) => k.includes('eve') || k.includes('127.0.0.1')), login.join('\n'));
  });

  it('gives concurrent wrong passwords over both nodes no more password checks than the limit', async () => {
    // 8 at once, alternating between the nodes, for a user name nobody has: 3 failures per user. Checked by one
    // script and counted by another, all 8 would pass before the first failure was counted; one script does both.
    const wrong = (i: number) => `Basic ${Buffer.from(`mallory:guess-${i}`).toString('base64')}`;
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => send(nodes[i % 2], '/app/http/guess', { authorization: wrong(i) })),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429, 429, 429]);
    // A good login gives its slot back: pub's first logins on A and B (password checks, no cache yet) leave all
    // 3 failures to come.
    for (let i = 0; i < 4; i++) {
      const r = await send(nodes[i % 2], '/app/http/good', { authorization: basic('pub') });
      assert.equal(r.status, 200, r.text);
    }
    const pubWrong = `Basic ${Buffer.from('pub:not-the-password').toString('base64')}`;
    for (let i = 0; i < 3; i++) {
      const r = await send(nodes[i % 2], '/app/http/wrong', { authorization: pubWrong });
      assert.equal(r.status, 401, `failure ${i + 1} of 3: ${r.text}`);
    }
    // A window an earlier version kept as a plain counter is still read (not a WRONGTYPE error, not ignored).
    const { Redis } = await import('ioredis');
    const r = new Redis(redis.port, '127.0.0.1');
    try {
      await r.set(`postern:state:login:user:${digest('bob')}`, '3', 'PX', 60_000);
    } finally {
      r.disconnect();
    }
    const old = await send(nodes[0], '/app/http/old', { authorization: basic('bob') });
    assert.equal(old.status, 429, old.text);
  });

  it('counts a topology’s WebSocket connections over both nodes', async () => {
    const [a, b] = nodes;
    const first = await openWs(a);
    try {
      await assert.rejects(openWs(b), /status 503/, 'node B refuses: the one connection is on node A');
    } finally {
      first.close();
    }
    // Closed on A: B accepts one once A has written its count.
    let second: WebSocket | undefined;
    await until(async () => {
      second = await openWs(b).catch(() => undefined);
      return second !== undefined;
    }, 'node B accepting once node A closed its connection');
    second?.close();
  });

  it('answers 503 while Redis is down (logged once) and recovers when it is back', async () => {
    const [a, b] = nodes;
    const login = await send(a, '/app/http/login', { authorization: basic('alice') });
    const cookie = sessionCookie(login.headers['set-cookie'])!;
    await redis.stop();
    try {
      for (let i = 0; i < 3; i++) {
        const r = await send(b, '/app/http/with-session', { cookie });
        assert.equal(r.status, 503, `a session is not checked without Redis: ${r.text}`);
      }
      assert.equal((await send(a, '/app/http/login', { authorization: basic('alice') })).status, 503);
      // A wrong password is not checked either: the login throttle cannot count it (a 401 would mean it was).
      const wrong = `Basic ${Buffer.from('bob:not-his-password').toString('base64')}`;
      assert.equal((await send(a, '/app/http/login', { authorization: wrong })).status, 503);
      assert.equal((await send(a, '/limited/http/rate')).status, 503);
      await assert.rejects(openWs(a), /status 503/);
    } finally {
      await redis.start();
    }
    // Node A is one process (node B's two workers log one line each).
    const log = readFileSync(join(a.home.dir, 'logs/gateway.log'), 'utf8');
    assert.equal(
      log.split('shared state in Redis is unavailable').length - 1,
      1,
      `the outage is logged once:\n${log
        .split('\n')
        .filter((l) => /redis/i.test(l))
        .join('\n')}`,
    );
    // Redis came back empty (no persistence): a new login works on both nodes.
    let fresh: string | undefined;
    await until(async () => {
      const r = await send(a, '/app/http/login', { authorization: basic('alice') });
      fresh = sessionCookie(r.headers['set-cookie']);
      return r.status === 200;
    }, 'node A logging in again');
    await until(async () => (await send(b, '/app/http/again', { cookie: fresh! })).status === 200, 'node B');
    await until(
      async () => readFileSync(join(b.home.dir, 'logs/gateway.log'), 'utf8').includes('available again'),
      'the recovery logged',
    );
  });

  it('forgets the WebSocket connections of a node that died (its liveness key expires)', async () => {
    const [a, b] = nodes;
    const held = await openWs(a);
    // Node A writes its count just after the handshake: killed before that, it would have nothing to leak.
    await until(
      async () => (await redisHash(redis.port, 'postern:state:ws:ws')).length === 1,
      'node A’s count in Redis',
    );
    const gone = new Promise((r) => held.once('close', r));
    a.child!.kill('SIGKILL');
    await gone;
    await assert.rejects(openWs(b), /status 503/, 'the dead node’s count holds until its key expires');
    let accepted: WebSocket | undefined;
    await until(
      async () => {
        accepted = await openWs(b).catch(() => undefined);
        return accepted !== undefined;
      },
      'node B accepting once node A’s liveness key expired',
      NODE_TTL_MS + 10_000,
    );
    accepted?.close();
    await startGatewayNode(a);
  });

  it('behind nginx (ops/nginx/postern-lb.conf), keeps a client’s session while node A stops and restarts', async () => {
    const dir = pkiHome.dir;
    const authority = makeAuthority(dir, 'lb-ca');
    const lb = authority.issue({ name: 'lb', cn: 'lb', dns: ['gateway.example.com'], ips: ['127.0.0.1'] });
    const lbPort = await closedPort();
    nginx = startNginxLb({
      dir,
      nodePorts: [nodes[0].port, nodes[1].port],
      port: lbPort,
      files: { cert: lb.certFile, key: lb.keyFile, nodesCa: join(dir, 'nodes-ca.crt') },
    });
    const lbAgent = new Agent({ connect: { ca: authority.cert, servername: 'gateway.example.com' } });
    const base = `https://127.0.0.1:${lbPort}/gateway/app`;
    const browser = await launchChromium();
    try {
      await until(async () => {
        const res = await request(`${base}/http/up`, { dispatcher: lbAgent }).catch(() => undefined);
        await res?.body.dump();
        return res?.statusCode === 401;
      }, 'nginx up');
      // A user signs in once (Basic, sent by a page of its own), then browses in another page of the same
      // browser context: its cookie jar holds KNOXSESSIONID, and no request of that page carries credentials.
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const signIn = await context.newPage();
      await signIn.setExtraHTTPHeaders({ authorization: basic('alice') });
      assert.equal((await signIn.goto(`${base}/http/login`))?.status(), 200);
      await signIn.close();
      const cookies = await context.cookies();
      assert.ok(
        cookies.some((c) => c.name === 'KNOXSESSIONID' && c.httpOnly),
        'signed in: the jar holds the session cookie',
      );
      const page = await context.newPage();
      const credentialed: string[] = [];
      page.on('request', (r) => {
        if (r.headers().authorization !== undefined) credentialed.push(r.url());
      });
      const browse = async (path: string) => {
        const res = await page.goto(`${base}${path}`).catch(() => null);
        return { status: res?.status() ?? 0, text: res ? await res.text() : 'no answer' };
      };
      for (let i = 0; i < 4; i++) assert.equal((await browse(`/http/both-${i}`)).status, 200);
      const [a, b] = nodes;
      await stopGatewayNode(a);
      for (let i = 0; i < 4; i++) {
        const r = await browse(`/http/a-down-${i}`);
        assert.equal(r.status, 200, `served by node B with the session: ${r.text}`);
      }
      await startGatewayNode(a);
      // Node B stops too: node A, restarted, serves alone, and the browser is still signed in.
      await stopGatewayNode(b);
      await until(async () => (await browse('/http/a-back')).status === 200, 'node A serving through nginx');
      for (let i = 0; i < 4; i++) {
        const r = await browse(`/http/a-restarted-${i}`);
        assert.equal(r.status, 200, `the restarted node A accepts the session: ${r.text}`);
      }
      assert.deepEqual(credentialed, [], 'the browsing page sent no credentials');
      const noJar = await request(`${base}/http/no-cookie`, { dispatcher: lbAgent });
      await noJar.body.dump();
      assert.equal(noJar.statusCode, 401, 'without the cookie the client is not signed in');
      await context.close();
      await startGatewayNode(b);
    } finally {
      await browser.close();
      await lbAgent.close();
    }
  });
});

/** The keys in Redis (KEYS *: a test-only look). */
async function redisKeys(port: number): Promise<string[]> {
  const { Redis } = await import('ioredis');
  const r = new Redis(port, '127.0.0.1');
  try {
    return await r.keys('*');
  } finally {
    r.disconnect();
  }
}

/** The fields of a hash in Redis (a test-only look). */
async function redisHash(port: number, key: string): Promise<string[]> {
  const { Redis } = await import('ioredis');
  const r = new Redis(port, '127.0.0.1');
  try {
    return await r.hkeys(key);
  } finally {
    r.disconnect();
  }
}

describe('RedisSessions against a real Redis', () => {
  let redis: RedisFixture;
  let release: (() => Promise<void>) | undefined;
  let state: RedisState;

  before(async () => {
    redis = await startRedis();
    const settings = { stateRedisUrl: redis.url } as GatewaySettings;
    release = acquireSharedState(settings, { info() {}, warn() {}, debug() {} });
    state = sharedState(settings)!;
  });

  after(async () => {
    await release?.();
    await redis?.close();
  });

  it('shares sessions by namespace, restarts their TTL on use, ends them at sign-out and when their user changes', async () => {
    const onA = new RedisSessions(state, 'app:config', 60_000);
    const onB = new RedisSessions(state, 'app:config', 60_000);
    const otherConfig = new RedisSessions(state, 'app:other', 60_000);
    const alice = { name: 'alice', groups: ['ops'] };
    const { id } = await onA.create(alice);
    assert.deepEqual((await onB.touch(id))?.user, alice);
    assert.equal(await otherConfig.touch(id), undefined, 'another configuration has sessions of its own');
    assert.equal(await onB.touch('not an id'), undefined);

    const keys = await redisKeys(redis.port);
    const sessionKey = keys.find((k) => k.startsWith('postern:state:session:app:config:'))!;
    assert.ok(sessionKey, keys.join('\n'));
    const { Redis } = await import('ioredis');
    const raw = new Redis(redis.port, '127.0.0.1');
    try {
      await raw.pexpire(sessionKey, 5000);
      await onB.touch(id);
      assert.ok((await raw.pttl(sessionKey)) > 50_000, 'a use restarts the session timeout');
    } finally {
      raw.disconnect();
    }

    onB.end(id);
    await until(async () => (await onA.touch(id)) === undefined, 'the session ended on every node');

    const one = await onA.create(alice);
    const two = await onB.create(alice);
    const bob = await onA.create({ name: 'bob', groups: [] });
    onB.dropUsers(new Set(['alice']));
    await until(
      async () => (await onA.touch(one.id)) === undefined && (await onA.touch(two.id)) === undefined,
      'alice’s sessions dropped',
    );
    assert.equal((await onB.touch(bob.id))?.user.name, 'bob', 'other users keep theirs');
  });
});
