/**
 * Knox's deployment rule for routes without `<rewrite>` (ServiceDefinitionDeploymentContributor.contributeResources:
 * the bindings are cleared only for a route that has rewrites, so a route with none keeps the previous route's),
 * with Knox's own TRINOUI and SPARKHISTORYUI definitions through a real gateway: the rewrite-less `/x/**?**` route,
 * which Knox's matcher prefers to `/x/**`, rewrites the Trino UI's JavaScript and sends Spark's request headers as
 * the route above it does. `explain` says where the bindings come from and `check` warns about such routes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DiagnosticSink } from '../../src/config/diagnostics.ts';
import { explain } from '../../src/explain/index.ts';
import { inheritedBindings } from '../../src/explain/lint.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { parseServiceXml } from '../../src/servicedef/service-xml.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, siteXml, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

describe("Knox's bindings for routes without <rewrite>", () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;

  before(async () => {
    backend = await startBackend((req, res) => {
      req.resume();
      if (req.url?.startsWith('/trino/ui/dist/index.js')) {
        res.writeHead(200, { 'content-type': 'application/javascript' });
        res.end("fetch('/ui/api/cluster').then(r => r.json());\n");
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
    });
    home = makeHome();
    home.write(
      'conf/gateway-site.xml',
      siteXml({
        'gateway.port': 0,
        'gateway.host': '127.0.0.1',
        'ssl.enabled': false,
        'postern.services.dirs': KNOX_SERVICES,
      }),
    );
    home.write(
      'conf/topologies/t.xml',
      topologyXml({
        services: [
          { role: 'TRINOUI', version: '365', urls: [`${backend.url}/trino`] },
          { role: 'SPARKHISTORYUI', version: '2.3.0', urls: [`${backend.url}/shs`] },
        ],
      }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('a route without <rewrite> takes the bindings of the last route before it that had some', () => {
    const sink = new DiagnosticSink();
    const file = join(KNOX_SERVICES, 'trinoui/365/service.xml');
    const def = parseServiceXml(readFileSync(file, 'utf8'), file, sink)!;
    const [root, glob, query] = def.routes;
    assert.deepEqual(root.rewrites, [], 'the first route has nothing to inherit');
    assert.equal(root.inheritedFrom, undefined);
    assert.deepEqual(
      query.rewrites.map((b) => [b.apply, b.to]),
      glob.rewrites.map((b) => [b.apply, b.to]),
    );
    assert.deepEqual(query.inheritedFrom, glob.pos);
  });

  it("TRINOUI: the UI's JavaScript comes back with its API calls under the gateway", async () => {
    const res = await fetch(`${gateway.url}/t/trino/ui/dist/index.js`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), `fetch('${gateway.url}/t/trino/ui/api/cluster').then(r => r.json());\n`);
  });

  it("SPARKHISTORYUI: the API request carries the route's request-header rule (X-Forwarded-Context of the service)", async () => {
    const res = await fetch(`${gateway.url}/t/sparkhistory/api/v1/applications`);
    assert.equal(res.status, 200);
    await res.text();
    const seen = backend.requests.at(-1)!;
    assert.equal(seen.url, '/shs/api/v1/applications?user.name=anonymous');
    assert.equal(seen.headers['x-forwarded-context'], '/gateway/t/sparkhistory');
  });

  it('explain names the route the bindings come from', async () => {
    const e = await explain(gateway, 'GET', `${gateway.url}/t/trino/ui/dist/index.js`);
    assert.equal(e.route?.pattern, '/trino/**?**');
    assert.ok(
      e.notes.some((n) =>
        /no <rewrite> of its own: as in Knox it applies the bindings of the route at .*service\.xml:\d+/.test(
          n,
        ),
      ),
      e.notes.join('\n'),
    );
  });

  it('check warns at each route that relies on it, naming the bindings and where they are written', () => {
    const warnings = inheritedBindings(gateway.server.deployments.get('t')!);
    const trino = warnings.find((w) => w.message.startsWith('route /trino/**?** of trino/365'))!;
    assert.ok(trino, warnings.map((w) => w.message).join('\n'));
    assert.equal(trino.severity, 'warning');
    assert.ok(trino.file.endsWith(join('trinoui', '365', 'service.xml')));
    assert.match(trino.message, /TRINOUI\/trino\/outbound\/body → response\.body/);
    assert.ok(warnings.some((w) => w.message.startsWith('route /sparkhistory/**?** of')));
  });
});
