import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../src/config/diagnostics.ts';
import { compareVersions, loadServiceDefinitions } from '../../src/servicedef/catalog.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

const KNOX = KNOX_SERVICES;
const knox = loadServiceDefinitions([{ dir: KNOX, source: 'bundled' }]);

describe('compareVersions', () => {
  it('compares part by part, numerically, with missing parts as zero', () => {
    assert.equal(compareVersions('2.7.0', '2.10.0'), -1);
    assert.equal(compareVersions('3.0.0', '2.10.0'), 1);
    assert.equal(compareVersions('2.4', '2.4.0'), 0);
    assert.equal(compareVersions('0.1.2.0', '0.1.2'), 0);
    assert.equal(compareVersions('1.0.0', '1.0.0.1'), -1);
  });
});

describe('loadServiceDefinitions on Knox definitions', () => {
  it('loads all 94 definitions of 70 roles with no errors', () => {
    assert.deepEqual(knox.diagnostics.map(formatDiagnostic), [
      // Knox's one `rule/filter` element is not a rewrite step; it is kept as an unknown step and reported.
      `${KNOX}/pinot/1.3.0/rewrite.xml:112:9: warning: unknown rewrite step <filter> in rule "PINOT/swagger-json-basepath"`,
    ]);
    const all = knox.catalog.all();
    assert.equal(all.length, 94);
    assert.equal(new Set(all.map((d) => d.role)).size, 70);
    assert.equal(
      all.reduce((n, d) => n + d.routes.length, 0),
      493,
    );
    assert.equal(
      all.reduce((n, d) => n + d.rewrite.rules.length, 0),
      1132,
    );
    assert.equal(
      all.reduce((n, d) => n + d.rewrite.filters.length, 0),
      127,
    );
    assert.ok(all.every((d) => d.source === 'bundled'));
  });

  it('reads WEBHDFS 2.4.0: routes, bindings, dispatch and metadata', () => {
    const w = knox.catalog.resolve('WEBHDFS');
    assert.ok(w);
    assert.equal(w.name, 'webhdfs');
    assert.equal(w.version, '2.4.0');
    assert.equal(w.dir, join(KNOX, 'webhdfs', '2.4.0'));
    assert.deepEqual(w.pos, { file: join(w.dir, 'service.xml'), line: 18, column: 1 });
    assert.deepEqual(
      w.routes.map((r) => r.path),
      [
        '/webhdfs/v1/?**',
        '/webhdfs/v1/**?**',
        '/webhdfs/v1/~?**',
        '/webhdfs/v1/~/**?**',
        '/webhdfs/data/v1/**?**',
      ],
    );
    assert.deepEqual(
      w.routes[1].rewrites.map((r) => [r.apply, r.to]),
      [
        ['WEBHDFS/webhdfs/inbound/namenode/file', 'request.url'],
        ['WEBHDFS/webhdfs/outbound/namenode/headers', 'response.headers'],
        ['WEBHDFS/webhdfs/outbound/namenode/headers', 'response.body'],
      ],
    );
    assert.deepEqual(w.routes[1].rewrites[1].pos, { file: join(w.dir, 'service.xml'), line: 52, column: 13 });
    assert.equal(w.dispatch?.className, 'org.apache.knox.gateway.hdfs.dispatch.HdfsHttpClientDispatch');
    assert.equal(w.dispatch?.haClassName, 'org.apache.knox.gateway.hdfs.dispatch.WebHdfsHaDispatch');
    assert.equal(w.routes[4].dispatch?.contributorName, 'http-client');
    assert.equal(w.routes[4].dispatch?.haClassName, 'org.apache.knox.gateway.dispatch.DefaultDispatch');
    assert.equal(w.policies, undefined);
    assert.deepEqual(w.metadata, {
      context: '/webhdfs',
      type: 'API',
      shortDesc: 'Web HDFS',
      description: 'An HTTP REST API which supports the complete FileSystem interface for HDFS.',
      samples: [
        { description: "List all files under 'testPath'", method: 'GET', path: '/v1/testPath?op=LISTSTATUS' },
        {
          description: 'Rename a File/Directory under',
          method: 'PUT',
          path: '/v1/testPath/testFile?op=RENAME&destination=testPath/renamedFile',
        },
        { description: 'Get Home Directory', method: 'GET', path: '/v1/?op=GETHOMEDIRECTORY' },
        {
          description: "You may check out Apache WebHDFS's REST API documentation here",
          value: 'https://hadoop.apache.org/docs/current/hadoop-project-dist/hadoop-hdfs/WebHDFS.html',
        },
      ],
    });
  });

  it('reads WEBHDFS rewrite rules and filters in document order with their steps', () => {
    const w = knox.catalog.resolve('WEBHDFS');
    assert.ok(w);
    const rules = w.rewrite.rules;
    assert.equal(w.rewrite.file, join(w.dir, 'rewrite.xml'));
    assert.deepEqual(rules[0], {
      name: 'WEBHDFS/webhdfs/outbound',
      dir: 'OUT',
      pattern: 'hdfs://*:*/{path=**}?{**}',
      scope: 'WEBHDFS',
      steps: [
        {
          kind: 'rewrite',
          template: '{$frontend[url]}/webhdfs/v1/{path=**}?{**}',
          pos: { file: w.rewrite.file, line: 21, column: 9 },
        },
      ],
      pos: { file: w.rewrite.file, line: 20, column: 5 },
    });
    const location = rules.find((r) => r.name === 'WEBHDFS/webhdfs/outbound/namenode/headers/location');
    assert.deepEqual(
      location?.steps.map((s) => s.kind),
      ['match', 'rewrite', 'encrypt-query'],
    );
    const datanode = rules.find((r) => r.name === 'WEBHDFS/webhdfs/inbound/datanode');
    assert.equal(datanode?.dir, 'IN');
    assert.deepEqual(
      datanode?.steps.map((s) => s.kind),
      ['decrypt-query', 'match', 'rewrite'],
    );
    const [filter] = w.rewrite.filters;
    assert.equal(filter.name, 'WEBHDFS/webhdfs/outbound/namenode/headers');
    assert.deepEqual(
      filter.contents.map((c) => [c.type, c.applies.map((a) => [a.path, a.rule])]),
      [
        ['application/x-http-headers', [['Location', 'WEBHDFS/webhdfs/outbound/namenode/headers/location']]],
        ['application/json', [['$.Location', 'WEBHDFS/webhdfs/outbound/namenode/headers/location']]],
      ],
    );
  });

  it('reads OR flows with a rewrite inside each match', () => {
    const oozie = knox.catalog.resolve('OOZIE', undefined, '4.0.0');
    const rule = oozie?.rewrite.rules.find((r) => r.name === 'OOZIE/oozie/hdfs-path');
    assert.ok(rule);
    assert.equal(rule.flow, 'OR');
    assert.equal(rule.dir, undefined);
    assert.deepEqual(
      rule.steps.map((s) =>
        s.kind === 'match'
          ? [s.pattern, s.steps.map((x) => (x.kind === 'rewrite' ? x.template : x.kind))]
          : s.kind,
      ),
      [
        ['/~', ['hdfs://{$serviceMappedAddr[NAMENODE]}/user/{$username}']],
        ['/~/{path=**}', ['hdfs://{$serviceMappedAddr[NAMENODE]}/user/{$username}/{path=**}']],
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Knox's literal pattern, not a template string
        ['{var=${*}}/{path=**}', ['{var}/{path=**}']],
        ['{path=**}', ['{$serviceMappedUrl[NAMENODE]}/{path=**}']],
      ],
    );
    const orRules = knox.catalog.all().flatMap((d) => d.rewrite.rules.filter((r) => r.flow === 'OR'));
    assert.equal(orRules.length, 25);
  });

  it('reads buffers with detect and apply', () => {
    const oozie = knox.catalog.resolve('OOZIE', undefined, '4.0.0');
    const config = oozie?.rewrite.filters.find((f) => f.name === 'OOZIE/oozie/configuration');
    const xml = config?.contents.find((c) => c.type === '*/xml');
    assert.equal(xml?.buffers[0].path, '/configuration/property');
    assert.deepEqual(xml?.buffers[0].detects[0].path, 'name');
    assert.deepEqual(xml?.buffers[0].detects[0].value, 'user.name');
    assert.deepEqual(
      xml?.buffers[0].detects[0].applies.map((a) => [a.path, a.rule]),
      [['value', 'OOZIE/oozie/user-name']],
    );
  });

  it('reads policies and encrypt/decrypt steps', () => {
    const ambari = knox.catalog.resolve('AMBARI', undefined, '2.2.0');
    assert.deepEqual(
      ambari?.policies?.map((p) => (p.name ? `${p.role}[${p.name}]` : p.role)),
      ['webappsec', 'authentication[Anonymous]', 'rewrite', 'authorization'],
    );
    const rm = knox.catalog.all().find((d) => d.dir.endsWith(join('yarn-rm', '2.5.0')));
    const steps = rm?.rewrite.rules.flatMap((r) => r.steps);
    assert.deepEqual(
      steps?.filter((s) => s.kind === 'encrypt' || s.kind === 'decrypt'),
      [
        {
          kind: 'encrypt',
          param: 'encaddr',
          template: '{host}:{port}',
          attrs: { template: '{host}:{port}', param: 'encaddr' },
          pos: { file: join(rm?.dir ?? '', 'rewrite.xml'), line: 60, column: 9 },
        },
        {
          kind: 'decrypt',
          param: 'addr',
          attrs: { param: 'addr' },
          pos: { file: join(rm?.dir ?? '', 'rewrite.xml'), line: 65, column: 9 },
        },
      ],
    );
  });

  it('resolves by role, optional name and version, highest version by default', () => {
    const c = knox.catalog;
    assert.equal(c.resolve('ATLAS')?.version, '2.1.0');
    assert.equal(c.resolve('ATLAS', undefined, '0.8')?.version, '0.8.0');
    assert.equal(c.resolve('ATLAS', 'atlas', '2.0.0')?.version, '2.0.0');
    assert.equal(c.resolve('ATLAS', undefined, '9.9.9'), undefined);
    assert.equal(c.resolve('ATLAS', 'other'), undefined);
    assert.equal(c.resolve('HDFSUI')?.version, '3.0.0');
    assert.equal(c.resolve('HBASEUI')?.version, '2.5.10');
    assert.equal(c.resolve('HBASEUI', 'hbase')?.version, '1.2.4');
    assert.equal(c.resolve('webhdfs'), undefined, 'roles are case-sensitive');
    assert.equal(c.resolve('NOPE'), undefined);
  });

  it('finds rules and filters by name across definitions', () => {
    const c = knox.catalog;
    // Two rules share this name in WEBHDFS's rewrite.xml; the last one wins, as in Knox's rule map.
    const found = c.findRule('WEBHDFS/webhdfs/outbound');
    assert.equal(found?.definition.role, 'WEBHDFS');
    assert.equal(found?.rule.pattern, 'webhdfs://*:*/{path=**}?{**}');
    assert.equal(c.findFilter('WEBHDFS/webhdfs/outbound/namenode/headers')?.definition.role, 'WEBHDFS');
    assert.equal(
      c.findRule('WEBHDFS/webhdfs/outbound/namenode/headers'),
      undefined,
      'a filter is not a rule',
    );
    assert.equal(c.findFilter('nope'), undefined);
  });
});

