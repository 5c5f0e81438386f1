/**
 * An open proxied WebSocket keeps nothing of its handshake: once the relay runs, the upgrade's request, response
 * and exchange can be collected while the socket lives on (days, for a notebook). A closure that captures one of
 * them and hangs on the socket (an `error` listener, an access-log callback) would hold several KiB per
 * connection; this test catches that with weak references and forced collections.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { type RunningBackend, startWsEcho } from '../../src/demo/index.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { v8Gc } from '../helpers/gc.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const gc = v8Gc();

/** A test plugin that keeps weak references to each upgrade's request, response and exchange. */
const PLUGIN = `
export function register(registry) {
  registry.provider({
    role: 'authentication',
    name: 'WatchHandshake',
    create() {
      return (ex, next) => {
        globalThis.__handshakes ??= [];
        globalThis.__handshakes.push({ req: new WeakRef(ex.req), res: new WeakRef(ex.res), ex: new WeakRef(ex) });
        ex.user = { name: 'watcher', groups: [] };
        return next();
      };
    },
  });
}
`;

interface Watched {
  req: WeakRef<object>;
  res: WeakRef<object>;
  ex: WeakRef<object>;
}

describe('an open WebSocket and its handshake', () => {
  let home: TestHome;
  let gateway: Gateway;
  let echo: RunningBackend;

  before(async () => {
    echo = await startWsEcho({ port: 0 });
    home = makeHome({ 'gateway.websocket.feature.enabled': true, 'postern.plugins': './plugins/watch.mjs' });
    home.write('plugins/watch.mjs', PLUGIN);
    home.write(
      'conf/topologies/w.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'WatchHandshake' },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'ECHOWS', urls: [echo.url] }],
      }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await echo?.close();
    home?.remove();
  });

  it('lets the request, response and exchange of the handshake be collected while the socket stays open', async () => {
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 5; i++) {
      const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/w/echo/ws`);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const back = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
      ws.send(`hello ${i}`);
      assert.equal(await back, `hello ${i}`);
      sockets.push(ws);
    }
    const watched = (globalThis as { __handshakes?: Watched[] }).__handshakes ?? [];
    assert.equal(watched.length, 5);
    for (let i = 0; i < 6; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    const alive = watched.filter((w) => w.req.deref() || w.res.deref() || w.ex.deref()).length;
    assert.equal(alive, 0, `${alive} of 5 open connections still hold their handshake`);
    // And the connections still work.
    for (const ws of sockets) {
      const back = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
      ws.send('still here');
      assert.equal(await back, 'still here');
      ws.close();
    }
  });
});
