/**
 * @module services/channels/backplane
 * The `backplane` channel layer: AWX's node-to-node WebSocket mesh with its gaps closed.
 *
 * Every node serves `/websocket/broadcast/` (outside the gateway path, as AWX has it) and connects to that
 * endpoint on every peer of `gateway.channels.broadcast.peers`. A link is opened by the node that wants messages
 * (the consumer) to a node that publishes them (the producer):
 *
 * - The handshake carries AWX's `secret` header (secret.ts); a wrong secret, a nonce more than 300 s away, a
 *   malformed value or a header already used (a replay: each is accepted once) is refused with 403 before the 101.
 *   So is a link from an address that is not a configured peer's (the peers' host names, resolved, and
 *   `gateway.channels.broadcast.allowed.addresses`): a captured secret does not let a stranger join the mesh and
 *   receive every topology's groups. With `gateway.channels.broadcast.mtls`, peers are `wss`
 *   URLs, each side presents the gateway's certificate and an incoming link without a certificate that chains
 *   to `gateway.channels.broadcast.truststore.path`, or whose certificate names none of the peers (CN or
 *   subjectAltName), is refused as well.
 * - Consumer → producer: `{"type": "consumer.subscribe" | "consumer.unsubscribe", "groups": [...],
 *   "origin_channel": "<node id>"}` (AWX's control frames, one origin per node). The first frame on every
 *   (re)connected link announces all the groups the consumer has subscribers for (AWX never re-announces).
 * - Producer → consumer: `{"group": <key>, "message": {"type": "internal.message", "text": <event json>}}`, only
 *   for groups the consumer announced, and only for messages published on the producer itself: what a node
 *   receives it never forwards, so every node gets one copy and nothing loops.
 * - Links are pinged every `gateway.channels.broadcast.heartbeat`; one that misses a pong is cut. A consumer
 *   reconnects with exponential backoff and full jitter between `.reconnect.min` and `.reconnect.max`, resolving
 *   the peer's name again each time. A node that finds itself in its peer list (same node id in the handshake
 *   answer) stops connecting there, so every node can share one list.
 * - A link whose unsent bytes exceed `gateway.channels.broadcast.queue.bytes` drops messages (counted, logged
 *   once per burst) rather than hold memory without bound.
 */

import { lookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { checkServerIdentity, type TLSSocket } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import { type IpMatcher, normalizeAddress } from '../../config/ip-list.ts';
import { CloseCodes } from '../../errors.ts';
import { type ChannelEvent, channelEvents } from '../../observability/events.ts';
import type { MetricFamily } from '../../spi/index.ts';
import { isValidKey, metricGroup } from './groups.ts';
import type { ChannelNode, Layer } from './node.ts';
import { linkNonce, ReplayCache, secretHeader, verifySecretHeader } from './secret.ts';

export const BROADCAST_PATH = '/websocket/broadcast/';
/** Response and request header naming the node at each end. */
export const NODE_HEADER = 'postern-node';
const MAX_FRAME = 64 * 1024 * 1024;
const HANDSHAKE_TIMEOUT = 10_000;

export interface PeerTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  pfx?: Buffer;
  passphrase?: string;
}

/** Why an incoming link was refused (the caller answers 403). */
export type Refusal = { status: 403; reason: string };

/** A link this node opened to a peer, to receive the peer's messages. */
class Outgoing {
  readonly url: string;
  ws?: WebSocket;
  connected = false;
  isSelf = false;
  attempt = 0;
  reconnects = 0;
  received = 0;
  connectedSince = 0;
  lastRefusal?: number;
  timer?: NodeJS.Timeout;
  alive = true;
  /** Subscription changes not yet sent: key → subscribe (true) or unsubscribe (false). */
  pending = new Map<string, boolean>();

  constructor(url: string) {
    this.url = url;
  }
}

/** A link a peer opened to this node, to receive this node's messages. */
class Incoming {
  readonly ws: WebSocket;
  readonly peer: string;
  readonly subs = new Set<string>();
  sent = 0;
  drops = 0;
  alive = true;
  dropping = false;

