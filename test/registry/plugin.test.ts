/**
 * An outside plugin, named in gateway-site's `postern.plugins`, registers a provider and a dispatch through the
 * same registry as the built-ins, and a topology uses both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { register as registerBuiltins } from '../../src/builtins.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { Registry } from '../../src/registry/index.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const PLUGIN = `
// An outside plugin, plain JavaScript, as an npm package would ship it.
export function register(registry) {
  registry.provider({
    role: 'authentication',
    name: 'HeaderUser',
    create(ctx) {
      const header = (ctx.params.get('header') ?? 'x-test-user').toLowerCase();
      return (ex, next) => {
        const name = ex.req.headers[header];
        if (typeof name !== 'string') {
          return Promise.reject(Object.assign(new Error('no user'), { status: 401 }));
        }
        ex.user = { name, groups: [] };
        return next();
      };
    },
  });
  registry.provider({
    role: 'authorization',
    name: 'Thrower',
    create() {
      return () => {
        throw new Error('a plugin bug');
      };
    },
  });
  registry.dispatch({
    name: 'static-reply',
    create(ctx) {
      const text = ctx.params.get('reply') ?? 'static';
      return async (ex) => {
        ex.res.writeHead(200, { 'content-type': 'text/plain' });
        ex.res.end(text + ' for ' + (ex.effectiveUser ?? '?'));
      };
    },
  });
}
`;

describe('outside plugins', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;

  before(async () => {
    backend = await startBackend((req, res) => res.end(req.url));
    home = makeHome({ 'postern.plugins': './plugins/header-user.mjs' });
    home.write('plugins/header-user.mjs', PLUGIN);
    home.write(
      'conf/topologies/plug.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'HeaderUser', params: { header: 'X-Who' } },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    home.write(
      'conf/topologies/static.xml',
      topologyXml({
        providers: [{ role: 'authentication', name: 'HeaderUser' }],
        services: [{ role: 'HTTP', urls: [backend.url], params: { reply: 'hello' } }],
      }).replace(
        '</service>',
        '<dispatch><contributor-name>static-reply</contributor-name></dispatch></service>',
      ),
    );
    home.write(
      'conf/topologies/thrower.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'authorization', name: 'Thrower' },
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('a plugin provider authenticates with its topology params', async () => {
    const res = await request(`${gateway.url}/plug/http/x`, { headers: { 'x-who': 'alice' } });
    assert.equal(await res.body.text(), '/x?user.name=alice');
  });

  it('a plugin provider refusing a request stops the chain', async () => {
    const seen = backend.requests.length;
    const res = await request(`${gateway.url}/plug/http/x`);
    // A plain Error from a plugin is an internal error: its message is logged, never shown to the client.
    assert.equal(res.statusCode, 500);
    const body = (await res.body.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'POSTERN_ERR_INTERNAL');
    assert.equal(body.error.message, 'Internal gateway error');
    assert.equal(backend.requests.length, seen, 'nothing reached the backend');
  });

  it('a plugin dispatch named by a topology dispatch override answers instead of the backend', async () => {
    const res = await request(`${gateway.url}/static/http/anything`, { headers: { 'x-test-user': 'bob' } });
    assert.equal(await res.body.text(), 'hello for bob');
  });

  it('a provider that throws synchronously gets a 500 and the gateway keeps serving', async () => {
    const res = await request(`${gateway.url}/thrower/http/x`);
    assert.equal(res.statusCode, 500);
    await res.body.dump();
    const again = await request(`${gateway.url}/plug/http/x`, { headers: { 'x-who': 'carol' } });
    assert.equal(await again.body.text(), '/x?user.name=carol');
  });

  it('registering the same (role, name) twice is refused', () => {
    const registry = new Registry();
    registerBuiltins(registry);
    assert.throws(
      () => registerBuiltins(registry),
      /provider role "authentication" name "Anonymous" is already registered/,
    );
  });
});
