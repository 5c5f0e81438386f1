/**
 * @module services/admin/api
 * The JSON API of the bundled ADMIN service (services/admin/1.0.0; the service is index.ts), answered by the
 * gateway itself after the topology's chain (Knox's `admin` topology idea: log in with the
 * topology's authentication provider, and let only admins through with AclsAuthz, `admin.acl=*;admin;*`). It reads
 * and manages the running gateway through {@link DispatchContext.gateway}. Routes, below `{gateway}/{topology}`:
 *
 * | route | what |
 * |---|---|
 * | `GET /api/v1/status` | everything below at once (what the console loads) |
 * | (with several workers) | health, connections, errors, traffic, backends, leaks and status answer for every worker, combined through the primary (gateway-wide.ts) |
 * | `GET /api/v1/topologies` | each topology: deployment state, when, its diagnostics (`at`: `path:line:col`), services (each `deployed` or `failed`, with its code and diagnostics), route count |
 * | `GET /api/v1/topologies/{name}` | one topology, with its routes |
 * | `PUT /api/v1/topologies/{name}` | deploy: the body is topology XML, checked as a deployment would be; a broken one is 400 with its diagnostics and nothing is written; else written to `conf/topologies/{name}.xml` (the replaced file kept under `data/history/topologies/{name}/`) and deployed (201 new, 200 replaced) |
 * | `DELETE /api/v1/topologies/{name}` | undeploy: removes `conf/topologies/{name}.*` (never the admin topology serving the request: 409) |
 * | `GET /api/v1/routes?q=` | the route table of every deployment, filtered by a case-insensitive substring |
 * | `GET /api/v1/health` | HA backends' states |
 * | `GET /api/v1/connections` | open proxied WebSockets, channel subscribers, live console feeds, by topology |
 * | `GET /api/v1/errors` | the gateway's recent errors (gateway/recent-errors.ts) |
 * | `GET /api/v1/explain?method=&url=&user=&groups=` | explain/explain's answer for a gateway URL (absolute, or a path on this gateway) |
 * | `GET /api/v1/traffic?window=60` | requests/s, error rate, p50/p95/p99, status classes, bytes, WebSockets per topology and service (traffic.ts) |
 * | `GET /api/v1/backends` | every backend URL of every serving topology: HA state, a connection/TLS probe, the service's last 5xx (backends.ts) |
 * | `GET /api/v1/tls` | the listener's certificate and the truststores' (backends.ts) |
 * | `GET /api/v1/leaks` | backend addresses left in responses after the outbound rules, per route and where, and the guard's mode (leaks.ts) |
 * | `GET /api/v1/topologies/{name}/source`, `POST …/check`, `GET …/history[/{version}]` | editing: the file, a check without writing, the versions kept for undo (history.ts) |
 * | `GET|POST|PUT|DELETE /api/v1/descriptors[/{name}[/…]]`, `…/shared-providers[/…]` | editing simple descriptors and shared provider configurations as topologies are edited (config-files.ts) |
 * | `GET /api/v1/whoami` | who is signed in |
 * | `GET /api/v1/logout` | ends the request's session server-side (its cookie cleared and refused from then on), then 401 with a Basic challenge: the browser forgets the credentials (HTML for a browser) |
 * | `GET /api/v1/tokens` | the topologies whose KNOXTOKEN a token page can use |
 * | WebSocket `/api/v1/events/` | the live feed (feed.ts) |
 * | `GET /api/v1/feed?after=` | the same events, polled where the WebSocket cannot open, and why it cannot (feed.ts) |
 * | `GET /console/` | the web console (console.ts) |
 *
 * Service params: `admin.csrf.header`, `admin.max.body.bytes` (1 MiB: a larger topology is 413).
 */
import { existsSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hub } from '../../cluster/ipc.ts';
import { ConfigError } from '../../config/diagnostics.ts';
import { Errors } from '../../errors.ts';
import { DESCRIPTOR_EXTENSIONS, TOPOLOGY_EXTENSIONS } from '../../gateway/home.ts';
import { readText } from '../../gateway/read-body.ts';
import type {
  DispatchContext,
  Exchange,
  GatewayHandle,
  RecentErrorReport,
  TopologyReport,
} from '../../spi/index.ts';
import { backendsOf, tlsOf } from './backends.ts';
import { API, allow, diagnosticJson, homePath, safeUrl, sendJson, userOf } from './common.ts';
import { answerConfigFiles } from './config-files.ts';
import { polledFeed } from './feed.ts';
import { gatewayView, type HealthRow } from './gateway-wide.ts';
import { keepVersion, sourceOf, versionSource, versionsOf } from './history.ts';