  constructor(ws: WebSocket, peer: string) {
    this.ws = ws;
    this.peer = peer;
  }
}

export class Backplane implements Layer {
  readonly kind = 'backplane';
  readonly #node: ChannelNode;
  readonly #secret: string;
  readonly #tls: PeerTls | undefined;
  readonly #mutualTls: boolean;
  readonly #outgoing: Outgoing[];
  readonly #incoming = new Set<Incoming>();
  readonly #wss: WebSocketServer;
  #heartbeat?: NodeJS.Timeout;
  #flushQueued = false;
  #closed = false;
  #sentTotal = 0;
  #dropsTotal = 0;
  #refused = 0;
  readonly #replays = new ReplayCache();
  /** Addresses links may come from: the peers' host names resolved (refreshed), and the allowed list. */
  #peerAddresses = new Set<string>();
  readonly #allowed: IpMatcher;
  readonly #peerHosts: string[];
  #resolver?: NodeJS.Timeout;

  constructor(node: ChannelNode, tls: PeerTls | undefined) {
    const s = node.settings;
    if (!s.secret)
      throw new Error('the backplane refuses to start without gateway.channels.broadcast.secret');
    this.#node = node;
    this.#secret = s.secret;
    this.#tls = tls;
    this.#mutualTls = s.mutualTls;
    this.#outgoing = s.peers.map((url) => new Outgoing(url));
    this.#peerHosts = [...new Set(s.peers.map((url) => new URL(url).hostname.replace(/^\[|\]$/g, '')))];
    this.#allowed = s.allowedAddresses;
    for (const host of this.#peerHosts) if (isIP(host)) this.#peerAddresses.add(normalizeAddress(host));
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: MAX_FRAME,
      clientTracking: false,
    });
    this.#wss.on('headers', (headers) => headers.push(`${NODE_HEADER}: ${node.id}`));
  }

  start(): void {
    for (const link of this.#outgoing) this.#connect(link);
    // Peers named by host name: their addresses, looked up now and again every minute (a node may move).
    if (this.#peerHosts.some((h) => !isIP(h))) {
      void this.#resolvePeers();
      this.#resolver = setInterval(() => void this.#resolvePeers(), 60_000);
      this.#resolver.unref();
    }
    const interval = this.#node.settings.heartbeatMs;
    if (interval > 0) {
      this.#heartbeat = setInterval(() => this.#beat(), interval);
      this.#heartbeat.unref();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#resolver) clearInterval(this.#resolver);
    const closing: Promise<void>[] = [];
    const end = (ws: WebSocket | undefined) => {
      if (!ws || ws.readyState === WebSocket.CLOSED) return;
      closing.push(new Promise((resolve) => ws.once('close', () => resolve())));
      if (ws.readyState === WebSocket.OPEN) ws.close(CloseCodes.goingAway, 'node stopping');
      else ws.terminate();
      setTimeout(() => ws.terminate(), 1000).unref();
    };
    for (const link of this.#outgoing) {
      if (link.timer) clearTimeout(link.timer);
      end(link.ws);
    }
    for (const link of this.#incoming) end(link.ws);
    await Promise.all(closing);
  }

  // ---- consumer side: links to peers ----

  added(key: string): void {
    this.#queue(key, true);
  }

  removed(key: string): void {
    this.#queue(key, false);
  }

  #queue(key: string, subscribe: boolean): void {
    for (const link of this.#outgoing) if (link.connected) link.pending.set(key, subscribe);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
  }

  /** Sends the subscription changes of this tick: unsubscriptions first, as AWX orders them. */
  #flush(): void {
    this.#flushQueued = false;
    for (const link of this.#outgoing) {
      if (link.pending.size === 0) continue;
      const on: string[] = [];
      const off: string[] = [];
      for (const [key, subscribe] of link.pending) (subscribe ? on : off).push(key);
      link.pending.clear();
      if (!link.connected || !link.ws) continue;
      if (off.length > 0) this.#control(link.ws, 'consumer.unsubscribe', off);
      if (on.length > 0) this.#control(link.ws, 'consumer.subscribe', on);
    }
  }

  #control(ws: WebSocket, type: string, groups: string[]): void {
    ws.send(JSON.stringify({ type, groups, origin_channel: this.#node.id }));
  }

  #connect(link: Outgoing): void {
    if (this.#closed || link.isSelf) return;
    link.timer = undefined;
    const base = link.url.replace(/^http/i, 'ws');
    const secure = /^wss:/i.test(base);
    let peerId: string | undefined;
    let ws: WebSocket;
    try {
      ws = new WebSocket(`${base}${BROADCAST_PATH}`, {
        headers: { secret: secretHeader(this.#secret, linkNonce()), [NODE_HEADER]: this.#node.id },
        perMessageDeflate: false,
        handshakeTimeout: HANDSHAKE_TIMEOUT,
        maxPayload: MAX_FRAME,
        followRedirects: false,
        autoPong: true,
        ...(secure ? this.#tls : undefined),
      });
    } catch (err) {
      this.#node.log?.error(
        { peer: link.url, err: (err as Error).message },
        'backplane peer URL is unusable',
      );
      return;
    }
    link.ws = ws;
    ws.on('upgrade', (res: IncomingMessage) => {
      const id = res.headers[NODE_HEADER];
      peerId = typeof id === 'string' ? id : undefined;
    });
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      link.lastRefusal = res.statusCode;
      res.resume();
      this.#node.log?.warn(
        { peer: link.url, status: res.statusCode },
        res.statusCode === 403
          ? 'backplane peer refused this node (wrong secret, clock skew or client certificate)'
          : 'backplane peer refused the link',
      );
      ws.terminate();
    });
    ws.on('open', () => {
      if (peerId === this.#node.id) {
        link.isSelf = true;
        this.#node.log?.info({ peer: link.url }, 'backplane peer is this node; not connecting to it');
        ws.close(CloseCodes.normal, 'self');
        return;
      }
      link.connected = true;
      link.alive = true;
      link.attempt = 0;
      link.connectedSince = Date.now();
      link.lastRefusal = undefined;
      link.pending.clear();
      // Every (re)connected link starts with the whole subscription set: the producer keeps nothing of old links.
      this.#control(ws, 'consumer.subscribe', this.#node.keys());
      this.#node.log?.info({ peer: link.url, peerNode: peerId }, 'backplane link up');
    });
    ws.on('pong', () => {
      link.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let frame: { group?: unknown; message?: { text?: unknown } };
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return;
      }
      const key = frame?.group;
      const text = frame?.message?.text;
      if (typeof key !== 'string' || typeof text !== 'string' || !isValidKey(key)) return;
      if (!text.startsWith('{') || !text.endsWith('}')) return;
      link.received++;
      this.#node.receive(key, text);
    });
    ws.on('error', (err) => {
      this.#node.log?.debug({ peer: link.url, err: err.message }, 'backplane link error');
    });
    ws.on('close', () => {
      const was = link.connected;
      link.connected = false;
      link.ws = undefined;
      link.pending.clear();
      if (was) {
        this.#node.log?.warn({ peer: link.url }, 'backplane link down; reconnecting');
      }
      this.#retry(link);
    });
  }

  /** Exponential backoff with full jitter: a random delay in [d/2, d], d doubling from min up to max. */
  #retry(link: Outgoing): void {
    if (this.#closed || link.isSelf) return;
    const { reconnectMinMs, reconnectMaxMs } = this.#node.settings;
    const ceiling = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(link.attempt, 30));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    link.attempt++;
    link.reconnects++;
    link.timer = setTimeout(() => this.#connect(link), delay);
    link.timer.unref();
  }

  #beat(): void {
    for (const link of this.#outgoing) {
      const ws = link.ws;
      if (!ws || !link.connected) continue;
      if (!link.alive) {
        this.#node.log?.warn({ peer: link.url }, 'backplane peer missed a heartbeat; cutting the link');
        ws.terminate();
        continue;
      }
      link.alive = false;
      ws.ping();
    }
    for (const link of this.#incoming) {
      if (!link.alive) {
        link.ws.terminate();
        continue;
      }
      link.alive = false;
      link.ws.ping();
    }
  }

  // ---- producer side: links peers opened here ----

  async #resolvePeers(): Promise<void> {
    const found = new Set<string>();
    for (const host of this.#peerHosts) {
      if (isIP(host)) {
        found.add(normalizeAddress(host));
        continue;
      }
      try {
        for (const a of await lookup(host, { all: true })) found.add(normalizeAddress(a.address));
      } catch (err) {
        this.#node.log?.warn(
          { host, err: (err as Error).message },
          'backplane: a peer host name did not resolve',
        );
      }
    }
    // A failed lookup keeps what was known rather than locking every peer out.
    if (found.size > 0 || this.#peerAddresses.size === 0) this.#peerAddresses = found;
  }

  /** Whether a link may come from this address: a configured peer's, or one `allowed.addresses` lists. */
  #fromPeer(address: string | undefined): boolean {
    if (address === undefined) return false;
    return this.#peerAddresses.has(normalizeAddress(address)) || this.#allowed.matches(address);
  }

  /** With mutual TLS, the certificate must name one of the configured peers (CN or subjectAltName). */
  #certNamesPeer(socket: TLSSocket): boolean {
    const cert = socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return false;
    return this.#peerHosts.some((host) => checkServerIdentity(host, cert) === undefined);
  }

  /** Checks and accepts a peer's link; returns the refusal to answer instead. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, detach: () => void): Refusal | undefined {
    const given = req.headers.secret;
    const header = Array.isArray(given) ? given[0] : given;
    const check = verifySecretHeader(header, this.#secret);
    const address = req.socket.remoteAddress;
    // Only the nodes the configuration names may link, whatever secret a connection carries.
    if (!this.#fromPeer(address)) {
      this.#refused++;
      this.#node.log?.warn({ address }, 'backplane link refused: not from a configured peer');
      return { status: 403, reason: 'not a peer' };
    }
    if (!check.ok) {
      this.#refused++;
      this.#node.log?.warn(
        { address, reason: check.reason },
        check.reason === 'stale'
          ? 'backplane link refused: nonce outside 300 s (possible replay or clock skew)'
          : `backplane link refused: ${check.reason} secret`,
      );
      return { status: 403, reason: `secret ${check.reason}` };
    }
    if (!this.#replays.admit(header!, address!, check.nonce)) {
      this.#refused++;
      this.#node.log?.warn({ address }, 'backplane link refused: secret header already used (replay)');
      return { status: 403, reason: 'secret replayed' };
    }
    if (
      this.#mutualTls &&
      (!(req.socket as TLSSocket).authorized || !this.#certNamesPeer(req.socket as TLSSocket))
    ) {
      this.#refused++;
      this.#node.log?.warn({ address }, 'backplane link refused: no trusted client certificate');
      return { status: 403, reason: 'client certificate' };
    }
    const peerHeader = req.headers[NODE_HEADER];
    const peer = `${typeof peerHeader === 'string' ? peerHeader : 'unknown'}@${address}`;
    detach();
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#serve(ws, peer));
    return undefined;
  }

  #serve(ws: WebSocket, peer: string): void {
    if (this.#closed) {
      ws.close(CloseCodes.goingAway, 'node stopping');
      return;
    }
    const link = new Incoming(ws, peer);
    this.#incoming.add(link);
    this.#node.log?.info({ peer }, 'backplane peer connected');
    ws.on('pong', () => {
      link.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      link.alive = true;
      if (isBinary) return;
      let frame: { type?: unknown; groups?: unknown };
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (!Array.isArray(frame?.groups)) return;
      const keys = frame.groups.filter((g): g is string => typeof g === 'string' && isValidKey(g));
      if (frame.type === 'consumer.subscribe') for (const k of keys) link.subs.add(k);
      else if (frame.type === 'consumer.unsubscribe') for (const k of keys) link.subs.delete(k);
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      this.#incoming.delete(link);
      link.subs.clear();
      this.#node.log?.info({ peer }, 'backplane peer disconnected');
    });
  }

  forward(key: string, text: string): void {
    let frame: string | undefined;
    const limit = this.#node.settings.linkQueueBytes;
    for (const link of this.#incoming) {
      if (!link.subs.has(key) || link.ws.readyState !== WebSocket.OPEN) continue;
      frame ??= JSON.stringify({ group: key, message: { type: 'internal.message', text } });
      if (link.ws.bufferedAmount + frame.length > limit) {
        link.drops++;
        this.#dropsTotal++;
        if (!link.dropping) {
          link.dropping = true;
          this.#node.log?.warn(
            { peer: link.peer, queuedBytes: link.ws.bufferedAmount, limit },
            'backplane link is full; dropping messages for this peer',
          );
        }
        if (channelEvents.hasSubscribers)
          channelEvents.publish({
            event: 'dropped',
            group: metricGroup(key),
            count: 1,
          } satisfies ChannelEvent);
        continue;
      }
      link.dropping = false;
      link.ws.send(frame);
      link.sent++;
      this.#sentTotal++;
    }
  }

  /** What the tests and the metrics see of the links. */
  inspect(): {
    outgoing: { url: string; connected: boolean; self: boolean; reconnects: number; received: number }[];
    incoming: { peer: string; groups: string[]; sent: number; drops: number }[];
  } {
    return {
      outgoing: this.#outgoing.map((l) => ({
        url: l.url,
        connected: l.connected,
        self: l.isSelf,
        reconnects: l.reconnects,
        received: l.received,
      })),
      incoming: [...this.#incoming].map((l) => ({
        peer: l.peer,
        groups: [...l.subs].sort(),
        sent: l.sent,
        drops: l.drops,
      })),
    };
  }

  metrics(out: MetricFamily[]): void {
    // The backplane runs in one process per node (never with workers); its links are this node's own.
    const peers = this.#outgoing.filter((l) => !l.isSelf);
    const family = (
      name: string,
      type: 'gauge' | 'counter',
      help: string,
      values: { labels: Record<string, string>; value: number }[],
    ) => out.push({ name, help, type, perWorker: true, values });
    const byPeer = <L>(links: Iterable<L>, peer: (l: L) => string, value: (l: L) => number) =>
      [...links].map((l) => ({ labels: { peer: peer(l) }, value: value(l) }));
    family(
      'postern_channels_peer_connected',
      'gauge',
      'Backplane link to the peer is up.',
      byPeer(
        peers,
        (l) => l.url,
        (l) => (l.connected ? 1 : 0),
      ),
    );
    family(
      'postern_channels_peer_messages_in_total',
      'counter',
      'Messages received from the peer.',
      byPeer(
        peers,
        (l) => l.url,
        (l) => l.received,
      ),
    );
    family(
      'postern_channels_peer_reconnects_total',
      'counter',
      'Reconnection attempts to the peer.',
      byPeer(
        peers,
        (l) => l.url,
        (l) => l.reconnects,
      ),
    );
    family(
      'postern_channels_peer_messages_out_total',
      'counter',
      'Messages sent to peers over their links.',
      byPeer(
        this.#incoming,
        (l) => l.peer,
        (l) => l.sent,
      ),
    );
    family(
      'postern_channels_peer_drops_total',
      'counter',
      'Messages dropped on full links to peers.',
      byPeer(
        this.#incoming,
        (l) => l.peer,
        (l) => l.drops,
      ),
    );
    const total = (name: string, help: string, value: number) =>
      family(name, 'counter', help, [{ labels: {}, value }]);
    total(
      'postern_channels_backplane_sent_total',
      'Messages sent to all peers since start.',
      this.#sentTotal,
    );
    total(
      'postern_channels_backplane_drops_total',
      'Messages dropped on full peer links since start.',
      this.#dropsTotal,
    );
    total(
      'postern_channels_backplane_refused_total',
      'Incoming links refused (secret, nonce, certificate).',
      this.#refused,
    );
  }
}
