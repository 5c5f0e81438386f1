/**
 * Knox compatibility at deployment: every definition under knox-services loads, and every one of them deploys —
 * each role at its highest version and each of the 94 definitions by version, with and without the HaProvider on
 * for it — every dispatch class they name resolves, and an unknown class is an error that lists the known ones.
 * Compiles one topology per definition with {@link compileDeployment} on a home loaded by {@link loadHome},
 * instead of starting a gateway per role.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatDiagnostic } from '../../src/config/diagnostics.ts';
import { type CompileResult, compileDeployment } from '../../src/deploy/compile.ts';
import { type LoadedHome, loadHome } from '../../src/gateway/gateway.ts';
import { compareVersions, loadServiceDefinitions } from '../../src/servicedef/catalog.ts';
import type { ServiceDefinition } from '../../src/servicedef/model.ts';
import { readTopologyFile } from '../../src/topology/load.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';
import { makeAuthority } from '../helpers/pki.ts';

const MASTER = new Uint8Array(32).fill(7);
const UNREACHABLE = 'http://127.0.0.1:1';
const ANONYMOUS_DEFAULT = [
  { role: 'authentication', name: 'Anonymous' },
  { role: 'identity-assertion', name: 'Default' },
];

/** Each Knox role's highest-version definition (the one a topology naming only the role would get from Knox). */
function knoxRoles(): ServiceDefinition[] {
  const best = new Map<string, ServiceDefinition>();
  for (const d of loadServiceDefinitions([{ dir: KNOX_SERVICES, source: 'other' }]).catalog.all()) {
    const b = best.get(d.role);
    if (!b || compareVersions(d.version, b.version) > 0) best.set(d.role, d);
  }
  return [...best.values()].sort((a, b) => (a.role < b.role ? -1 : 1));
}

const roles = knoxRoles();

