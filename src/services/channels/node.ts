/**
 * @module services/channels/node
 * One gateway's CHANNELS node: who on this node subscribes to which group, the optional history of groups that
 * keep one, and the channel layer that carries group messages between nodes (memory: none; backplane; redis).
 *
 * A message published on a node is delivered to the node's own subscribers at once, in the publisher's order,
 * and handed to the layer, which brings it to every other node that has a subscriber of its group. A message
 * that arrives from another node is delivered locally and never forwarded again (no loops, one copy per node).
 * Delivery is at most once: a node that is unreachable misses what is published meanwhile (the history, where
 * a topology keeps one, lets a client that reconnects to the same node ask for it).
 *
 * Subscribers are anything with `deliver(text)`: client WebSockets (client.ts) and in-process consumers (the
 * admin console) alike. Groups exist while they have subscribers (or history); the layer is told when a group
 * gains its first subscriber and loses its last, so a peer only receives the groups someone here wants.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ChannelSettings } from '../../config/gateway-site.ts';
import { CloseCodes } from '../../errors.ts';
import { type ChannelEvent, channelEvents } from '../../observability/events.ts';
import type { MetricFamily } from '../../spi/index.ts';
import { eventText, groupKey, isValidGroupName, metricGroup, topologyOfKey } from './groups.ts';

export interface Subscriber {
  /** The topology the subscriber belongs to ('' for in-process consumers of gateway-wide groups). */
  readonly topology: string;
  /** Takes one event (the exact text for the client); false when it was not taken (a closed or slow client). */
  deliver(text: string, key: string): boolean;
}

/** A client connection: a subscriber the node can close when it stops. */
export interface ClientConnection extends Subscriber {
  close(code: number, reason: string): void;
}

/** A channel layer: how group messages reach the other nodes. */
export interface Layer {
  readonly kind: string;
  start(): void;
  close(): Promise<void>;
  /** A group gained its first subscriber on this node. */
  added(key: string): void;
  /** A group lost its last subscriber on this node. */
  removed(key: string): void;
  /** A message published on this node, for the other nodes. */
  forward(key: string, text: string): void;
  /** The layer's metric families (each worker's own: `perWorker`). */
  metrics(out: MetricFamily[]): void;
}

/** What a node's subscriber may ask of a group's history. */
export interface HistoryOptions {
  /** Messages kept (0: none). */
  size: number;
  /** How long the history outlives the group's last subscriber. */
  ttlMs: number;
}

export interface Since {
  offset: number;
  epoch?: string;
}

export type Recovery =
  | { ok: true; texts: string[] }
  | { ok: false; epoch: string | undefined; offset: number | undefined };

/** The last `size` messages of one group on this node, numbered from 1 within an epoch. */
class History {
  readonly epoch = randomBytes(6).toString('hex');
  readonly #texts: string[];
  #next = 1;

  constructor(size: number) {
    this.#texts = new Array(size);
  }

  get last(): number {
    return this.#next - 1;
  }

  /** Numbers a message and keeps it; returns the text with `_offset` and `_epoch` added. */
  add(text: string): string {
    const offset = this.#next++;
    const numbered = `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"_offset":${offset},"_epoch":"${this.epoch}"}`;
    this.#texts[offset % this.#texts.length] = numbered;
    return numbered;
  }