describe('loadServiceDefinitions overrides and errors', () => {
  it('lets a later directory override a definition with the same role, name and version', () => {
    const home = mkdtempSync(join(tmpdir(), 'postern-services-'));
    const dir = join(home, 'webhdfs', '2.4.0');
    cpSync(join(KNOX, 'webhdfs', '2.4.0'), dir, { recursive: true });
    writeFileSync(
      join(dir, 'service.xml'),
      '<service role="WEBHDFS" name="webhdfs" version="2.4"><routes><route path="/only/**"/></routes></service>',
    );
    const { catalog, diagnostics } = loadServiceDefinitions([
      { dir: KNOX, source: 'bundled' },
      { dir: home, source: 'home' },
    ]);
    assert.equal(diagnostics.filter((d) => d.severity === 'error').length, 0);
    assert.equal(catalog.all().length, 94);
    const w = catalog.resolve('WEBHDFS');
    assert.equal(w?.source, 'home');
    assert.deepEqual(
      w?.routes.map((r) => r.path),
      ['/only/**'],
    );
    assert.equal(w?.rewrite.rules.length, 10, 'the rewrite.xml beside the overriding service.xml');
  });

  it('reports a broken definition and a missing directory, and loads the rest', () => {
    const home = mkdtempSync(join(tmpdir(), 'postern-services-'));
    mkdirSync(join(home, 'broken', '1.0.0'), { recursive: true });
    writeFileSync(
      join(home, 'broken', '1.0.0', 'service.xml'),
      '<service role="B" name="b" version="1">\n<routes>\n</service>',
    );
    mkdirSync(join(home, 'norewrite', '1.0.0'), { recursive: true });
    writeFileSync(
      join(home, 'norewrite', '1.0.0', 'service.xml'),
      '<service role="N" name="n" version="1"/>',
    );
    mkdirSync(join(home, 'empty', '1.0.0'), { recursive: true });
    const missing = join(home, 'nowhere');
    const { catalog, diagnostics } = loadServiceDefinitions([
      { dir: home, source: 'home' },
      { dir: missing, source: 'other' },
    ]);
    assert.deepEqual(diagnostics.map(formatDiagnostic), [
      `${join(home, 'broken', '1.0.0', 'service.xml')}:3:10: malformed XML: unexpected close tag.`,
      `${missing}:1:1: warning: service definition directory not found`,
    ]);
    assert.deepEqual(
      catalog.all().map((d) => [d.role, d.rewrite.rules.length, d.rewrite.file]),
      [['N', 0, join(home, 'norewrite', '1.0.0', 'rewrite.xml')]],
    );
  });
});
