/**
 * Knox compatibility at deployment: every definition under knox-services loads, and a feature one of them names
 * that postern lacks is an error only when a topology uses that service, at the file and line that name it.
 * Compiles one topology per Knox role (its highest version) with {@link compileDeployment} on a home loaded by
 * {@link loadHome}, instead of starting a gateway per role.
 */
import assert from 'node:assert/strict';
import { sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Diagnostic, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { type CompileResult, compileDeployment } from '../../src/deploy/compile.ts';
import { type LoadedHome, loadHome } from '../../src/gateway/gateway.ts';
import { compareVersions, loadServiceDefinitions } from '../../src/servicedef/catalog.ts';
import type { ServiceDefinition } from '../../src/servicedef/model.ts';
import { readTopologyFile } from '../../src/topology/load.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

const MASTER = new Uint8Array(32).fill(7);
const UNREACHABLE = 'http://127.0.0.1:1';
const ANONYMOUS_DEFAULT = [
  { role: 'authentication', name: 'Anonymous' },
  { role: 'identity-assertion', name: 'Default' },
];

/**
 * The kinds of error a Knox definition may cause: a feature postern does not have (yet), or a defect of the
 * definition itself that would leave a route unable to reach its backend (a `request.url` binding to a rule no
 * rewrite.xml defines: Knox's DRUID-BROKER, DRUID-ROUTER and HBASEUI 2.5.10 have such typos).
 */
const NOT_SUPPORTED: { kind: string; pattern: RegExp }[] = [
  {
    kind: 'undefined request.url rule',
    pattern: /^rewrite rule "[^"]+" is not defined by any rewrite.xml of this topology$/,
  },
  {
    kind: 'dispatch not available',
    pattern: /^dispatch "[^"]+"( \/ "[^"]+")* is not available in postern\b/,
  },
  { kind: 'use-two-way-ssl not supported', pattern: /^use-two-way-ssl is not supported yet\b/ },
  { kind: 'not supported', pattern: /\bnot supported\b|\bis not available in postern\b/ },
];

function kindOf(d: Diagnostic): string | undefined {
  return NOT_SUPPORTED.find((k) => k.pattern.test(d.message))?.kind;
}

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
  const outcome = new Map<string, { definition: string; deploys: boolean; reasons: string[] }>();

  before(async () => {
    home = makeHome({ 'postern.services.dirs': KNOX_SERVICES });
    loaded = await loadHome(home.dir);
  });

  after(() => home?.remove());

  /** Writes a topology file, reads it and compiles it as a deployment would. */
  function compile(xml: string): CompileResult {
    const file = home.write(`conf/topologies/t${count++}.xml`, xml);
    const read = readTopologyFile(file);
    assert.ok(read.topology, read.diagnostics.map(formatDiagnostic).join('\n'));
    const { catalog, settings, registry } = loaded;
    return compileDeployment({ topology: read.topology, catalog, settings, registry, masterSecret: MASTER });
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

  describe('a topology with one Knox service either deploys or names what postern does not support', () => {
    for (const def of roles) {
      it(`${def.role} (${def.name}/${def.version})`, async () => {
        const xml = topologyXml({
          providers: ANONYMOUS_DEFAULT,
          // Name and version pin Knox's definition where postern bundles one for the same role.
          services: [{ role: def.role, name: def.name, version: def.version, urls: [UNREACHABLE] }],
        });
        let r: CompileResult;
        try {
          r = compile(xml);
        } catch (err) {
          outcome.set(def.role, {
            definition: `${def.name}/${def.version}`,
            deploys: false,
            reasons: [`crash: ${(err as Error).stack}`],
          });
          throw err;
        }
        for (const d of r.diagnostics) {
          assert.ok(
            d.file && d.line > 0 && d.column > 0,
            `diagnostic without a position: ${formatDiagnostic(d)}`,
          );
        }
        const errs = errors(r);
        const kinds = errs.map((d) => kindOf(d) ?? `unexpected: ${d.message}`);
        outcome.set(def.role, {
          definition: `${def.name}/${def.version}`,
          deploys: r.deployment !== undefined && r.deployment.failed.length === 0,
          reasons: [...new Set(kinds)],
        });
        if (r.deployment && r.deployment.failed.length === 0) {
          assert.deepEqual(errs, []);
          // A definition that repeats a route path (Knox's yarn-rm/2.5.0, zeppelinui/0.8.1) serves it once.
          const paths = new Set(def.routes.map((route) => route.path.replace(/^\/?/, '/')));
          assert.equal(r.deployment.routes.length, paths.size);
          for (const route of r.deployment.routes) {
            assert.equal(route.definition, `${def.name}/${def.version}`);
            assert.match(route.chain.at(-1) ?? '', /^dispatch\//);
          }
          await r.deployment.retire();
          return;
        }
        await r.deployment?.retire();
        assert.ok(errs.length > 0, 'not deployed, yet no error says why');
        const unexpected = errs.filter(
          (d) => kindOf(d) === undefined || !d.file.startsWith(KNOX_SERVICES + sep),
        );
        assert.deepEqual(
          unexpected.map(formatDiagnostic),
          [],
          'every error names a Knox file and line and says what postern does not support',
        );
      });
    }

    after(() => {
      if (outcome.size === 0) return;
      const rows = [...outcome].map(
        ([role, o]) => `| ${role} | ${o.definition} | ${o.deploys ? 'deploys' : o.reasons.join('; ')} |`,
      );
      const deploys = [...outcome.values()].filter((o) => o.deploys).length;
      const lines = [
        `Knox roles: ${outcome.size}, deploy: ${deploys}, refused: ${outcome.size - deploys}`,
        '| role | definition | outcome |',
        '|---|---|---|',
        ...rows,
      ];
      if (process.env.POSTERN_KNOX_SUMMARY) console.log(lines.join('\n'));
    });
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
          // webappsec, federation and authorization are not configured: nothing of theirs in the chain.
          [
            'authentication/Anonymous',
            'rewrite/url-rewrite',
            'identity-assertion/Default',
            'dispatch/default',
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
        assert.deepEqual(route.chain, [
          'authentication/Anonymous',
          'rewrite/url-rewrite',
          'identity-assertion/Default',
          'dispatch/default',
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
