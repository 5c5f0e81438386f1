/**
 * @module services/channels/cluster-layer
 * The channel layer between the workers of one multi-process gateway (`postern.workers` > 1, memory layer):
 * each worker's node tells the primary which groups it has subscribers for, and hands it every message
 * published on it; the primary's hub (cluster/hub.ts) relays the message to the other workers with subscribers
 * of the group, never back to its publisher. So a subscriber on one worker gets what is published on any other,
 * as on a single-process gateway. With the redis layer every worker is a node of its own (nothing here); the
 * backplane needs one process per node.
 */
import type { Rpc } from '../../cluster/rpc.ts';
import type { MetricFamily } from '../../spi/index.ts';
import type { ChannelNode, Layer } from './node.ts';

export class ClusterLayer implements Layer {
  readonly kind = 'workers';
  readonly #node: ChannelNode;
  readonly #rpc: Rpc;
  #relayed = 0;
  #received = 0;

  constructor(node: ChannelNode, rpc: Rpc) {
    this.#node = node;
    this.#rpc = rpc;
  }

  start(): void {
    this.#rpc.on('ch.deliver', ({ key, text }: { key: string; text: string }) => {
      this.#received++;
      this.#node.receive(key, text);
    });
  }

  async close(): Promise<void> {
    for (const key of this.#node.keys()) this.#rpc.notify('ch.removed', { key });
  }

  added(key: string): void {
    this.#rpc.notify('ch.added', { key });
  }

  removed(key: string): void {
    this.#rpc.notify('ch.removed', { key });
  }

  forward(key: string, text: string): void {
    this.#relayed++;
    this.#rpc.notify('ch.forward', { key, text });
  }

  metrics(out: MetricFamily[]): void {
    out.push({
      name: 'postern_channels_worker_messages_total',
      help: 'Channel messages this worker handed to the other workers (out) or got from them (in).',
      type: 'counter',
      perWorker: true,
      values: [
        { labels: { direction: 'out' }, value: this.#relayed },
        { labels: { direction: 'in' }, value: this.#received },
      ],
    });
  }
}
