/**
 * explain/lint, on deployments compiled from real files: routes that can never be chosen (with a proof checked
 * against the matcher on random URLs), and rewrite rules nothing uses. Knox's own definitions are the large case:
 * the routes reported there must really never win.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileDeployment } from '../../src/deploy/compile.ts';
import type { Deployment } from '../../src/deploy/deployment.ts';
import { deadRewriteRules, unreachableRoutes } from '../../src/explain/index.ts';
import { type LoadedHome, loadHome } from '../../src/gateway/gateway.ts';
import { compareVersions, loadServiceDefinitions } from '../../src/servicedef/catalog.ts';
import { readTopologyFile } from '../../src/topology/load.ts';
import { parseLiteral } from '../../src/urltemplate/index.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

const SERVICE = (routes: string) => `<service role="MINE" name="mine" version="1.0.0">
  <routes>
${routes}
  </routes>
</service>
`;

const REWRITE = `<rules>
  <rule dir="IN" name="MINE/in/a" pattern="*://*:*/**/mine/{path=**}?{**}">
    <rewrite template="{$serviceUrl[MINE]}/a/{path=**}?{**}"/>
  </rule>
  <rule dir="IN" name="MINE/in/b" pattern="*://*:*/**/mine/{path=**}?{**}">
    <rewrite template="{$serviceUrl[MINE]}/b/{path=**}?{**}"/>
  </rule>
  <rule dir="OUT" name="MINE/out/filtered">
    <rewrite template="{$frontend[url]}/mine"/>
  </rule>
  <rule dir="OUT" name="MINE/out/unused">
    <rewrite template="{$frontend[url]}/nowhere"/>
  </rule>
  <rule dir="OUT" name="MINE/out/best" pattern="{$serviceUrl[MINE]}/{path=**}">
    <rewrite template="{$frontend[url]}/mine/{path=**}"/>
  </rule>
  <filter name="MINE/out/headers">
    <content type="application/x-http-headers">
      <apply path="Location" rule="MINE/out/filtered"/>
    </content>
  </filter>
