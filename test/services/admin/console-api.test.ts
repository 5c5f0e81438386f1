/**
 * What the console's pages read from the admin API, on a real gateway (TLS on, the sample admin topology): live
 * traffic per topology and service from the request events, every backend URL probed (one listening, one
 * not), the listener's certificate, topology edits checked before they are written with the replaced version
 * kept under data/history for undo, who is signed in, the sign-out answer, and the HTML 403 page a non-admin's
 * browser gets instead of JSON. The traffic recorder's arithmetic is tested on its own with a fixed clock.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { TrafficRecorder } from '../../../src/services/admin/traffic.ts';
import { writeAdminHome } from '../../helpers/admin-home.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ADMIN = basic('admin', 'admin-password');
const GUEST = basic('guest', 'guest-password');
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

describe('traffic recorder', () => {
  it('counts per second, and gives rates, error rates, percentiles and status classes over a window', () => {
    let now = 1_000_000_000;
    const t = new TrafficRecorder(() => now);
    const event = (status: number, ms: number, bytesOut = 0) => ({
      topology: 'apps',
      service: 'HTTP',
      method: 'GET',
      status,
      ms,
      aborted: false,
      upgrade: false,
      bytesIn: 0,
      bytesOut,
    });
    // 10 s with 10 requests each: 98 fast (2 ms), one 200 ms, one 5xx at 1 s.
    for (let s = 0; s < 10; s++) {
      for (let i = 0; i < 10; i++) {
        const k = s * 10 + i;
        t.record(k === 50 ? event(502, 1000) : event(200, k === 7 ? 200 : 2, 100));
      }
      now += 1000;
    }
    const { series, topologies } = t.snapshot(10);
    assert.equal(series.length, 1);
    const s = series[0];
    assert.equal(s.requests, 100);
    assert.equal(s.rate, 10);
    assert.equal(s.errorRate, 0.01);
    assert.deepEqual(s.classes, { '2xx': 99, '5xx': 1 });
    assert.deepEqual(s.statuses, { 200: 99, 502: 1 });
    assert.equal(s.bytesOut, 9900);
    assert.deepEqual(s.perSecond, [10, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
    assert.deepEqual(s.errorsPerSecond, [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    // Percentiles are bucket upper bounds, at most 25% above the true value.
    assert.ok(s.p50! >= 2 && s.p50! <= 2.5, `p50 ${s.p50}`);
    assert.ok(s.p99! >= 200 && s.p99! <= 250, `p99 ${s.p99}`);
    assert.equal(topologies[0].requests, 100);
    // Seconds older than the window no longer count; a slot reused later starts from zero.
    now += 5000;
    assert.equal(t.snapshot(10).series[0].requests, 50);
    now += 300_000;
    t.record(event(404, 1));
    now += 1000;
    const later = t.snapshot(10).series[0];
    assert.equal(later.requests, 1);
    assert.deepEqual(later.classes, { '4xx': 1 });
  });
});

describe('admin API for the console pages', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Server;
  let backendUrl: string;
  let deadUrl: string;

  const api = (path: string) => `${gateway.url}/admin/api/v1/${path}`;
  const get = (path: string, auth = ADMIN, headers: Record<string, string> = {}) =>
    fetch(api(path), { headers: { authorization: auth, ...headers }, dispatcher: insecure } as RequestInit);
  const send = (method: string, path: string, body: string) =>
    fetch(api(path), {
      method,
      headers: { authorization: ADMIN, 'content-type': 'application/xml', 'x-xsrf-header': 'x' },
      body,
      dispatcher: insecure,
    } as RequestInit);

  before(async () => {
    backend = createServer((req, res) => {
      const body = `backend saw ${req.url}`;
      res.writeHead(req.url?.startsWith('/fail') ? 500 : 200, { 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    // A port that was free a moment ago: nothing listens there.
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    deadUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((r) => probe.close(() => r()));
    home = makeHome({ 'ssl.enabled': true });
    await writeAdminHome(home, { admin: ['admin'], guest: ['users'] });
    home.write(
      'conf/topologies/apps.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [backendUrl] },
          { role: 'WEBHDFS', urls: [`${deadUrl}/webhdfs`] },
        ],
      }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    backend?.close();
    home?.remove();
    await insecure.close();
  });

  it('reports live traffic per topology and service from the requests the gateway served', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${gateway.url}/apps/http/ok${i}`, { dispatcher: insecure } as RequestInit);
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    }
    const failed = await fetch(`${gateway.url}/apps/http/fail`, { dispatcher: insecure } as RequestInit);
    assert.equal(failed.status, 500);
    await failed.arrayBuffer();
    // The events of the last requests are published when their responses close; the window ends at the last
    // whole second.
    await new Promise((r) => setTimeout(r, 1100));
    const res = await get('traffic?window=30');
    assert.equal(res.status, 200);
    const t = (await res.json()) as {
      windowSeconds: number;
      series: {
        topology: string;
        service: string;
        requests: number;
        errorRate: number;
        classes: Record<string, number>;
        statuses: Record<string, number>;
        p50?: number;
        bytesOut: number;
        perSecond: number[];
      }[];
      topologies: { topology: string; requests: number }[];
    };
    assert.equal(t.windowSeconds, 30);
    const http = t.series.find((s) => s.topology === 'apps' && s.service === 'HTTP');
    assert.ok(http, JSON.stringify(t.series.map((s) => `${s.topology}/${s.service}`)));
    assert.equal(http.requests, 7);
    assert.deepEqual(http.classes, { '2xx': 6, '5xx': 1 });
    assert.deepEqual(http.statuses, { 200: 6, 500: 1 });
    assert.equal(http.errorRate, Math.round((1 / 7) * 10_000) / 10_000);
    assert.ok(http.p50 !== undefined && http.p50 > 0);
    // Content-Length of the backend's answers, as relayed.
    assert.ok(http.bytesOut >= 6 * 'backend saw /okN'.length, `bytesOut ${http.bytesOut}`);
    assert.equal(
      http.perSecond.reduce((a, b) => a + b, 0),
      7,
    );
    assert.ok(t.topologies.some((x) => x.topology === 'apps' && x.requests === 7));
  });

  it('lists every backend URL with a probe: up where something listens, down with the error where not', async () => {
    const res = await get('backends');
    assert.equal(res.status, 200);
    const { backends } = (await res.json()) as {
      backends: {
        topology: string;
        service: string;
        url: string;
        state: string;
        probe?: { error?: string };
      }[];
    };
    const up = backends.find((b) => b.service === 'HTTP');
    const down = backends.find((b) => b.service === 'WEBHDFS');
    assert.equal(up?.state, 'up');
    assert.equal(up?.url, backendUrl);
    assert.equal(down?.state, 'down');
    assert.match(down?.probe?.error ?? '', /ECONNREFUSED/);
  });

  it("reports the listener's certificate as served on this connection", async () => {
    const res = await get('tls');
    const tls = (await res.json()) as {
      enabled: boolean;
      listener?: { certificate: { subject: string; validTo: string; daysLeft: number } };
    };
    assert.equal(tls.enabled, true);
    assert.ok(tls.listener, 'no listener certificate');
    assert.match(tls.listener.certificate.subject, /CN=/);
    assert.ok(tls.listener.certificate.daysLeft > 0);
  });

  it('checks an edit without writing it, keeps the replaced version for undo, and restores it', async () => {
    const file = join(home.dir, 'conf/topologies/apps.xml');
    const original = readFileSync(file, 'utf8');
    const source = (await (await get('topologies/apps/source')).json()) as { source: string; file: string };
    assert.equal(source.source, original);
    assert.equal(source.file, 'conf/topologies/apps.xml');

    const broken = original.replace('<role>HTTP</role>', '<role>NO-SUCH-SERVICE</role>');
    const checked = await send('POST', 'topologies/apps/check', broken);
    assert.equal(checked.status, 200);
    const verdict = (await checked.json()) as {
      ok: boolean;
      diagnostics: { severity: string; at: string }[];
    };
    assert.equal(verdict.ok, false);
    assert.ok(verdict.diagnostics.some((d) => d.severity === 'error'));
    assert.equal(readFileSync(file, 'utf8'), original, 'a check must not write');

    const changed = original.replace(
      '<role>WEBHDFS</role>',
      '<role>WEBHDFS</role>\n    <param><name>note</name><value>v2</value></param>',
    );
    assert.notEqual(changed, original);
    const ok = (await (await send('POST', 'topologies/apps/check', changed)).json()) as { ok: boolean };
    assert.equal(ok.ok, true);
    const put = await send('PUT', 'topologies/apps', changed);
    assert.equal(put.status, 200);
    const written = (await put.json()) as { previousVersion: string };
    assert.match(written.previousVersion, /^\d{4}-\d{2}-\d{2}T/);
    assert.equal(readFileSync(file, 'utf8'), changed);
    const dir = join(home.dir, 'data/history/topologies/apps');
    assert.deepEqual(readdirSync(dir), [`${written.previousVersion}.xml`]);

    const history = (await (await get('topologies/apps/history')).json()) as {
      versions: { version: string }[];
    };
    assert.deepEqual(
      history.versions.map((v) => v.version),
      [written.previousVersion],
    );
    const kept = (await (await get(`topologies/apps/history/${written.previousVersion}`)).json()) as {
      source: string;
    };
    assert.equal(kept.source, original);
    // Undo: the kept version deployed again, through the same check.
    const undo = await send('PUT', 'topologies/apps', kept.source);
    assert.equal(undo.status, 200);
    await undo.arrayBuffer();
    assert.equal(readFileSync(file, 'utf8'), original);
    assert.equal(readdirSync(dir).length, 2);
    const traversal = await get('topologies/apps/history/..%2F..%2Fsecurity%2Fmaster');
    assert.equal(traversal.status, 400);
    await traversal.arrayBuffer();
    assert.ok(existsSync(file));
  });

  it('says who is signed in, and signs out with 401 and a challenge', async () => {
    const me = (await (await get('whoami')).json()) as { user: string; groups: string[] };
    assert.equal(me.user, 'admin');
    assert.deepEqual(me.groups, ['admin']);
    const out = await get('logout', ADMIN, { accept: 'text/html' });
    assert.equal(out.status, 401);
    assert.match(out.headers.get('www-authenticate') ?? '', /^BASIC realm="application"/);
    assert.match(out.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await out.text(), /Signed out/);
  });

  it('gives a non-admin browser an HTML 403 page, and API clients the JSON error', async () => {
    const page = await get('../../console/', GUEST, {
      accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    });
    assert.equal(page.status, 403);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const html = await page.text();
    assert.match(html, /<h1>403 Not allowed<\/h1>/);
    assert.match(html, /administrators only/);
    assert.doesNotMatch(html, /<script/i);
    const json = await get('status', GUEST);
    assert.equal(json.status, 403);
    assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await json.json()) as { error: { status: number; code: string } };
    assert.equal(body.error.status, 403);
  });
});