export { diagnosticJson } from './common.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export interface AdminConfig {
  csrfHeader: string;
  maxBodyBytes: number;
}

export function configOf(ctx: DispatchContext): AdminConfig {
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
// What the API reports
// ---------------------------------------------------------------------------------------------------------------

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
      /** `failed`: this service did not deploy and answers 503 `code`; the topology serves the others. */
      state: s.state,
      ...(s.code !== undefined && { code: s.code }),
      ...(s.diagnostics && { diagnostics: s.diagnostics.map((d) => diagnosticJson(gateway, d)) }),
    })),
    failedServices: (serving?.services ?? []).filter((s) => s.state === 'failed').length,
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

/** Everything at once (what the console loads), for the whole gateway (gateway-wide.ts). */
async function status(gateway: GatewayHandle) {
  const view = (await gatewayView(gateway, 'status')) as { gateway: object };
  return {
    ...view,
    gateway: { path: gateway.settings.path, ...view.gateway },
    topologies: gateway.topologies().map((t) => summaryOf(gateway, t)),
  };
}

/** The backends' view: HA states and last errors are the whole gateway's with several workers. */
async function backends(gateway: GatewayHandle) {
  if (!hub()) return backendsOf(gateway);
  const [health, errors] = await Promise.all([
    gatewayView(gateway, 'health') as Promise<HealthRow[]>,
    gatewayView(gateway, 'errors') as Promise<{ errors: RecentErrorReport[] }>,
  ]);
  return backendsOf(gateway, { health, errors: errors.errors });
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
  // The bytes it replaces are kept for undo (history.ts).
  const previous = existed ? keepVersion(gateway, name, file) : undefined;
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
    ...(previous && { previousVersion: previous }),
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
  for (const f of files) {
    if (f.endsWith('.xml')) keepVersion(gateway, name, f);
    unlinkSync(f);
  }
  await gateway.rescan();
  ex.log.info({ topology: name, user: userOf(ex) }, `admin API removed topology ${name}`);
  sendJson(ex, 200, {
    name,
    removed: files.map((f) => homePath(gateway, f)),
    serving: gateway.topologies().some((t) => t.name === name && t.serving !== undefined),
  });
}

/** Checks a topology's source as deploying it would; nothing is written. */
async function check(ex: Exchange, gateway: GatewayHandle, config: AdminConfig, name: string): Promise<void> {
  const source = await readText(ex.req, config.maxBodyBytes);
  const file = join(gateway.layout.topologies, `${name}.xml`);
  const diagnostics = (await gateway.checkTopology(file, source)).map((d) => diagnosticJson(gateway, d));
  sendJson(ex, 200, { name, ok: !diagnostics.some((d) => d.severity === 'error'), diagnostics });
}

/** Who is signed in to the console (the topology's authentication decided). */
function whoami(ex: Exchange) {
  return {
    user: userOf(ex) ?? null,
    groups: [...(ex.effectiveGroups ?? ex.user?.groups ?? [])],
    authMethod: ex.authMethod ?? null,
  };
}

/** The topologies whose KNOXTOKEN service a token page can use, and whether they have the token-management page. */
function tokenHosts(gateway: GatewayHandle) {
  const base = `/${gateway.settings.path}`;
  return gateway
    .topologies()
    .filter((t) => t.serving?.services.some((s) => s.role === 'KNOXTOKEN' && s.state === 'deployed'))
    .map((t) => {
      const applications = t.serving?.topology.applications ?? [];
      const management = applications.some((a) => a.name === 'token-management');
      return {
        topology: t.name,
        api: `${base}/${t.name}/knoxtoken/api/v1/token`,
        ...(management && { page: `${base}/${t.name}/token-management/` }),
      };
    });
}

