/**
 * @module services/channels
 * The bundled CHANNELS service (services/channels/1.0.0), registered as `Channels`: the gateway answers its
 * routes itself, after the topology's chain authenticated the request.
 *
 * - `/websocket/`: subscribers' WebSockets (client.ts). The trailing slash is
 *   required, as in AWX. No user → 401 before any 101.
 * - `/websocket/publish`: `POST` (`application/json`) of `{"group": "<prefix>-<item>", "message": {...}}` or an
 *   array of them, answered `202 {"accepted": n}`. The batch is checked whole before anything is published (400
 *   for a malformed item, 403 for a refused group: then nothing is published), then published in order.
 *
 * Service params (the topology's `<service>` `<param>`s):
 * - `channels.subscribe.acl.<prefix>` / `channels.subscribe.acl` (every other prefix): who may subscribe, as
 *   AclsAuthz's `users;groups;ips`. Without a rule, any authenticated user may (AWX).
 * - `channels.publish.acl.<prefix>` / `channels.publish.acl`: who may publish. Without a rule nobody may.
 * - `channels.acl.mode`: `AND` (default) or `OR`, as AclsAuthz.
 * - `channels.subscribe.user.prefixes` (default `control`): prefixes whose items name a user (AWX's
 *   `control-limit_reached_<user>`): only that user may subscribe (item `<user>` or ending `_<user>`).
 * - `channels.xrf.cookie` (default `csrftoken`): the CSRF cookie `xrftoken` is checked against.
 * - `channels.history.size` / `channels.history.size.<prefix>` (default 0: none) and `channels.history.ttl`
 *   (default 5m): per-group history kept on each node, and how long it outlives the group's last subscriber.
 * - `channels.client.queue.bytes` (default gateway-site's `gateway.channels.client.queue.bytes`, 4 MiB): unsent
 *   bytes past which a subscriber is closed as slow (4008).
 * - `channels.client.max.groups` (1000), `channels.client.max.message.bytes` (64 KiB, larger client frames
 *   close with 1009), `channels.client.ping` (20s; 0: off), `channels.max.connections` (10000; then 503),
 *   `channels.publish.max.bytes` (1 MiB; then 413), `channels.publish.max.batch` (1000).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { ConfigError } from '../../config/diagnostics.ts';
import { parseDurationMs } from '../../config/values.ts';
import { CloseCodes, Errors } from '../../errors.ts';
import { readText } from '../../gateway/read-body.ts';
import {
  type Acl,
  type AclMode,
  type AclSubject,
  aclAllows,
  parseAcl,
  parseMode,
} from '../../providers/authorization/acl.ts';
import { cookieValue } from '../../providers/common/credentials.ts';
import type { DispatchContext, Exchange, Handler, HeaderMap, ServiceFactory } from '../../spi/index.ts';
import { ChannelClient, type ClientPolicy } from './client.ts';
import { eventText, groupKey, isPlainObject, isReserved, isValidGroupName, prefixOf } from './groups.ts';
import type { HistoryOptions } from './node.ts';
import {
  acceptBroadcast,
  BROADCAST_PATH,
  channelNodeFor,
  openChannels,
  startChannels,
  stopChannels,
} from './nodes.ts';

const KNOWN = [
  /^channels\.(subscribe|publish)\.acl(\.[A-Za-z0-9._]+)?$/,
  /^channels\.acl\.mode$/,
  /^channels\.subscribe\.user\.prefixes$/,
  /^channels\.xrf\.cookie$/,
  /^channels\.history\.size(\.[A-Za-z0-9._]+)?$/,
  /^channels\.history\.ttl$/,
  /^channels\.client\.(queue\.bytes|max\.groups|max\.message\.bytes|ping)$/,
  /^channels\.max\.connections$/,
  /^channels\.publish\.max\.(bytes|batch)$/,
];

interface ChannelsConfig extends ClientPolicy {
  mayPublish(prefix: string, subject: AclSubject): boolean;
  readonly xrfCookie: string;
  readonly maxConnections: number;
  readonly maxPublishBytes: number;
  readonly maxBatch: number;
  readonly clients: Set<ChannelClient>;
  readonly wss: WebSocketServer;
  /** Pings this deployment's clients while it has any. */
  pinger?: NodeJS.Timeout;
}

