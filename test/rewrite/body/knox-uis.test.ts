/**
 * Body filters end to end through a real gateway, with Knox's own definitions read in place from knox-services:
 * one loopback backend stands in for a YARN ResourceManager, a Spark History Server, a NameNode, Livy, Zeppelin
 * and HBase's REST server, serving pages and documents written to look like theirs, and each test checks the
 * URLs the browser or client gets back.
 *
 * Knox's HDFSUI and LIVYSERVER definitions name dispatches postern does not have yet (URLDecodingDispatch,
 * LivyDispatch); for them the test home gets a copy of Knox's definition made at run time with only the
 * `<dispatch>` element changed to DefaultDispatch, so routes, rules and filters are Knox's own.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { request } from 'undici';
import { formatDiagnostic } from '../../../src/config/diagnostics.ts';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';
import { KNOX_SERVICES } from '../../helpers/knox.ts';

/** A copy of one Knox definition whose service-level `<dispatch>` is postern's DefaultDispatch. */
function withDefaultDispatch(home: TestHome, def: string): void {
  const dir = join(home.dir, 'derived', def);
  mkdirSync(dir, { recursive: true });
  const service = readFileSync(join(KNOX_SERVICES, def, 'service.xml'), 'utf8').replace(
    /<dispatch\s+classname="[^"]*"(\s+ha-classname="[^"]*")?\s*\/>\s*<\/service>/,
    '<dispatch classname="org.apache.knox.gateway.dispatch.DefaultDispatch"/></service>',
  );
  assert.match(service, /DefaultDispatch"\/><\/service>/, `${def}: the dispatch element was not found`);
  writeFileSync(join(dir, 'service.xml'), service);
  writeFileSync(join(dir, 'rewrite.xml'), readFileSync(join(KNOX_SERVICES, def, 'rewrite.xml')));
}

