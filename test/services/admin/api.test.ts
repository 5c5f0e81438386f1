/**
 * The admin API (src/services/admin/) on a real gateway, with the sample home's admin topology
 * (conf/topologies/admin.xml: ShiroProvider file realm, AclsAuthz admin.acl=*;admin;*, WebAppSec CSRF): who gets
 * in, what it reports, explain, deploy and undeploy through the API (written to conf/topologies, refused with
 * diagnostics when broken), recent errors, and the live feed WebSocket.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { writeAdminHome } from '../../helpers/admin-home.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ADMIN = basic('admin', 'admin-password');
const GUEST = basic('guest', 'guest-password');

describe('admin API', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Server;
  let backendUrl: string;

  const api = (path: string) => `${gateway.url}/admin/api/v1/${path}`;
  const get = (path: string, auth = ADMIN) => fetch(api(path), { headers: { authorization: auth } });
  const put = (name: string, xml: string, headers: Record<string, string> = { 'x-xsrf-header': 'x' }) =>
    fetch(api(`topologies/${name}`), {
      method: 'PUT',
      headers: { authorization: ADMIN, 'content-type': 'application/xml', ...headers },
      body: xml,
    });
  const httpTopology = () => topologyXml({ services: [{ role: 'HTTP', urls: [backendUrl] }] });

  before(async () => {
    backend = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`backend saw ${req.url}`);
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    home = makeHome({ 'gateway.websocket.feature.enabled': true });
    await writeAdminHome(home, { admin: ['admin', 'users'], guest: ['users'] });
    home.write('conf/topologies/apps.xml', httpTopology());
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    backend?.close();
    home?.remove();
  });

  it('refuses without a login (401) and a non-admin (403), and lets the admin group in', async () => {
    const none = await fetch(api('topologies'));
    assert.equal(none.status, 401);
    await none.arrayBuffer();
    const guest = await get('topologies', GUEST);
    assert.equal(guest.status, 403);
    await guest.arrayBuffer();
    const admin = await get('topologies');
    assert.equal(admin.status, 200);
    const body = (await admin.json()) as { topologies: { name: string; state: string; serving: boolean }[] };
    assert.deepEqual(
      body.topologies.map((t) => [t.name, t.state, t.serving]),
      [
        ['admin', 'deployed', true],
        ['apps', 'deployed', true],
      ],
    );
  });

  it('serves the route table, searchable', async () => {
    const all = (await (await get('routes')).json()) as { routes: { topology: string; service: string }[] };
    assert.ok(all.routes.some((r) => r.topology === 'admin' && r.service === 'ADMIN'));
    assert.ok(all.routes.some((r) => r.topology === 'apps' && r.service === 'HTTP'));
    const some = (await (await get('routes?q=http')).json()) as {
      routes: { topology: string; url: string; chain: string[]; at: string }[];
    };
    assert.ok(some.routes.length > 0);
    for (const r of some.routes) assert.equal(r.topology, 'apps');
    assert.match(some.routes[0].url, /^\/gateway\/apps\/http/);
    assert.match(some.routes[0].at, /http\/1\.0\.0\/service\.xml:\d+:\d+$/);
  });

  it('explains a URL (a path on this gateway) with the engine of postern explain', async () => {
    const res = await get(
      `explain?method=GET&url=${encodeURIComponent('/gateway/apps/http/items?x=1')}&user=bob`,
    );
    assert.equal(res.status, 200);
    const e = (await res.json()) as {
      outcome: string;
      topology: { name: string };
      route: { service: string };
      backend: { url: string; headers: Record<string, string> };
    };
    assert.equal(e.outcome, 'proxied');
    assert.equal(e.topology.name, 'apps');
    assert.equal(e.route.service, 'HTTP');
    // The topology authenticates with Anonymous, which explain runs for real: the asserted user is anonymous.
    assert.equal(e.backend.url, `${backendUrl}/items?x=1&user.name=anonymous`);
    const missing = await get('explain');
    assert.equal(missing.status, 400);
    await missing.arrayBuffer();
  });

  it('reports connections, health and status', async () => {
    const status = (await (await get('status')).json()) as {
      gateway: { ready: boolean };
      connections: { websocketsTotal: number; channelsTotal: number };
      health: unknown[];
    };
    assert.equal(status.gateway.ready, true);
    assert.equal(status.connections.websocketsTotal, 0);
    assert.deepEqual(status.health, []);
  });

  it('refuses a change without the CSRF header, and writes nothing', async () => {
    const res = await put('nocsrf', httpTopology(), {});
    assert.equal(res.status, 400);
    await res.arrayBuffer();
    assert.equal(existsSync(join(home.dir, 'conf/topologies/nocsrf.xml')), false);
  });

  it('deploys a good topology: the file is written and the topology serves', async () => {
    const xml = httpTopology();
    const res = await put('fresh', xml);
    assert.equal(res.status, 201);
    const body = (await res.json()) as { deployed: boolean; file: string; state: string };
    assert.equal(body.deployed, true);
    assert.equal(body.file, 'conf/topologies/fresh.xml');
    assert.equal(readFileSync(join(home.dir, 'conf/topologies/fresh.xml'), 'utf8'), xml);
    const served = await fetch(`${gateway.url}/fresh/http/hello`);
    assert.equal(served.status, 200);
    assert.equal(await served.text(), 'backend saw /hello?user.name=anonymous');
    const again = await put('fresh', xml);
    assert.equal(again.status, 200);
    await again.arrayBuffer();
  });

  it('refuses a broken topology with its diagnostics (path:line:col) and changes nothing', async () => {
    const before = readFileSync(join(home.dir, 'conf/topologies/fresh.xml'), 'utf8');
    const broken = before.replace('<name>Anonymous</name>', '<name>NoSuchProvider</name>');
    assert.notEqual(broken, before);
    const res = await put('fresh', broken);
    assert.equal(res.status, 400);
    const body = (await res.json()) as {
      deployed: boolean;
      diagnostics: { at: string; message: string }[];
      error: { status: number; code: string; message: string; requestId: string };
    };
    assert.equal(body.deployed, false);
    // The one error shape (gateway/respond.ts), the diagnostics beside it.
    assert.deepEqual(body.error, {
      status: 400,
      code: 'POSTERN_ERR_INVALID_TOPOLOGY',
      message: 'the topology does not deploy',
      requestId: res.headers.get('x-request-id'),
    });
    const error = body.diagnostics.find((d) => /NoSuchProvider/.test(d.message));
    assert.ok(error, JSON.stringify(body.diagnostics));
    assert.match(error.at, /^conf\/topologies\/fresh\.xml:\d+:\d+$/);
    assert.equal(readFileSync(join(home.dir, 'conf/topologies/fresh.xml'), 'utf8'), before);
    assert.equal((await fetch(`${gateway.url}/fresh/http/still`)).status, 200);

    const malformed = await put('newbroken', '<topology><gateway>');
    assert.equal(malformed.status, 400);
    const m = (await malformed.json()) as { diagnostics: { at: string }[] };
    assert.match(m.diagnostics[0].at, /^conf\/topologies\/newbroken\.xml:\d+:\d+$/);
    assert.equal(existsSync(join(home.dir, 'conf/topologies/newbroken.xml')), false);
    assert.equal(gateway.status.has('newbroken'), false);
  });

  it('undeploys through the API (the file is removed), but never the admin topology itself', async () => {
    const res = await fetch(api('topologies/fresh'), {
      method: 'DELETE',
      headers: { authorization: ADMIN, 'x-xsrf-header': 'x' },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { removed: string[]; serving: boolean };
    assert.deepEqual(body.removed, ['conf/topologies/fresh.xml']);
    assert.equal(body.serving, false);
    assert.equal(existsSync(join(home.dir, 'conf/topologies/fresh.xml')), false);
    assert.equal((await fetch(`${gateway.url}/fresh/http/gone`)).status, 404);
    const self = await fetch(api('topologies/admin'), {
      method: 'DELETE',
      headers: { authorization: ADMIN, 'x-xsrf-header': 'x' },
    });
    assert.equal(self.status, 409);
    const conflict = (await self.json()) as { error: { status: number; code: string; message: string } };
    assert.equal(conflict.error.status, 409);
    assert.equal(conflict.error.code, 'POSTERN_ERR_CONFLICT');
    assert.match(conflict.error.message, /serves this admin API/);
    assert.ok(existsSync(join(home.dir, 'conf/topologies/admin.xml')));
    const unknown = await fetch(api('topologies/nothere'), {
      method: 'DELETE',
      headers: { authorization: ADMIN, 'x-xsrf-header': 'x' },
    });
    assert.equal(unknown.status, 404);
    await unknown.arrayBuffer();
  });

  it('answers every error in the catalog shape: {error: {status, code, message, requestId}}', async () => {
    const xml = { authorization: ADMIN, 'content-type': 'application/xml', 'x-xsrf-header': 'x' };
    const cases: [string, string, RequestInit][] = [
      ['no login', 'topologies', {}],
      ['not an admin', 'topologies', { headers: { authorization: GUEST } }],
      ['unknown path', 'nosuch', { headers: { authorization: ADMIN } }],
      ['unknown topology', 'topologies/nosuch', { headers: { authorization: ADMIN } }],
      ['bad topology name', 'topologies/bad%20name', { headers: { authorization: ADMIN } }],
      ['explain without url', 'explain', { headers: { authorization: ADMIN } }],
      ['events without upgrade', 'events', { headers: { authorization: ADMIN } }],
      [
        'wrong content type',
        'topologies/x',
        { method: 'PUT', headers: { ...xml, 'content-type': 'text/plain' }, body: 'x' },
      ],
      [
        'no CSRF header',
        'topologies/x',
        {
          method: 'PUT',
          headers: { authorization: ADMIN, 'content-type': 'application/xml' },
          body: '<topology/>',
        },
      ],
      ['broken topology', 'topologies/x', { method: 'PUT', headers: xml, body: '<topology><gateway>' }],
      ['the admin topology', 'topologies/admin', { method: 'DELETE', headers: xml }],
      ['undeploy unknown', 'topologies/nosuch', { method: 'DELETE', headers: xml }],
    ];
    const statuses: number[] = [];
    for (const [what, path, init] of cases) {
      const res = await fetch(api(path), init);
      const body = (await res.json()) as Record<string, unknown>;
      statuses.push(res.status);
      assert.ok(res.status >= 400, `${what}: ${res.status}`);
      assert.match(String(res.headers.get('content-type')), /^application\/json/, what);
      const error = body.error as Record<string, unknown>;
      assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'requestId', 'status'], what);
      assert.equal(error.status, res.status, what);
      assert.match(String(error.code), /^POSTERN_ERR_[A-Z_]+$/, what);
      assert.equal(typeof error.message, 'string', what);
      assert.equal(error.requestId, res.headers.get('x-request-id'), what);
      for (const key of Object.keys(body))
        assert.ok(['error', 'diagnostics', 'name', 'deployed'].includes(key), `${what}: ${key}`);
    }
    // The cases are different errors, not one refusal repeated.
    assert.ok(new Set(statuses).size >= 5, statuses.join(' '));
  });

  it('lists a failed deployment among the topologies and the recent errors', async () => {
    home.write('conf/topologies/bad.xml', '<topology><gateway><provider><role>authentication</role>');
    await gateway.rescan();
    const list = (await (await get('topologies')).json()) as {
      topologies: { name: string; state: string; serving: boolean; diagnostics: { at: string }[] }[];
    };
    const bad = list.topologies.find((t) => t.name === 'bad');
    assert.ok(bad);
    assert.equal(bad.state, 'failed');
    assert.equal(bad.serving, false);
    assert.match(bad.diagnostics[0].at, /^conf\/topologies\/bad\.xml:\d+:\d+$/);
    const errors = (await (await get('errors')).json()) as {
      errors: { kind: string; topology: string; diagnostics?: string[] }[];
    };
    const recent = errors.errors.find((e) => e.topology === 'bad');
    assert.equal(recent?.kind, 'deployment');
    assert.match(recent?.diagnostics?.[0] ?? '', /bad\.xml:\d+:\d+: /);
  });

  it('relays deployments live on the events WebSocket, to admins only', async () => {
    const wsUrl = `${gateway.url.replace(/^http/, 'ws')}/admin/api/v1/events/`;
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, { headers: { authorization: GUEST } });
      ws.on('error', () => {});
      ws.on('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        req.destroy();
      });
      ws.on('open', () => resolve(101));
    });
    assert.equal(refused, 403);
    const crossSite = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, { headers: { authorization: ADMIN, origin: 'https://evil.example' } });
      ws.on('error', () => {});
      ws.on('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        req.destroy();
      });
      ws.on('open', () => resolve(101));
    });
    assert.equal(crossSite, 403);

    const ws = new WebSocket(wsUrl, { headers: { authorization: ADMIN } });
    const frames: Record<string, unknown>[] = [];
    const waitFor = (test: (f: Record<string, unknown>) => boolean) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no such frame in ${JSON.stringify(frames)}`)), 5000);
        const check = () => {
          const found = frames.find(test);
          if (found) {
            clearTimeout(timer);
            resolve(found);
          } else setTimeout(check, 20);
        };
        check();
      });
    ws.on('message', (data) => frames.push(JSON.parse(String(data))));
    try {
      const accept = await waitFor((f) => f.accept === true);
      assert.equal(accept.user, 'admin');
      const conn = (await (await get('connections')).json()) as { consoleFeeds: Record<string, number> };
      assert.equal(conn.consoleFeeds.admin, 1);
      home.write('conf/topologies/live.xml', httpTopology());
      await gateway.rescan();
      const event = await waitFor((f) => f.type === 'topology' && f.topology === 'live');
      assert.equal(event.event, 'deployed');
      assert.equal(event.group_name, 'postern');
    } finally {
      ws.close();
    }
  });
});
