/**
 * @module services/channels/nodes
 * The CHANNELS node of each running gateway, found from its settings object (one per gateway, shared by every
 * deployment it compiles), and its life: opened before the topologies deploy, its layer started once the gateway
 * listens, closed when it stops.
 *
 * The gateway's own events reach the reserved gateway-wide group `postern-events` (see groups.ts) through
 * `node:diagnostics_channel`, never through imports: topology deployed / redeployed / undeployed / failed
 * (`postern:deployment`) and backend health changes (`postern:backend-health`). The admin console subscribes to
 * that group with the in-process API: `channelNodeFor(settings).subscribe('postern-events', subscriber)`.
 */

import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { hub } from '../../cluster/ipc.ts';
import type { ChannelSettings, GatewaySettings } from '../../config/gateway-site.ts';
import { backendTrust, gatewayIdentity } from '../../dispatch/backend-tls.ts';
import {
  type BackendHealthEvent,
  backendHealthEvents,
  type DeploymentEvent,
  deploymentEvents,
} from '../../observability/events.ts';
import { Backplane, BROADCAST_PATH, type PeerTls, type Refusal } from './backplane.ts';
import { ClusterLayer } from './cluster-layer.ts';
import { POSTERN_EVENTS_GROUP } from './groups.ts';
import { ChannelNode, type Layer } from './node.ts';
import { RedisLayer } from './redis-layer.ts';

export { BROADCAST_PATH };

/**
 * By the settings' `channels` object: a gateway-site reload makes a new settings object but keeps the running
 * `channels` one (the layer needs a restart; gateway/site-reload.ts), so redeployed topologies find the same node.
 */
const nodes = new WeakMap<ChannelSettings, ChannelNode>();
const unsubscribers = new WeakMap<ChannelNode, () => void>();

/** The node of the gateway these settings belong to (made on first use; its layer starts with the gateway). */
export function channelNodeFor(settings: GatewaySettings): ChannelNode {
  let node = nodes.get(settings.channels);
  if (!node) {
    node = new ChannelNode(settings.channels);
    nodes.set(settings.channels, node);
  }
  return node;
}

/** Gives the gateway's node its logger and home, before the topologies deploy. */
export function openChannels(settings: GatewaySettings, options: { log: Logger; home: string }): ChannelNode {
  const node = channelNodeFor(settings);
  node.log = options.log.child({ component: 'channels' });
  node.home = options.home;
  return node;
}

/** The TLS options of links to `wss` peers: the trust, and with mutual TLS the gateway's own identity. */
export function peerTls(settings: GatewaySettings, home: string): PeerTls {
  const tls: PeerTls = {};
  const path = settings.channels.truststorePath ?? settings.ssl.truststorePath;
  if (path) {
    const file = isAbsolute(path) ? path : resolve(home, path);
    if (!existsSync(file)) throw new Error(`channels peer truststore ${file} does not exist`);
    tls.ca = readFileSync(file);
  } else {
    tls.ca = backendTrust(settings, home);
  }
  if (settings.channels.mutualTls) Object.assign(tls, gatewayIdentity(settings, home));
  return tls;
}

/** Starts the node's layer; the gateway calls it once it listens. Throws on an unusable layer configuration. */
export function startChannels(settings: GatewaySettings, home: string): ChannelNode {
  const node = channelNodeFor(settings);
  if (node.started) return node;
  let layer: Layer | undefined;
  const c = settings.channels;
  if (c.layer === 'backplane') {
    const secure = c.peers.some((p) => /^(wss|https):/i.test(p));
    layer = new Backplane(node, secure || c.mutualTls ? peerTls(settings, home) : undefined);
  } else if (c.layer === 'redis') {
    layer = new RedisLayer(node);
  } else {
    // The workers of one gateway (cluster/supervisor.ts) are one node as seen from outside.
    const rpc = hub();
    if (rpc) layer = new ClusterLayer(node, rpc);
  }
  node.start(layer);
  const onDeployment = (message: unknown) => {
    const e = message as DeploymentEvent;
    if (e.home !== undefined && e.home !== node.home) return;
    node.publish(undefined, POSTERN_EVENTS_GROUP, {
      type: 'topology',
      event: e.event,
      topology: e.topology,
      errors: e.errors,
      warnings: e.warnings,
      ...(e.serving !== undefined && { serving: e.serving }),
      node: node.id,
      time: new Date().toISOString(),
    });
  };
  const onHealth = (message: unknown) => {
    const e = message as BackendHealthEvent & { home?: string };
    if (e.home !== undefined && e.home !== node.home) return;
    // A mark another worker relayed (cluster/worker-shared.ts): that worker's own event reaches the group already.
    if (e.worker !== undefined) return;
    node.publish(undefined, POSTERN_EVENTS_GROUP, {
      type: 'backend-health',
      topology: e.topology,
      service: e.service,
      url: e.url,
      state: e.state,
      ...(e.reason !== undefined && { reason: e.reason }),
      node: node.id,
      time: new Date().toISOString(),
    });
  };
  deploymentEvents.subscribe(onDeployment);
  backendHealthEvents.subscribe(onHealth);
  unsubscribers.set(node, () => {
    deploymentEvents.unsubscribe(onDeployment);
    backendHealthEvents.unsubscribe(onHealth);
  });
  node.log?.info(
    { layer: c.layer, node: node.id, peers: c.peers.length || undefined },
    'channels node started',
  );
  return node;
}

export async function stopChannels(settings: GatewaySettings): Promise<void> {
  const node = nodes.get(settings.channels);
  if (!node) return;
  unsubscribers.get(node)?.();
  await node.close();
}

/**
 * A peer's link to `/websocket/broadcast/`: accepted (after `detach` frees the socket from its HTTP response),
 * or the refusal to answer. Undefined node or layer: the path is not served.
 */
export function acceptBroadcast(
  settings: GatewaySettings,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  detach: () => void,
): Refusal | undefined {
  const layer = nodes.get(settings.channels)?.layer;
  if (!(layer instanceof Backplane)) return { status: 403, reason: 'this node runs no backplane' };
  return layer.accept(req, socket, head, detach);
}