function buildConfig(ctx: DispatchContext): ChannelsConfig {
  const params = ctx.params;
  const problems: string[] = [];
  const pos = (name: string) => ctx.service.params?.find((p) => p.name === name)?.pos ?? ctx.pos;
  const fail = (name: string, message: string) => {
    problems.push(name);
    ctx.sink.error(pos(name), `Channels param ${name}: ${message}`);
  };
  for (const name of params.keys()) {
    if (name.startsWith('channels.') && !KNOWN.some((re) => re.test(name))) {
      ctx.sink.warn(pos(name), `Channels param ${name} is not a setting of the CHANNELS service; ignored`);
    }
  }
  const int = (name: string, fallback: number, min: number): number => {
    const text = params.get(name)?.trim();
    if (text === undefined || text === '') return fallback;
    const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      fail(name, `expected an integer of at least ${min}, found "${text}"`);
      return fallback;
    }
    return n;
  };
  const duration = (name: string, fallback: number): number => {
    const text = params.get(name)?.trim();
    if (text === undefined || text === '') return fallback;
    const ms = parseDurationMs(text);
    if (ms === undefined) {
      fail(name, `expected a duration (milliseconds, or with an m/s suffix), found "${text}"`);
      return fallback;
    }
    return ms;
  };

  let mode: AclMode = 'AND';
  const modeText = params.get('channels.acl.mode');
  if (modeText !== undefined) {
    const parsed = parseMode(modeText);
    if (parsed) mode = parsed;
    else fail('channels.acl.mode', `expected AND or OR, found "${modeText}"`);
  }
  const admins = { users: ctx.settings.adminUsers, groups: ctx.settings.adminGroups };
  const acls = (kind: 'subscribe' | 'publish') => {
    const base = `channels.${kind}.acl`;
    const byPrefix = new Map<string, Acl>();
    let fallback: Acl | undefined;
    for (const [name, text] of params) {
      if (name !== base && !name.startsWith(`${base}.`)) continue;
      const acl = parseAcl(text, mode, admins);
      if (typeof acl === 'string') {
        fail(name, acl);
        continue;
      }
      if (name === base) fallback = acl;
      else byPrefix.set(name.slice(base.length + 1), acl);
    }
    return (prefix: string) => byPrefix.get(prefix) ?? fallback;
  };
  const subscribeAcl = acls('subscribe');
  const publishAcl = acls('publish');
  const userScoped = new Set(
    (params.get('channels.subscribe.user.prefixes') ?? 'control')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const xrfCookie = params.get('channels.xrf.cookie')?.trim() || 'csrftoken';

  const historyTtlMs = duration('channels.history.ttl', 5 * 60_000);
  const historyDefault = int('channels.history.size', 0, 0);
  const historyByPrefix = new Map<string, HistoryOptions>();
  for (const name of params.keys()) {
    if (!name.startsWith('channels.history.size.')) continue;
    historyByPrefix.set(name.slice('channels.history.size.'.length), {
      size: int(name, 0, 0),
      ttlMs: historyTtlMs,
    });
  }
  const defaultHistory: HistoryOptions | undefined =
    historyDefault > 0 ? { size: historyDefault, ttlMs: historyTtlMs } : undefined;

  const maxMessageBytes = int('channels.client.max.message.bytes', 64 * 1024, 256);
  const config: ChannelsConfig = {
    topology: ctx.topology.name,
    queueBytes: int('channels.client.queue.bytes', ctx.settings.channels.clientQueueBytes, 1024),
    maxGroups: int('channels.client.max.groups', 1000, 1),
    pingMs: duration('channels.client.ping', 20_000),
    maxConnections: int('channels.max.connections', 10_000, 1),
    maxPublishBytes: int('channels.publish.max.bytes', 1024 * 1024, 256),
    maxBatch: int('channels.publish.max.batch', 1000, 1),
    xrfCookie,
    clients: new Set(),
    wss: new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: maxMessageBytes,
    }),
    maySubscribe(prefix, item, subject) {
      if (userScoped.has(prefix) && item !== subject.user && !item.endsWith(`_${subject.user}`)) return false;
      const acl = subscribeAcl(prefix);
      return acl === undefined || aclAllows(acl, mode, subject);
    },
    mayPublish(prefix, subject) {
      const acl = publishAcl(prefix);
      return acl !== undefined && aclAllows(acl, mode, subject);
    },
    history(prefix) {
      const h = historyByPrefix.get(prefix) ?? defaultHistory;
      return h && h.size > 0 ? h : undefined;
    },
  };
  if (problems.length > 0) throw new ConfigError([]);
  return config;
}

