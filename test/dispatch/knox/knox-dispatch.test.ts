/**
 * Knox's service-specific dispatches end to end: a real gateway on loopback, Knox's own service definitions
 * (../shared/knox-services, loaded from there), and small fakes that record what reaches them. Each test checks
 * what the Knox dispatch guarantees: Livy's `proxyUser` and JKG's `KERNEL_USERNAME` come from the gateway, NiFi's
 * proxied-entities chain and proxy headers, OZONE's URL decoding, AMBARI's query decoding, HIVE's preemptive
 * Basic (and IMPALA's), WebHDFS's namenode never getting a body, HBASEJARS's trailing slash, STORM's
 * WWW-Authenticate reaching the client, ICEBERG-REST's actor header and metadata headers, Server-Sent Events with
 * no timeout between events, and failover when a WebHDFS namenode, a ResourceManager or an Atlas server answers
 * as a standby or passive.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { call } from '../../helpers/cluster.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';
import { KNOX_SERVICES } from '../../helpers/knox.ts';
import { makeAuthority } from '../../helpers/pki.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Fake {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

/** A backend that records each request (with its body) and answers with `answer`, or a JSON echo. */
async function fake(answer?: (s: Seen, res: http.ServerResponse) => void): Promise<Fake> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(s);
      if (answer) answer(s, res);
      else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const PROVIDERS = [
  { role: 'federation', name: 'HeaderPreAuth' },
  { role: 'identity-assertion', name: 'Default' },
];
const ALICE = { SM_USER: 'alice' };

