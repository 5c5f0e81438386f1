/**
 * `postern start` with `postern.workers=2`, as a real process: one gateway as seen from outside, whichever
 * worker serves. Which worker served a request is read from the access log (each worker's lines carry
 * `worker`), matched by the request id the test sends; new connections are opened until both workers were
 * seen (node:cluster hands connections round-robin).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { call, type Node, startNode } from '../helpers/cluster.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { type PosternProcess, startPostern, workerThatServed } from '../helpers/postern-process.ts';
import { basic, Client, channelsTopology, PUBLISHERS, writeUsers } from '../services/channels/fixture.ts';

const PLUGIN = fileURLToPath(new URL('./crash-plugin.ts', import.meta.url));
let counter = 0;

describe('postern start with two workers', () => {
  let home: TestHome;
  let postern: PosternProcess;
  let one: Node;
  let two: Node;

  /** The worker that served the request with this id. */
  const servedBy = (reqId: string) => workerThatServed(home.dir, reqId);

  /** One request on a new connection, and the worker that served it. */
  const send = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const reqId = `workers-test-${process.pid}-${++counter}`;
    const answer = await call(postern.port, method, `/gateway${path}`, {
      headers: { 'x-request-id': reqId, ...headers },
    });
    return { ...answer, worker: await servedBy(reqId) };
  };

  const gatewayLog = () => readFileSync(join(home.dir, 'logs/gateway.log'), 'utf8');
  const until = async (check: () => boolean | Promise<boolean>, what: string, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${postern.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const workerPids = () =>
    execFileSync('pgrep', ['-P', String(postern.child.pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);

  before(async () => {
    one = await startNode('one');
    two = await startNode('two');
    home = makeHome({
      'postern.workers': 2,
      // Worker 2 logs what every worker finds the same (deployment outcomes) at debug: read here to see it.
      'postern.log.level': 'debug',
      'gateway.websocket.feature.enabled': true,
      'postern.metrics.enabled': true,
      'postern.metrics.gateway.listener': true,
      'postern.plugins': PLUGIN,
    });
    await writeUsers(home);
    home.write('conf/topologies/plain.xml', topologyXml({ services: [{ role: 'HTTP', urls: [one.url] }] }));
    home.write('conf/topologies/counted.xml', topologyXml({ services: [{ role: 'HTTP', urls: [one.url] }] }));
    home.write(
      'conf/topologies/limited.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'identity-assertion', name: 'Default' },
          {
            role: 'webappsec',
            name: 'WebAppSec',
            params: { 'rate.limiting.enabled': 'true', 'rate.limiting.maxRequestsPerSec': '2' },
          },
        ],
        services: [{ role: 'HTTP', urls: [one.url] }],
      }),
    );
    home.write(
      'conf/topologies/ws.xml',
      topologyXml({
        services: [{ role: 'ECHOWS', urls: [one.url], params: { 'postern.websocket.max.connections': '1' } }],
      }),
    );
    home.write(
      'conf/topologies/crashy.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'identity-assertion', name: 'Default' },
          { role: 'authorization', name: 'CrashTest' },
        ],
        services: [
          { role: 'HTTP', urls: [one.url] },
          { role: 'ECHOWS', urls: [one.url] },
        ],
      }),
    );
    // Basic login, a session, channels (publishers may publish, anyone subscribe), and a backend.
    home.write(
      'conf/topologies/app.xml',
      channelsTopology(PUBLISHERS).replace(
        '</topology>',
        `  <service><role>HTTP</role><url>${one.url}</url></service>\n  <service><role>ADMIN</role></service>\n</topology>`,
      ),
    );
    postern = await startPostern(home.dir);
  });

  after(async () => {
    await postern?.stop();
    await one?.kill();
    await two?.kill();
    home?.remove();
  });

  it('says how many workers it runs, and serves from both', async () => {
    assert.match(
      postern.output(),
      /^postern listening on http:\/\/127\.0\.0\.1:\d+\/gateway .*workers: 2\)/m,
    );
    const seen = new Set<number>();
    for (let i = 0; i < 20 && seen.size < 2; i++) {
      const r = await send('/plain/http/both');
      assert.equal(r.status, 200);
      assert.equal(r.json?.name, 'one');
      seen.add(r.worker);
    }
    assert.deepEqual([...seen].sort(), [1, 2]);
  });

  it('accepts a Basic login session (KNOXSESSIONID) made on one worker on the other', async () => {
    const login = await send('/app/http/login', { authorization: basic('alice') });
    assert.equal(login.status, 200);
    const cookie = ([] as string[])
      .concat(login.headers['set-cookie'] ?? [])
      .find((c) => c.startsWith('KNOXSESSIONID='))
      ?.split(';')[0];
    assert.ok(cookie, 'a session cookie');
    const seen = new Set<number>([login.worker]);
    for (let i = 0; i < 20 && seen.size < 2; i++) {
      const r = await send('/app/http/with-session', { cookie });
      assert.equal(r.status, 200, `worker ${r.worker} accepts the session: ${r.text}`);
      seen.add(r.worker);
    }
    assert.equal(seen.size, 2, 'the session was used on both workers');
    const unknown = await send('/app/http/no-session', { cookie: `KNOXSESSIONID=${'x'.repeat(43)}` });
    assert.equal(unknown.status, 401);
  });

  it('ends a session on every worker when it signs out on one', async () => {
    const login = await send('/app/http/login', { authorization: basic('alice') });
    const cookie = ([] as string[])
      .concat(login.headers['set-cookie'] ?? [])
      .find((c) => c.startsWith('KNOXSESSIONID='))
      ?.split(';')[0];
    assert.ok(cookie, 'a session cookie');
    const out = await send('/app/api/v1/logout', { cookie });
    assert.equal(out.status, 401);
    const seen = new Set<number>();
    for (let i = 0; i < 20 && seen.size < 2; i++) {
      const r = await send('/app/http/after-sign-out', { cookie });
      assert.equal(r.status, 401, `worker ${r.worker} refuses the ended session`);
      seen.add(r.worker);
    }
    assert.equal(seen.size, 2, 'both workers were asked');
  });

  it('counts a client’s rate limit over both workers', async () => {
    // 2 requests a second per address: one bucket for the gateway holds 2 tokens and refills 2 a second; a
    // bucket per worker would let through twice as many.
    const started = performance.now();
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await send('/limited/http/rate'));
    const seconds = (performance.now() - started) / 1000;
    assert.deepEqual(new Set(answers.map((a) => a.worker)).size, 2);
    const passed = answers.filter((a) => a.status === 200).length;
    assert.ok(answers.every((a) => a.status === 200 || a.status === 429));
    assert.ok(
      passed <= 2 + Math.ceil(2 * seconds),
      `${passed} of 10 passed in ${seconds.toFixed(2)} s: more than one bucket allows`,
    );
  });

  it('counts a topology’s WebSocket connections over both workers', async () => {
    const url = `ws://127.0.0.1:${postern.port}/gateway/ws/echo/ws`;
    const open = (): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { perMessageDeflate: false });
        ws.once('open', () => resolve(ws));
        ws.once('unexpected-response', (_req, res) => {
          res.resume();
          reject(new Error(`status ${res.statusCode}`));
        });
        ws.once('error', reject);
      });
    const first = await open();
    try {
      // Four more connections: round-robin sends at least two to the other worker; the topology's one
      // connection is taken on whichever worker holds it.
      for (let i = 0; i < 4; i++) await assert.rejects(open(), /status 503/);
    } finally {
      first.close();
    }
  });

  it('delivers a channel message published on one worker to subscribers on both', async () => {
    const url = `ws://127.0.0.1:${postern.port}/gateway/app/websocket/`;
    const subscribers: Client[] = [];
    try {
      // Consecutive connections alternate between the workers.
      for (let i = 0; i < 4; i++) {
        const c = await Client.open(url, { authorization: basic('alice') });
        subscribers.push(c);
        assert.equal((await c.next()).accept, true);
        await c.subscribe({ jobs: ['42'] });
      }
      const reqId = `workers-test-${process.pid}-${++counter}`;
      const body = Buffer.from(JSON.stringify({ group: 'jobs-42', message: { n: 1 } }));
      const answer = await call(postern.port, 'POST', '/gateway/app/websocket/publish', {
        body,
        headers: { 'x-request-id': reqId, authorization: basic('pub'), 'content-type': 'application/json' },
      });
      assert.equal(answer.status, 202, answer.text);
      for (const c of subscribers) {
        const frame = await c.next(10_000);
        assert.equal(frame.n, 1, JSON.stringify(frame));
      }
    } finally {
      for (const c of subscribers) c.ws.terminate();
    }
  });

  it('reports every worker’s channel node in one metrics scrape', async () => {
    const url = `ws://127.0.0.1:${postern.port}/gateway/app/websocket/`;
    const subscribers: Client[] = [];
    const scrape = async () => (await call(postern.port, 'GET', '/metrics')).text.split('\n');
    const sample = (lines: string[], prefix: string) =>
      lines.filter((l) => l.startsWith(prefix)).map((l) => Number(l.split(' ').at(-1)));
    try {
      // Consecutive connections alternate between the workers: two subscribers on each.
      for (let i = 0; i < 4; i++) {
        const c = await Client.open(url, { authorization: basic('alice') });
        subscribers.push(c);
        assert.equal((await c.next()).accept, true);
        await c.subscribe({ jobs: ['7'] });
      }
      // Summed over the workers, whichever answered: every client is one worker's (the previous test's are gone
      // once their workers noticed).
      let lines: string[] = [];
      await until(async () => {
        lines = await scrape();
        return sample(lines, 'postern_channels_subscribers{topology="app"}')[0] === 4;
      }, '4 subscribers, summed over the workers, in one scrape');
      const channels = lines.filter((l) => l.startsWith('postern_channels_')).join('\n');
      assert.equal(
        sample(lines, 'postern_channels_subscribers{topology="app"').length,
        1,
        `one summed series:\n${channels}`,
      );
      // Kept apart by worker: each worker's node has its own groups (jobs-7 is on both: a sum would say 2) and
      // its own layer and relay counts.
      for (const worker of [1, 2]) {
        assert.deepEqual(
          sample(lines, `postern_channels_groups{topology="app",worker="${worker}"}`),
          [1],
          `worker ${worker}'s groups:\n${channels}`,
        );
        assert.ok(
          lines.some((l) =>
            new RegExp(
              `^postern_channels_layer_info\\{layer="workers",node="[0-9a-f]+",worker="${worker}"\\} 1$`,
            ).test(l),
          ),
          lines.filter((l) => l.startsWith('postern_channels_layer_info')).join('\n'),
        );
        assert.ok(
          lines.some((l) =>
            l.startsWith(`postern_channels_worker_messages_total{direction="out",worker="${worker}"}`),
          ),
        );
      }
      assert.equal(
        lines.filter((l) => l === '# TYPE postern_channels_subscribers gauge').length,
        1,
        'each family once',
      );
    } finally {
      for (const c of subscribers) c.ws.terminate();
    }
  });

  it('answers /readyz for every worker', async () => {
    const r = await call(postern.port, 'GET', '/readyz');
    assert.equal(r.status, 200, r.text);
    const body = JSON.parse(r.text);
    assert.equal(body.status, 'ready');
    assert.deepEqual(body.workers, { ready: 2, answered: 2, of: 2 });
  });

  it('shows every worker in one metrics scrape', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 8; i++) seen.add((await send('/counted/http/metrics')).worker);
    assert.equal(seen.size, 2);
    const scrape = await call(postern.port, 'GET', '/metrics');
    assert.equal(scrape.status, 200);
    const line = scrape.text
      .split('\n')
      .find((l) => l.startsWith('postern_http_requests_total{') && l.includes('topology="counted"'));
    assert.ok(line, scrape.text.slice(0, 2000));
    assert.equal(Number(line.split(' ').at(-1)), 8, line);
  });

  it('redeploys a changed topology on every worker, and a broken file on none', async () => {
    home.write('conf/topologies/plain.xml', topologyXml({ services: [{ role: 'HTTP', urls: [two.url] }] }));
    const switched = new Set<number>();
    await until(async () => {
      const r = await send('/plain/http/redeploy');
      if (r.json?.name === 'two') switched.add(r.worker);
      return switched.size === 2;
    }, 'both workers serving the new backend');
    const refusals = () =>
      gatewayLog()
        .split('\n')
        .filter((l) => l.includes('topology plain was not redeployed'))
        .map((l) => JSON.parse(l) as { level: number; pid: number });
    const before = refusals().length;
    // Written whole, by a rename (as deployment tools do): an in-place write seen between its truncate and its
    // bytes by a scan on a loaded machine is a second broken state, rightly refused and logged on its own (a
    // clean-clone run once logged [20, 50, 50] here).
    const broken = home.write('conf/topologies/plain.xml.new', '<topology><gateway><provider></topology>');
    renameSync(broken, join(home.dir, 'conf/topologies/plain.xml'));
    await until(() => refusals().length >= before + 2, 'both workers refusing the broken file');
    const now = refusals().slice(before);
    assert.equal(new Set(now.map((l) => l.pid)).size, 2, 'one refusal from each worker');
    assert.deepEqual(
      now.map((l) => l.level).sort(),
      [20, 50],
      'said once as an error (worker 1), at debug by the other worker',
    );
    const seen = new Set<number>();
    for (let i = 0; i < 10 && seen.size < 2; i++) {
      const r = await send('/plain/http/after-broken');
      assert.equal(r.status, 200);
      assert.equal(r.json?.name, 'two', `worker ${r.worker} still serves the last good deployment`);
      seen.add(r.worker);
    }
    assert.equal(seen.size, 2);
  });

  it('replaces a killed worker while the other keeps serving', async () => {
    const before = workerPids();
    assert.equal(before.length, 2, 'two worker processes');
    process.kill(before[0], 'SIGKILL');
    await until(() => /worker \d was killed by SIGKILL; restarting it/.test(gatewayLog()), 'the restart log');
    // The other keeps serving meanwhile (the replacement comes after a back-off).
    for (let i = 0; i < 4; i++) assert.equal((await send('/counted/http/while-down')).status, 200);
    await until(() => {
      const now = workerPids();
      return now.length === 2 && !now.includes(before[0]);
    }, 'a replacement worker');
    const seen = new Set<number>();
    await until(async () => {
      const r = await send('/counted/http/after-restart');
      if (r.status === 200) seen.add(r.worker);
      return seen.size === 2;
    }, 'both workers serving again');
  });

  it('replaces a crashed worker: its stack logged by the primary, its WebSockets closed with 1011', async () => {
    const url = `ws://127.0.0.1:${postern.port}/gateway/crashy/echo/ws`;
    const sockets: { ws: WebSocket; closed: Promise<number> }[] = [];
    // Consecutive connections alternate between the workers: one socket on each.
    for (let i = 0; i < 2; i++) {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      sockets.push({ ws, closed });
    }
    const before = workerPids();
    const r = await send('/crashy/http/crash');
    assert.equal(r.status, 200);
    const code = await Promise.race(sockets.map((s) => s.closed));
    assert.equal(code, 1011, 'the crashed worker closes its WebSockets with 1011');
    // The primary's line, with the stack the worker sent before dying.
    const crashLine = (line: string) => {
      const entry = (line.startsWith('{') ? JSON.parse(line) : {}) as { component?: string; msg?: string };
      return (
        entry.component === 'primary' &&
        /^worker \d crashed: Error: the crash test provider failed on purpose\n\s+at /.test(
          entry.msg ?? '',
        ) &&
        entry.msg!.startsWith(`worker ${r.worker} `)
      );
    };
    await until(() => gatewayLog().split('\n').some(crashLine), 'the stack in the primary’s log');
    // The other worker's socket is still open and relaying.
    const alive = sockets.find((s) => s.ws.readyState === WebSocket.OPEN);
    assert.ok(alive, 'the other worker keeps its WebSocket');
    for (const s of sockets) s.ws.terminate();
    await until(() => {
      const now = workerPids();
      return now.length === 2 && now.some((p) => !before.includes(p));
    }, 'a replacement worker');
    await until(
      async () => (await send('/counted/http/after-crash')).worker === r.worker,
      'the replacement serving',
    );
  });

  it('stops every worker gracefully on SIGTERM', async () => {
    const pids = workerPids();
    assert.equal(pids.length, 2);
    const exited = new Promise<number | null>((resolve) =>
      postern.child.once('exit', (code) => resolve(code)),
    );
    postern.child.kill('SIGTERM');
    const timeout = new Promise<string>((resolve) =>
      setTimeout(() => resolve('still running'), 40_000).unref(),
    );
    assert.equal(await Promise.race([exited, timeout]), 0);
    const log = gatewayLog();
    for (const pid of pids) {
      assert.match(log, new RegExp(`"pid":${pid},[^\\n]*"msg":"postern stopped"`), `worker ${pid} stopped`);
    }
    assert.match(log, /postern stopped \(all workers\)/);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/);
  });
});
