/**
 * @module admin/dispatch
 * The `Admin` dispatch of the bundled ADMIN service (services/admin/1.0.0): the gateway's admin API and web console,
 * answered by the gateway itself after the topology's chain (Knox's `admin` topology idea: log in with the
 * topology's authentication provider, and let only admins through with AclsAuthz, `admin.acl=*;admin;*`). It reads
 * and manages the running gateway through {@link DispatchContext.gateway}. Routes, below `{gateway}/{topology}`:
 *
 * | route | what |
 * |---|---|
 * | `GET /api/v1/status` | everything below at once (what the console loads) |
 * | `GET /api/v1/topologies` | each topology: deployment state, when, its diagnostics (`at`: `path:line:col`), services, route count |
 * | `GET /api/v1/topologies/{name}` | one topology, with its routes |
 * | `PUT /api/v1/topologies/{name}` | deploy: the body is topology XML, checked as a deployment would be; a broken one is 400 with its diagnostics and nothing is written; else written to `conf/topologies/{name}.xml` and deployed (201 new, 200 replaced) |
 * | `DELETE /api/v1/topologies/{name}` | undeploy: removes `conf/topologies/{name}.*` (never the admin topology serving the request: 409) |
 * | `GET /api/v1/routes?q=` | the route table of every deployment, filtered by a case-insensitive substring |
 * | `GET /api/v1/health` | HA backends' states |
 * | `GET /api/v1/connections` | open proxied WebSockets, channel subscribers, live console feeds, by topology |
 * | `GET /api/v1/errors` | the gateway's recent errors (admin/recent.ts) |
 * | `GET /api/v1/explain?method=&url=&user=&groups=` | explain/explain's answer for a gateway URL (absolute, or a path on this gateway) |
 * | WebSocket `/api/v1/events/` | the live feed: postern's own events (the reserved channels group `postern-events`: deployments, backend health), one JSON text frame each |
 * | `GET /console/` | the web console (admin/console/: plain HTML, JS and CSS) |
 *
 * The live feed is served here rather than by a CHANNELS service because clients of CHANNELS may never subscribe
 * to a reserved prefix (`postern`); this dispatch subscribes in process (channels/registry.ts), so the events of
 * every node of a channels cluster reach it. A feed connection first receives `{"accept": true, "user"}` (as
 * CHANNELS does). A WebSocket whose `Origin` is another host is refused (403): a cookie-authenticated feed must not
 * be readable by other sites.
 *
 * CSRF: every call but GET, HEAD and OPTIONS must carry the header `admin.csrf.header` (default `X-XSRF-Header`,
 * WebAppSec's) with any value — a cross-site form cannot send it — whether or not the topology enables WebAppSec.
 *
 * Service params: `admin.csrf.header`, `admin.max.body.bytes` (1 MiB: a larger topology is 413).
 */
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join, relative, sep } from 'node:path';
import { type WebSocket, WebSocketServer } from 'ws';
import { ConfigError, type Diagnostic } from '../../config/diagnostics.ts';
import { backendHealth } from '../../dispatch/ha/service.ts';
import { CloseCodes, Errors, type GatewayError } from '../../errors.ts';
import { DESCRIPTOR_EXTENSIONS, TOPOLOGY_EXTENSIONS } from '../../gateway/home.ts';
import { readText } from '../../gateway/read-body.ts';
import type {
  DispatchContext,
  Exchange,
  GatewayHandle,
  Handler,
  ServiceFactory,
  TopologyReport,
} from '../../spi/index.ts';
import { POSTERN_EVENTS_GROUP } from '../channels/groups.ts';
import type { Subscriber } from '../channels/node.ts';
import { channelNodeFor } from '../channels/nodes.ts';

const API = '/api/v1';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The console's files: a fixed list, so no request path ever reaches the file system. */
const CONSOLE_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};
const CONSOLE_DIR = new URL('../../admin/console/', import.meta.url);
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** Unsent bytes at which a console feed is closed as slow (`CloseCodes.slowConsumer`, as CHANNELS). */
const FEED_QUEUE_BYTES = 1 << 20;

interface AdminConfig {
  csrfHeader: string;
  maxBodyBytes: number;
}