describe("body filters of Knox's UI and API definitions, end to end", () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  /** `$frontend[url]`: the gateway URL of the topology. */
  let gw: string;
  let be: string;

  const pages = new Map<string, { type: string; body: string | Buffer; headers?: Record<string, string> }>();
  const page = (path: string, type: string, body: string | Buffer, headers?: Record<string, string>) =>
    pages.set(path, { type, body, headers });

  before(async () => {
    backend = await startBackend((req, res) => {
      req.resume();
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const p = pages.get(path);
      if (!p) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end(`no page ${path}`);
        return;
      }
      const body = typeof p.body === 'string' ? p.body.replaceAll('BACKEND', be) : p.body;
      res.writeHead(p.headers?.location ? 302 : 200, {
        'content-type': p.type,
        ...p.headers,
        ...(p.headers?.location && { location: p.headers.location.replaceAll('BACKEND', be) }),
      });
      res.end(body);
    });
    be = backend.url;
    home = makeHome();
    withDefaultDispatch(home, 'hdfsui/3.0.0');
    withDefaultDispatch(home, 'livy/0.4.3');
    home.write(
      'conf/gateway-site.xml',
      `<?xml version="1.0"?><configuration>
  <property><name>gateway.port</name><value>0</value></property>
  <property><name>gateway.host</name><value>127.0.0.1</value></property>
  <property><name>ssl.enabled</name><value>false</value></property>
  <property><name>postern.services.dirs</name><value>${KNOX_SERVICES},${join(home.dir, 'derived')}</value></property>
</configuration>`,
    );
    home.write(
      'conf/topologies/sandbox.xml',
      topologyXml({
        services: [
          { role: 'YARNUI', version: '2.7.0', urls: [`${be}/rm`] },
          { role: 'SPARKHISTORYUI', version: '2.3.0', urls: [`${be}/shs`] },
          { role: 'HDFSUI', version: '3.0.0', urls: [`${be}/nn`] },
          { role: 'LIVYSERVER', version: '0.4.3', urls: [`${be}/livy-server`] },
          { role: 'ZEPPELINUI', version: '0.8.1', urls: [`${be}/zeppelin-server`] },
          { role: 'WEBHBASE', version: '0.98.0', urls: [`${be}/hbase-rest`] },
        ],
      }),
    );
    // postern's own Zeppelin definition, in a topology of its own (one ZEPPELINUI per topology).
    home.write(
      'conf/topologies/zep.xml',
      topologyXml({ services: [{ role: 'ZEPPELINUI', version: '0.11.0', urls: [`${be}/zeppelin11`] }] }),
    );
    gateway = await startGateway(home);
    gw = `${gateway.url}/sandbox`;
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  async function get(path: string, headers: Record<string, string> = {}) {
    const res = await request(`${gateway.url}${path}`, { headers });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body, text: body.toString('utf8') };
  }

  /** Every `href`/`src`/`action`/`content` value of a page, in order (also those inside inline scripts). */
  const links = (html: string) =>
    [...html.matchAll(/\b(?:href|src|action|content)=(?:"([^"]*)"|'([^']*)'|([^\s>]*))/g)].map(
      (m) => m[1] ?? m[2] ?? m[3],
    );

  it('deploys both topologies without an error', () => {
    for (const name of ['sandbox', 'zep']) {
      const status = gateway.status.get(name);
      assert.equal(
        status?.deployed,
        true,
        `${name}: ${(status?.diagnostics ?? [])
          .filter((d) => d.severity === 'error')
          .map(formatDiagnostic)
          .join('\n')}`,
      );
    }
  });

  describe('YARN UI (yarnui/2.7.0)', () => {
    const appsPage = `<!DOCTYPE html>
<html>
<head>
<meta http-equiv="Content-type" content="text/html; charset=UTF-8">
<title>All Applications</title>
<link rel="stylesheet" href="/static/yarn.css">
<script type="text/javascript" src="/static/jquery/jquery-1.8.2.min.js"></script>
<script type="text/javascript">
var appsTableData=[
["<a href='/cluster/app/application_1700000000000_0001'>application_1700000000000_0001</a>","alice","Spark shell","<a href='BACKEND/proxy/application_1700000000000_0001/'>ApplicationMaster</a>"]
]
</script>
</head>
<body>
<div id="logo"><img src="/static/hadoop-st.png"></div>
<a href="/cluster/nodes">Nodes</a>
<a href="/cluster/scheduler?openQueues=default">Scheduler</a>
<a href="/conf">Configuration</a>
<a href="/logs">Local logs</a>
<a href="http://nm1.internal:8042">nm1.internal:8042</a>
<a href="http://nm1.internal:8042/node/containerlogs/container_1700000000000_0001_01_000001/alice">logs</a>
</body>
</html>
`;

    before(() => {
      page('/rm/cluster/apps', 'text/html; charset=utf-8', appsPage);
      page('/rm/cluster/apps-gzip', 'text/html', zlib.gzipSync(appsPage.replaceAll('BACKEND', '')), {
        'content-encoding': 'gzip',
      });
      page('/rm/cluster/big', 'text/html', `${'<p><a href="/cluster/nodes">n</a></p>\n'.repeat(5000)}`);
      page(
        '/rm/cluster/app/application_1700000000000_0001',
        'text/html',
        `<html><body><table>
<tr><th>Tracking URL:</th><td><a href="/proxy/application_1700000000000_0001/">ApplicationMaster</a></td></tr>
<tr><th>Logs</th><td><a href="http://nm1.internal:8042/node/containerlogs/container_1700000000000_0001_01_000001/alice">Logs</a></td></tr>
<tr><td><a href="/cluster/container">Containers</a></td><td><a href="/cluster/app">all</a></td></tr>
</table></body></html>`,
      );
      page('/rm/logs', 'text/html', '', { location: 'http://rm.internal:8088/logs/' });
      page(
        '/rm/proxy/application_1700000000000_0001/ws/v1/mapreduce/jobs',
        'application/json',
        '{"jobs":{"job":[{"id":"job_1","state":"RUNNING","trackingUrl":"BACKEND/proxy/application_1700000000000_0001/"}]}}',
      );
      page('/rm/proxy/application_1700000000000_0001/jobhistory/job/job_1', 'text/html', '', {
        location: 'http://jhs.internal:19888/jobhistory/job/job_1',
      });
      page(
        '/rm/conf',
        'text/xml',
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?><configuration>' +
          '<property><name>yarn.resourcemanager.webapp.address</name><value>rm.internal:8088</value><final>false</final><source>yarn-site.xml</source></property>' +
          '</configuration>',
      );
    });

    it('rewrites the cluster page: links, static assets, the scheduler, the node manager and the inline table data', async () => {
      const res = await get('/sandbox/yarn/cluster/apps');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(links(res.text), [
        'text/html; charset=UTF-8',
        `${gw}/yarn/static/yarn.css`,
        `${gw}/yarn/static/jquery/jquery-1.8.2.min.js`,
        // The applications table is data in an inline script: the filter's expressions rewrite it there.
        `${gw}/yarn/cluster/app/application_1700000000000_0001`,
        `${gw}/yarn/proxy/application_1700000000000_0001`,
        `${gw}/yarn/static/hadoop-st.png`,
        `${gw}/yarn/cluster/nodes`,
        `${gw}/yarn/cluster/scheduler?openQueues=default`,
        `${gw}/yarn/conf`,
        `${gw}/yarn/logs`,
        `${gw}/yarn/nodemanager/node?scheme=http&host=nm1.internal&port=8042`,
        `${gw}/yarn/nodemanager/node/containerlogs/container_1700000000000_0001_01_000001/alice?scheme=http&host=nm1.internal&port=8042`,
      ]);
      assert.ok(!res.text.includes(be), 'a backend address is left in the page');
      assert.equal(
        res.headers['content-length'],
        String(res.body.length),
        'a small page gets its exact length',
      );
    });

    it('rewrites a gzip page and sends it gzip again', async () => {
      const res = await get('/sandbox/yarn/cluster/apps-gzip', { 'accept-encoding': 'gzip' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], 'gzip');
      const html = zlib.gunzipSync(res.body).toString('utf8');
      assert.ok(html.includes(`href="${gw}/yarn/cluster/nodes"`), html);
      assert.equal(res.headers['content-length'], String(res.body.length));
    });

    it('streams a page larger than the window chunked, without a Content-Length', async () => {
      const res = await get('/sandbox/yarn/cluster/big');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], undefined);
      assert.equal(res.headers['transfer-encoding'], 'chunked');
      assert.equal(res.text, `${`<p><a href="${gw}/yarn/cluster/nodes">n</a></p>\n`.repeat(5000)}`);
    });

    it('rewrites JSON behind the application proxy by best match (apps1 has an empty */json content)', async () => {
      const res = await get('/sandbox/yarn/proxy/application_1700000000000_0001/ws/v1/mapreduce/jobs');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(JSON.parse(res.text), {
        jobs: {
          job: [
            { id: 'job_1', state: 'RUNNING', trackingUrl: `${gw}/yarn/proxy/application_1700000000000_0001` },
          ],
        },
      });
    });

    it("rewrites the job history redirect with the route's headers filter", async () => {
      const res = await get('/sandbox/yarn/proxy/application_1700000000000_0001/jobhistory/job/job_1');
      assert.equal(res.status, 302);
      assert.equal(
        res.headers.location,
        `${gw}/jobhistory/job/job_1?scheme=http&host=jhs.internal&port=19888`,
      );
    });

    it('rewrites an application page with the apps filter', async () => {
      const res = await get('/sandbox/yarn/app/application_1700000000000_0001');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(links(res.text), [
        `${gw}/yarn/proxy/application_1700000000000_0001`,
        `${gw}/yarn/nodemanager/node/containerlogs/container_1700000000000_0001_01_000001/alice?scheme=http&host=nm1.internal&port=8042`,
        `${gw}/yarn/cluster/container`,
        `${gw}/yarn/cluster/app`,
      ]);
    });

    it("rewrites the log servlet's redirect with the logs headers filter", async () => {
      const res = await get('/sandbox/yarn/logs');
      assert.equal(res.status, 302, res.text);
      assert.equal(res.headers.location, `${gw}/yarn/logs?scheme=http&host=rm.internal&port=8088`);
    });

    it('passes the configuration XML through its buffer (no applies: nothing changes)', async () => {
      const res = await get('/sandbox/yarn/conf');
      assert.equal(res.status, 200, res.text);
      assert.match(
        res.text,
        /<value>rm\.internal:8088<\/value><final>false<\/final><source>yarn-site\.xml<\/source>/,
      );
    });
  });

  describe('Spark History UI (sparkhistoryui/2.3.0: no body filter, best match)', () => {
    before(() => {
      page(
        '/shs/',
        'text/html;charset=utf-8',
        `<html><head><link rel="stylesheet" href="/static/bootstrap.min.css" type="text/css"/></head><body>
<table><tr><td><a href="/history/app-20231101120000-0001/jobs/">app-20231101120000-0001</a></td>
<td><a href="/history/app-20231101120000-0001/1/jobs/?id=3">attempt 1</a></td></tr></table>
<a href="/?page=2&showIncomplete=true">Show incomplete applications</a>
<a href="http://nm1.internal:8042/node/containerlogs/container_1_0001_01_000002/alice/stdout?start=-4096">stdout</a>
</body></html>`,
      );
      page('/shs/history/app-20231101120000-0001/', 'text/html', '', {
        location: 'BACKEND/history/app-20231101120000-0001/jobs/',
      });
    });

    it('rewrites the application links of the history page by best match', async () => {
      const res = await get('/sandbox/sparkhistory/');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(links(res.text), [
        '/static/bootstrap.min.css',
        // (Knox's `{**}` keeps the segments, not a trailing slash.)
        `${gw}/sparkhistory/history/app-20231101120000-0001/jobs`,
        `${gw}/sparkhistory/history/app-20231101120000-0001/1/jobs?id=3`,
        `${gw}/sparkhistory/?page=2&showIncomplete=true`,
        `${gw}/yarnuiv2/node/containerlogs/container_1_0001_01_000002/alice/stdout?scheme=http&host=nm1.internal&port=8042&start=-4096`,
      ]);
    });

    it("rewrites the server's redirect to the jobs page", async () => {
      const res = await get('/sandbox/sparkhistory/history/app-20231101120000-0001');
      assert.equal(res.status, 302, res.text);
      assert.equal(res.headers.location, `${gw}/sparkhistory/history/app-20231101120000-0001/jobs/`);
    });
  });

  describe('HDFS UI (hdfs/3.0.0)', () => {
    before(() => {
      page('/index.html', 'text/html', '<meta HTTP-EQUIV="REFRESH" content="0;url=dfshealth.html"/>');
      page(
        '/dfshealth.html',
        'text/html; charset=utf-8',
        `<!DOCTYPE html><html><head>
<link rel="stylesheet" type="text/css" href="/static/bootstrap-3.4.1/css/bootstrap.min.css" />
<title>Namenode information</title></head><body>
<ul class="dropdown-menu">
<li><a href="explorer.html">Browse the file system</a></li>
<li><a href="logs">Logs</a></li>
<li><a href="logLevel">Log Level</a></li>
<li><a href="jmx">Metrics</a></li>
<li><a href="conf">Configuration</a></li>
<li><a href="stacks">Process Thread Dump</a></li>
</ul>
<a href="dfshealth.html#tab-datanode">Datanodes</a>
<script type="text/javascript" src="/static/jquery-3.6.0.min.js"></script>
<script type="text/javascript" src="dfshealth.js"></script>
</body></html>`,
      );
      page(
        '/dfshealth.js',
        'application/javascript',
        `(function () {
  var BEANS = [{"name": "nn", "url": "/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"}];
  $.get('/conf', function (data) {});
  $.get('/startupProgress', load);
  var url = '/webhdfs/v1' + path + '?op=LISTSTATUS';
})();
`,
      );
    });

    const host = () => encodeURIComponent(be);

    it('rewrites the refresh of the start page (the apply with the $prefix function)', async () => {
      const res = await get(`/sandbox/hdfs/?host=${host()}`);
      assert.equal(res.status, 200, res.text);
      // `&equals;` is how Knox's template writes `=` (an HTML character reference the browser decodes).
      assert.equal(links(res.text)[0], `0;url&equals;${gw}/hdfs/dfshealth.html?host=${host()}`);
    });

    it('rewrites the utilities menu by its applies, and the rest by best match', async () => {
      const res = await get(`/sandbox/hdfs/dfshealth.html?host=${host()}`);
      assert.equal(res.status, 200, res.text);
      const got = links(res.text);
      const withHost = (path: string) => `${gw}/hdfs/${path}?host=${host()}`;
      assert.deepEqual(got, [
        withHost('static/bootstrap-3.4.1/css/bootstrap.min.css'),
        withHost('explorer.html/'),
        withHost('logs/'),
        withHost('logLevel/'),
        withHost('jmx/'),
        withHost('conf/'),
        withHost('stacks/'),
        `${gw}/hdfs/dfshealth.html?host=${host()}#tab-datanode`,
        withHost('static/jquery-3.6.0.min.js'),
        withHost('dfshealth.js'),
      ]);
    });

    it("rewrites the script's calls to the namenode (*/javascript applies)", async () => {
      const res = await get(`/sandbox/hdfs/dfshealth.js?host=${host()}`);
      assert.equal(res.status, 200, res.text);
      // Knox's rules append `?host=` to the matched path; the page's own query follows, as in Knox.
      assert.ok(
        res.text.includes(
          `"url": "${gw}/hdfs/jmx?host=${host()}?qry=Hadoop:service=NameNode,name=NameNodeInfo"`,
        ),
        res.text,
      );
      assert.ok(res.text.includes(`$.get('${gw}/hdfs/conf?host=${host()}', function`), res.text);
      assert.ok(res.text.includes(`$.get('${gw}/hdfs/startupProgress?host=${host()}', load)`), res.text);
      assert.ok(res.text.includes(`var url = '${gw}/webhdfs/v1' + path`), res.text);
    });
  });

  describe('Livy (livy/0.4.3: no body filter, best match on JSON)', () => {
    before(() => {
      page(
        '/livy-server/sessions',
        'application/json',
        JSON.stringify({
          from: 0,
          total: 1,
          sessions: [
            {
              id: 0,
              appId: 'application_1700000000000_0002',
              owner: 'alice',
              proxyUser: 'alice',
              state: 'idle',
              kind: 'spark',
              appInfo: {
                driverLogUrl:
                  'http://nm1.internal:8042/node/containerlogs/container_1700000000000_0002_01_000001/alice/stderr?start=-4096',
                sparkUiUrl: 'http://rm.internal:8088/proxy/application_1700000000000_0002/',
              },
              log: ['stdout: ', '\nstderr: ', 'INFO spark.SparkContext: Running Spark version 3.3.1'],
            },
          ],
        }),
      );
      page('/livy-server', 'text/html', '', { location: `BACKEND/ui/` });
    });

    it('rewrites the Spark UI and driver log URLs of a session list', async () => {
      const res = await get('/sandbox/livy/sessions');
      assert.equal(res.status, 200, res.text);
      const session = (JSON.parse(res.text) as { sessions: Record<string, unknown>[] }).sessions[0];
      assert.deepEqual(session.appInfo, {
        driverLogUrl: `${gw}/yarnuiv2/node/containerlogs/container_1700000000000_0002_01_000001/alice/stderr?scheme=http&host=nm1.internal&port=8042&start=-4096`,
        sparkUiUrl: `${gw}/yarnuiv2/proxy/application_1700000000000_0002`,
      });
      assert.deepEqual(session.log, [
        'stdout: ',
        '\nstderr: ',
        'INFO spark.SparkContext: Running Spark version 3.3.1',
      ]);
      assert.equal(session.owner, 'alice');
    });

    it("rewrites the root's redirect to the UI with the route's headers filter", async () => {
      const res = await get('/sandbox/livy');
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, `${gw}/livy/ui/`);
    });
  });

  describe('Zeppelin', () => {
    before(() => {
      page(
        '/zeppelin-server/scripts/scripts.8f1c1a2b.js',
        'application/javascript',
        '!function(){angular.module("zeppelinWebApp").config(function(a){a.when("/",{templateUrl:"app/home/home.html"})' +
          '.when("/notebook/:noteId",{templateUrl:"app/notebook/notebook.html",controller:"NotebookCtrl"})}' +
          ')}();\n',
      );
      page(
        '/zeppelin11/',
        'text/html',
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Zeppelin</title><base href="/">' +
          '<link rel="icon" type="image/x-icon" href="favicon.ico"><link rel="stylesheet" href="styles.1d2c.css"></head>' +
          '<body><zeppelin-root></zeppelin-root><script src="runtime.3a4b.js" defer></script></body></html>',
      );
    });

    it("rewrites the templates of Knox's zeppelinui/0.8.1 scripts (application/javascript applies)", async () => {
      const res = await get('/sandbox/zeppelin/scripts/scripts.8f1c1a2b.js');
      assert.equal(res.status, 200, res.text);
      assert.ok(res.text.includes('templateUrl:"/gateway/sandbox/zeppelin/app/home/home.html"'), res.text);
      assert.ok(
        res.text.includes('templateUrl:"/gateway/sandbox/zeppelin/app/notebook/notebook.html"'),
        res.text,
      );
    });

    it("points the bundled zeppelinui/0.11.0 index's <base href> at the gateway and leaves relative assets", async () => {
      const res = await get('/zep/zeppelin/');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(links(res.text), [
        '/gateway/zep/zeppelin/',
        'favicon.ico',
        'styles.1d2c.css',
        'runtime.3a4b.js',
      ]);
    });
  });

  describe('HBase REST (hbase/0.98.0)', () => {
    const status = {
      regions: 3,
      requests: 0,
      averageLoad: 1.5,
      LiveNodes: [
        { name: 'rs1.internal:16030', startCode: 1700000000000, requests: 0, heapSizeMB: 33, Region: [] },
        { name: 'rs2.internal:16030', startCode: 1700000000001, requests: 0, heapSizeMB: 40, Region: [] },
      ],
      DeadNodes: [],
    };
    before(() => {
      page('/hbase-rest/status/cluster', 'application/json', JSON.stringify(status));
      page(
        '/hbase-rest/t1/regions',
        'text/xml',
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><TableInfo name="t1">' +
          '<Region endKey="" id="1" location="rs1.internal:16030" name="t1,,1.abc." startKey=""/></TableInfo>',
      );
    });

    /** The encrypted query of a `hbase-region` URL, decrypted by fetching nothing: only its shape is checked. */
    const region = (url: unknown) => {
      assert.equal(typeof url, 'string');
      assert.match(url as string, new RegExp(`^${gw.replaceAll('.', '\\.')}/hbase-region\\?_=[\\w-]+$`));
      assert.ok(!(url as string).includes('rs1.internal'), 'the region server address is sealed');
    };

    it('seals the region server addresses of the cluster status (JSON, $[LiveNodes][*][name])', async () => {
      const res = await get('/sandbox/hbase/status/cluster', { accept: 'application/json' });
      assert.equal(res.status, 200, res.text);
      const doc = JSON.parse(res.text) as typeof status;
      region(doc.LiveNodes[0].name);
      region(doc.LiveNodes[1].name);
      assert.equal(doc.LiveNodes[0].startCode, 1700000000000);
      assert.equal(doc.averageLoad, 1.5);
    });

    it('seals the region locations of a table (XML, /TableInfo/Region/@location)', async () => {
      const res = await get('/sandbox/hbase/t1/regions', { accept: 'text/xml' });
      assert.equal(res.status, 200, res.text);
      const location = /location="([^"]*)"/.exec(res.text)?.[1];
      region(location?.replaceAll('&amp;', '&'));
      assert.match(res.text, /name="t1,,1\.abc\."/);
    });
  });
});
