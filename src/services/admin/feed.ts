/**
 * @module services/admin/feed
 * The console's live feed, WebSocket `{gateway}/{topology}/api/v1/events/`: postern's own events (the reserved
 * channels group `postern-events`: deployments, backend health), one JSON text frame each. It is served here
 * rather than by a CHANNELS service because clients of CHANNELS may never subscribe to a reserved prefix
 * (`postern`); the feed subscribes in process (services/channels/nodes.ts), so the events of every node of a
 * channels cluster reach it. A feed connection first receives `{"accept": true, "user"}` (as CHANNELS does). A
 * WebSocket whose `Origin` is another host is refused (403): a cookie-authenticated feed must not be readable by
 * other sites. A feed that does not keep up is closed as a slow consumer, as CHANNELS' subscribers are.
 *
 * Where the WebSocket cannot open (the gateway's WebSocket support is off, or a proxy in between does not pass
 * upgrades), the console polls `GET {gateway}/{topology}/api/v1/feed?after=` ({@link FeedLog}) instead.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { CloseCodes, Errors } from '../../errors.ts';
import type { DispatchContext, GatewayHandle, Handler } from '../../spi/index.ts';
import { POSTERN_EVENTS_GROUP } from '../channels/groups.ts';
import type { Subscriber } from '../channels/node.ts';
import { channelNodeFor } from '../channels/nodes.ts';
import { API, noGateway, userOf } from './common.ts';

/** Unsent bytes at which a console feed is closed as slow (`CloseCodes.slowConsumer`, as CHANNELS). */
const FEED_QUEUE_BYTES = 1 << 20;

/** The console feeds open, per gateway and topology (connections report them). */
const feedSets = new WeakMap<GatewayHandle, Map<string, Set<WebSocket>>>();

function feedsOf(ctx: DispatchContext): Set<WebSocket> {
  const gateway = ctx.gateway!;
  let byTopology = feedSets.get(gateway);
  if (!byTopology) {
    byTopology = new Map();
    feedSets.set(gateway, byTopology);
  }
  let set = byTopology.get(ctx.topology.name);
  if (!set) {
    set = new Set();
    byTopology.set(ctx.topology.name, set);
  }
  return set;
}

/** Open console feeds per topology of this gateway (the connections report lists them). */
export function feedCounts(gateway: GatewayHandle, topologies: readonly string[]): Record<string, number> {
  const feeds: Record<string, number> = {};
  for (const name of topologies) {
    const set = feedSets.get(gateway)?.get(name);
    if (set?.size) feeds[name] = set.size;
  }
  return feeds;
}

/** Events a polling console can still fetch (the newest). */
const POLL_KEEP = 200;

/**
 * The feed for a console whose WebSocket cannot open (the gateway's WebSocket support is off, or something in
 * between does not pass upgrades): the same events, numbered, kept in a ring of the last {@link POLL_KEEP} and
 * fetched with `GET {API}/feed?after={seq}`. It listens while at least one ADMIN deployment holds it.
 */
export class FeedLog {
  readonly #events: { seq: number; event: Record<string, unknown> }[] = [];
  #seq = 0;
  #holders = 0;
  readonly #node: ReturnType<typeof channelNodeFor>;
  readonly #subscriber: Subscriber = {
    topology: '',
    deliver: (text) => {
      try {
        this.#events.push({ seq: ++this.#seq, event: JSON.parse(text) as Record<string, unknown> });
      } catch {
        return true;
      }
      if (this.#events.length > POLL_KEEP) this.#events.shift();
      return true;
    },
  };

  constructor(node: ReturnType<typeof channelNodeFor>) {
    this.#node = node;
  }

  /** Subscribes on the first hold; returns the release (unsubscribes with the last). */
  hold(): () => void {
    if (this.#holders++ === 0) this.#node.subscribe(POSTERN_EVENTS_GROUP, this.#subscriber);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.#holders === 0) this.#node.unsubscribe(POSTERN_EVENTS_GROUP, this.#subscriber);
    };
  }

