/**
 * `postern start` with `postern.workers=2`, as a real process: the state that used to be each worker's own is the
 * gateway's. The login throttle counts failed logins over both workers, exactly under concurrent attempts (and
 * fails closed while the primary does not answer), a backend one worker found dead is passed over by the other (and the console's feed says so once),
 * and the admin API asked on one worker lists what happened on the other: errors, HA states, connections,
 * traffic, status. Which worker served a request is read from the access log (`worker`), matched
 * by the request id the test sends; new connections are opened until the other worker serves (node:cluster hands
 * connections round-robin).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Answer, call, type Node, startNode } from '../helpers/cluster.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { type PosternProcess, startPostern, workerThatServed } from '../helpers/postern-process.ts';
import { basic, channelsTopology, PUBLISHERS, writeUsers } from '../services/channels/fixture.ts';

let counter = 0;
const credentials = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('state every worker shares (postern start, two workers)', () => {
  let home: TestHome;
  let postern: PosternProcess;
  let one: Node;
  let two: Node;
  let closedPort: number;

  /** The worker that served the request with this id. */
  const servedBy = (reqId: string) => workerThatServed(home.dir, reqId);

  /** One request on a new connection (from `from`, a loopback address), and the worker that served it. */
  const send = async (
    path: string,
    headers: Record<string, string> = {},
    from = '127.0.0.1',
  ): Promise<Answer & { worker: number }> => {
    const reqId = `shared-test-${process.pid}-${++counter}`;
    const answer =
      from === '127.0.0.1'
        ? await call(postern.port, 'GET', `/gateway${path}`, {
            headers: { 'x-request-id': reqId, ...headers },
          })
        : await fromAddress(from, `/gateway${path}`, { 'x-request-id': reqId, ...headers });
    return { ...answer, worker: await servedBy(reqId) };
  };

  const fromAddress = (localAddress: string, path: string, headers: Record<string, string>) =>
    new Promise<Answer>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: postern.port, path, headers, localAddress, agent: false },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  /** Requests (made by `make`) on new connections until one is served by a worker other than `not`. */
  const onOtherWorker = async (not: number, make: () => Promise<Answer & { worker: number }>) => {
    for (let i = 0; i < 20; i++) {
      const r = await make();
      if (r.worker !== not) return r;
    }
    throw new Error(`worker ${not} served every request`);
  };

  before(async () => {
    [one, two] = await Promise.all([startNode('one'), startNode('two')]);
    // A port nothing listens on: the backend of the topology whose requests fail.
    closedPort = await new Promise<number>((resolve) => {
      const s = http.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    home = makeHome({
      'postern.workers': 2,
      'postern.auth.failures.per.address': 5,
      'postern.auth.failures.per.user': 3,
      'postern.auth.failures.window': '10m',
      'postern.auth.verify.rate.per.address': 100,
    });
    await writeUsers(home);
    home.write(
      'conf/topologies/app.xml',
      channelsTopology(PUBLISHERS).replace(
        '</topology>',
        `  <service><role>HTTP</role><url>${one.url}</url></service>\n  <service><role>ADMIN</role></service>\n</topology>`,
      ),
    );
    // No failover and no load balancing: a request goes to the first URL of the worker's list, and one that
    // fails is answered 502 (its URL moved to the end of the list).
    home.write(
      'conf/topologies/ha.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'identity-assertion', name: 'Default' },
          {
            role: 'ha',
            name: 'HaProvider',
            params: { HTTP: 'enabled=true;maxFailoverAttempts=0;enableLoadBalancing=false' },
          },
        ],
        services: [{ role: 'HTTP', urls: [one.url, two.url] }],
      }),
    );
    home.write(
      'conf/topologies/dead.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [`http://127.0.0.1:${closedPort}`] }] }),
    );
    postern = await startPostern(home.dir);
  });

  after(async () => {
    if (postern?.child.pid) {
      try {
        process.kill(postern.child.pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    await postern?.stop();
    await one?.kill();
    await two?.kill();
    home?.remove();
  });

  it('refuses a user’s logins once their failures over both workers reach the limit', async () => {
    // 3 failures per user: spread over the two workers, a counter per worker would stay below it on each.
    const workers = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const r = await send('/app/http/x', { authorization: credentials('bob', `wrong-${i}`) });
      assert.equal(r.status, 401, r.text);
      workers.add(r.worker);
    }
    assert.equal(workers.size, 2, 'the failures were spread over both workers');
    // Now refused on both workers, the right password included (no password check runs).
    const refused = new Set<number>();
    for (let i = 0; i < 20 && refused.size < 2; i++) {
      const r = await send('/app/http/x', { authorization: basic('bob') });
      assert.equal(r.status, 429, `worker ${r.worker} refuses bob: ${r.text}`);
      assert.ok(Number(r.headers['retry-after']) > 0, 'Retry-After');
      refused.add(r.worker);
    }
    assert.equal(refused.size, 2);
    // Another user from the same address is not refused (3 failures are below the address's 5).
    assert.equal((await send('/app/http/x', { authorization: basic('alice') })).status, 200);
  });

  it('refuses an address once its failures over both workers reach the limit', async () => {
    // 5 failures per address, each for another (unknown) user so that no user's limit is reached.
    const workers = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const r = await send('/app/http/x', { authorization: credentials(`nobody-${i}`, 'x') }, '127.0.0.2');
      assert.equal(r.status, 401, r.text);
      workers.add(r.worker);
    }
    assert.equal(workers.size, 2, 'the failures were spread over both workers');
    const refused = new Set<number>();
    for (let i = 0; i < 20 && refused.size < 2; i++) {
      const r = await send('/app/http/x', { authorization: basic('alice') }, '127.0.0.2');
      assert.equal(r.status, 429, `worker ${r.worker} refuses the address: ${r.text}`);
      refused.add(r.worker);
    }
    assert.equal(refused.size, 2);
    // alice herself is not refused from another address.
    assert.equal((await send('/app/http/x', { authorization: basic('alice') }, '127.0.0.3')).status, 200);
  });

  it('gives concurrent wrong passwords over both workers no more password checks than the limit', async () => {
    // 10 at once (each from its own address, on its own connection) for a user name nobody has: 3 failures per
    // user. Checked in the primary and counted after the check, all 10 would pass before the first was counted.
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        send('/app/http/x', { authorization: credentials('mallory', `guess-${i}`) }, `127.0.0.${40 + i}`),
      ),
    );
    assert.equal(new Set(answers.map((a) => a.worker)).size, 2, 'both workers served some');
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
    // A good login from those addresses still works: the refusals were mallory's, not the addresses'.
    assert.equal((await send('/app/http/x', { authorization: basic('alice') }, '127.0.0.40')).status, 200);
  });

  it('passes over a backend one worker found dead on the other worker too', async () => {
    await one.kill();
    const first = await send('/ha/http/first');
    assert.equal(first.status, 502, `the dead first URL fails the request (no failover): ${first.text}`);
    // The mark travels worker → primary → the other worker; give it a moment before asking there.
    await new Promise((r) => setTimeout(r, 300));
    const other = await onOtherWorker(first.worker, () => send('/ha/http/second'));
    assert.equal(other.status, 200, `worker ${other.worker} goes to the live backend at once: ${other.text}`);
    assert.equal(other.json?.name, 'two');
    // The console's feed (the postern-events group, relayed between workers) tells it once, not once per worker.
    const downs = async () => {
      const r = await send('/app/api/v1/feed?after=0', { authorization: basic('alice') });
      const body = JSON.parse(r.text) as { events: unknown[] };
      return body.events
        .map((e) => JSON.stringify(e))
        .filter((e) => e.includes('backend-health') && e.includes(one.url) && e.includes('"down"'));
    };
    for (let i = 0; i < 50 && (await downs()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 2; i++) assert.equal((await downs()).length, 1, (await downs()).join('\n'));
    await one.restart();
    // Only the worker that noticed lists the backend as its recent error; the other says it was told.
    const log = readFileSync(join(home.dir, 'logs/gateway.log'), 'utf8');
    assert.match(
      log,
      new RegExp(`backend ${one.url} is down: ECONNREFUSED \\(a request on worker ${first.worker}\\)`),
    );
  });

  it('lists an error caused on one worker in the admin API asked on the other', async () => {
    const failed = await send('/dead/http/broken');
    assert.equal(failed.status, 502, failed.text);
    const admin = () => send('/app/api/v1/errors', { authorization: basic('alice') });
    const other = await onOtherWorker(failed.worker, admin);
    assert.equal(other.status, 200, other.text);
    const body = JSON.parse(other.text) as {
      total: number;
      errors: { topology: string; status?: number; worker: number }[];
      workers: { answered: number; of: number };
    };
    assert.deepEqual(body.workers, { answered: 2, of: 2 });
    const listed = body.errors.find((e) => e.topology === 'dead' && e.status === 502);
    assert.ok(listed, `worker ${other.worker} lists the 502 of worker ${failed.worker}: ${other.text}`);
    assert.equal(listed.worker, failed.worker);

    // The console's status and traffic views too: the other worker's request counts, every worker answers.
    const status = await onOtherWorker(failed.worker, () =>
      send('/app/api/v1/status', { authorization: basic('alice') }),
    );
    const s = JSON.parse(status.text) as {
      gateway: { ready: boolean; workers: { answered: number; each: { worker: number; pid: number }[] } };
      errors: { errors: { topology: string }[] };
    };
    assert.equal(s.gateway.ready, true);
    assert.deepEqual(
      s.gateway.workers.each.map((w) => w.worker),
      [1, 2],
    );
    assert.notEqual(s.gateway.workers.each[0].pid, s.gateway.workers.each[1].pid);
    assert.ok(s.errors.errors.some((e) => e.topology === 'dead'));
    // HA states: the URL the HA test found dead is down in both workers' views (the second by the relay).
    const health = await onOtherWorker(failed.worker, () =>
      send('/app/api/v1/health', { authorization: basic('alice') }),
    );
    const rows = (JSON.parse(health.text) as { backends: { url: string; state: string; workers: object }[] })
      .backends;
    const dead = rows.find((b) => b.url === one.url);
    assert.deepEqual(dead && { state: dead.state, workers: dead.workers }, {
      state: 'down',
      workers: { 1: 'down', 2: 'down' },
    });
    const connections = await onOtherWorker(failed.worker, () =>
      send('/app/api/v1/connections', { authorization: basic('alice') }),
    );
    const c = JSON.parse(connections.text) as { perWorker: { worker: number }[]; inflight: number };
    assert.deepEqual(
      c.perWorker.map((w) => w.worker),
      [1, 2],
    );
    assert.ok(c.inflight >= 1, 'the connections request itself is in flight');
    const traffic = await onOtherWorker(failed.worker, () =>
      send('/app/api/v1/traffic', { authorization: basic('alice') }),
    );
    const t = JSON.parse(traffic.text) as {
      topologies: { topology: string; statuses: Record<string, number> }[];
    };
    // `statuses` counts since start (the window's counts leave out the second still filling).
    assert.equal(t.topologies.find((x) => x.topology === 'dead')?.statuses['502'], 1, traffic.text);
  });

  it('refuses a login with 503 while the primary does not answer (fail closed)', async () => {
    // A kept-alive connection reaches its worker without the primary (which only hands over new connections).
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (authorization: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: postern.port,
            path: '/gateway/app/api/v1/whoami',
            agent,
            headers: { authorization },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end();
      });
    try {
      assert.equal(await get(basic('alice')), 200);
      process.kill(postern.child.pid!, 'SIGSTOP');
      try {
        // A login: the throttle must be asked before any password check, and cannot be.
        assert.equal(await get(credentials('eve', 'a-wrong-password')), 503);
      } finally {
        process.kill(postern.child.pid!, 'SIGCONT');
      }
    } finally {
      agent.destroy();
    }
  });
});
