/**
 * Named chains (Knox's provider-chain design): `<gateway><chain>` with `provider-ref`, selected per
 * service by `<chain-ref>`, with per-role params from the chain and from the chain-ref; and the built-in chain
 * `default`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome } from '../helpers/home.ts';

const TOPOLOGY = (backend: string, chainRef: string) => `<?xml version="1.0"?>
<topology>
  <gateway>
    <provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
    <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled></provider>
    <chain>
      <name>mapped</name>
      <provider-ref><role>authentication</role><name>Anonymous</name></provider-ref>
      <provider-ref>
        <role>identity-assertion</role>
        <param><name>principal.mapping</name><value>anonymous=guest</value></param>
      </provider-ref>
    </chain>
  </gateway>
  <service>
    <role>HTTP</role>
    <url>${backend}</url>
    ${chainRef}
  </service>
</topology>
`;

describe('named provider chains', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;

  before(async () => {
    backend = await startBackend((req, res) => res.end(req.url));
    home = makeHome();
    home.write('conf/topologies/plain.xml', TOPOLOGY(backend.url, ''));
    home.write(
      'conf/topologies/explicit-default.xml',
      TOPOLOGY(backend.url, '<chain-ref><name>default</name></chain-ref>'),
    );
    home.write(
      'conf/topologies/mapped.xml',
      TOPOLOGY(backend.url, '<chain-ref><name>mapped</name></chain-ref>'),
    );
    home.write(
      'conf/topologies/overridden.xml',
      TOPOLOGY(
        backend.url,
        `<chain-ref><name>mapped</name>
           <param><role>identity-assertion</role><name>principal.mapping</name><value>anonymous=operator</value></param>
         </chain-ref>`,
      ),
    );
    home.write(
      'conf/topologies/undeclared.xml',
      TOPOLOGY(backend.url, '<chain-ref><name>nope</name></chain-ref>'),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  async function get(topology: string): Promise<string> {
    const res = await request(`${gateway.url}/${topology}/http/p`);
    return res.body.text();
  }

  it('without a chain-ref, and with chain-ref "default", the policy order of the definition applies', async () => {
    assert.equal(await get('plain'), '/p?user.name=anonymous');
    assert.equal(await get('explicit-default'), '/p?user.name=anonymous');
    const route = gateway.server.deployments.get('plain')!.routes[0];
    assert.deepEqual(route.chain, [
      'authentication/Anonymous',
      'rewrite/url-rewrite',
      'identity-assertion/Default',
      'dispatch/configurable',
    ]);
  });

  it('a chain-ref runs the named chain with the params its provider-refs give', async () => {
    assert.equal(await get('mapped'), '/p?user.name=guest');
    const route = gateway.server.deployments.get('mapped')!.routes[0];
    assert.deepEqual(route.chain, [
      'authentication/Anonymous',
      'identity-assertion/Default',
      'rewrite/url-rewrite',
      'dispatch/configurable',
    ]);
  });

  it("chain-ref params for a role override the chain's", async () => {
    assert.equal(await get('overridden'), '/p?user.name=operator');
  });

  it('a chain-ref to an undeclared chain is not deployed, and says where', () => {
    const status = gateway.status.get('undeclared')!;
    assert.equal(status.deployed, false);
    const error = status.diagnostics.find((d) => d.severity === 'error')!;
    assert.match(error.message, /chain "nope"/);
    assert.ok(error.file.endsWith('undeclared.xml'));
    assert.ok(error.line >= 17, `line ${error.line}`);
  });
});
