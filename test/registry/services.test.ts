/**
 * registry.service and registry.contributor through a real gateway on loopback: a plugin's service answers its
 * routes and their WebSocket upgrades, serves an endpoint outside the gateway path, lives and stops with the
 * gateway, and a plugin's contributor feeds `ctx.contribution(key)` from its provider role's params. Names are
 * checked at registration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { register as registerBuiltins } from '../../src/builtins.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { Registry } from '../../src/registry/index.ts';
import type { ServiceFactory } from '../../src/spi/index.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { events } from './hello-plugin.ts';

const PLUGIN = fileURLToPath(new URL('./hello-plugin.ts', import.meta.url));

// As the bundled gateway-answered services: no rewrite policy, since nothing is forwarded.
const HELLO_DEFINITION = `<service role="HELLO" name="hello" version="1.0.0">
  <policies>
    <policy role="authentication"/>
    <policy role="identity-assertion"/>
  </policies>
  <routes>
    <route path="/hello/**"/>
  </routes>
  <dispatch contributor-name="Hello"/>
</service>
`;

/** The first text message of a WebSocket, or the status of its refused handshake. */
function firstMessage(url: string, headers: Record<string, string> = {}): Promise<string | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('message', (data) => {
      resolve(String(data));
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', reject);
  });
}

describe('a plugin service and contributor in a running gateway', () => {
  let home: TestHome;
  let gateway: Gateway;

  before(async () => {
    home = makeHome({ 'postern.plugins': PLUGIN, 'gateway.websocket.feature.enabled': true });
    home.write('data/services/hello/1.0.0/service.xml', HELLO_DEFINITION);
    home.write(
      'conf/topologies/t.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'identity-assertion', name: 'Default' },
          { role: 'greeting', name: 'Static', params: { text: 'Good morning' } },
        ],
        services: [{ role: 'HELLO', urls: [] }],
      }),
    );
    home.write('conf/topologies/plain.xml', topologyXml({ services: [{ role: 'HELLO', urls: [] }] }));
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    home?.remove();
  });

  it('deploys without warning: a service answers itself, so it needs no <url>', () => {
    const status = gateway.status.get('t');
    assert.equal(status?.deployed, true, JSON.stringify(status?.diagnostics));
    assert.deepEqual(status.diagnostics, []);
  });

  it('answers its routes with what the contributor gave its dispatch', async () => {
    const res = await fetch(`${gateway.url}/t/hello/there`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'Good morning (for HELLO), anonymous (t/hello/there)');
  });

  it('gets no contribution in a topology without the contributor role', async () => {
    const res = await fetch(`${gateway.url}/plain/hello/x`);
    assert.equal(await res.text(), 'no greeting, anonymous (plain/hello/x)');
  });

  it('answers WebSocket upgrades on its routes with its upgrade handler', async () => {
    const ws = gateway.url.replace(/^http/, 'ws');
    assert.equal(
      await firstMessage(`${ws}/t/hello/socket`),
      'Good morning (for HELLO) over a WebSocket, anonymous',
    );
  });

  it('serves its endpoint outside the gateway path, and the refusal it returns is a 403', async () => {
    const origin = new URL(gateway.url).origin.replace(/^http/, 'ws');
    assert.equal(
      await firstMessage(`${origin}/hello-link/`, { 'x-link-secret': 'open sesame' }),
      'linked outside the gateway path',
    );
    assert.equal(await firstMessage(`${origin}/hello-link/`, { 'x-link-secret': 'guess' }), 403);
  });

  it('was opened before the topologies deployed and started once listening, with the gateway home', () => {
    const mine = events.filter((e) => e.home === home.dir).map((e) => e.hook);
    assert.deepEqual(mine, ['open', 'start']);
  });

  it('is stopped with the gateway', async () => {
    await gateway.close();
    const mine = events.filter((e) => e.home === home.dir).map((e) => e.hook);
    assert.deepEqual(mine, ['open', 'start', 'stop']);
  });
});