</rules>
`;

describe('postern check lint', () => {
  let home: TestHome;
  let loaded: LoadedHome;
  let count = 0;
  const deployments: Deployment[] = [];

  before(async () => {
    home = makeHome({ 'postern.services.dirs': KNOX_SERVICES });
    // A service whose route rewrites its URL by best match (no request.url binding).
    home.write(
      'data/services/other/1.0.0/service.xml',
      '<service role="OTHER" name="other" version="1.0.0"><routes><route path="/other/**"/></routes></service>\n',
    );
    home.write(
      'data/services/other/1.0.0/rewrite.xml',
      '<rules><rule dir="IN" name="OTHER/in" pattern="*://*:*/**/other/{path=**}"><rewrite template="{$serviceUrl[OTHER]}/{path=**}"/></rule></rules>\n',
    );
  });
  after(async () => {
    await Promise.all(deployments.map((d) => d.retire()));
    home?.remove();
  });

  /** Writes MINE 1.0.{n} (unless `version` names one written before) and compiles a topology using it. */
  async function deploy(
    routes: string,
    rewrite = REWRITE,
    extra: { role: string }[] = [],
    version = `1.0.${count}`,
  ): Promise<Deployment> {
    const dir = `data/services/mine/${version}`;
    if (version === `1.0.${count}`) {
      home.write(`${dir}/service.xml`, SERVICE(routes).replace('version="1.0.0"', `version="${version}"`));
      home.write(`${dir}/rewrite.xml`, rewrite);
    }
    loaded = await loadHome(home.dir);
    const file = home.write(
      `conf/topologies/t${count}.xml`,
      topologyXml({
        services: [
          { role: 'MINE', version, urls: ['http://127.0.0.1:1'] },
          ...extra.map((e) => ({ ...e, urls: ['http://127.0.0.1:2'] })),
        ],
      }),
    );
    count++;
    const result = compileDeployment({
      topology: readTopologyFile(file).topology!,
      catalog: loaded.catalog,
      settings: loaded.settings,
      registry: loaded.registry,
      masterSecret: new Uint8Array(32),
      home: home.dir,
    });
    assert.ok(result.deployment, result.diagnostics.map((d) => d.message).join('\n'));
    deployments.push(result.deployment);
    return result.deployment;
  }

  it('reports a route another route always wins over, at its <route>, naming the winner', async () => {
    const d = await deploy(`    <route path="/mine/**?**">
      <rewrite apply="MINE/in/a" to="request.url"/>
    </route>
    <route path="/mine/**">
      <rewrite apply="MINE/in/b" to="request.url"/>
    </route>
    <route path="/mine/x/**">
      <rewrite apply="MINE/in/b" to="request.url"/>
    </route>`);
    const found = unreachableRoutes(d);
    assert.equal(found.length, 1, found.map((x) => x.message).join('\n'));
    const [w] = found;
    assert.equal(w.severity, 'warning');
    assert.match(w.file, /mine\/1\.0\.\d+\/service\.xml$/);
    assert.equal(w.line, 6);
    assert.match(
      w.message,
      /^route "\/mine\/\*\*" of MINE can never be chosen: route "\/mine\/\*\*\?\*\*" of MINE \(.*service\.xml:3\) takes every URL it matches \(e\.g\. \/mine\/a\d+\)$/,
    );
  });

  it('leaves alone a route that only repeats another with the same bindings', async () => {
    const d = await deploy(`    <route path="/mine/**?**">
      <rewrite apply="MINE/in/a" to="request.url"/>
    </route>
    <route path="/mine/**">
      <rewrite apply="MINE/in/a" to="request.url"/>
    </route>`);
    assert.deepEqual(unreachableRoutes(d), []);
  });

  it('does not report routes that win somewhere, however much they overlap', async () => {
    const d = await deploy(`    <route path="/mine/**">
      <rewrite apply="MINE/in/a" to="request.url"/>
    </route>
    <route path="/mine/*">
      <rewrite apply="MINE/in/b" to="request.url"/>
    </route>
    <route path="/mine/*/*">
      <rewrite apply="MINE/in/b" to="request.url"/>
    </route>
    <route path="/mine/x?op=GET">
      <rewrite apply="MINE/in/b" to="request.url"/>
    </route>`);
    assert.deepEqual(unreachableRoutes(d), []);
  });

  it('reports rewrite rules nothing can apply, at their <rule>', async () => {
    const d = await deploy(`    <route path="/mine/**?**">
      <rewrite apply="MINE/in/a" to="request.url"/>
      <rewrite apply="MINE/out/headers" to="response.headers"/>
    </route>`);
    const dead = deadRewriteRules([d]);
    assert.deepEqual(
      dead.map((x) => [x.line, x.message]),
      [
        [
          5,
          'rewrite rule "MINE/in/b" is never used: no route binds it, no filter applies it, and no route rewrites by IN best match in its scope "MINE"',
        ],
        [
          11,
          'rewrite rule "MINE/out/unused" is never used: no route binds it, no filter applies it, and it has no pattern for best match',
        ],
        [
          14,
          'rewrite rule "MINE/out/best" is never used: no route binds it, no filter applies it, and no route rewrites by OUT best match in its scope "MINE"',
        ],
      ],
    );
    assert.ok(dead.every((x) => x.severity === 'warning' && /mine\/1\.0\.\d+\/rewrite\.xml$/.test(x.file)));
  });

  it('counts best match: a route without a request.url or response.headers binding uses the rules with patterns', async () => {
    const d = await deploy(`    <route path="/mine/**?**"/>`);
    assert.deepEqual(
      deadRewriteRules([d]).map((x) => x.line),
      [11], // MINE/out/unused alone: no pattern; MINE/out/filtered is applied by a filter
    );
  });

  it('keeps a rule that another topology using the same definition reaches', async () => {
    // MINE's rewrite.xml also holds a rule of scope OTHER: dead where MINE is alone, reached by best match from
    // OTHER's route where both are deployed.
    const rewrite = REWRITE.replace(
      '</rules>',
      '  <rule dir="IN" name="OTHER/in/extra" pattern="*://*:*/**/other/x/{path=**}"><rewrite template="{$serviceUrl[OTHER]}/x/{path=**}"/></rule>\n</rules>',
    );
    const routes = `    <route path="/mine/**?**">
      <rewrite apply="MINE/in/a" to="request.url"/>
      <rewrite apply="MINE/out/headers" to="response.headers"/>
    </route>`;
    const version = `1.0.${count}`;
    const alone = await deploy(routes, rewrite);
    const twice = await deploy(routes, rewrite, [], version);
    const shared = await deploy(routes, rewrite, [{ role: 'OTHER' }], version);
    const extra = (ds: Deployment[]) =>
      deadRewriteRules(ds).filter((x) => x.message.startsWith('rewrite rule "OTHER/in/extra"'));
    // Reported once for the home, however many topologies leave it unused ...
    assert.equal(extra([alone]).length, 1);
    assert.equal(extra([alone, twice]).length, 1);
    // ... and not at all when one of them reaches it.
    assert.deepEqual(extra([alone, twice, shared]), []);
  });

  it("on Knox's own definitions, every route reported really never wins", async () => {
    const best = new Map<string, { role: string; version: string }>();
    for (const def of loadServiceDefinitions([{ dir: KNOX_SERVICES, source: 'other' }]).catalog.all()) {
      const b = best.get(def.role);
      if (!b || compareVersions(def.version, b.version) > 0) best.set(def.role, def);
    }
    loaded = await loadHome(home.dir);
    let reported = 0;
    let checked = 0;
    for (const { role, version } of best.values()) {
      const file = home.write(
        `conf/topologies/knox-${role}.xml`,
        topologyXml({ services: [{ role, version, urls: ['http://127.0.0.1:1'] }] }),
      );
      const { deployment } = compileDeployment({
        topology: readTopologyFile(file).topology!,
        catalog: loaded.catalog,
        settings: loaded.settings,
        registry: loaded.registry,
        masterSecret: new Uint8Array(32),
        home: home.dir,
      });
      if (!deployment) continue; // a feature postern lacks: deployment reports it (knox-compat test)
      deployments.push(deployment);
      for (const w of unreachableRoutes(deployment)) {
        reported++;
        const route = deployment.routes.find((r) => r.pos.line === w.line && r.pos.file === w.file)!;
        // Random URLs the route matches, its wildcards filled with the static texts of every route and with
        // random text, and random query parameters: another route wins every one.
        const words = deployment.routes.flatMap((r) => r.template.path.map((s) => s.pattern ?? 'x'));
        for (let i = 0; i < 300; i++) {
          const pick = () =>
            Math.random() < 0.5 ? words[Math.floor(Math.random() * words.length)] : `r${i}`;
          const path = route.template.path
            .flatMap((s) =>
              s.type === 'static'
                ? [s.pattern ?? '']
                : s.type === 'doublestar'
                  ? Array.from({ length: 1 + Math.floor(Math.random() * 4) }, pick)
                  : [pick()],
            )
            .join('/');
          const query = Math.random() < 0.5 ? `?${pick()}=${pick()}` : '';
          const input = parseLiteral(`/${path}${query}`);
          const m = deployment.matcher.match(input);
          if (!m) continue;
          checked++;
          assert.notEqual(m.value, route, `${route.path} won /${path}${query}`);
        }
      }
    }
    assert.ok(reported >= 10, `${reported} reported`);
    assert.ok(checked > reported * 100);
  });
});
