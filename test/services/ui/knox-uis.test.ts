/**
 * Knox's own UI definitions (YARNUI, JOBHISTORYUI, SPARKHISTORYUI 2.3.0 and 1.4.0, SPARK3HISTORYUI, TRINOUI,
 * PRESTOUI, OOZIEUI, HDFSUI, HBASEUI, DATANODE) in front of look-alike UIs (test/helpers/ui-fakes), issue 20:
 * each page fetched through the gateway is compared byte for byte with a golden file in expected/, written by hand
 * by applying Knox's rules (expected/README.md names the rule behind every rewritten URL, and the leaks Knox
 * leaves); then every link the rewritten pages carry is followed through the gateway to the fake path it must reach.
 *
 * Two differences from Knox are formatting only, and deliberate (docs/knox.md, "Rewritten bodies keep their
 * formatting"): Knox's JsonFilterReader re-serialises JSON through Jackson (no whitespace between tokens), and
 * HtmlFilterReaderBase writes every start tag again (` />` becomes `/>`); postern passes both as they came. The
 * goldens hold Knox's bytes; those two tests compare the values (and the URLs) with them, and the bytes with the
 * backend's formatting.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { explain } from '../../../src/explain/index.ts';
import type { Fake } from '../../helpers/ui-fakes/fake.ts';
import { startUiLab, type UiLab } from '../../helpers/ui-fakes/lab.ts';
import { SPARK_APP } from '../../helpers/ui-fakes/spark-history.ts';
import { APP1, BIG_ROWS } from '../../helpers/ui-fakes/yarn.ts';

const EXPECTED = new URL('./expected/', import.meta.url);

describe("Knox's UI definitions in front of look-alike UIs", () => {
  let lab: UiLab;
  let gw: string;
  let vars: Record<string, string>;

  /** A golden file with the run's origins put in. */
  const golden = (name: string): string => {
    let s = readFileSync(new URL(`${name}.golden`, EXPECTED), 'utf8');
    for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{{${k}}}`, v);
    assert.doesNotMatch(s, /\{\{[A-Z_]+\}\}/, `${name}: a placeholder is left`);
    return s;
  };

  const get = (path: string, init: RequestInit = {}) =>
    fetch(`${lab.gateway.url}${path}`, { redirect: 'manual', ...init });

  /** The request a fake received last, without the user.name Knox's identity assertion adds. */
  const lastSeen = (fake: Fake) => {
    const r = fake.requests.at(-1);
    assert.ok(r, `${fake.name} received nothing`);
    const url = new URL(r.url, fake.origin);
    url.searchParams.delete('user.name');
    return { path: url.pathname, query: url.search, headers: r.headers };
  };

  before(async () => {
    lab = await startUiLab();
    gw = lab.frontend('t');
    const f = lab.fakes;
    vars = {
      GW: gw,
      GWT: gw,
      GWDN: lab.frontend('dn'),
      YARN: f.yarn.origin,
      NM: f.nodemanager.origin,
      NM_PORT: String(f.nodemanager.port),
      OOZIE: f.oozie.origin,
      NN_ENC: encodeURIComponent(f.namenode.origin),
      DN_ENC: encodeURIComponent(f.datanode.origin),
      XFC: '/gateway/t/sparkhistory',
    };
  });

  after(async () => {
    await lab?.close();
  });

  const pages: [string, string, string][] = [
    // [what, gateway path, golden]
    ['YARN RM /cluster/apps (gzip)', '/t/yarn/cluster/apps', 'yarn-cluster-apps.html'],
    ['YARN RM application page', `/t/yarn/cluster/app/${APP1}`, 'yarn-cluster-app.html'],
    ['YARN RM /ws/v1 JSON', '/t/yarn/ws/v1/cluster/apps', 'yarn-ws-apps.json'],
    ['JobHistory /jobhistory/', '/t/jobhistory/', 'jobhistory-jobs.html'],
    ['JobHistory job page', '/t/jobhistory/job/job_1700000000000_0001', 'jobhistory-job.html'],
    ['Spark History home', '/t/sparkhistory/', 'spark-home.html'],
    ['Spark History jobs page', `/t/sparkhistory/history/${SPARK_APP}/jobs/`, 'spark-jobs.html'],
    ['Trino login page (route /trino/, nothing inherited)', '/t/trino/', 'trino-login.html'],
    [
      'TRINOUI dist/index.js (route /trino/**?** inherits /trino/**)',
      '/t/trino/ui/dist/index.js',
      'trino-index.js',
    ],
    ['Presto /ui/ (route /prestoui/)', '/t/prestoui/', 'presto-ui.html'],
    [
      'PRESTOUI dist/index.js (route /prestoui/**?** inherits /prestoui/**)',
      '/t/prestoui/dist/index.js',
      'presto-index.js',
    ],
    [
      'Oozie /oozie/v1/jobs JSON (consoleUrl leaks as in Knox)',
      '/t/oozie/v1/jobs?jobtype=wf',
      'oozie-jobs.json',
    ],
    ['HBase master-status', '/t/hbase/webui/master?', 'hbase-master-status.html'],
  ];
  for (const [what, path, file] of pages) {
    it(`${what}: as Knox's rules make it, byte for byte`, async () => {
      const res = await get(path);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), golden(file));
    });
  }

  it('gzip: the page comes back gzip-encoded, decoded it is the golden', async () => {
    const res = await get('/t/yarn/cluster/apps', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    assert.equal(await res.text(), golden('yarn-cluster-apps.html'));
    assert.match(String(lastSeen(lab.fakes.yarn).headers['accept-encoding']), /gzip/);
  });

  it('a 500 KB page (/cluster/apps/FINISHED, gzip): every row rewritten as the golden row', async () => {
    const page = golden('yarn-cluster-apps.html');
    const lines = page.split('\n');
    const row1 = lines.find((l) => l.includes('word count 1'))!;
    const head = page.slice(0, page.indexOf(row1)).replace('All Applications', 'FINISHED Applications');
    const row2 = lines.find((l) => l.includes('word count 2'))!;
    const tail = page.slice(page.indexOf(row2) + row2.length + 1);
    let rows = '';
    for (let i = 1; i <= BIG_ROWS; i++) {
      rows += `${row1.replaceAll('0001', String(i).padStart(4, '0')).replace('word count 1', `word count ${i}`)}\n`;
    }
    const res = await get('/t/yarn/cluster/apps/FINISHED');
    const body = await res.text();
    assert.ok(lab.fakes.yarn.page('/cluster/apps/FINISHED').body!.length > 500_000);
    assert.equal(body, head + rows + tail);
  });

  it('HDFS dfshealth.js: /jmx and /startupProgress under the gateway with ?host=, as Knox writes them', async () => {
    const nn = encodeURIComponent(lab.fakes.namenode.origin);
    const res = await get(`/t/hdfs/dfshealth.js?host=${nn}`);
    assert.equal(await res.text(), golden('hdfs-dfshealth.js'));
    assert.equal(lastSeen(lab.fakes.namenode).path, '/dfshealth.js');
  });

  it('HDFS dfshealth.html: every URL as Knox writes it (start tags aside)', async () => {
    const nn = encodeURIComponent(lab.fakes.namenode.origin);
    const body = await (await get(`/t/hdfs/dfshealth.html?host=${nn}`)).text();
    assert.equal(body.replaceAll('" />', '"/>'), golden('hdfs-dfshealth.html'));
  });

  it("HDFS dfshealth.html byte for byte: Knox's URLs in the backend's markup (Knox writes start tags again; postern does not, docs/knox.md)", async () => {
    const nn = encodeURIComponent(lab.fakes.namenode.origin);
    const body = await (await get(`/t/hdfs/dfshealth.html?host=${nn}`)).text();
    const page = lab.fakes.namenode.page('/dfshealth.html').body!;
    assert.ok(page.includes('" />'), 'the fake writes self-closing tags with a space');
    assert.equal(body, golden('hdfs-dfshealth.html').replaceAll('"/>', '" />'));
  });

  it('Spark History /api/v1/applications: values as Knox leaves them (formatting aside)', async () => {
    const body = await (await get('/t/sparkhistory/api/v1/applications')).text();
    assert.equal(JSON.stringify(JSON.parse(body)), golden('spark-applications.json'));
  });

  it("Spark History /api/v1/applications byte for byte: the backend's JSON as it came (Knox writes it again through Jackson; postern does not, docs/knox.md)", async () => {
    const body = await (await get('/t/sparkhistory/api/v1/applications')).text();
    assert.equal(body, lab.fakes.sparkhistory.page('/api/v1/applications').body);
  });

  describe('every rewritten link, followed through the gateway', () => {
    /** The pages whose links are followed: gateway path (with the run's origins put in). */
    const sources = [
      '/t/yarn/cluster/apps',
      `/t/yarn/cluster/app/${APP1}`,
      '/t/yarn/ws/v1/cluster/apps',
      '/t/jobhistory/',
      '/t/jobhistory/job/job_1700000000000_0001',
      '/t/sparkhistory/',
      `/t/sparkhistory/history/${SPARK_APP}/jobs/`,
      '/t/trino/',
      '/t/trino/ui/dist/index.js',
      '/t/prestoui/dist/index.js',
      '/t/hbase/webui/master?',
      '/t/hdfs/dfshealth.html?host={{NN_ENC}}',
      '/t/hdfs/dfshealth.js?host={{NN_ENC}}',
      '/dn/datanode/?host={{DN_ENC}}',
      '/dn/datanode/datanode.html?host={{DN_ENC}}',
      '/dn/datanode/dn.js?host={{DN_ENC}}',
    ];
    /** Link (origins as placeholders) → the fake and path it must reach, and the status the fake answers. */
    const reach: Record<string, [keyof UiLab['fakes'], string, number]> = {
      '{{GW}}/yarn/static/jquery/themes-1.9.1/base/jquery-ui.css': [
        'yarn',
        '/static/jquery/themes-1.9.1/base/jquery-ui.css',
        200,
      ],
      '{{GW}}/yarn/static/yarn.css': ['yarn', '/static/yarn.css', 200],
      '{{GW}}/yarn/static/jquery/jquery-3.6.0.min.js': ['yarn', '/static/jquery/jquery-3.6.0.min.js', 200],
      '{{GW}}/yarn/static/yarn.dt.plugins.js': ['yarn', '/static/yarn.dt.plugins.js', 200],
      '{{GW}}/yarn/cluster/app/application_1700000000000_0001': [
        'yarn',
        '/cluster/app/application_1700000000000_0001',
        200,
      ],
      '{{GW}}/yarn/cluster/app/application_1700000000000_0002': [
        'yarn',
        '/cluster/app/application_1700000000000_0002',
        200,
      ],
      '{{GW}}/yarn/proxy/application_1700000000000_0001': [
        'yarn',
        '/proxy/application_1700000000000_0001',
        302,
      ],
      '{{GW}}/yarn/proxy/application_1700000000000_0002': [
        'yarn',
        '/proxy/application_1700000000000_0002',
        200,
      ],
      '{{GW}}/yarn/cluster/cluster': ['yarn', '/cluster/cluster', 200],
      '{{GW}}/yarn/cluster/nodes': ['yarn', '/cluster/nodes', 200],
      '{{GW}}/yarn/cluster/apps': ['yarn', '/cluster/apps', 200],
      '{{GW}}/yarn/conf': ['yarn', '/conf', 200],
      '{{GW}}/yarn/logs': ['yarn', '/logs', 200],
      '{{GW}}/yarn/stacks': ['yarn', '/stacks', 200],
      '{{GW}}/yarn/nodemanager/node?scheme=http&host=127.0.0.1&port={{NM_PORT}}': [
        'nodemanager',
        '/node',
        200,
      ],
      '{{GW}}/yarn/nodemanager/node/containerlogs/container_1700000000000_0001_01_000001/alice?scheme=http&host=127.0.0.1&port={{NM_PORT}}':
        ['nodemanager', '/node/containerlogs/container_1700000000000_0001_01_000001/alice', 200],
      '{{GW}}/yarn/cluster/appattempt/appattempt_1700000000000_0001_000001': [
        'yarn',
        '/cluster/appattempt/appattempt_1700000000000_0001_000001',
        200,
      ],
      '{{GW}}/jobhistory/static/yarn.css': ['jobhistory', '/static/yarn.css', 200],
      '{{GW}}/jobhistory/static/yarn.dt.plugins.js': ['jobhistory', '/static/yarn.dt.plugins.js', 200],
      '{{GW}}/jobhistory/job/job_1700000000000_0001': [
        'jobhistory',
        '/jobhistory/job/job_1700000000000_0001',
        200,
      ],
      '{{GW}}/jobhistory/about': ['jobhistory', '/jobhistory/about', 200],
      '{{GW}}/jobhistory/app': ['jobhistory', '/jobhistory/app', 200],
      '{{GW}}/jobhistory/tasks/job_1700000000000_0001/m': [
        'jobhistory',
        '/jobhistory/tasks/job_1700000000000_0001/m',
        200,
      ],
      '{{GW}}/jobhistory/attempts/job_1700000000000_0001/m/SUCCESSFUL': [
        'jobhistory',
        '/jobhistory/attempts/job_1700000000000_0001/m/SUCCESSFUL',
        200,
      ],
      '{{GW}}/jobhistory/task/task_1700000000000_0001_m_000000': [
        'jobhistory',
        '/jobhistory/task/task_1700000000000_0001_m_000000',
        200,
      ],
      '/gateway/t/sparkhistory/static/bootstrap.min.css': ['sparkhistory', '/static/bootstrap.min.css', 200],
      '/gateway/t/sparkhistory/static/jquery-3.5.1.min.js': [
        'sparkhistory',
        '/static/jquery-3.5.1.min.js',
        200,
      ],
      '/gateway/t/sparkhistory/static/historypage.js': ['sparkhistory', '/static/historypage.js', 200],
      '/gateway/t/sparkhistory/?showIncomplete=true': ['sparkhistory', '/', 200],
      '/gateway/t/sparkhistory/history/application_1700000000000_0002/jobs/': [
        'sparkhistory',
        '/history/application_1700000000000_0002/jobs/',
        200,
      ],
      '/gateway/t/sparkhistory/history/application_1700000000000_0002/stages/': [
        'sparkhistory',
        '/history/application_1700000000000_0002/stages/',
        200,
      ],
      '/gateway/t/sparkhistory/history/application_1700000000000_0002/jobs/job/?id=0': [
        'sparkhistory',
        '/history/application_1700000000000_0002/jobs/job/',
        200,
      ],
      '{{GW}}/trino/ui/vendor/bootstrap/css/bootstrap.css': [
        'trino',
        '/ui/vendor/bootstrap/css/bootstrap.css',
        200,
      ],
      '{{GW}}/trino/ui/login': ['trino', '/ui/login', 405],
      '{{GW}}/trino/ui/api/cluster': ['trino', '/ui/api/cluster', 200],
      '{{GW}}/trino/ui/api/query?state=RUNNING': ['trino', '/ui/api/query', 200],
      '{{GW}}/trino/ui/api/stats': ['trino', '/ui/api/stats', 200],
      '{{GW}}/prestoui/v1/cluster': ['presto', '/v1/cluster', 200],
      '{{GW}}/prestoui/v1/query': ['presto', '/v1/query', 200],
      '{{GW}}/hbase/webui/static/css/bootstrap.min.css': ['hbase', '/static/css/bootstrap.min.css', 200],
      '{{GW}}/hbase/webui/static/css/hbase.css': ['hbase', '/static/css/hbase.css', 200],
      '{{GW}}/hbase/webui/master/master-status': ['hbase', '/master-status', 200],
      '{{GW}}/hbase/webui/master/tablesDetailed.jsp': ['hbase', '/tablesDetailed.jsp', 200],
      '{{GW}}/hbase/webui/master/procedures.jsp': ['hbase', '/procedures.jsp', 200],
      '{{GW}}/hbase/webui/logs': ['hbase', '/logs/', 200],
      '{{GW}}/hdfs/static/bootstrap-3.4.1/css/bootstrap.min.css?host={{NN_ENC}}': [
        'namenode',
        '/static/bootstrap-3.4.1/css/bootstrap.min.css',
        200,
      ],
      '{{GW}}/hdfs/static/hadoop.css?host={{NN_ENC}}': ['namenode', '/static/hadoop.css', 200],
      '{{GW}}/hdfs/static/jquery-3.6.0.min.js?host={{NN_ENC}}': [
        'namenode',
        '/static/jquery-3.6.0.min.js',
        200,
      ],
      '{{GW}}/hdfs/static/dust-full-2.0.0.min.js?host={{NN_ENC}}': [
        'namenode',
        '/static/dust-full-2.0.0.min.js',
        200,
      ],
      '{{GW}}/hdfs/explorer.html/?host={{NN_ENC}}': ['namenode', '/explorer.html', 200],
      '{{GW}}/hdfs/logs/?host={{NN_ENC}}': ['namenode', '/logs/', 200],
      '{{GW}}/hdfs/dfshealth.js?host={{NN_ENC}}': ['namenode', '/dfshealth.js', 200],
      '{{GW}}/hdfs/startupProgress?host={{NN_ENC}}': ['namenode', '/startupProgress', 200],
      '{{GWDN}}/datanode/datanode.html?host={{DN_ENC}}': ['datanode', '/datanode.html', 200],
      '{{GWDN}}/datanode/dn.js?host={{DN_ENC}}': ['datanode', '/dn.js', 200],
      // Knox's /jmx rules put their ?host= before the page's own ?qry=: two '?', which Knox's Parser splits as it
      // splits '&' (consumeQueryToken), so {**} takes qry and the request reaches /jmx?qry=….
      '{{GW}}/hdfs/jmx?host={{NN_ENC}}?qry=Hadoop:service=NameNode,name=NameNodeInfo': [
        'namenode',
        '/jmx',
        200,
      ],
      '{{GW}}/hdfs/jmx?host={{NN_ENC}}?qry=Hadoop:service=NameNode,name=NameNodeStatus': [
        'namenode',
        '/jmx',
        200,
      ],
      '{{GWDN}}/datanode/jmx?host={{DN_ENC}}?qry=Hadoop:service=DataNode,name=DataNodeInfo': [
        'datanode',
        '/jmx',
        200,
      ],
      // Presto's '/v1/query/' + id, with no id.
      '{{GW}}/prestoui/v1/query/': ['presto', '/v1/query', 200],
    };
    const fill = (s: string) => {
      for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{{${k}}}`, v);
      return s;
    };
    const unfill = (s: string) => {
      for (const k of ['GWDN', 'GW', 'NN_ENC', 'DN_ENC', 'NM_PORT']) s = s.replaceAll(vars[k], `{{${k}}}`);
      return s;
    };

    it('the pages carry exactly the links listed, each under the gateway', async () => {
      const found = new Set<string>();
      for (const source of sources) {
        const body = await (await get(fill(source))).text();
        // Attribute values, and string literals of scripts and JSON, that are gateway URLs.
        const values = [
          ...[...body.matchAll(/(?:href|src|action|content)=(["'])(?:0;url&equals;)?(.*?)\1/g)].map(
            (m) => m[2],
          ),
          ...[...body.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2]),
        ];
        for (const v of values) {
          if (v.startsWith(`${lab.gateway.url}/`) || v.startsWith('/gateway/')) found.add(unfill(v));
        }
      }
      // setUIRoot('/gateway/t/sparkhistory') is a prefix for the script, not a link.
      found.delete('/gateway/t/sparkhistory');
      assert.deepEqual([...found].sort(), Object.keys(reach).sort());
    });

    it('each reaches the fake path it names', async () => {
      for (const [link, [fake, path, status]] of Object.entries(reach)) {
        const url = link.startsWith('/gateway/') ? `${new URL(lab.gateway.url).origin}${link}` : fill(link);
        const before = lab.fakes[fake].requests.length;
        const res = await fetch(url, { redirect: 'manual' });
        await res.arrayBuffer();
        assert.equal(res.status, status, `${link}: status`);
        assert.equal(lab.fakes[fake].requests.length, before + 1, `${link}: ${fake} received nothing`);
        assert.equal(lastSeen(lab.fakes[fake]).path, path, link);
        const qry = new URL(url.replaceAll('?qry=', '&qry=')).searchParams.get('qry');
        if (qry) assert.equal(new URLSearchParams(lastSeen(lab.fakes[fake]).query).get('qry'), qry, link);
      }
    });
  });

  describe('inherited bindings (issue 20)', () => {
    it('SPARKHISTORYUI 2.3.0: /sparkhistory/api/v1/applications reaches Spark with X-Forwarded-Context of the service', async () => {
      await (await get('/t/sparkhistory/api/v1/applications')).text();
      const seen = lastSeen(lab.fakes.sparkhistory);
      assert.equal(seen.path, '/api/v1/applications');
      assert.equal(seen.headers['x-forwarded-context'], '/gateway/t/sparkhistory');
      const e = await explain(lab.gateway, 'GET', `${gw}/sparkhistory/api/v1/applications`);
      assert.equal(e.route?.pattern, '/sparkhistory/**?**');
    });

    it('SPARKHISTORYUI 1.4.0: the same in its own topology', async () => {
      await (await get('/shs14/sparkhistory/api/v1/applications')).text();
      assert.equal(
        lastSeen(lab.fakes.sparkhistory).headers['x-forwarded-context'],
        '/gateway/shs14/sparkhistory',
      );
    });

    it('SPARK3HISTORYUI 3.0.0: /spark3history/**?** sends X-Forwarded-Context /gateway/t/spark3history', async () => {
      await (await get('/t/spark3history/api/v1/applications')).text();
      const seen = lastSeen(lab.fakes.spark3history);
      assert.equal(seen.path, '/api/v1/applications');
      assert.equal(seen.headers['x-forwarded-context'], '/gateway/t/spark3history');
    });

    it('TRINOUI and PRESTOUI: the JavaScript is served by the rewrite-less /x/**?** route, with the body filter above it', async () => {
      for (const [url, pattern] of [
        [`${gw}/trino/ui/dist/index.js`, '/trino/**?**'],
        [`${gw}/prestoui/dist/index.js`, '/prestoui/**?**'],
      ]) {
        const e = await explain(lab.gateway, 'GET', url);
        assert.equal(e.route?.pattern, pattern);
        assert.ok(
          e.notes.some((n) => /no <rewrite> of its own/.test(n)),
          e.notes.join('\n'),
        );
      }
    });

    it("DATANODE 1.0.0: /datanode/?host= takes /datanode/**?**'s body filter; the refresh points into the gateway", async () => {
      const dn = encodeURIComponent(lab.fakes.datanode.origin);
      const e = await explain(lab.gateway, 'GET', `${lab.frontend('dn')}/datanode/?host=${dn}`);
      assert.equal(e.route?.pattern, '/datanode/?**');
      assert.ok(
        e.notes.some((n) => /no <rewrite> of its own/.test(n)),
        e.notes.join('\n'),
      );
      const res = await get(`/dn/datanode/?host=${dn}`);
      assert.equal(await res.text(), golden('datanode-index.html'));
      assert.equal(lastSeen(lab.fakes.datanode).path, '/');
      const js = await get(`/dn/datanode/dn.js?host=${dn}`);
      assert.equal(await js.text(), golden('datanode-dn.js'));
    });
  });

  describe('redirects', () => {
    it("YARN's proxy sends a finished application to the JobHistory server: Location under the gateway", async () => {
      const res = await get(`/t/yarn/proxy/${APP1}/`);
      assert.equal(res.status, 302);
      assert.equal(
        res.headers.get('location'),
        `${gw}/jobhistory/job/job_1700000000000_0001?scheme=http&host=127.0.0.1&port=${lab.fakes.jobhistory.port}`,
      );
      assert.equal(lastSeen(lab.fakes.yarn).path, `/proxy/${APP1}`);
      // Followed: it reaches the JobHistory server's job page.
      const next = await fetch(res.headers.get('location')!, { redirect: 'manual' });
      assert.equal(next.status, 200);
      assert.equal(lastSeen(lab.fakes.jobhistory).path, '/jobhistory/job/job_1700000000000_0001');
    });

    it("Spark History's /history/APP redirect stays under the gateway", async () => {
      const res = await get(`/t/sparkhistory/history/${SPARK_APP}`);
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), `${gw}/sparkhistory/history/${SPARK_APP}/jobs/`);
      assert.equal(lastSeen(lab.fakes.sparkhistory).path, `/history/${SPARK_APP}/`);
    });

    it("Oozie's /oozie redirect leaves the gateway, as Knox leaves it (no header rule in OOZIEUI)", async () => {
      const res = await get('/t/oozie');
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), `${lab.fakes.oozie.origin}/oozie/`);
    });
  });
});