describe('registration checks', () => {
  const service = (over: Partial<ServiceFactory>): ServiceFactory => ({
    name: 'S',
    roles: ['SVC'],
    create: () => async () => {},
    ...over,
  });

  it('takes Knox provider roles and plugin roles of lower-case words, and refuses odd ones', () => {
    const registry = new Registry();
    const provider = (role: string, name = role) =>
      registry.provider({ role, name, create: () => undefined });
    provider('Authentication', 'Mine');
    provider('audit-trail');
    provider('x2');
    for (const bad of [
      '',
      ' ',
      'two words',
      'under_score',
      '-lead',
      'trail-',
      'dot.ted',
      'ä',
      'a'.repeat(65),
    ]) {
      assert.throws(() => provider(bad, 'n'), TypeError, JSON.stringify(bad));
    }
    assert.throws(() => provider('two words', 'n'), /role "two words" is not a role name/);
  });

  it('checks a service: its roles in Knox spelling, its endpoints, no second registration', () => {
    const registry = new Registry();
    registry.service(service({ roles: ['KNOX-METADATA', 'HELLO_2'] }));
    assert.equal(registry.findDispatch('S')?.answersItself, true);
    assert.throws(() => registry.service(service({ name: 'T', roles: [] })), /needs the service roles/);
    for (const bad of ['hello', 'HELLO WORLD', '1ST', '']) {
      assert.throws(() => registry.service(service({ name: 'T', roles: [bad] })), TypeError, bad);
    }
    const endpoint = { path: 'no-slash', upgrade: () => undefined };
    assert.throws(
      () => registry.service(service({ name: 'T', endpoints: [endpoint] })),
      /path starting with "\/"/,
    );
    registry.service(service({ name: 'U', endpoints: [{ path: '/u/', upgrade: () => undefined }] }));
    assert.throws(
      () => registry.service(service({ name: 'V', endpoints: [{ path: '/u/', upgrade: () => undefined }] })),
      /endpoint \/u\/ is already registered/,
    );
    assert.throws(() => registry.service(service({})), /dispatch "S" is already registered/);
  });

  it('takes one contributor per provider role and key', () => {
    const registry = new Registry();
    registerBuiltins(registry);
    assert.ok(registry.findContributor('HA'));
    assert.ok(registry.findContributor('hostmap'));
    assert.throws(
      () => registry.contributor({ role: 'ha', key: 'other', contribute: () => undefined }),
      /contributor for provider role "ha" is already registered/,
    );
    assert.throws(
      () => registry.contributor({ role: 'mine', key: 'ha', contribute: () => undefined }),
      /key "ha" is already registered/,
    );
    assert.throws(
      () => registry.contributor({ role: 'odd role', key: 'k', contribute: () => undefined }),
      TypeError,
    );
  });

  it('registers the built-in services as services, with their roles', () => {
    const registry = new Registry();
    registerBuiltins(registry);
    const roles = registry.services().flatMap((s) => s.roles);
    for (const role of ['ADMIN', 'CHANNELS', 'KNOXSSO', 'KNOXTOKEN']) assert.ok(roles.includes(role), role);
    assert.deepEqual([...registry.endpoints().keys()], ['/websocket/broadcast/']);
  });
});

describe('an endpoint below the gateway path', () => {
  it('stops the gateway from starting', async () => {
    const home = makeHome({ 'postern.plugins': './shadow.ts' });
    home.write(
      'shadow.ts',
      `export function register(registry) {
  registry.service({ name: 'Shadow', roles: ['SHADOW'], create: () => async () => {},
    endpoints: [{ path: '/gateway/t/x', upgrade: () => undefined }] });
}
`,
    );
    try {
      await assert.rejects(
        startGateway(home),
        /endpoint \/gateway\/t\/x lies below the gateway path \/gateway\//,
      );
    } finally {
      home.remove();
    }
  });
});
