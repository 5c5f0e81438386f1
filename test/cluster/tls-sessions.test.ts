/**
 * TLS session resumption across workers (gateway/ticket-keys): `postern start` with `postern.workers=2` and TLS,
 * as a real process. node:cluster hands each new connection to the next worker, so a client that reconnects
 * reaches both; a session must resume on either (one ticket key for all workers), and the key's rotation must
 * reach every worker at once, a worker started after it included. Which worker served each connection is read from the
 * access log (cluster/workers.test.ts does the same), so the test knows both were asked.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { type Authority, makeAuthority } from '../helpers/pki.ts';
import { type PosternProcess, startPostern, workerThatServed } from '../helpers/postern-process.ts';
import { resumesSession, sessionTicket } from '../helpers/tls-session.ts';

let counter = 0;

describe('TLS sessions with two workers', () => {
  let dir: string;
  let ca: Authority;
  let backend: Backend;
  const homes: TestHome[] = [];
  const processes: PosternProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-tls-sessions-'));
    ca = makeAuthority(dir, 'corp');
    backend = await startBackend((_req, res) => res.end('ok'));
  });

  after(async () => {
    for (const p of processes) await p.stop();
    await backend?.close();
    for (const h of homes) h.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gateway(site: Record<string, string | number | boolean> = {}) {
    const server = ca.issue({ name: `server-${homes.length}`, cn: 'gateway', ips: ['127.0.0.1'] });
    const home = makeHome({
      'postern.workers': 2,
      'ssl.enabled': true,
      'gateway.tls.certificate.path': server.certFile,
      'gateway.tls.key.path': server.keyFile,
      ...site,
    });
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    homes.push(home);
    const postern = await startPostern(home.dir);
    processes.push(postern);
    return { home, postern };
  }

  /**
   * A GET on a new connection (the agent keeps none open), resuming the session the agent kept from the last
   * connection: whether it resumed, and the worker that served it.
   */
  async function get(g: { home: TestHome; postern: PosternProcess }, agent: https.Agent) {
    const reqId = `tls-sessions-${process.pid}-${++counter}`;
    const reused = await new Promise<boolean>((resolve, reject) => {
      const req = https.get(
        {
          host: '127.0.0.1',
          port: g.postern.port,
          path: '/gateway/t/http/x',
          ca: ca.cert,
          agent,
          headers: { 'x-request-id': reqId, connection: 'close' },
        },
        (res) => {
          const resumed = (res.socket as TLSSocket).isSessionReused();
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve(resumed) : reject(new Error(`${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
    });
    return { reused, worker: await workerThatServed(g.home.dir, reqId) };
  }

  /** `n` connections in a row after a first one that sets up the session: who served each, and what resumed. */
  async function reconnect(g: { home: TestHome; postern: PosternProcess }, n: number) {
    const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 1 });
    const first = await get(g, agent);
    const rest = [];
    for (let i = 0; i < n; i++) rest.push(await get(g, agent));
    return { first, rest };
  }

  it('resumes a session on either worker', async () => {
    const g = await gateway();
    const { first, rest } = await reconnect(g, 8);
    assert.equal(first.reused, false, 'the first connection has no session to resume');
    assert.deepEqual(new Set(rest.map((r) => r.worker)), new Set([1, 2]), 'both workers served connections');
    assert.deepEqual(
      rest.map((r) => r.reused),
      rest.map(() => true),
      `every reconnection resumed: ${JSON.stringify(rest)}`,
    );
  });

  it('replaces the key on every worker at once, a replaced worker included (postern.tls.ticket.key.rotation)', async () => {
    const period = 8000;
    const g = await gateway({ 'postern.tls.ticket.key.rotation': String(period) });
    const pids = () =>
      execFileSync('pgrep', ['-P', String(g.postern.child.pid)], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .filter(Boolean)
        .map(Number);
    const restarts = () =>
      readFileSync(join(g.home.dir, 'logs/gateway.log'), 'utf8').split('listening again').length - 1;
    // Each attempt: wait for a rotation, kill a worker, and check once its replacement listens. The check counts
    // only when it ended before the next rotation could come (on a slow machine it is tried again).
    for (let attempt = 1; attempt <= 3; attempt++) {
      // One session, offered again and again until a worker no longer reads it: the key was replaced.
      let session = await sessionTicket(g.postern.port, ca.cert);
      // A rotation that came just now made it old already: one under the new key.
      if (!(await resumesSession(g.postern.port, ca.cert, session)))
        session = await sessionTicket(g.postern.port, ca.cert);
      const deadline = Date.now() + period + 4000;
      while (await resumesSession(g.postern.port, ca.cert, session)) {
        if (Date.now() > deadline)
          throw new Error(`the ticket key was not replaced within ${period + 4000} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const rotated = Date.now();
      // A worker killed now is replaced with the current key (node:cluster alone would give it the key of the
      // first start, which no other worker has any more).
      const before = restarts();
      process.kill(pids()[0], 'SIGKILL');
      while (restarts() === before) {
        if (Date.now() > rotated + 30_000)
          throw new Error(`the replacement did not listen\n${g.postern.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const { rest } = await reconnect(g, 6);
      if (Date.now() - rotated > period - 1000) continue;
      assert.deepEqual(new Set(rest.map((r) => r.worker)), new Set([1, 2]));
      assert.deepEqual(
        rest.map((r) => r.reused),
        rest.map(() => true),
        `every reconnection after the rotation resumed, on the replacement too: ${JSON.stringify(rest)}`,
      );
      return;
    }
    throw new Error('three attempts took longer than the rotation period: the machine was too slow to tell');
  });
});
