/**
 * Liveness and readiness on the gateway's listener, outside the gateway path: ready means "this node serves what
 * it served" — a topology that failed to deploy is reported in the body, not fatal (one bad file must not take a
 * fleet with the same configuration out); `postern.health.ready.strict` makes a topology with nothing serving keep
 * the node not ready. Configurable paths, GET/HEAD only, no access line, and off when disabled.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { Gateway } from '../../src/gateway/gateway.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';

async function get(url: string, method: 'GET' | 'HEAD' | 'POST' = 'GET') {
  const res = await request(url, { method });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    body: text ? (JSON.parse(text) as unknown) : undefined,
  };
}

describe('health and readiness', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let origin: string;
  let log: Logger;
  let good: string;

  before(async () => {
    backend = await startBackend((_req, res) => res.end('ok'));
    home = makeHome();
    good = topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] });
    home.write('conf/topologies/one.xml', good);
    home.write('conf/topologies/two.xml', '<topology><gateway><provider>');
    log = createLogger({ logDir: join(home.dir, 'logs'), stdout: false, level: 'info' });
    gateway = await Gateway.start({ home: home.dir, port: 0, host: '127.0.0.1', log, watch: false });
    origin = new URL(gateway.url).origin;
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('is alive, and ready with a topology that never deployed reported in the body', async () => {
    const live = await get(`${origin}/healthz`);
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { status: 'ok' });
    assert.equal(live.headers['cache-control'], 'no-store');
    const ready = await get(`${origin}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', topologies: 1, failed: ['two'], waiting: ['two'] });
    assert.equal(gateway.ready, true);
  });

  it('is ready once every topology deployed, and stays ready when a redeploy fails', async () => {
    home.write('conf/topologies/two.xml', good);
    await gateway.rescan();
    const ready = await get(`${origin}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', topologies: 2 });
    home.write('conf/topologies/two.xml', '<topology><broken');
    await gateway.rescan();
    assert.equal(gateway.status.get('two')?.deployed, false);
    const after = await get(`${origin}/readyz`);
    assert.equal(after.status, 200, 'the previous deployment of two still serves');
    assert.deepEqual(after.body, { status: 'ready', topologies: 2, failed: ['two'] });
  });

  it('answers GET and HEAD only, ignores the query, and writes no access line', async () => {
    assert.equal((await get(`${origin}/healthz?probe=lb`)).status, 200);
    const head = await get(`${origin}/readyz`, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, undefined);
    const post = await get(`${origin}/healthz`, 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((post.body as { error: { code: string } }).error.code, 'POSTERN_ERR_METHOD_NOT_ALLOWED');
    // Something else outside the gateway path is still the gateway's 404.
    const other = await request(`${origin}/healthz/x`);
    assert.equal(other.statusCode, 404);
    await other.body.dump();
    // The access line of /healthz/x is written once its response finished, which may be after the client read it:
    // wait for that line, then no other may be there.
    const accessPaths = () =>
      readFileSync(join(home.dir, 'logs/gateway.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type?: string; path?: string })
        .filter((l) => l.type === 'access')
        .map((l) => l.path);
    for (let i = 0; i < 100 && !accessPaths().includes('/healthz/x'); i++) {
      await new Promise<void>((resolve) => log.flush(() => resolve()));
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(accessPaths(), ['/healthz/x']);
  });
});

describe('strict readiness (postern.health.ready.strict)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('is not ready while a topology has nothing serving, and ready once it deploys', async () => {
    backend = await startBackend((_req, res) => res.end('ok'));
    home = makeHome({ 'postern.health.ready.strict': true });
    const good = topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] });
    home.write('conf/topologies/one.xml', good);
    home.write('conf/topologies/two.xml', '<topology><gateway><provider>');
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log: createLogger({ level: 'silent', stdout: false }),
      watch: false,
    });
    const origin = new URL(gateway.url).origin;
    const before = await get(`${origin}/readyz`);
    assert.equal(before.status, 503);
    assert.deepEqual(before.body, {
      status: 'not ready',
      topologies: 1,
      failed: ['two'],
      waiting: ['two'],
      strict: true,
    });
    assert.equal(gateway.ready, false);
    home.write('conf/topologies/two.xml', good);
    await gateway.rescan();
    const after = await get(`${origin}/readyz`);
    assert.equal(after.status, 200);
    assert.deepEqual(after.body, { status: 'ready', topologies: 2, strict: true });
  });
});

describe('health settings', () => {
  let home: TestHome;
  let gateway: Gateway;

  after(async () => {
    await gateway?.close();
    home?.remove();
  });

  it('serves the configured paths, and nothing when disabled', async () => {
    home = makeHome({ 'postern.health.path': '/ops/live', 'postern.ready.path': '/ops/ready' });
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log: createLogger({ level: 'silent', stdout: false }),
      watch: false,
    });
    const origin = new URL(gateway.url).origin;
    assert.equal((await get(`${origin}/ops/live`)).status, 200);
    assert.deepEqual((await get(`${origin}/ops/ready`)).body, { status: 'ready', topologies: 0 });
    const old = await request(`${origin}/healthz`);
    assert.equal(old.statusCode, 404);
    await old.body.dump();
    await gateway.close();
    home.remove();

    home = makeHome({ 'postern.health.enabled': false });
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log: createLogger({ level: 'silent', stdout: false }),
      watch: false,
    });
    const off = await request(`${new URL(gateway.url).origin}/readyz`);
    assert.equal(off.statusCode, 404);
    await off.body.dump();
  });
});
