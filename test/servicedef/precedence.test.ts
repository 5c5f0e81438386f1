/**
 * Definition precedence: without a pinned `<version>`, a definition in the home's `data/services` beats a bundled
 * one of the same role (Knox's `webhdfs/2.4.0` copied into a home beats postern's bundled `webhdfs/3.0.0`), and
 * `postern check` says which definition the service uses and which it passed over. A pinned version picks exactly
 * that version, wherever it comes from.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compileDeployment } from '../../src/deploy/compile.ts';
import { type LoadedHome, loadHome } from '../../src/gateway/gateway.ts';
import { readTopologyFile } from '../../src/topology/load.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const UNREACHABLE = 'http://127.0.0.1:9/webhdfs';

describe('service definition precedence', () => {
  let home: TestHome;
  let loaded: LoadedHome;

  before(async () => {
    home = makeHome();
    // What a Knox user does: copy Knox's definition into the home.
    cpSync(join(KNOX_SERVICES, 'webhdfs/2.4.0'), join(home.dir, 'data/services/webhdfs/2.4.0'), {
      recursive: true,
    });
    loaded = await loadHome(home.dir);
  });

  after(() => home?.remove());

  it("prefers the home's definition over a higher bundled version when no version is pinned", () => {
    const chosen = loaded.catalog.resolve('WEBHDFS');
    assert.equal(`${chosen?.name}/${chosen?.version}`, 'webhdfs/2.4.0');
    assert.equal(chosen?.source, 'home');
    assert.deepEqual(
      loaded.catalog.competing('WEBHDFS').map((d) => `${d.name}/${d.version}:${d.source}`),
      ['webhdfs/3.0.0:bundled'],
    );
  });

  it('uses exactly the pinned version, bundled or not', () => {
    assert.equal(loaded.catalog.resolve('WEBHDFS', undefined, '3.0.0')?.source, 'bundled');
    assert.equal(loaded.catalog.resolve('WEBHDFS', undefined, '2.4.0')?.source, 'home');
    assert.deepEqual(loaded.catalog.competing('WEBHDFS', undefined, '3.0.0'), []);
    // A role only the bundled set defines has nothing competing.
    assert.equal(loaded.catalog.resolve('HTTP')?.source, 'bundled');
    assert.deepEqual(loaded.catalog.competing('HTTP'), []);
  });

  it('deploys the routes of the chosen definition, and warns at the service naming both', async () => {
    for (const [version, expected] of [
      [undefined, 'webhdfs/2.4.0'],
      ['3.0.0', 'webhdfs/3.0.0'],
    ] as const) {
      const file = home.write(
        `conf/topologies/pick${version ?? ''}.xml`,
        topologyXml({ services: [{ role: 'WEBHDFS', version, urls: [UNREACHABLE] }] }),
      );
      const read = readTopologyFile(file);
      assert.ok(read.topology);
      const { catalog, settings, registry } = loaded;
      const r = compileDeployment({
        topology: read.topology,
        catalog,
        settings,
        registry,
        masterSecret: new Uint8Array(32),
      });
      assert.ok(r.deployment);
      assert.deepEqual([...new Set(r.deployment.routes.map((route) => route.definition))], [expected]);
      const notes = r.diagnostics.filter((d) => /uses webhdfs/.test(d.message));
      assert.equal(notes.length, version === undefined ? 1 : 0, version);
      await r.deployment.retire();
    }
  });

  it('postern check names the definition used and the one passed over', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'bin/postern.js'), 'check', '--home', home.dir], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const line = r.stdout.split('\n').find((l) => l.includes('pick.xml') && l.includes('uses webhdfs'));
    assert.ok(line, r.stdout);
    assert.match(
      line,
      /pick\.xml:\d+:\d+: warning: service WEBHDFS uses webhdfs\/2\.4\.0 \(the home's data\/services, /,
    );
    assert.match(line, /not webhdfs\/3\.0\.0 \(bundled with postern, /);
    assert.match(line, /pin <version>3\.0\.0<\/version>/);
    assert.ok(!r.stdout.includes('pick3.0.0.xml:'), 'a pinned version competes with nothing');
  });
});
