/**
 * A service that cannot deploy does not take its topology down: the topology serves its other services, the broken
 * one answers 503 with its problem's catalog code (after the topology's authentication), `/readyz` stays ready and
 * lists it, the admin API shows it failed, and `postern check` still reports the error (exit 1). A problem of the
 * topology itself (a provider postern lacks) still fails the whole topology.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A definition whose dispatch class postern does not have. */
const UNKNOWN_DISPATCH = `<service role="BROKEN" name="broken" version="1.0.0">
  <routes><route path="/broken/**"/></routes>
  <dispatch classname="com.example.NoSuchDispatch"/>
</service>
`;

interface ErrorBody {
  error: { status: number; code: string; message: string; requestId: string };
  service?: string;
}

describe('a service that cannot deploy', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;

  before(async () => {
    backend = await startBackend((_req, res) => res.end('alive'));
    home = makeHome();
    home.write('data/services/broken/1.0.0/service.xml', UNKNOWN_DISPATCH);
    home.write(
      'conf/topologies/mixed.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [backend.url] },
          { role: 'BROKEN', urls: [backend.url] },
          { role: 'NO-SUCH-ROLE', urls: [backend.url] },
          { role: 'ADMIN', urls: [] },
        ],
      }),
    );
    home.write(
      'conf/topologies/guarded.xml',
      topologyXml({
        providers: [
          {
            role: 'federation',
            name: 'HeaderPreAuth',
            params: { 'preauth.custom.header': 'X-User' },
          },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'NO-SUCH-ROLE', urls: [backend.url] }],
      }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('leaves the topology serving its other services', async () => {
    const r = await request(`${gateway.url}/mixed/http/x`);
    assert.equal(r.statusCode, 200);
    assert.match(await r.body.text(), /alive/);
  });

  it('answers 503 with the code of its problem, in the one error shape', async () => {
    for (const [path, code, role] of [
      ['/mixed/broken/anything', 'POSTERN_ERR_SERVICE_DISPATCH', 'BROKEN'],
      ['/mixed/no-such-role/x', 'POSTERN_ERR_SERVICE_NO_DEFINITION', 'NO-SUCH-ROLE'],
    ] as const) {
      const r = await request(`${gateway.url}${path}`);
      assert.equal(r.statusCode, 503, path);
      const body = (await r.body.json()) as ErrorBody;
      assert.equal(body.error.code, code);
      assert.equal(body.error.status, 503);
      assert.equal(body.service, role);
      // Nothing of the configuration (files, classes, backend addresses) reaches the client.
      assert.doesNotMatch(JSON.stringify(body), /NoSuchDispatch|127\.0\.0\.1|\.xml/);
    }
  });

  it("runs the topology's authentication before saying so", async () => {
    const anonymous = await request(`${gateway.url}/guarded/no-such-role/x`);
    assert.equal(anonymous.statusCode, 401);
    await anonymous.body.dump();
    const known = await request(`${gateway.url}/guarded/no-such-role/x`, { headers: { 'x-user': 'sam' } });
    assert.equal(known.statusCode, 503);
    assert.equal(((await known.body.json()) as ErrorBody).error.code, 'POSTERN_ERR_SERVICE_NO_DEFINITION');
  });

  it('keeps the node ready and lists the failed services in /readyz', async () => {
    const r = await request(`${gateway.url.replace(/\/gateway$/, '')}${gateway.settings.health.readyPath}`);
    assert.equal(r.statusCode, 200);
    const body = (await r.body.json()) as {
      status: string;
      failedServices?: { topology: string; service: string; code: string }[];
    };
    assert.equal(body.status, 'ready');
    assert.deepEqual((body.failedServices ?? []).map((f) => [f.topology, f.service, f.code]).sort(), [
      ['guarded', 'NO-SUCH-ROLE', 'POSTERN_ERR_SERVICE_NO_DEFINITION'],
      ['mixed', 'BROKEN', 'POSTERN_ERR_SERVICE_DISPATCH'],
      ['mixed', 'NO-SUCH-ROLE', 'POSTERN_ERR_SERVICE_NO_DEFINITION'],
    ]);
  });

  it('shows each service’s state in the admin API', async () => {
    const r = await request(`${gateway.url}/mixed/api/v1/topologies/mixed`);
    assert.equal(r.statusCode, 200);
    const body = (await r.body.json()) as {
      state: string;
      serving: boolean;
      services: {
        role: string;
        state: string;
        code?: string;
        diagnostics?: { at: string; message: string }[];
      }[];
    };
    assert.equal(body.state, 'deployed');
    assert.equal(body.serving, true);
    const states = Object.fromEntries(body.services.map((s) => [s.role, [s.state, s.code]]));
    assert.deepEqual(states, {
      HTTP: ['deployed', undefined],
      BROKEN: ['failed', 'POSTERN_ERR_SERVICE_DISPATCH'],
      'NO-SUCH-ROLE': ['failed', 'POSTERN_ERR_SERVICE_NO_DEFINITION'],
      ADMIN: ['deployed', undefined],
    });
    const broken = body.services.find((s) => s.role === 'BROKEN')!;
    assert.match(broken.diagnostics?.[0].message ?? '', /com\.example\.NoSuchDispatch/);
  });

  it('is explained as the 503 it answers, with the problem at its line', async () => {
    const broken = await gateway.explain({ method: 'GET', url: '/gateway/mixed/broken/anything' });
    assert.equal(broken.outcome, 'refused');
    assert.equal(broken.status, 503);
    assert.equal(broken.code, 'POSTERN_ERR_SERVICE_DISPATCH');
    assert.match(String(broken.reason), /BROKEN failed to deploy: .*service\.xml:\d+:\d+: .*NoSuchDispatch/);
    const guarded = await gateway.explain({
      method: 'GET',
      url: '/gateway/guarded/no-such-role/x',
      headers: [['X-User', 'sam']],
    });
    assert.equal(guarded.status, 503);
    assert.equal(guarded.code, 'POSTERN_ERR_SERVICE_NO_DEFINITION');
  });

  it('still fails a topology whose provider postern lacks, whole', async () => {
    home.write(
      'conf/topologies/fatal.xml',
      topologyXml({
        providers: [{ role: 'authentication', name: 'NoSuchProvider' }],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    await gateway.rescan();
    assert.equal(gateway.status.get('fatal')?.deployed, false);
    const r = await request(`${gateway.url}/fatal/http/x`);
    assert.equal(r.statusCode, 404);
    assert.equal(((await r.body.json()) as ErrorBody).error.code, 'POSTERN_ERR_TOPOLOGY_NOT_FOUND');
  });

  it('is still an error for postern check (exit 1), at the service', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'bin/postern.js'), 'check', '--home', home.dir], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /mixed\.xml:\d+:\d+: no service definition for role "NO-SUCH-ROLE"/);
    assert.match(r.stdout, /service\.xml:\d+:\d+: dispatch "com\.example\.NoSuchDispatch" is not available/);
  });
});