describe("Knox's service-specific dispatches through a running gateway", () => {
  let home: TestHome;
  let gateway: Gateway;
  let echo: Fake;
  let standbyNn: Fake;
  let activeNn: Fake;
  let standbyRm: Fake;
  let activeRm: Fake;
  let storm: Fake;
  let passiveAtlas: Fake;
  let activeAtlas: Fake;
  let events: Fake;

  const request = (
    topology: string,
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ) =>
    call(gateway.port, method, `/gateway/${topology}${path}`, {
      headers: {
        ...ALICE,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : Buffer.from(body),
    });
  const last = () => echo.seen.at(-1)!;
  /** The path the backend was asked for (identity assertion adds `user.name` to the query). */
  const lastPath = () => last().url.split('?')[0];

  before(async () => {
    echo = await fake();
    activeNn = await fake();
    activeRm = await fake();
    standbyNn = await fake((_s, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          RemoteException: {
            exception: 'StandbyException',
            javaClassName: 'org.apache.hadoop.ipc.StandbyException',
            message: 'Operation category READ is not supported in state standby',
          },
        }),
      );
    });
    standbyRm = await fake((_s, res) => {
      res.writeHead(307, { location: `${activeRm.url}/ws/v1/cluster/info`, 'content-type': 'text/plain' });
      res.end(`This is standby RM. The redirect url is: ${activeRm.url}/ws/v1/cluster/info`);
    });
    // Storm asks for Negotiate itself; a ConfigurableDispatch would drop its WWW-Authenticate.
    storm = await fake((_s, res) => {
      res.writeHead(401, { 'www-authenticate': 'Negotiate', 'content-type': 'application/json' });
      res.end('{"error":"storm wants Kerberos"}');
    });
    activeAtlas = await fake();
    passiveAtlas = await fake((s, res) => {
      res.writeHead(302, { location: `${activeAtlas.url}${s.url}` });
      res.end();
    });
    // Server-Sent Events with a pause longer than the backend socket timeout (1 s here) between two events.
    events = await fake((_s, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: one\n\n');
      setTimeout(() => res.end('data: two\n\n'), 1600);
    });
    home = makeHome({ 'postern.services.dirs': KNOX_SERVICES, 'gateway.httpclient.socketTimeout': '1s' });
    // Knox ships no definition naming SSEDispatch; a service of one's own does, as Knox's docs describe.
    home.write(
      'data/services/events/1.0.0/service.xml',
      `<service role="EVENTS" name="events" version="1.0.0">
        <routes><route path="/events/**"/></routes>
        <dispatch classname="org.apache.knox.gateway.sse.SSEDispatch"/>
      </service>`,
    );
    home.write(
      'data/services/events/1.0.0/rewrite.xml',
      `<rules><rule dir="IN" name="EVENTS/in" pattern="*://*:*/**/events/{path=**}?{**}">
        <rewrite template="{$serviceUrl[EVENTS]}/{path=**}?{**}"/></rule></rules>`,
    );
    home.write(
      'data/services/plainevents/1.0.0/service.xml',
      `<service role="PLAINEVENTS" name="plainevents" version="1.0.0">
        <routes><route path="/plainevents/**"/></routes>
        <dispatch classname="org.apache.knox.gateway.dispatch.ConfigurableDispatch"/>
      </service>`,
    );
    home.write(
      'data/services/plainevents/1.0.0/rewrite.xml',
      `<rules><rule dir="IN" name="PLAINEVENTS/in" pattern="*://*:*/**/plainevents/{path=**}?{**}">
        <rewrite template="{$serviceUrl[PLAINEVENTS]}/{path=**}?{**}"/></rule></rules>`,
    );
    // The gateway's certificate, which NIFI's definition presents (use-two-way-ssl).
    mkdirSync(join(home.dir, 'data', 'security'), { recursive: true });
    makeAuthority(join(home.dir, 'data', 'security'), 'gateway');
    const one = (role: string, name: string, version: string, urls: string[], params = {}) =>
      topologyXml({ providers: PROVIDERS, services: [{ role, name, version, urls, params }] });
    const ha = (role: string, name: string, version: string, urls: string[]) =>
      topologyXml({
        providers: [
          ...PROVIDERS,
          {
            role: 'ha',
            name: 'HaProvider',
            params: { [role]: 'enabled=true;failoverSleep=0;failureCooldown=0' },
          },
        ],
        services: [{ role, name, version, urls }],
      });
    const topologies: Record<string, string> = {
      livy: one('LIVYSERVER', 'livy', '0.4.3', [echo.url]),
      livyha: ha('LIVYSERVER', 'livy', '0.4.3', [echo.url]),
      jkg: one('JKG', 'jkg', '1.1.2', [echo.url]),
      nifi: one('NIFI', 'nifi', '1.4.0', [echo.url]),
      ozone: one('OZONE', 'ozone', '1.2.0', [echo.url]),
      ambari: one('AMBARI', 'ambari', '3.0.0', [echo.url]),
      hive: one('HIVE', 'hive', '0.13.0', [`${echo.url}/cliservice`], { basicAuthPreemptive: 'true' }),
      hbase: one('HBASEJARS', 'hbasejars', '2.2.0', [echo.url]),
      webhdfs: one('WEBHDFS', 'webhdfs', '2.4.0', [`${echo.url}/webhdfs`]),
      webhdfsdead: one('WEBHDFS', 'webhdfs', '2.4.0', ['http://127.0.0.1:1/webhdfs']),
      registry: topologyXml({
        providers: PROVIDERS,
        services: [
          { role: 'NAMENODE', urls: ['hdfs://localhost:8020'] },
          { role: 'HIVE', name: 'hive', version: '0.13.0', urls: ['thrift://localhost:10000'] },
        ],
      }),
      hdfsha: ha('WEBHDFS', 'webhdfs', '2.4.0', [`${standbyNn.url}/webhdfs`, `${activeNn.url}/webhdfs`]),
      hdfsstandby: ha('WEBHDFS', 'webhdfs', '2.4.0', [`${standbyNn.url}/webhdfs`]),
      rmha: ha('RESOURCEMANAGER', 'resourcemanager', '2.5.0', [`${standbyRm.url}/ws`, `${activeRm.url}/ws`]),
      storm: one('STORM', 'storm', '0.9.3', [storm.url]),
      impala: one('IMPALA', 'impala', '1.0.0', [`${echo.url}/impala`], { basicAuthPreemptive: 'true' }),
      atlasha: ha('ATLAS-API', 'atlas-api', '2.0.0', [passiveAtlas.url, activeAtlas.url]),
      iceberg: one('ICEBERG-REST', 'iceberg-rest', '0.0.1', [echo.url]),
      events: one('EVENTS', 'events', '1.0.0', [events.url]),
      plainevents: one('PLAINEVENTS', 'plainevents', '1.0.0', [events.url]),
    };
    for (const [name, xml] of Object.entries(topologies)) home.write(`conf/topologies/${name}.xml`, xml);
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await Promise.all(
      [echo, standbyNn, activeNn, standbyRm, activeRm, storm, passiveAtlas, activeAtlas, events].map((f) =>
        f?.close(),
      ),
    );
    home?.remove();
  });

  describe('LivyDispatch', () => {
    for (const path of ['/livy/v1/sessions', '/livy/v1/batches/', '/livy/v1/sessions;jsessionid=1']) {
      it(`POST ${path}: proxyUser is the authenticated user, whatever the client wrote`, async () => {
        const r = await request('livy', 'POST', path, '{"kind":"spark","proxyUser":"admin","conf":{"a":1}}');
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(JSON.parse(last().body), { kind: 'spark', proxyUser: 'alice', conf: { a: 1 } });
      });
    }

    it('a session created with no proxyUser gets one', async () => {
      const r = await request('livy', 'POST', '/livy/v1/sessions', '{"kind":"pyspark"}');
      assert.equal(r.status, 200, r.text);
      assert.equal(JSON.parse(last().body).proxyUser, 'alice');
    });

    it('also with the HaProvider on (Knox would fall back to DefaultHaDispatch)', async () => {
      const r = await request('livyha', 'POST', '/livy/v1/batches', '{"file":"x.jar","proxyUser":"hdfs"}');
      assert.equal(r.status, 200, r.text);
      assert.equal(JSON.parse(last().body).proxyUser, 'alice');
    });

    it('other requests pass unchanged', async () => {
      const r = await request(
        'livy',
        'POST',
        '/livy/v1/sessions/1/statements',
        '{"code":"1+1","proxyUser":"x"}',
      );
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(JSON.parse(last().body), { code: '1+1', proxyUser: 'x' });
    });

    it('a creation body that cannot be edited is refused before it reaches Livy', async () => {
      const before = echo.seen.length;
      assert.equal((await request('livy', 'POST', '/livy/v1/sessions', '{not json')).status, 400);
      assert.equal((await request('livy', 'POST', '/livy/v1/sessions', '["a"]')).status, 400);
      assert.equal((await request('livy', 'POST', '/livy/v1/sessions')).status, 400);
      const gz = await request('livy', 'POST', '/livy/v1/sessions', '{}', { 'content-encoding': 'gzip' });
      assert.equal(gz.status, 415);
      assert.equal(echo.seen.length, before);
    });
  });

  describe('JkgDispatch', () => {
    it("a kernel's KERNEL_USERNAME is the authenticated user, never the client's", async () => {
      const r = await request(
        'jkg',
        'POST',
        '/jkg/api/kernels',
        '{"name":"python3","env":{"KERNEL_USERNAME":"root","OTHER":"1"}}',
      );
      assert.equal(r.status, 200, r.text);
      assert.equal(lastPath(), '/api/kernels');
      assert.deepEqual(JSON.parse(last().body), {
        name: 'python3',
        env: { KERNEL_USERNAME: 'alice', OTHER: '1' },
      });
    });

    it('a kernel request without env gets one', async () => {
      const r = await request('jkg', 'POST', '/jkg/api/kernels', '{"name":"python3"}');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(JSON.parse(last().body).env, { KERNEL_USERNAME: 'alice' });
    });
  });

  describe('NiFiDispatch', () => {
    it('X-ProxiedEntitiesChain names the user; the proxy headers and context come from the gateway', async () => {
      const r = await request('nifi', 'GET', '/nifi-app/nifi-api/flow/about', undefined, {
        'X-ProxiedEntitiesChain': '<admin>',
        'X-ProxyHost': 'evil.example',
        Cookie: 'a=b',
      });
      assert.equal(r.status, 200, r.text);
      const h = last().headers;
      assert.equal(lastPath(), '/nifi-api/flow/about');
      assert.equal(h['x-proxiedentitieschain'], '<alice>');
      assert.equal(h['x-forwarded-context'], '/gateway/nifi/nifi-app');
      assert.equal(h['x-proxycontextpath'], '/gateway/nifi/nifi-app');
      assert.equal(h['x-proxyhost'], `127.0.0.1:${gateway.port}`);
      assert.equal(h['x-proxyport'], String(gateway.port));
      assert.equal(h['x-proxyscheme'], 'http');
      assert.equal(h.cookie, undefined);
    });

    it('a user name that would forge a chain is escaped as NiFi escapes it', async () => {
      const r = await request('nifi', 'GET', '/nifi-app/nifi-api/x', undefined, { SM_USER: 'bob><admin' });
      assert.equal(r.status, 200, r.text);
      assert.equal(last().headers['x-proxiedentitieschain'], '<bob\\>\\<admin>');
    });

    it("a trailing slash of the client's path is kept", async () => {
      const r = await request('nifi', 'GET', '/nifi-app/nifi/');
      assert.equal(r.status, 200, r.text);
      assert.equal(lastPath(), '/nifi/');
    });
  });

  it('URLDecodingDispatch (OZONE): the backend path is decoded once, the query is not', async () => {
    const host = encodeURIComponent(echo.url);
    const r = await request('ozone', 'GET', `/ozone/vol%2520a/key%253Ab?host=${host}&q=a%2520b`);
    assert.equal(r.status, 200, r.text);
    assert.equal(lastPath(), '/vol%20a/key%3Ab');
    assert.match(last().url, /q=a%2520b/);
  });

  it('PassAllHeadersNoEncodingDispatch (AMBARI): the query is decoded once, Authorization passes', async () => {
    const r = await request('ambari', 'GET', '/ambari/api/v1/clusters?fields=a%2Fb%2Cc&p=x%7Cy', undefined, {
      Authorization: 'Basic YTpi',
    });
    assert.equal(r.status, 200, r.text);
    assert.match(last().url, /^\/api\/v1\/clusters\?fields=a\/b,c&p=x%7Cy(&|$)/);
    assert.equal(last().headers.authorization, 'Basic YTpi');
  });

  it('HiveDispatch with basicAuthPreemptive: Basic of the effective user, password *', async () => {
    const r = await request('hive', 'POST', '/hive', 'thrift', { Authorization: 'Basic Zm9vOmJhcg==' });
    assert.equal(r.status, 200, r.text);
    assert.equal(last().headers.authorization, `Basic ${Buffer.from('alice:*').toString('base64')}`);
    assert.equal(last().body, 'thrift');
  });

  it("StormDispatch: Storm's WWW-Authenticate reaches the client (its exclude list is empty)", async () => {
    const r = await request('storm', 'GET', '/storm/api/v1/cluster/summary');
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Negotiate');
    assert.match(r.text, /storm wants Kerberos/);
  });

  it('ImpalaDispatch with basicAuthPreemptive: Basic of the effective user, password *', async () => {
    const r = await request('impala', 'POST', '/impala', 'thrift', { Authorization: 'Basic Zm9vOmJhcg==' });
    assert.equal(r.status, 200, r.text);
    assert.equal(last().headers.authorization, `Basic ${Buffer.from('alice:*').toString('base64')}`);
    assert.equal(last().body, 'thrift');
  });

  it('AtlasApiTrustedProxyHaDispatch: fails over from a passive Atlas, without the client’s Authorization', async () => {
    const before = activeAtlas.seen.length;
    const r = await request('atlasha', 'GET', '/atlas/api/atlas/v2/types/typedefs', undefined, {
      Authorization: 'Basic Zm9vOmJhcg==',
    });
    assert.equal(r.status, 200, r.text);
    assert.ok(passiveAtlas.seen.length > 0, 'the passive server was asked first');
    assert.equal(activeAtlas.seen.length, before + 1);
    const seen = activeAtlas.seen.at(-1)!;
    assert.equal(seen.headers.authorization, undefined);
    assert.match(seen.url, /^\/api\/atlas\/v2\/types\/typedefs\?(.*&)?(user\.name|doAs)=alice/);
  });

  it('RestCatalogDispatch (ICEBERG-REST): the actor header is the user’s; a client’s X-Knox-Meta-* never passes', async () => {
    const r = await request('iceberg', 'GET', '/iceberg-rest/v1/config', undefined, {
      'X-Knox-Meta-userName': 'admin',
      'x-actor-username': 'admin',
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(last().headers['x-knox-meta-username'], undefined);
    assert.equal(last().headers['x-actor-username'], 'alice');
  });

  it('SSEDispatch: events stream through with no timeout between two of them; a plain dispatch times out', async () => {
    const r = await request('events', 'GET', '/events/stream');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, 'data: one\n\ndata: two\n\n');
    assert.match(String(r.headers['content-type']), /^text\/event-stream/);
    assert.equal(events.seen.at(-1)?.headers.accept, 'text/event-stream');
    // The same backend through ConfigurableDispatch: the pause is longer than gateway.httpclient.socketTimeout.
    // The answer had started, so the gateway can only cut it: the client sees the stream end early.
    const plain = await request('plainevents', 'GET', '/plainevents/stream').then(
      (a) => a.text,
      (err: NodeJS.ErrnoException) => err.code,
    );
    assert.notEqual(plain, 'data: one\n\ndata: two\n\n');
  });

  it('HBaseUIDispatch (HBASEJARS): the trailing slash the rewrite drops is put back', async () => {
    const r = await request('hbase', 'GET', '/hbase/jars/lib/');
    assert.equal(r.status, 200, r.text);
    assert.equal(lastPath(), '/lib/');
  });

  it('HdfsHttpClientDispatch: the namenode never gets a body', async () => {
    const r = await request('webhdfs', 'PUT', '/webhdfs/v1/tmp/f?op=CREATE', 'data that goes to a datanode');
    assert.equal(r.status, 200, r.text);
    assert.equal(last().body, '');
    // undici says `Content-Length: 0` for a PUT without a body.
    assert.ok([undefined, '0'].includes(last().headers['content-length']));
    assert.match(last().url, /^\/webhdfs\/v1\/tmp\/f\?op=CREATE/);
  });

  it("the gateway's errors on WEBHDFS routes are WebHDFS RemoteExceptions", async () => {
    const dead = await request('webhdfsdead', 'GET', '/webhdfs/v1/tmp?op=LISTSTATUS');
    assert.equal(dead.status, 502);
    assert.equal(dead.headers['x-postern-error'], 'POSTERN_ERR_UPSTREAM_UNAVAILABLE');
    assert.deepEqual(Object.keys(JSON.parse(dead.text).RemoteException), [
      'exception',
      'javaClassName',
      'message',
    ]);
    assert.equal(JSON.parse(dead.text).RemoteException.javaClassName, 'java.io.IOException');
    const anonymous = await call(gateway.port, 'GET', '/gateway/webhdfsdead/webhdfs/v1/tmp?op=LISTSTATUS');
    assert.equal(anonymous.status, 401);
    assert.equal(JSON.parse(anonymous.text).RemoteException.exception, 'SecurityException');
    // Other roles keep the gateway's own error body.
    const other = await request('registry', 'POST', '/hive', 'x');
    assert.equal(other.code, 'POSTERN_ERR_UPSTREAM_UNAVAILABLE');
  });

  it('a route of a service whose URL is registry-only (thrift://) is a clean 502', async () => {
    const r = await request('registry', 'POST', '/hive', 'x');
    assert.equal(r.status, 502);
    assert.equal(r.code, 'POSTERN_ERR_UPSTREAM_UNAVAILABLE');
    assert.doesNotMatch(r.text, /thrift|10000/);
  });

  describe('standby detection', () => {
    it('WebHdfsHaDispatch fails over from a namenode answering StandbyException', async () => {
      const [s, a] = [standbyNn.seen.length, activeNn.seen.length];
      const r = await request('hdfsha', 'GET', '/webhdfs/v1/tmp?op=LISTSTATUS');
      assert.equal(r.status, 200, r.text);
      assert.equal(standbyNn.seen.length, s + 1);
      assert.equal(activeNn.seen.length, a + 1);
    });

    it("with no namenode left, the standby's own answer is the client's", async () => {
      const r = await request('hdfsstandby', 'GET', '/webhdfs/v1/tmp?op=LISTSTATUS');
      assert.equal(r.status, 403);
      assert.equal(JSON.parse(r.text).RemoteException.exception, 'StandbyException');
    });

    it('RMHaDispatch fails over from a ResourceManager saying "This is standby RM"', async () => {
      const [s, a] = [standbyRm.seen.length, activeRm.seen.length];
      const r = await request('rmha', 'GET', '/resourcemanager/v1/cluster/info');
      assert.equal(r.status, 200, r.text);
      assert.equal(standbyRm.seen.length, s + 1);
      assert.equal(activeRm.seen.length, a + 1);
    });
  });
});