  /**
   * The events after `after` (none when it is not given: a poller starts from `next`), `next` to ask from, and
   * `missed` when events after `after` are no longer kept.
   */
  since(after: number | undefined) {
    const next = this.#seq;
    if (after === undefined || after >= next) return { next, events: [] };
    const events = this.#events.filter((e) => e.seq > after).map((e) => ({ seq: e.seq, ...e.event }));
    const oldest = this.#events[0]?.seq ?? next + 1;
    return { next, events, ...(after < oldest - 1 && { missed: oldest - 1 - after }) };
  }
}

const feedLogs = new WeakMap<GatewayHandle, FeedLog>();

export function feedLogOf(gateway: GatewayHandle): FeedLog {
  let log = feedLogs.get(gateway);
  if (!log) {
    log = new FeedLog(channelNodeFor(gateway.settings));
    feedLogs.set(gateway, log);
  }
  return log;
}

/** `GET {API}/feed?after=`: the polled feed, and whether (and why not) the WebSocket feed can work here. */
export function polledFeed(gateway: GatewayHandle, afterText: string | null) {
  const after = afterText === null || afterText === '' ? undefined : Number(afterText);
  if (after !== undefined && !(Number.isSafeInteger(after) && after >= 0)) {
    throw Errors.badRequest("after is the number of the last event seen (the answer's next)");
  }
  const enabled = gateway.settings.websocketFeatureEnabled;
  return {
    websocket: enabled
      ? { enabled: true }
      : {
          enabled: false,
          reason:
            'WebSocket support is disabled on this gateway (gateway-site gateway.websocket.feature.enabled is false)',
        },
    ...feedLogOf(gateway).since(after),
  };
}

/** The upgrade handler of the admin service's routes: the live feed. */
export function createFeed(ctx: DispatchContext): Handler {
  const gateway = ctx.gateway;
  if (!gateway) return () => Promise.reject(noGateway());
  const wss = ctx.shared(
    'admin:wss',
    () => new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false }),
  );
  const feeds = feedsOf(ctx);
  ctx.shared('admin:retire', () => {
    ctx.onRetire((reason) => {
      // On a redeploy the feeds stay open (the events are gateway-wide); else they end with 1001.
      if (reason === 'redeploy') return;
      const why = reason === 'shutdown' ? 'gateway shutting down' : 'topology undeployed';
      for (const ws of feeds) ws.close(CloseCodes.goingAway, why);
      wss.close();
    });
    return true;
  });
  const node = channelNodeFor(ctx.settings);
  return (ex) =>
    new Promise<void>((resolve, reject) => {
      const upgrade = ex.upgrade;
      if (!upgrade) return reject(Errors.badRequest('This route accepts WebSocket upgrades only'));
      if (ex.path !== `${API}/events/` && ex.path !== `${API}/events`) return reject(Errors.notFound());
      const user = userOf(ex);
      if (!user) return reject(Errors.unauthenticated('No authenticated user'));
      const origin = ex.req.headers.origin;
      if (origin !== undefined) {
        let host: string | undefined;
        try {
          host = new URL(origin).host;
        } catch {
          host = undefined;
        }
        if (host !== ex.req.headers.host) return reject(Errors.forbidden('Cross-origin WebSocket refused'));
      }
      const req = ex.req;
      ex.res.statusCode = 101;
      (ex.res as ServerResponse).detachSocket(upgrade.socket as Socket);
      wss.handleUpgrade(req, upgrade.socket, upgrade.head, (ws) => {
        feeds.add(ws);
        const subscriber: Subscriber = {
          topology: '',
          deliver(text) {
            if (ws.readyState !== ws.OPEN) return false;
            if (ws.bufferedAmount > FEED_QUEUE_BYTES) {
              ws.close(CloseCodes.slowConsumer, `slow consumer: more than ${FEED_QUEUE_BYTES} bytes unsent`);
              return false;
            }
            ws.send(text);
            return true;
          },
        };
        ws.send(JSON.stringify({ accept: true, user }));
        node.subscribe(POSTERN_EVENTS_GROUP, subscriber);
        ws.on('message', () => {
          // The feed is one-way; what a client sends is ignored.
        });
        ws.once('close', () => {
          feeds.delete(ws);
          node.unsubscribe(POSTERN_EVENTS_GROUP, subscriber);
        });
      });
      resolve();
    });
}