describe('Knox service definitions at deployment', () => {
  let home: TestHome;
  let loaded: LoadedHome;
  let count = 0;
  const outcome = new Map<string, { definition: string; plain: string[]; ha: string[] }>();

  before(async () => {
    home = makeHome({ 'postern.services.dirs': KNOX_SERVICES });
    // The gateway's own certificate, which a running Knox always has: NIFI presents it (use-two-way-ssl).
    mkdirSync(join(home.dir, 'data', 'security'), { recursive: true });
    makeAuthority(join(home.dir, 'data', 'security'), 'gateway');
    loaded = await loadHome(home.dir);
  });

  after(() => home?.remove());

  /** Writes a topology file, reads it and compiles it as a deployment would. */
  function compile(xml: string): CompileResult {
    const file = home.write(`conf/topologies/t${count++}.xml`, xml);
    const read = readTopologyFile(file);
    assert.ok(read.topology, read.diagnostics.map(formatDiagnostic).join('\n'));
    const { catalog, settings, registry } = loaded;
    return compileDeployment({
      topology: read.topology,
      catalog,
      settings,
      registry,
      masterSecret: MASTER,
      home: home.dir,
    });
  }

  const errors = (r: CompileResult) => r.diagnostics.filter((d) => d.severity === 'error');

  it("loads all 94 of Knox's definitions beside postern's own without an error", () => {
    assert.deepEqual(loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
    const knox = loaded.catalog.all().filter((d) => d.dir.startsWith(KNOX_SERVICES + sep));
    assert.equal(knox.length, 94);
    assert.equal(new Set(knox.map((d) => d.role)).size, 70);
    assert.equal(roles.length, 70);
  });

  it('deploys a topology that uses none of them', async () => {
    for (const services of [[], [{ role: 'HTTP', urls: [UNREACHABLE] }]]) {
      const r = compile(topologyXml({ providers: ANONYMOUS_DEFAULT, services }));
      assert.deepEqual(errors(r).map(formatDiagnostic), []);
      assert.ok(r.deployment);
      assert.ok(r.deployment.routes.every((route) => route.definition === 'http/1.0.0'));
      assert.equal(r.deployment.routes.length, services.length === 0 ? 0 : 4);
      await r.deployment.retire();
    }
  });

  /** Compiles a topology of one Knox service (pinned by name and version), HA on for it when asked. */
  function compileOne(def: ServiceDefinition, ha: boolean): CompileResult {
    const providers = ha
      ? [...ANONYMOUS_DEFAULT, { role: 'ha', name: 'HaProvider', params: { [def.role]: 'enabled=true' } }]
      : ANONYMOUS_DEFAULT;
    return compile(
      topologyXml({
        providers,
        services: [{ role: def.role, name: def.name, version: def.version, urls: [UNREACHABLE] }],
      }),
    );
  }

  /** The definition deploys with every route it declares, each ending in a dispatch. */
  async function assertDeploys(def: ServiceDefinition, r: CompileResult): Promise<string[]> {
    for (const d of r.diagnostics) {
      assert.ok(
        d.file && d.line > 0 && d.column > 0,
        `diagnostic without a position: ${formatDiagnostic(d)}`,
      );
    }
    assert.ok(r.deployment, `not deployed:\n${errors(r).map(formatDiagnostic).join('\n')}`);
    assert.deepEqual(errors(r), []);
    // A definition that repeats a route path (Knox's yarn-rm/2.5.0, zeppelinui/0.8.1) serves it once.
    const paths = new Set(def.routes.map((route) => route.path.replace(/^\/?/, '/')));
    assert.equal(r.deployment.routes.length, paths.size);
    const dispatches: string[] = [];
    for (const route of r.deployment.routes) {
      assert.equal(route.definition, `${def.name}/${def.version}`);
      const last = route.chain.at(-1) ?? '';
      assert.match(last, /^dispatch\//);
      dispatches.push(last.slice('dispatch/'.length));
    }
    await r.deployment.retire();
    return [...new Set(dispatches)];
  }

  describe('every Knox role deploys (its highest version), with and without the HaProvider on', () => {
    for (const def of roles) {
      it(`${def.role} (${def.name}/${def.version})`, async () => {
        const plain = await assertDeploys(def, compileOne(def, false));
        const ha = await assertDeploys(def, compileOne(def, true));
        outcome.set(def.role, { definition: `${def.name}/${def.version}`, plain, ha });
      });
    }

    after(() => {
      if (outcome.size === 0 || !process.env.POSTERN_KNOX_SUMMARY) return;
      const rows = [...outcome].map(
        ([role, o]) => `| ${role} | ${o.definition} | ${o.plain.join(', ')} | ${o.ha.join(', ')} |`,
      );
      console.log(['| role | definition | dispatch | with HA |', '|---|---|---|---|', ...rows].join('\n'));
    });
  });

  describe("every one of Knox's 94 definitions deploys by version", () => {
    const all = loadServiceDefinitions([{ dir: KNOX_SERVICES, source: 'other' }]).catalog.all();
    for (const def of all) {
      it(`${def.role} ${def.name}/${def.version}`, async () => {
        await assertDeploys(def, compileOne(def, false));
        await assertDeploys(def, compileOne(def, true));
      });
    }
  });

  it("every classname and ha-classname of Knox's definitions resolves to a registered dispatch", () => {
    const named = new Set<string>();
    for (const file of readdirSync(KNOX_SERVICES, { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith(`${sep}service.xml`) && file !== 'service.xml') continue;
      const xml = readFileSync(join(KNOX_SERVICES, file), 'utf8');
      for (const m of xml.matchAll(/\b(?:ha-)?classname="([^"]+)"/g)) named.add(m[1]);
      for (const m of xml.matchAll(/\b(?:ha-)?contributor-name="([^"]+)"/g)) named.add(m[1]);
    }
    assert.ok(named.size >= 30, `only ${named.size} dispatch names found`);
    const missing = [...named].filter((n) => !loaded.registry.findDispatch(n));
    assert.deepEqual(missing, []);
  });

  it('a definition naming an unknown dispatch class is an error naming it and the Knox classes postern knows', async () => {
    home.write(
      'data/services/bogus/1.0.0/service.xml',
      `<service role="BOGUS" name="bogus" version="1.0.0">
  <routes><route path="/bogus/**"/></routes>
  <dispatch classname="org.apache.knox.gateway.bogus.BogusDispatch"/>
</service>
`,
    );
    const reloaded = await loadHome(home.dir);
    const file = home.write(
      `conf/topologies/t${count++}.xml`,
      topologyXml({ providers: ANONYMOUS_DEFAULT, services: [{ role: 'BOGUS', urls: [UNREACHABLE] }] }),
    );
    const read = readTopologyFile(file);
    assert.ok(read.topology);
    const r = compileDeployment({
      topology: read.topology,
      catalog: reloaded.catalog,
      settings: reloaded.settings,
      registry: reloaded.registry,
      masterSecret: MASTER,
    });
    const [error] = errors(r);
    assert.ok(error, 'no error');
    assert.match(
      error.message,
      /dispatch "org\.apache\.knox\.gateway\.bogus\.BogusDispatch" is not available/,
    );
    for (const known of [
      'org.apache.knox.gateway.livy.LivyDispatch',
      'org.apache.knox.gateway.dispatch.NiFiDispatch',
      'org.apache.knox.gateway.dispatch.URLDecodingDispatch',
      'org.apache.knox.gateway.hdfs.dispatch.WebHdfsHaDispatch',
    ]) {
      assert.ok(error.message.includes(known), `${known} is not listed`);
    }
    assert.ok(error.file.endsWith(join('bogus', '1.0.0', 'service.xml')));
  });

  it("registry-only service URLs (Knox's sandbox: NAMENODE hdfs://, JOBTRACKER rpc://) deploy and are not routed", async () => {
    const r = compile(
      topologyXml({
        providers: ANONYMOUS_DEFAULT,
        services: [
          { role: 'NAMENODE', urls: ['hdfs://localhost:8020'] },
          { role: 'JOBTRACKER', urls: ['rpc://localhost:8050'] },
          { role: 'HIVE', urls: ['thrift://localhost:10000'] },
          { role: 'WEBHCAT', version: '0.13.0', urls: [`${UNREACHABLE}/templeton`] },
        ],
      }),
    );
    assert.deepEqual(errors(r).map(formatDiagnostic), []);
    assert.ok(r.deployment);
    assert.deepEqual([...new Set(r.deployment.routes.map((route) => route.role))], ['HIVE', 'WEBHCAT']);
    // HIVE has a definition: its routes deploy, and deployment warns that they cannot be forwarded.
    assert.ok(r.diagnostics.some((d) => d.severity === 'warning' && /"HIVE" has no http/.test(d.message)));
    await r.deployment.retire();
  });

  describe('chains', () => {
    it("WEBHDFS (Knox's 2.4.0, no <policies>): Knox's default order, unconfigured roles contribute nothing", async () => {
      const r = compile(
        topologyXml({
          providers: ANONYMOUS_DEFAULT,
          services: [{ role: 'WEBHDFS', version: '2.4.0', urls: [`${UNREACHABLE}/webhdfs`] }],
        }),
      );
      assert.ok(r.deployment, `not deployed:\n${r.diagnostics.map(formatDiagnostic).join('\n')}`);
      assert.deepEqual(
        r.deployment.routes.map((route) => [route.path, route.chain]),
        [
          '/webhdfs/v1/?**',
          '/webhdfs/v1/**?**',
          '/webhdfs/v1/~?**',
          '/webhdfs/v1/~/**?**',
          '/webhdfs/data/v1/**?**',
        ].map((path) => [
          path,
          // webappsec, federation and authorization are not configured: nothing of theirs in the chain. The
          // namenode routes use HdfsHttpClientDispatch, the datanode route the `http-client` contributor.
          [
            'authentication/Anonymous',
            'rewrite/url-rewrite',
            'identity-assertion/Default',
            path.includes('/data/') ? 'dispatch/default' : 'dispatch/hdfs-http-client',
          ],
        ]),
      );
      await r.deployment.retire();
    });

    it('WEBHDFS without an identity-assertion provider still gets Default, as in Knox', async () => {
      const r = compile(
        topologyXml({
          providers: [{ role: 'authentication', name: 'Anonymous' }],
          services: [{ role: 'WEBHDFS', version: '2.4.0', urls: [`${UNREACHABLE}/webhdfs`] }],
        }),
      );
      assert.ok(r.deployment, `not deployed:\n${r.diagnostics.map(formatDiagnostic).join('\n')}`);
      for (const route of r.deployment.routes) {
        assert.deepEqual(route.chain.slice(0, -1), [
          'authentication/Anonymous',
          'rewrite/url-rewrite',
          'identity-assertion/Default',
        ]);
      }
      await r.deployment.retire();
    });

    it('AMBARIWS 3.0.0: <policies> webappsec > authentication[Anonymous] > rewrite > authorization', async () => {
      const def = loaded.catalog.resolve('AMBARIWS', 'ambariws', '3.0.0');
      assert.ok(def);
      assert.deepEqual(
        def.policies?.map((p) => (p.name ? `${p.role}[${p.name}]` : p.role)),
        ['webappsec', 'authentication[Anonymous]', 'rewrite', 'authorization'],
      );
      const r = compile(
        topologyXml({
          providers: ANONYMOUS_DEFAULT,
          services: [{ role: 'AMBARIWS', version: '3.0.0', urls: ['ws://127.0.0.1:1'] }],
        }),
      );
      assert.ok(r.deployment, `not deployed:\n${r.diagnostics.map(formatDiagnostic).join('\n')}`);
      assert.equal(r.deployment.routes.length, def.routes.length);
      for (const route of r.deployment.routes) {
        // The policies name no identity-assertion, so the topology's Default is not in this chain; webappsec and
        // authorization are not configured by the topology (postern has no such providers yet).
        assert.deepEqual(
          route.chain.slice(0, -1),
          ['authentication/Anonymous', 'rewrite/url-rewrite'],
          route.path,
        );
        assert.match(route.chain.at(-1) ?? '', /^dispatch\//);
      }
      await r.deployment.retire();
    });

    it('AMBARIWS pins Anonymous even when the topology authenticates otherwise', async () => {
      const r = compile(
        topologyXml({
          providers: [{ role: 'identity-assertion', name: 'Default' }],
          services: [{ role: 'AMBARIWS', version: '3.0.0', urls: ['ws://127.0.0.1:1'] }],
        }),
      );
      assert.ok(r.deployment, `not deployed:\n${r.diagnostics.map(formatDiagnostic).join('\n')}`);
      for (const route of r.deployment.routes) {
        assert.deepEqual(
          route.chain.slice(0, -1),
          ['authentication/Anonymous', 'rewrite/url-rewrite'],
          route.path,
        );
      }
      await r.deployment.retire();
    });
  });
});
