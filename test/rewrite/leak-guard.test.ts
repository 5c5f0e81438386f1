/**
 * The leak guard end to end (issue 20): real gateways on Knox's own OOZIEUI 4.2.0 and YARNUI 2.7.0 definitions
 * (read in place from shared/knox-services) in front of two small fakes on loopback that answer as Oozie and the
 * ResourceManager do: Oozie's `/oozie` → `302 Location: http://<oozie>/oozie/`, its JSON `consoleUrl`, the RM
 * proxy's add-the-slash redirect `http://<rm>/proxy/APP/`, node addresses as protocol-relative links, and pages
 * without any leak. One gateway per mode (`report`, `rewrite`, `off`).
 */
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { Gateway as GatewayClass } from '../../src/gateway/gateway.ts';
import type { RewriteLeakEvent } from '../../src/observability/events.ts';
import { GatewayMetrics } from '../../src/observability/metrics.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

interface Fake {
  server: Server;
  origin: string;
  close(): Promise<void>;
}

async function fake(handler: (path: string, origin: string) => [number, Record<string, string>, string]) {
  const server = createServer((req, res) => {
    // The path only: Knox's rules add `user.name` to the query.
    const [status, headers, body] = handler(new URL(req.url ?? '/', origin).pathname, origin);
    res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    origin,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  } satisfies Fake;
}

/** Oozie: a redirect to its own origin, a console page without leaks, JSON with an absolute consoleUrl. */
const oozieAnswers = (path: string, origin: string): [number, Record<string, string>, string] => {
  if (path === '/oozie') return [302, { location: `${origin}/oozie/` }, ''];
  if (path === '/oozie/index.html')
    return [
      200,
      { 'content-type': 'text/html; charset=utf-8' },
      '<html><head><script src="console.js"></script></head><body><a href="jobs?x=1">jobs</a> see http://example.org/</body></html>',
    ];
  if (path.startsWith('/oozie/v1/jobs'))
    return [
      200,
      { 'content-type': 'application/json;charset=UTF-8', etag: '"v1"' },
      JSON.stringify({ workflows: [{ id: 'wf-1', consoleUrl: `${origin}/oozie?job=wf-1&secret=x` }] }),
    ];
  return [404, { 'content-type': 'text/plain' }, 'not found'];
};

/** The RM: the proxied application's add-the-slash redirect, a nodes page, an application page without leaks. */
const rmAnswers = (path: string, origin: string): [number, Record<string, string>, string] => {
  if (path === '/proxy/application_1_0001')
    return [302, { location: `${origin}/proxy/application_1_0001/` }, ''];
  if (path === '/cluster/nodes')
    return [
      200,
      { 'content-type': 'text/html; charset=utf-8' },
      `<table><tr><td><a href="//${origin.slice(7)}/node">${origin.slice(7)}</a></td></tr></table>`,
    ];
  if (path === '/cluster/apps')
    return [
      200,
      { 'content-type': 'text/html; charset=utf-8' },
      '<table><tr><td>application_1_0001</td></tr></table>',
    ];
  return [404, { 'content-type': 'text/plain' }, 'not found'];
};

interface Running {
  gateway: Gateway;
  home: TestHome;
  logs: string[];
}

async function start(mode: string, oozie: Fake, rm: Fake, bodies = 'text'): Promise<Running> {
  const home = makeHome({
    'postern.services.dirs': KNOX_SERVICES,
    'postern.rewrite.leak.guard': mode,
    'postern.rewrite.leak.guard.bodies': bodies,
  });
  home.write(
    'conf/topologies/ui.xml',
    topologyXml({
      services: [
        { role: 'OOZIEUI', version: '4.2.0', urls: [`${oozie.origin}/oozie`] },
        { role: 'YARNUI', version: '2.7.0', urls: [rm.origin] },
      ],
    }),
  );
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const log = pino({ level: 'warn' }, sink);
  const gateway = await GatewayClass.start({ home: home.dir, port: 0, host: '127.0.0.1', log, watch: false });
  assert.equal(
    gateway.status.get('ui')?.deployed,
    true,
    JSON.stringify(gateway.status.get('ui')?.diagnostics),
  );
  return { gateway, home, logs };
}

async function get(url: string) {
  const res = await request(url);
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

describe('leak guard on Knox UI definitions', () => {
  let oozie: Fake;
  let rm: Fake;
  const events: RewriteLeakEvent[] = [];
  const listener = (e: unknown) => events.push(e as RewriteLeakEvent);
  const running: Running[] = [];
  const metrics = new GatewayMetrics({ defaultMetrics: false });

  before(async () => {
    oozie = await fake(oozieAnswers);
    rm = await fake(rmAnswers);
    diagnostics_channel.subscribe('postern:rewrite-leak', listener);
  });

  after(async () => {
    diagnostics_channel.unsubscribe('postern:rewrite-leak', listener);
    metrics.close();
    for (const r of running) {
      await r.gateway.close();
      r.home.remove();
    }
    await oozie?.close();
    await rm?.close();
  });

  const since = (n: number) => events.slice(n);

  describe('report mode (the default), every text body scanned', () => {
    let r: Running;
    before(async () => {
      r = await start('report', oozie, rm);
      running.push(r);
    });

    it("reports OOZIEUI's /oozie redirect to its backend and leaves it as Knox does", async () => {
      const n = events.length;
      const res = await get(`${r.gateway.url}/ui/oozie`);
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, `${oozie.origin}/oozie/`);
      const seen = since(n);
      assert.equal(seen.length, 1);
      assert.deepEqual(
        { ...seen[0] },
        {
          topology: 'ui',
          service: 'OOZIEUI',
          route: '/oozie?**',
          where: 'location',
          count: 1,
          origin: oozie.origin,
          path: '/gateway/ui/oozie',
          action: 'reported',
        },
      );
      const text = await metrics.registry.getSingleMetricAsString('postern_rewrite_leaks_total');
      assert.match(
        text,
        /postern_rewrite_leaks_total\{topology="ui",service="OOZIEUI",route="\/oozie\?\*\*",where="location",action="reported"\} 1/,
      );
    });

    it("reports the YARN proxy's add-the-slash redirect", async () => {
      const n = events.length;
      const res = await get(`${r.gateway.url}/ui/yarn/proxy/application_1_0001/`);
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, `${rm.origin}/proxy/application_1_0001/`);
      const seen = since(n);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].service, 'YARNUI');
      assert.equal(seen[0].where, 'location');
      assert.equal(seen[0].origin, rm.origin);
    });

    it("reports Oozie's JSON consoleUrl and passes the body byte for byte, with its Content-Length", async () => {
      const n = events.length;
      const res = await get(`${r.gateway.url}/ui/oozie/v1/jobs?len=50`);
      assert.equal(res.status, 200);
      assert.equal(res.body, oozieAnswers('/oozie/v1/jobs', oozie.origin)[2]);
      assert.equal(res.headers['content-length'], String(Buffer.byteLength(res.body)));
      assert.equal(res.headers.etag, '"v1"', 'a body only looked at keeps its strong validator');
      const seen = since(n);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].where, 'body');
      assert.equal(seen[0].path, '/gateway/ui/oozie/v1/jobs');
    });

    it('reports protocol-relative node links in an RM page', async () => {
      const n = events.length;
      const res = await get(`${r.gateway.url}/ui/yarn/cluster/nodes`);
      assert.equal(res.status, 200);
      const seen = since(n);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].where, 'body');
      assert.equal(seen[0].count, 1, 'the link, not the bare host:port text');
    });

    it('reports nothing for pages without leaks', async () => {
      const n = events.length;
      for (const path of ['/ui/oozie/index.html', '/ui/yarn/cluster/apps']) {
        const res = await get(`${r.gateway.url}${path}`);
        assert.equal(res.status, 200, path);
      }
      assert.deepEqual(since(n), []);
    });

    it('logs once per route, with the origin and no query string', async () => {
      await get(`${r.gateway.url}/ui/oozie/v1/jobs?len=50`);
      const lines = r.logs.filter((l) => l.includes('left in the response')).map((l) => JSON.parse(l));
      const jobs = lines.filter((l) => l.route === '/oozie/**?**');
      assert.equal(jobs.length, 1, 'one line for the route however many responses leaked');
      assert.equal(jobs[0].origin, oozie.origin);
      assert.equal(jobs[0].where, 'body');
      assert.equal(jobs[0].leaked, `${oozie.origin}/oozie`);
      for (const l of r.logs) assert.ok(!l.includes('secret=x') && !l.includes('job=wf-1'), l);
      const proxy = lines.find((l) => l.route === '/yarn/proxy/**');
      assert.equal(proxy.rule, 'YARNUI/yarn/outbound/proxy', 'the rule that could have caught it');
    });
  });

  describe('rewrite mode', () => {
    let r: Running;
    before(async () => {
      r = await start('rewrite', oozie, rm);
      running.push(r);
    });

    it("keeps OOZIEUI's redirect in the gateway (service URL → gateway path)", async () => {
      const n = events.length;
      const res = await get(`${r.gateway.url}/ui/oozie`);
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, `${r.gateway.url}/ui/oozie/`);
      assert.equal(since(n)[0].action, 'rewritten');
    });

    it("keeps the YARN proxy redirect in the gateway through YARNUI's own outbound rule", async () => {
      const res = await get(`${r.gateway.url}/ui/yarn/proxy/application_1_0001/`);
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, `${r.gateway.url}/ui/yarn/proxy/application_1_0001/`);
    });

    it("maps Oozie's JSON consoleUrl with its query", async () => {
      const res = await get(`${r.gateway.url}/ui/oozie/v1/jobs`);
      const body = JSON.parse(res.body);
      assert.equal(body.workflows[0].consoleUrl, `${r.gateway.url}/ui/oozie?job=wf-1&secret=x`);
    });

    it('uses the gateway URL $frontend gives the rules, whatever the request carries', async () => {
      for (const headers of [
        {},
        { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'lb.example.com:9443' },
      ]) {
        const oozieRes = await request(`${r.gateway.url}/ui/oozie`, { headers });
        await oozieRes.body.dump();
        const yarnRes = await request(`${r.gateway.url}/ui/yarn/proxy/application_1_0001/`, { headers });
        await yarnRes.body.dump();
        // The Oozie mapping is the guard's own (service URL → gateway path); YARN's is YARNUI's rule with
        // $frontend[url]: both must name the same gateway.
        const oozieBase = String(oozieRes.headers.location).replace(/\/oozie\/$/, '');
        const yarnBase = String(yarnRes.headers.location).replace(/\/yarn\/proxy\/application_1_0001\/$/, '');
        assert.equal(oozieBase, yarnBase, JSON.stringify(headers));
        if (!('x-forwarded-host' in headers)) assert.equal(oozieBase, `${r.gateway.url}/ui`);
      }
    });

    it('changes nothing in pages without leaks', async () => {
      const res = await get(`${r.gateway.url}/ui/oozie/index.html`);
      assert.equal(res.body, oozieAnswers('/oozie/index.html', oozie.origin)[2]);
    });
  });

  describe('report mode with the default bodies (filtered)', () => {
    let r: Running;
    before(async () => {
      r = await start('report', oozie, rm, 'filtered');
      running.push(r);
    });

    it('still reports a redirect, and leaves a body no filter reads out of the body pipeline', async () => {
      const n = events.length;
      const redirect = await get(`${r.gateway.url}/ui/oozie`);
      assert.equal(redirect.headers.location, `${oozie.origin}/oozie/`);
      const json = await get(`${r.gateway.url}/ui/oozie/v1/jobs?len=50`);
      assert.equal(json.body, oozieAnswers('/oozie/v1/jobs', oozie.origin)[2]);
      assert.deepEqual(
        since(n).map((e) => e.where),
        ['location'],
        'the unfiltered consoleUrl JSON is scanned only with postern.rewrite.leak.guard.bodies=text',
      );
    });
  });

  describe('off', () => {
    let r: Running;
    before(async () => {
      r = await start('off', oozie, rm);
      running.push(r);
    });

    it('neither reports nor rewrites', async () => {
      const n = events.length;
      const res = await get(`${r.gateway.url}/ui/oozie`);
      assert.equal(res.headers.location, `${oozie.origin}/oozie/`);
      await get(`${r.gateway.url}/ui/oozie/v1/jobs`);
      assert.deepEqual(since(n), []);
    });
  });
});