  recover(since: Since): Recovery {
    const first = Math.max(1, this.#next - this.#texts.length);
    if (
      (since.epoch !== undefined && since.epoch !== this.epoch) ||
      !Number.isSafeInteger(since.offset) ||
      since.offset < 0 ||
      since.offset > this.last ||
      since.offset + 1 < first
    ) {
      return { ok: false, epoch: this.epoch, offset: this.last };
    }
    const texts: string[] = [];
    for (let o = since.offset + 1; o <= this.last; o++) texts.push(this.#texts[o % this.#texts.length]);
    return { ok: true, texts };
  }
}

interface Group {
  readonly key: string;
  readonly subs: Set<Subscriber>;
  history?: History;
  historyTtlMs: number;
  expiry?: NodeJS.Timeout;
}

interface TopologyStats {
  subscribers: number;
  published: number;
  deliveries: number;
  slowCloses: number;
}

export class ChannelNode {
  /** This node's identity on the backplane and in Redis (random per start). */
  readonly id = randomBytes(8).toString('hex');
  readonly settings: ChannelSettings;
  log: Logger | undefined;
  /** The gateway home this node serves (postern events are matched on it). */
  home: string | undefined;
  readonly #groups = new Map<string, Group>();
  readonly #stats = new Map<string, TopologyStats>();
  readonly #clients = new Set<ClientConnection>();
  #layer: Layer | undefined;
  #started = false;
  #closed = false;

  constructor(settings: ChannelSettings) {
    this.settings = settings;
  }

  get layer(): Layer | undefined {
    return this.#layer;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Starts the layer (the gateway calls it once it listens). */
  start(layer: Layer | undefined): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#layer = layer;
    layer?.start();
    for (const key of this.#groups.keys()) layer?.added(key);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Subscribers of every deployment, including those a redeploy left on an older one.
    for (const c of [...this.#clients]) c.close(CloseCodes.goingAway, 'gateway stopping');
    for (const g of this.#groups.values()) if (g.expiry) clearTimeout(g.expiry);
    await this.#layer?.close();
  }

  // ---- publishing ----

  /**
   * The in-process API: publishes `message` into a topology's group (or a gateway-wide group when `topology` is
   * undefined), as an HTTP publisher would. Returns the number of local deliveries.
   */
  publish(topology: string | undefined, group: string, message: Record<string, unknown>): number {
    if (!isValidGroupName(group)) throw new Error(`"${group}" is not a valid group name`);
    const key = topology === undefined ? group : groupKey(topology, group);
    return this.publishText(key, eventText(group, message));
  }

  /** Publishes an event text already serialised (see groups.eventText). */
  publishText(key: string, text: string): number {
    const stats = this.stats(topologyOfKey(key));
    stats.published++;
    const n = this.#deliver(key, text);
    this.#layer?.forward(key, text);
    return n;
  }

  /** A message another node published (never forwarded again). */
  receive(key: string, text: string): void {
    this.#deliver(key, text);
  }

  #deliver(key: string, text: string): number {
    const group = this.#groups.get(key);
    if (!group) return 0;
    const out = group.history ? group.history.add(text) : text;
    let n = 0;
    for (const sub of group.subs) if (sub.deliver(out, key)) n++;
    if (n > 0) {
      this.stats(topologyOfKey(key)).deliveries += n;
      if (channelEvents.hasSubscribers)
        channelEvents.publish({
          event: 'delivered',
          group: metricGroup(key),
          count: n,
        } satisfies ChannelEvent);
    }
    return n;
  }

  // ---- subscriptions ----

  /** Adds a subscriber to a group; with `history`, the group keeps its last messages. */
  subscribe(key: string, sub: Subscriber, history?: HistoryOptions): void {
    let group = this.#groups.get(key);
    const isNew = !group;
    if (!group) {
      group = { key, subs: new Set(), historyTtlMs: 0 };
      this.#groups.set(key, group);
    }
    if (group.expiry) {
      clearTimeout(group.expiry);
      group.expiry = undefined;
    }
    if (history && history.size > 0 && !group.history) group.history = new History(history.size);
    if (history) group.historyTtlMs = Math.max(group.historyTtlMs, history.ttlMs);
    group.subs.add(sub);
    if (isNew) this.#layer?.added(key);
  }

  unsubscribe(key: string, sub: Subscriber): void {
    const group = this.#groups.get(key);
    if (!group?.subs.delete(sub) || group.subs.size > 0) return;
    if (group.history && group.historyTtlMs > 0 && !this.#closed) {
      // The group (and its subscription at the layer) outlives its last subscriber while its history lives, so
      // a client that comes back can recover what was published meanwhile.
      group.expiry = setTimeout(() => this.#drop(group), group.historyTtlMs);
      group.expiry.unref();
      return;
    }
    this.#drop(group);
  }

  #drop(group: Group): void {
    if (group.subs.size > 0 || this.#groups.get(group.key) !== group) return;
    this.#groups.delete(group.key);
    this.#layer?.removed(group.key);
  }

  /** What a group's history holds after `since`, or why it cannot be recovered. */
  recover(key: string, since: Since): Recovery {
    const history = this.#groups.get(key)?.history;
    if (!history) return { ok: false, epoch: undefined, offset: undefined };
    return history.recover(since);
  }

  /** The keys of every group with a subscriber (or a live history) on this node. */
  keys(): string[] {
    return [...this.#groups.keys()];
  }

  subscriberCount(key: string): number {
    return this.#groups.get(key)?.subs.size ?? 0;
  }

  // ---- clients and statistics ----

  stats(topology: string): TopologyStats {
    let s = this.#stats.get(topology);
    if (!s) {
      s = { subscribers: 0, published: 0, deliveries: 0, slowCloses: 0 };
      this.#stats.set(topology, s);
    }
    return s;
  }

  /** A client connection opened (counted per topology). */
  addClient(client: ClientConnection): void {
    if (this.#clients.has(client)) return;
    this.#clients.add(client);
    this.stats(client.topology).subscribers++;
  }

  /** Closes every client of a topology (all its deployments': a redeploy leaves clients on older ones). */
  closeTopology(topology: string, code: number, reason: string): void {
    for (const c of [...this.#clients]) if (c.topology === topology) c.close(code, reason);
  }

  removeClient(client: ClientConnection): void {
    if (this.#clients.delete(client)) this.stats(client.topology).subscribers--;
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  slowConsumer(topology: string): void {
    this.stats(topology).slowCloses++;
  }

  /**
   * The node's and its layer's metric families. With several workers (each its own node) the primary sums them
   * over the workers, except those marked `perWorker`, which keep a `worker` label: the subscribers, messages
   * published and delivered, and slow-consumer closes of the workers add up to the gateway's (each client and each
   * message is one worker's), while a group with subscribers on two workers is one group (a sum would count it
   * twice), and the layer's families (its node id, its links and connections) describe one worker's node.
   */
  metricFamilies(): MetricFamily[] {
    const families: MetricFamily[] = [];
    const groups = new Map<string, number>();
    for (const key of this.#groups.keys()) {
      const t = topologyOfKey(key);
      groups.set(t, (groups.get(t) ?? 0) + 1);
    }
    const topologies = [...new Set([...this.#stats.keys(), ...groups.keys()])].sort();
    const family = (
      name: string,
      type: 'gauge' | 'counter',
      help: string,
      perWorker: boolean,
      value: (t: string) => number,
    ): void => {
      const values = topologies.map((topology) => ({ labels: { topology }, value: value(topology) }));
      families.push({ name, help, type, perWorker, values });
    };
    family(
      'postern_channels_subscribers',
      'gauge',
      'Open client connections.',
      false,
      (t) => this.stats(t).subscribers,
    );
    family(
      'postern_channels_groups',
      'gauge',
      'Groups with a subscriber on this node.',
      true,
      (t) => groups.get(t) ?? 0,
    );
    family(
      'postern_channels_published_total',
      'counter',
      'Messages published on this node.',
      false,
      (t) => this.stats(t).published,
    );
    family(
      'postern_channels_deliveries_total',
      'counter',
      'Messages handed to subscribers on this node.',
      false,
      (t) => this.stats(t).deliveries,
    );
    family(
      'postern_channels_slow_consumer_closes_total',
      'counter',
      'Clients closed because their send queue overflowed.',
      false,
      (t) => this.stats(t).slowCloses,
    );
    families.push({
      name: 'postern_channels_layer_info',
      help: 'The channel layer of this node.',
      type: 'gauge',
      perWorker: true,
      values: [{ labels: { layer: this.#layer?.kind ?? 'memory', node: this.id }, value: 1 }],
    });
    this.#layer?.metrics(families);
    return families;
  }

  /** The families in Prometheus's text format (as a single process's scrape shows them). */
  metricsText(): string {
    const out: string[] = [];
    for (const f of this.metricFamilies()) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      for (const v of f.values) {
        const labels = Object.entries(v.labels).map(([k, x]) => `${k}="${escapeLabel(String(x))}"`);
        out.push(`${f.name}${labels.length > 0 ? `{${labels.join(',')}}` : ''} ${v.value}`);
      }
    }
    return `${out.join('\n')}\n`;
  }
}

export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