function configOf(ctx: DispatchContext): ChannelsConfig {
  const config = ctx.shared('channels', () => buildConfig(ctx));
  ctx.shared('channels:retire', () => {
    ctx.onRetire((reason) => {
      // A redeployed topology's subscribers stay on the deployment they started on; their groups are the
      // topology's, so they keep receiving what the new deployment's publishers send.
      if (reason === 'redeploy') return;
      channelNodeFor(ctx.settings).closeTopology(
        config.topology,
        CloseCodes.goingAway,
        'topology undeployed',
      );
      config.wss.close();
    });
    return true;
  });
  return config;
}

function subjectOf(ex: Exchange): AclSubject | undefined {
  if (!ex.user) return undefined;
  return {
    user: ex.effectiveUser ?? ex.user.name,
    groups: ex.effectiveGroups ?? ex.user.groups,
    address: ex.clientAddress,
  };
}

const isPublishRoute = (ctx: DispatchContext) => /\/publish\/?$/.test(ctx.route.path);

function publishHandler(ctx: DispatchContext, config: ChannelsConfig): Handler {
  const node = channelNodeFor(ctx.settings);
  const topology = ctx.topology.name;
  return async (ex) => {
    if (ex.req.method !== 'POST') {
      throw Errors.methodNotAllowed('Publish with POST', { headers: { allow: 'POST' } });
    }
    const subject = subjectOf(ex);
    if (!subject) throw Errors.unauthenticated('No authenticated user to publish as');
    const type = (ex.req.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
    if (type !== 'application/json' && !type.endsWith('+json')) {
      ex.req.resume();
      throw Errors.unsupportedMediaType('Publish with Content-Type: application/json');
    }
    const body = await readText(ex.req, config.maxPublishBytes);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw Errors.badRequest('The body is not JSON');
    }
    const items = Array.isArray(parsed) ? parsed : [parsed];
    if (items.length === 0) throw Errors.badRequest('Nothing to publish');
    if (items.length > config.maxBatch)
      throw Errors.badRequest(`At most ${config.maxBatch} events per request`);
    const events: [string, string][] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const at = Array.isArray(parsed) ? `event ${i}: ` : '';
      if (!isPlainObject(item) || typeof item.group !== 'string' || !isPlainObject(item.message)) {
        throw Errors.badRequest(`${at}expected {"group": "<prefix>-<item>", "message": {...}}`);
      }
      const group = item.group;
      if (!isValidGroupName(group))
        throw Errors.badRequest(`${at}"${group.slice(0, 100)}" is not a group name`);
      if (isReserved(group) || !config.mayPublish(prefixOf(group), subject)) {
        throw Errors.forbidden(`${at}publishing into ${prefixOf(group)} is not allowed`);
      }
      events.push([groupKey(topology, group), eventText(group, item.message)]);
    }
    for (const [key, text] of events) node.publishText(key, text);
    const answer = JSON.stringify({ accepted: events.length });
    let headers: HeaderMap = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(answer)),
      'cache-control': 'no-store',
    };
    // The providers' response-header filters apply as to a backend's answer (a login's session cookie).
    for (const filter of ex.responseHeaderFilters ?? []) headers = filter(headers);
    ex.res.writeHead(202, headers as OutgoingHttpHeaders);
    ex.res.end(answer);
  };
}

