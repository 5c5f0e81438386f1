/**
 * `postern start` as a real process under signals. SIGTERM: readiness turns 503 (seen on the metrics listener,
 * which stays up), the gateway port refuses new connections, the request in flight finishes with its whole body,
 * then the open WebSocket gets 1001 and the process exits 0; a request still running when the grace period ends
 * is cut and the process still exits 0. SIGHUP: gateway-site is reread, what can change changes (the backend
 * stops getting X-Forwarded-For), what cannot is named in the log as needing a restart, and a broken file
 * changes nothing.
 *
 * One process (`postern.workers` 1), whose readiness body and log lines these tests read; with workers (the default
 * `auto`) the same signals are test/cluster/workers.test.ts's.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, siteXml, type TestHome, topologyXml } from '../helpers/home.ts';
import { startWsBackend, type WsBackend } from '../providers/security-helpers.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

interface Running {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT/gateway` */
  url: string;
  /** JSON log lines the process wrote to stdout (info and up). */
  lines: Record<string, unknown>[];
  waitForLine(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

async function startPostern(home: TestHome): Promise<Running> {
  const child = spawn(process.execPath, [CLI, 'start', '--home', home.dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, POSTERN_LOG_STDOUT_LEVEL: 'info', POSTERN_LOG_LEVEL: 'info' },
  });
  const lines: Record<string, unknown>[] = [];
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stderr!.on('data', (c: Buffer) => {
    err += c;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      let nl = out.indexOf('\n');
      while (nl >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const m = /^postern listening on (http:\/\/\S+) /.exec(line);
        if (m) resolve(m[1]);
        else if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
        nl = out.indexOf('\n');
      }
      for (const w of waiters.splice(0)) w();
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${err}`)));
  });
  const waitForLine = async (predicate: (line: Record<string, unknown>) => boolean) => {
    for (;;) {
      const found = lines.find(predicate);
      if (found) return found;
      if (child.exitCode !== null) throw new Error(`exited; lines: ${JSON.stringify(lines)}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { child, url, lines, waitForLine, exited };
}

/** Resolves once a new TCP connection to the port is refused. */
async function refused(port: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('postern start under SIGHUP and SIGTERM', () => {
  let home: TestHome;
  let backend: Backend;
  let ws: WsBackend;
  let postern: Running;
  let metrics: string;
  let releaseSlow: (() => void) | undefined;
  const site = {
    'postern.workers': 1,
    'gateway.port': 0,
    'gateway.host': '127.0.0.1',
    'ssl.enabled': false,
    'gateway.websocket.feature.enabled': true,
    'postern.metrics.enabled': true,
    'postern.metrics.port': 0,
    'postern.shutdown.grace': '30s',
  };

  before(async () => {
    backend = await startBackend((req, res) => {
      if (req.url?.startsWith('/slow')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first half, ');
        releaseSlow = () => res.end('second half');
        return;
      }
      res.end('ok');
    });
    ws = await startWsBackend();
    home = makeHome();
    home.write('conf/gateway-site.xml', siteXml(site));
    home.write(
      'conf/topologies/t.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [backend.url] },
          { role: 'ECHOWS', urls: [ws.url] },
        ],
      }),
    );
    postern = await startPostern(home);
    const line = await postern.waitForLine((l) => String(l.msg).startsWith('metrics on '));
    metrics = String(line.url);
  });

  after(async () => {
    if (postern?.child.exitCode === null) postern.child.kill('SIGKILL');
    await backend?.close();
    await ws?.close();
    home?.remove();
  });

  it('SIGHUP applies what it can and names what needs a restart', async () => {
    const before = await request(`${postern.url}/t/http/a`);
    await before.body.dump();
    assert.ok(backend.requests.at(-1)!.headers['x-forwarded-for']);

    home.write(
      'conf/gateway-site.xml',
      siteXml({
        ...site,
        'gateway.xforwarded.enabled': false,
        'gateway.port': 18999,
        'postern.log.level': 'debug',
      }),
    );
    postern.child.kill('SIGHUP');
    const reload = await postern.waitForLine((l) => l.type === 'reload');
    assert.deepEqual(reload.reloaded, ['gateway.xforwarded.enabled', 'postern.log.level']);
    assert.deepEqual(reload.restartNeeded, ['gateway.port']);
    assert.equal(reload.redeployed, true);
    assert.match(String(reload.msg), /a restart is needed for gateway\.port/);

    // Same listener, new settings.
    const res = await request(`${postern.url}/t/http/b`);
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    assert.equal(backend.requests.at(-1)!.headers['x-forwarded-for'], undefined);

    // A file with an error changes nothing.
    home.write('conf/gateway-site.xml', siteXml({ ...site, 'gateway.xforwarded.enabled': 'maybe' }));
    postern.child.kill('SIGHUP');
    const refusedReload = await postern.waitForLine((l) =>
      String(l.msg).startsWith('gateway-site was not reloaded'),
    );
    assert.equal(refusedReload.level, 50);
    assert.ok(
      postern.lines.some((l) => /gateway\.xforwarded\.enabled: expected true or false/.test(String(l.msg))),
    );
    const still = await request(`${postern.url}/t/http/c`);
    await still.body.dump();
    assert.equal(backend.requests.at(-1)!.headers['x-forwarded-for'], undefined);
  });

  it('SIGTERM: not ready, refuses new connections, finishes the request in flight, closes WebSockets with 1001, exits 0', async () => {
    const client = new WebSocket(`${postern.url.replace('http:', 'ws:')}/t/echo/ws`);
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const wsClosed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
    const events: string[] = [];
    const note = (event: string) => events.push(event);
    void wsClosed.then(() => note('websocket closed'));

    const slow = request(`${postern.url}/t/http/slow`);
    while (!releaseSlow) await new Promise((r) => setTimeout(r, 10));
    const ready = await request(metrics.replace('/metrics', '/readyz'));
    assert.equal(ready.statusCode, 200);
    await ready.body.dump();

    postern.child.kill('SIGTERM');
    await refused(Number(new URL(postern.url).port));
    const draining = await request(metrics.replace('/metrics', '/readyz'));
    assert.equal(draining.statusCode, 503);
    assert.deepEqual(await draining.body.json(), { status: 'draining', topologies: 1 });
    assert.equal(events.length, 0, 'the WebSocket stays up while the request in flight finishes');

    const res = await slow;
    assert.equal(res.statusCode, 200);
    releaseSlow();
    assert.equal(await res.body.text(), 'first half, second half');
    note('request done');

    assert.equal(await wsClosed, 1001);
    assert.equal(await postern.exited, 0);
    assert.deepEqual(events, ['request done', 'websocket closed']);
    assert.ok(postern.lines.some((l) => l.msg === 'postern stopped' && l.cut === 0));
  });
});

describe('postern start: the grace period', () => {
  let home: TestHome;
  let backend: Backend;
  let postern: Running;
  let held = false;

  before(async () => {
    // A backend that answers headers and then never finishes the body.
    backend = await startBackend((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      held = true;
    });
    home = makeHome({ 'postern.workers': 1, 'postern.shutdown.grace': 300 });
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    postern = await startPostern(home);
  });

  after(async () => {
    if (postern?.child.exitCode === null) postern.child.kill('SIGKILL');
    await backend?.close();
    home?.remove();
  });

  it('cuts what is still running when it ends, and exits 0', async () => {
    const res = await request(`${postern.url}/t/http/stuck`);
    assert.equal(res.statusCode, 200);
    while (!held) await new Promise((r) => setTimeout(r, 10));
    postern.child.kill('SIGTERM');
    await assert.rejects(res.body.text());
    assert.equal(await postern.exited, 0);
    const cut = postern.lines.find((l) => String(l.msg).startsWith('grace period over'));
    assert.equal(cut?.cut, 1);
    assert.equal(cut?.graceMs, 300);
  });
});