/** Answers one request below `{API}/` (the CSRF check is done). */
export async function answerApi(
  ex: Exchange,
  gateway: GatewayHandle,
  config: AdminConfig,
  self: string,
): Promise<void> {
  const method = ex.req.method ?? '';
  const path = ex.path;
  if (!path.startsWith(`${API}/`)) throw Errors.notFound();
  const rest = path.slice(API.length + 1);
  const params = new URLSearchParams(ex.query);
  const slash = rest.indexOf('/');
  const head = slash < 0 ? rest : rest.slice(0, slash);
  const tail = slash < 0 ? undefined : decodeURIComponent(rest.slice(slash + 1));
  if (head === 'descriptors' || head === 'shared-providers') {
    return answerConfigFiles(ex, gateway, config, self, head, tail);
  }
  if (head === 'topologies' && tail?.includes('/')) {
    const [name, what, version, ...more] = tail.split('/');
    if (!NAME.test(name)) throw Errors.badRequest('A topology name is letters, digits, ".", "_" and "-"');
    if (more.length > 0 || (version !== undefined && what !== 'history')) throw Errors.notFound();
    if (what === 'check') {
      allow(ex, ['POST']);
      return check(ex, gateway, config, name);
    }
    allow(ex, ['GET', 'HEAD']);
    ex.req.resume();
    if (what === 'source') return sendJson(ex, 200, sourceOf(gateway, name));
    if (what === 'history' && version === undefined) {
      return sendJson(ex, 200, { name, versions: versionsOf(gateway, name) });
    }
    if (what === 'history' && version) {
      return sendJson(ex, 200, { name, version, source: versionSource(gateway, name, version) });
    }
    throw Errors.notFound();
  }
  if (head === 'logout') {
    // The session the request came with (or opened) ends on the server: its cookie is refused from now on, and
    // the answer clears it. HTTP Basic itself has no sign-out: answering the credentials the browser remembers
    // with 401 and a challenge makes it forget them (the next page asks again). A browser gets the HTML page
    // (error-page.ts).
    // A request signed in by its cookie alone has no credentials for the browser to forget: no challenge, so the
    // browser shows the signed-out page instead of asking for a password at once.
    ex.req.resume();
    const cleared = ex.endSession?.();
    const basic = /^basic\s/i.test(ex.req.headers.authorization ?? '');
    throw Errors.unauthenticated('Signed out', {
      headers: {
        ...(basic && { 'WWW-Authenticate': 'BASIC realm="application"' }),
        'cache-control': 'no-store',
        ...(cleared !== undefined && { 'set-cookie': cleared }),
      },
    });
  }
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
      return sendJson(ex, 200, await status(gateway));
    case 'topologies':
      return sendJson(ex, 200, {
        topologies: gateway.topologies().map((t) => summaryOf(gateway, t)),
      });
    case 'routes':
      return sendJson(ex, 200, { routes: routeTable(gateway, params.get('q') ?? '') });
    case 'health':
      return sendJson(ex, 200, { backends: await gatewayView(gateway, 'health') });
    case 'connections':
      return sendJson(ex, 200, await gatewayView(gateway, 'connections'));
    case 'errors':
      return sendJson(ex, 200, await gatewayView(gateway, 'errors'));
    case 'traffic': {
      const window = Number(params.get('window') ?? 60);
      return sendJson(
        ex,
        200,
        await gatewayView(gateway, 'traffic', { window: Number.isFinite(window) ? window : 60 }),
      );
    }
    case 'backends':
      return sendJson(ex, 200, await backends(gateway));
    case 'leaks':
      return sendJson(ex, 200, {
        mode: gateway.settings.rewriteLeakGuard,
        leaks: await gatewayView(gateway, 'leaks'),
      });
    case 'tls':
      return sendJson(ex, 200, tlsOf(ex, gateway));
    case 'whoami':
      return sendJson(ex, 200, whoami(ex));
    case 'tokens':
      return sendJson(ex, 200, { hosts: tokenHosts(gateway) });
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
    case 'feed':
      return sendJson(ex, 200, polledFeed(gateway, params.get('after')));
    case 'events':
      throw Errors.badRequest('Open a WebSocket here (Upgrade: websocket)');
    default:
      throw Errors.notFound();
  }
}