function subscribeHandler(ctx: DispatchContext, config: ChannelsConfig): Handler {
  const node = channelNodeFor(ctx.settings);
  return (ex) =>
    new Promise<void>((resolve, reject) => {
      const upgrade = ex.upgrade;
      if (!upgrade) return reject(Errors.badRequest('This route accepts WebSocket upgrades only'));
      if (!ex.path.endsWith('/')) return reject(Errors.notFound());
      const subject = subjectOf(ex);
      if (!subject) return reject(Errors.unauthenticated('No authenticated user to subscribe as'));
      if (config.clients.size >= config.maxConnections) {
        return reject(
          Errors.unavailable(`This topology holds its maximum of ${config.maxConnections} subscribers`),
        );
      }
      const cookieAuth = ex.authMethod === 'session' || ex.authMethod === 'cookie';
      const xrf = cookieAuth ? (cookieValue(ex.req.headers, config.xrfCookie) ?? null) : undefined;
      const expiresAt = ex.credentialExpiresAt;
      const req = ex.req;
      ex.res.statusCode = 101;
      ex.res.detachSocket(upgrade.socket as Socket);
      config.wss.handleUpgrade(req, upgrade.socket, upgrade.head, (ws) => {
        const client = new ChannelClient(ws, node, config, { subject, xrf, expiresAt });
        config.clients.add(client);
        if (!config.pinger && config.pingMs > 0) {
          config.pinger = setInterval(() => {
            for (const c of config.clients) c.heartbeat();
          }, config.pingMs);
          config.pinger.unref();
        }
        ws.once('close', () => {
          config.clients.delete(client);
          if (config.clients.size === 0 && config.pinger) {
            clearInterval(config.pinger);
            config.pinger = undefined;
          }
        });
      });
      resolve();
    });
}

/**
 * The CHANNELS service: its routes, the backplane's endpoint outside the gateway path (`/websocket/broadcast/`,
 * served only with `gateway.channels.layer=backplane`, authenticated by the shared secret), and the gateway's
 * channel node's life: opened before the topologies deploy, its layer started once the gateway listens, closed
 * when it stops.
 */
export const channelsService: ServiceFactory = {
  name: 'Channels',
  roles: ['CHANNELS'],
  classNames: ['postern.channels.ChannelsDispatch'],
  endpoints: [
    {
      path: BROADCAST_PATH,
      enabled: (settings) => settings.channels.layer === 'backplane',
      upgrade(req, upgrade, { settings, detach }) {
        const refused = acceptBroadcast(settings, req, upgrade.socket, upgrade.head, detach);
        return refused ? Errors.forbidden() : undefined;
      },
    },
  ],
  open: (host) => {
    openChannels(host.settings, host);
  },
  start: (host) => {
    startChannels(host.settings, host.home);
  },
  stop: (host) => stopChannels(host.settings),
  metricFamilies: ({ settings }) => channelNodeFor(settings).metricFamilies(),
  create(ctx: DispatchContext): Handler {
    const config = configOf(ctx);
    if (isPublishRoute(ctx)) return publishHandler(ctx, config);
    return async (ex) => {
      if (!ex.path.endsWith('/')) throw Errors.notFound();
      throw Errors.badRequest('Open a WebSocket here (Upgrade: websocket)');
    };
  },
  createUpgrade(ctx: DispatchContext): Handler {
    let config: ChannelsConfig;
    try {
      config = configOf(ctx);
    } catch {
      return () => Promise.reject(Errors.internal('The CHANNELS service is misconfigured'));
    }
    if (isPublishRoute(ctx)) return () => Promise.reject(Errors.badRequest('Publish with POST'));
    return subscribeHandler(ctx, config);
  },
};