function configOf(ctx: DispatchContext): AdminConfig {
  return ctx.shared('admin', () => {
    const csrfHeader = (ctx.params.get('admin.csrf.header')?.trim() || 'X-XSRF-Header').toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(csrfHeader)) {
      throw ConfigError.at(ctx.pos, `admin.csrf.header "${csrfHeader}" is not a header name`);
    }
    const text = ctx.params.get('admin.max.body.bytes')?.trim();
    const maxBodyBytes = text ? Number(text) : 1 << 20;
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
      throw ConfigError.at(
        ctx.pos,
        `admin.max.body.bytes must be a positive number of bytes, found "${text}"`,
      );
    }
    for (const name of ctx.params.keys()) {
      if (name.startsWith('admin.') && !['admin.csrf.header', 'admin.max.body.bytes'].includes(name)) {
        ctx.sink.warn(ctx.pos, `unknown ADMIN service param "${name}"`);
      }
    }
    return { csrfHeader, maxBodyBytes };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------------------------

function sendJson(ex: Exchange, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  ex.res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  ex.res.end(ex.req.method === 'HEAD' ? undefined : text);
}

function allow(ex: Exchange, methods: readonly string[]): void {
  if (!methods.includes(ex.req.method ?? '')) {
    ex.req.resume();
    throw Errors.methodNotAllowed(`Use ${methods.join(' or ')}`, { headers: { allow: methods.join(', ') } });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// What the API reports
// ---------------------------------------------------------------------------------------------------------------

/** A path relative to the gateway home when it lies below it (what an operator edits), else as is. */
function homePath(gateway: GatewayHandle, file: string): string {
  const rel = relative(gateway.layout.home, file);
  return rel && !rel.startsWith('..') && !rel.startsWith(sep) ? rel.split(sep).join('/') : file;
}

function diagnosticJson(gateway: GatewayHandle, d: Diagnostic) {
  const file = homePath(gateway, d.file);
  return {
    severity: d.severity,
    message: d.message,
    file,
    line: d.line,
    column: d.column,
    at: `${file}:${d.line}:${d.column}`,
  };
}

/** A URL without its userinfo (a service URL may carry credentials). */
function safeUrl(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@]*@/, '$1');
}

function topologyNames(gateway: GatewayHandle): string[] {
  return gateway.topologies().map((t) => t.name);
}

function topologySummary(gateway: GatewayHandle, name: string) {
  const report = gateway.topologies().find((t) => t.name === name);
  return report ? summaryOf(gateway, report) : undefined;
}

function summaryOf(gateway: GatewayHandle, report: TopologyReport) {
  const { name, serving } = report;
  const diagnostics = report.diagnostics.map((d) => diagnosticJson(gateway, d));
  return {
    name,
    file: report.file ? homePath(gateway, report.file) : undefined,
    /** `deployed`: the last attempt deployed; `failed`: it did not (`serving` says whether an earlier one still does). */
    state: report.deployed ? 'deployed' : 'failed',
    serving: !!serving,
    deployedAt: serving?.since.toISOString(),
    url: `/${gateway.settings.path}/${name}`,
    errors: diagnostics.filter((d) => d.severity === 'error').length,
    warnings: diagnostics.filter((d) => d.severity === 'warning').length,
    diagnostics,
    services: (serving?.services ?? []).map((s) => ({
      role: s.role,
      ...(s.name !== undefined && { name: s.name }),
      ...(s.version !== undefined && { version: s.version }),
      urls: s.urls.map(safeUrl),
    })),
    routes: serving?.routes.length ?? 0,
  };
}

function routesOf(gateway: GatewayHandle, report: TopologyReport) {
  return (report.serving?.routes ?? []).map((r) => ({
    topology: report.name,
    service: r.role,
    definition: r.definition,
    pattern: r.path,
    url: `/${gateway.settings.path}/${report.name}${r.path}`,
    chain: [...r.chain],
    at: `${homePath(gateway, r.pos.file)}:${r.pos.line}:${r.pos.column}`,
  }));
}

function routeTable(gateway: GatewayHandle, query: string) {
  const q = query.trim().toLowerCase();
  const all = gateway.topologies().flatMap((t) => routesOf(gateway, t));
  if (!q) return all;
  return all.filter((r) =>
    [r.topology, r.service, r.definition, r.pattern, r.url, ...r.chain].some((t) =>
      t.toLowerCase().includes(q),
    ),
  );
}

function healthOf(gateway: GatewayHandle) {
  const served = new Set(gateway.topologies().flatMap((t) => (t.serving ? [t.name] : [])));
  return backendHealth()
    .filter((h) => served.has(h.topology))
    .map((h) => ({ topology: h.topology, service: h.service, url: safeUrl(h.url), state: h.state }));
}

function connectionsOf(gateway: GatewayHandle) {
  const node = channelNodeFor(gateway.settings);
  const websockets = Object.fromEntries(gateway.openWebSockets());
  const channels: Record<string, number> = {};
  for (const name of topologyNames(gateway)) {
    const n = node.stats(name).subscribers;
    if (n > 0) channels[name] = n;
  }
  const feeds: Record<string, number> = {};
  for (const name of topologyNames(gateway)) {
    const set = feedSets.get(gateway)?.get(name);
    if (set?.size) feeds[name] = set.size;
  }
  return {
    websockets,
    websocketsTotal: Object.values(websockets).reduce((a, b) => a + b, 0),
    channels,
    channelsTotal: node.clientCount,
    consoleFeeds: feeds,
    inflight: gateway.inflight,
  };
}

function errorsOf(gateway: GatewayHandle) {
  return { total: gateway.recentErrors.total, errors: gateway.recentErrors.list(100) };
}

function status(gateway: GatewayHandle) {
  return {
    gateway: {
      path: gateway.settings.path,
      ready: gateway.ready,
      node: channelNodeFor(gateway.settings).id,
    },
    topologies: gateway.topologies().map((t) => summaryOf(gateway, t)),
    health: healthOf(gateway),
    connections: connectionsOf(gateway),
    errors: errorsOf(gateway),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Deploy and undeploy
// ---------------------------------------------------------------------------------------------------------------

function topologyFiles(gateway: GatewayHandle, name: string): string[] {
  const dir = gateway.layout.topologies;
  return TOPOLOGY_EXTENSIONS.map((ext) => join(dir, `${name}${ext}`)).filter((f) => existsSync(f));
}

function descriptorOf(gateway: GatewayHandle, name: string): string | undefined {
  const dir = gateway.layout.descriptors;
  return DESCRIPTOR_EXTENSIONS.map((ext) => join(dir, `${name}${ext}`)).find((f) => existsSync(f));
}

function userOf(ex: Exchange): string | undefined {
  return ex.effectiveUser ?? ex.user?.name;
}

async function deploy(
  ex: Exchange,
  gateway: GatewayHandle,
  config: AdminConfig,
  name: string,
): Promise<void> {
  const type = (ex.req.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
  if (type !== 'application/xml' && type !== 'text/xml' && !type.endsWith('+xml')) {
    ex.req.resume();
    throw Errors.unsupportedMediaType('Send the topology as XML (Content-Type: application/xml)');
  }
  const source = await readText(ex.req, config.maxBodyBytes);
  const descriptor = descriptorOf(gateway, name);
  if (descriptor) {
    throw Errors.conflict(
      `topology ${name} is generated from ${homePath(gateway, descriptor)}; change the descriptor instead`,
    );
  }
  const file = join(gateway.layout.topologies, `${name}.xml`);
  const diagnostics = await gateway.checkTopology(file, source);
  const list = diagnostics.map((d) => diagnosticJson(gateway, d));
  if (diagnostics.some((d) => d.severity === 'error')) {
    throw Errors.invalidTopology('the topology does not deploy', {
      details: { name, deployed: false, diagnostics: list },
    });
  }
  const existed = existsSync(file);
  // Written whole then renamed, so the topology monitor never reads half a file.
  const temporary = join(gateway.layout.topologies, `.${name}.xml.admin-tmp`);
  writeFileSync(temporary, source);
  renameSync(temporary, file);
  await gateway.rescan();
  const now = gateway.topologies().find((t) => t.name === name);
  const deployed = now?.deployed === true && now.serving !== undefined;
  ex.log.info(
    { topology: name, file, user: userOf(ex), deployed },
    `admin API wrote topology ${name} (${deployed ? 'deployed' : 'not deployed'})`,
  );
  sendJson(ex, deployed ? (existed ? 200 : 201) : 500, {
    ...topologySummary(gateway, name),
    deployed,
    created: !existed,
  });
}

async function undeploy(ex: Exchange, gateway: GatewayHandle, self: string, name: string): Promise<void> {
  ex.req.resume();
  if (name === self) {
    throw Errors.conflict(`topology ${name} serves this admin API; remove its file by hand`);
  }
  const descriptor = descriptorOf(gateway, name);
  if (descriptor) {
    throw Errors.conflict(
      `topology ${name} is generated from ${homePath(gateway, descriptor)}; remove the descriptor instead`,
    );
  }
  const files = topologyFiles(gateway, name);
  if (files.length === 0) throw Errors.notFound(`No topology file named ${name}`);
  for (const f of files) unlinkSync(f);
  await gateway.rescan();
  ex.log.info({ topology: name, user: userOf(ex) }, `admin API removed topology ${name}`);
  sendJson(ex, 200, {
    name,
    removed: files.map((f) => homePath(gateway, f)),
    serving: gateway.topologies().some((t) => t.name === name && t.serving !== undefined),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The console's files
// ---------------------------------------------------------------------------------------------------------------

function consoleFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of Object.keys(CONSOLE_FILES)) files.set(name, readFileSync(new URL(name, CONSOLE_DIR)));
  return files;
}

function serveConsole(ex: Exchange, files: Map<string, Buffer>, rest: string): void {
  allow(ex, ['GET', 'HEAD']);
  ex.req.resume();
  if (rest === '') {
    // `…/console` → `…/console/`, so the page's relative URLs resolve below it.
    ex.res.writeHead(301, { location: 'console/', 'content-length': '0' });
    ex.res.end();
    return;
  }
  const name = rest === '/' ? 'index.html' : rest.slice(1);
  const body = files.get(name);
  if (!body) throw Errors.notFound();
  ex.res.writeHead(200, {
    'content-type': CONSOLE_FILES[name],
    'content-length': body.length,
    'cache-control': 'no-cache',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  });
  ex.res.end(ex.req.method === 'HEAD' ? undefined : body);
}

// ---------------------------------------------------------------------------------------------------------------
// The dispatch
// ---------------------------------------------------------------------------------------------------------------

function noGateway(): GatewayError {
  return Errors.unavailable('The admin API answers only in a running gateway');
}

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

export const adminService: ServiceFactory = {
  name: 'Admin',
  roles: ['ADMIN'],
  classNames: ['postern.admin.AdminDispatch'],
  create(ctx: DispatchContext): Handler {
    const config = configOf(ctx);
    const gateway = ctx.gateway;
    const self = ctx.topology.name;
    const files = ctx.shared('admin:console', consoleFiles);
    return async (ex) => {
      if (!gateway) throw noGateway();
      const method = ex.req.method ?? '';
      if (!SAFE_METHODS.has(method) && ex.req.headers[config.csrfHeader] === undefined) {
        ex.req.resume();
        throw Errors.badRequest(`Missing required header ${config.csrfHeader} for CSRF protection`);
      }
      const path = ex.path;
      if (path === '/console' || path.startsWith('/console/')) {
        serveConsole(ex, files, path.slice('/console'.length));
        return;
      }
      if (!path.startsWith(`${API}/`)) throw Errors.notFound();
      const rest = path.slice(API.length + 1);
      const params = new URLSearchParams(ex.query);
      const slash = rest.indexOf('/');
      const head = slash < 0 ? rest : rest.slice(0, slash);
      const tail = slash < 0 ? undefined : decodeURIComponent(rest.slice(slash + 1));
      if (head === 'topologies' && tail !== undefined && tail !== '') {
        if (!NAME.test(tail)) throw Errors.badRequest('A topology name is letters, digits, ".", "_" and "-"');
        allow(ex, ['GET', 'HEAD', 'PUT', 'DELETE']);
        if (method === 'PUT') return deploy(ex, gateway, config, tail);
        if (method === 'DELETE') return undeploy(ex, gateway, self, tail);
        ex.req.resume();
        const report = gateway.topologies().find((t) => t.name === tail);
        if (!report) throw Errors.notFound(`No topology named ${tail}`);
        sendJson(ex, 200, { ...summaryOf(gateway, report), routeTable: routesOf(gateway, report) });
        return;
      }
      if (tail !== undefined && !(head === 'events' && tail === '')) throw Errors.notFound();
      allow(ex, ['GET', 'HEAD']);
      ex.req.resume();
      switch (head) {
        case 'status':
          return sendJson(ex, 200, status(gateway));
        case 'topologies':
          return sendJson(ex, 200, {
            topologies: gateway.topologies().map((t) => summaryOf(gateway, t)),
          });
        case 'routes':
          return sendJson(ex, 200, { routes: routeTable(gateway, params.get('q') ?? '') });
        case 'health':
          return sendJson(ex, 200, { backends: healthOf(gateway) });
        case 'connections':
          return sendJson(ex, 200, connectionsOf(gateway));
        case 'errors':
          return sendJson(ex, 200, errorsOf(gateway));
        case 'explain': {
          const url = params.get('url')?.trim();
          if (!url) throw Errors.badRequest('Give the URL to explain: ?url=');
          const target = url.startsWith('/') ? new URL(url, ex.inboundUrl).href : url;
          const user = params.get('user')?.trim() || undefined;
          const groups = (params.get('groups') ?? '')
            .split(',')
            .map((g) => g.trim())
            .filter(Boolean);
          const explanation = await gateway.explain({
            method: (params.get('method')?.trim() || 'GET').toUpperCase(),
            url: target,
            user,
            ...(groups.length > 0 && { groups }),
          });
          return sendJson(ex, 200, explanation);
        }
        case 'events':
          throw Errors.badRequest('Open a WebSocket here (Upgrade: websocket)');
        default:
          throw Errors.notFound();
      }
    };
  },
  createUpgrade(ctx: DispatchContext): Handler {
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
                ws.close(
                  CloseCodes.slowConsumer,
                  `slow consumer: more than ${FEED_QUEUE_BYTES} bytes unsent`,
                );
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
  },
};
