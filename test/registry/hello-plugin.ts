/**
 * A plugin built against the contract only (`postern/spi`, here by path): a service the gateway answers itself,
 * with an upgrade handler, an endpoint outside the gateway path and a life cycle, and a topology-level
 * contributor with its provider role. test/registry/services.test.ts names it in gateway-site's `postern.plugins`.
 */
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { ProviderFactory, ServiceFactory, TopologyContributor } from '../../src/spi/index.ts';

/** What the service's hooks saw, in order (the test reads it from this same module). */
export const events: { hook: string; home: string }[] = [];

const wss = new WebSocketServer({ noServer: true });

const hello: ServiceFactory = {
  name: 'Hello',
  roles: ['HELLO'],
  classNames: ['example.HelloService'],
  create(ctx) {
    const greeting = ctx.contribution<string>('greeting') ?? 'no greeting';
    return async (ex) => {
      ex.res.writeHead(200, { 'content-type': 'text/plain' });
      ex.res.end(`${greeting}, ${ex.effectiveUser ?? ex.user?.name ?? '?'} (${ctx.topology.name}${ex.path})`);
    };
  },
  createUpgrade(ctx) {
    const greeting = ctx.contribution<string>('greeting') ?? 'no greeting';
    return async (ex) => {
      const upgrade = ex.upgrade!;
      ex.res.statusCode = 101;
      ex.res.detachSocket(upgrade.socket as Socket);
      wss.handleUpgrade(ex.req, upgrade.socket, upgrade.head, (ws) => {
        ws.send(`${greeting} over a WebSocket, ${ex.user?.name}`);
      });
    };
  },
  endpoints: [
    {
      path: '/hello-link/',
      upgrade(req, upgrade, { detach }) {
        if (req.headers['x-link-secret'] !== 'open sesame') return new Error('wrong secret');
        detach();
        wss.handleUpgrade(req, upgrade.socket, upgrade.head, (ws) =>
          ws.send('linked outside the gateway path'),
        );
        return undefined;
      },
    },
  ],
  open: (host) => {
    events.push({ hook: 'open', home: host.home });
  },
  start: async (host) => {
    events.push({ hook: 'start', home: host.home });
  },
  stop: async (host) => {
    events.push({ hook: 'stop', home: host.home });
  },
};

/** The provider of the role the contributor reads: it adds no filter. */
const greetingProvider: ProviderFactory = {
  role: 'greeting',
  name: 'Static',
  create: () => {
    throw new Error('a contributor role never builds a chain filter');
  },
};

const greetingContributor: TopologyContributor = {
  role: 'greeting',
  key: 'greeting',
  contribute({ providers, sink }) {
    const param = providers[0].params.find((p) => p.name === 'text');
    if (!param) {
      sink.error(providers[0].pos, 'greeting: give a text param');
      return undefined;
    }
    return {
      value: param.value,
      forService: (service) =>
        service.role === 'HELLO' ? { value: () => `${param.value} (for ${service.role})` } : undefined,
    };
  },
};

export function register(registry: {
  service(f: ServiceFactory): void;
  provider(f: ProviderFactory): void;
  contributor(c: TopologyContributor): void;
}): void {
  registry.provider(greetingProvider);
  registry.contributor(greetingContributor);
  registry.service(hello);
}
