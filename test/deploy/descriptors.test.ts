/**
 * Topologies from YAML files and from Knox simple descriptors with shared provider configurations: each deploys
 * and serves like an XML topology; a descriptor writes `conf/topologies/{name}.xml` (generated), redeploys when
 * its shared provider configuration changes, and undeploys when it is deleted. Two files that define the same
 * topology are refused.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

async function eventually(check: () => Promise<boolean> | boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`condition not met within ${ms} ms`);
}

const providers = (mapping?: string) =>
  JSON.stringify({
    providers: [
      { role: 'authentication', name: 'Anonymous', enabled: 'true' },
      {
        role: 'identity-assertion',
        name: 'Default',
        enabled: true,
        params: mapping ? { 'principal.mapping': mapping } : {},
      },
    ],
  });

describe('YAML topologies and simple descriptors', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;

  before(async () => {
    backend = await startBackend((req, res) => res.end(req.url));
    home = makeHome();
    home.write(
      'conf/topologies/yamlish.yaml',
      `# a YAML topology
providers:
  - role: authentication
    name: Anonymous
  - role: identity-assertion
    name: Default
    params:
      principal.mapping: anonymous=yaml-user
services:
  - role: HTTP
    urls: [${backend.url}]
`,
    );
    home.write('conf/shared-providers/shared.json', providers());
    home.write(
      'conf/descriptors/fromdesc.json',
      JSON.stringify({ 'provider-config-ref': 'shared', services: [{ name: 'HTTP', urls: [backend.url] }] }),
    );
    home.write(
      'conf/topologies/twice.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }),
    );
    home.write('conf/topologies/twice.yml', `services:\n  - role: HTTP\n    urls: [${backend.url}]\n`);
    gateway = await startGateway(home, { watch: true });
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  const get = async (topology: string) => {
    const res = await request(`${gateway.url}/${topology}/http/q`);
    if (res.statusCode === 200) return res.body.text();
    await res.body.dump();
    return res.statusCode;
  };

  it('serves a YAML topology', async () => {
    assert.equal(await get('yamlish'), '/q?user.name=yaml-user');
  });

  it('generates, deploys and serves a topology from a descriptor and its shared providers', async () => {
    const generated = join(home.dir, 'conf/topologies/fromdesc.xml');
    await eventually(() => existsSync(generated));
    assert.match(readFileSync(generated, 'utf8'), /<generated>true<\/generated>/);
    await eventually(async () => (await get('fromdesc')) === '/q?user.name=anonymous');
  });

  it('redeploys the descriptor when its shared provider configuration changes', async () => {
    home.write('conf/shared-providers/shared.json', providers('anonymous=shared-user'));
    await eventually(async () => (await get('fromdesc')) === '/q?user.name=shared-user');
  });

  it('undeploys and removes the generated topology when the descriptor is deleted', async () => {
    unlinkSync(join(home.dir, 'conf/descriptors/fromdesc.json'));
    await eventually(async () => (await get('fromdesc')) === 404);
    assert.equal(existsSync(join(home.dir, 'conf/topologies/fromdesc.xml')), false);
  });

  it('refuses two files that define the same topology', async () => {
    assert.equal(await get('twice'), 404);
    const status = gateway.status.get('twice')!;
    assert.equal(status.deployed, false);
    assert.match(status.diagnostics[0].message, /duplicate topology "twice": also defined by .*twice\./);
  });
});
