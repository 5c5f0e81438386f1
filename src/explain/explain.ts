/**
 * @module explain/explain
 * "Why did my URL go there?": for a gateway URL, what postern would do with the request, step by step, without
 * sending anything — the topology, the route chosen (and why the others were not), the provider chain, each
 * rewrite with its before and after, and the backend request (URL and headers). `postern explain` prints it; the
 * admin API serves the same {@link Explanation}.
 *
 * It reads deployments and never changes them: the route is chosen by the deployment's own matcher, and the
 * providers whose effect on the backend request can be computed without a client (rewrite, identity assertion,
 * authorization, Anonymous authentication) run for real on a dry-run exchange whose next step is a no-op, so the
 * answer comes from the same code as the request path. Their audit events are suppressed (nothing happened).
 * Authentication and federation that need credentials are assumed to accept `user`; without a user they run for
 * real on the request as given (its `--header`s), so a request without credentials is explained as the 401 it
 * gets, with the provider's challenge (`WWW-Authenticate`) saying what credentials it needs. WebAppSec and unknown roles are listed, not run. The headers come from the dispatch's own header function.
 *
 * The JSON shape ({@link Explanation}, `version: 1`) is stable: fields may be added, none renamed or removed.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import pino from 'pino';
import type { Diagnostic, Position } from '../config/diagnostics.ts';
import { formatDiagnostic } from '../config/diagnostics.ts';
import type { GatewaySettings } from '../config/gateway-site.ts';
import { editDistance } from '../config/suggest.ts';
import type { CompiledRoute, Deployment } from '../deploy/deployment.ts';
import { HOP_BY_HOP } from '../dispatch/headers.ts';
import { REFUSED_METHODS } from '../dispatch/http-dispatch.ts';
import { splitTarget } from '../dispatch/target-url.ts';
import { Catalog, GatewayError } from '../errors.ts';
import { prefixSegments } from '../gateway/request-target.ts';
import { resolveRequest } from '../gateway/resolve.ts';
import type { RewriteContext } from '../rewrite/index.ts';
import type { AuthMethod, Exchange, HeaderFilter, Principal } from '../spi/index.ts';
import { kDryRun } from '../spi/index.ts';
import { diagnoseMatch, whyLost } from '../urltemplate/index.ts';
import { toWebSocketUrl, withClientQuery } from '../websocket/ws-dispatch.ts';
import { explainLeaks, type LeakExplained } from './leak.ts';

// ---------------------------------------------------------------------------------------------------------------
// The answer
// ---------------------------------------------------------------------------------------------------------------

/** A route, as explain names it. `at` is `file:line:column` of its `<route>`. */
export interface RouteRef {
  service: string;
  definition: string;
  pattern: string;
  at: string;
}

export interface ChainStepExplained {
  role: string;
  name: string;
  /** `file:line:column` where the provider is configured. */
  at: string;
  /** Effective params (topology, chain and chain-ref); secret-looking values are masked. */
  params: Record<string, string>;
  /**
   * `ran`: run for real on the dry-run exchange; `assumed`: not run, its effect assumed (credentials accepted);
   * `not-run`: not simulated (no effect on the backend request that explain can compute); `skipped`: not run for
   * want of a user; `inactive`: the provider has nothing to do on this route (no filter in the chain);
   * `not-reached`: an earlier step ended the request.
   */
  effect: 'ran' | 'assumed' | 'not-run' | 'skipped' | 'inactive' | 'not-reached';
  note?: string;
}

export interface RewriteExplained {
  /** `request.url`, `identity` (a provider's edit of the backend URL), or the binding's `to` for the others. */
  step: string;
  /** The provider (`rewrite/url-rewrite`, `identity-assertion/Default`) or, for response bindings, `rewrite`. */
  by: string;
  /** The rule or filter applied. */
  rule?: string;
  /** How the rule was chosen: `bound` by the route, or `best match` among the IN rules. */
  chosen?: 'bound' | 'best match';
  /** `file:line:column` of the rule or filter. */
  at?: string;
  before?: string;
  after?: string;
  note?: string;
}

export interface Explanation {
  version: 1;
  request: {
    method: string;
    url: string;
    user?: string;
    groups?: string[];
    /** A `ws:`/`wss:` URL: a WebSocket upgrade. */
    upgrade: boolean;
  };
  /**
   * `proxied`: the request reaches the backend (see `backend`); `answered`: the gateway answers it itself;
   * `refused`: the gateway answers with an error (`status`, `code`, `reason`); `unmatched`: no topology or no
   * route (`reason`, `candidates`).
   */
  outcome: 'proxied' | 'answered' | 'refused' | 'unmatched';
  status?: number;
  code?: string;
  reason?: string;
  /**
   * When refused for want of credentials (401): the provider's challenge, the `WWW-Authenticate` value the client
   * gets (what credentials it needs).
   */
  challenge?: string;
  topology?: { name: string; file: string; defaultPath?: string; path: string };
  route?: RouteRef & { params: Record<string, (string | null)[]> };
  /** Other routes: first those that also matched (and why they lost), then the nearest misses. */
  losers: (RouteRef & { matched: boolean; reason: string })[];
  /** Routes not listed in `losers` (see `limit`). */
  omittedLosers: number;
  /** When unmatched: the nearest topologies or routes. */
  candidates?: { topologies?: string[]; routes?: (RouteRef & { reason: string })[] };
  chain: ChainStepExplained[];
  rewrites: RewriteExplained[];
  backend?: {
    method: string;
    url: string;
    /** What the backend receives (`host` is set by the HTTP client from the URL). */
    headers: Record<string, string>;
    /** Client headers that do not reach the backend, and why. */
    notForwarded: { name: string; reason: string }[];
  };
  /**
   * With {@link ExplainOptions.responseHeaders}: those backend response headers through the route's outbound
   * header rules and the leak guard (explain/leak).
   */
  response?: LeakExplained;
  /** What explain assumed, where it could not know (credentials, browser protections). */
  assumptions: string[];
  notes: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// What it explains against
// ---------------------------------------------------------------------------------------------------------------

/** Topologies that exist but do not serve, with why. */
export type Undeployed = ReadonlyMap<string, { file: string; diagnostics: readonly Diagnostic[] }>;

export interface ExplainSource {
  settings: GatewaySettings;
  deployments: ReadonlyMap<string, Deployment>;
  undeployed?: Undeployed;
}

/** What a running {@link Gateway} offers (structurally, so this module does not import the gateway). */
export interface GatewayLike {
  settings: GatewaySettings;
  server: { deployments: ReadonlyMap<string, Deployment> };
  status?: ReadonlyMap<string, { file: string; deployed: boolean; diagnostics: Diagnostic[] }>;
}

export interface ExplainOptions {
  /** Explain as if this user authenticated (authentication and federation are assumed to accept it). */
  user?: string;
  /** The user's groups, as authentication would have found them (for ACLs). */
  groups?: readonly string[];
  /** Client request headers besides `Host` (which comes from the URL). */
  headers?: Readonly<Record<string, string>> | readonly (readonly [string, string])[];
  /** The client's address (ACL `ips`, X-Forwarded-For); default 127.0.0.1. */
  remoteAddress?: string;
  /** How long one provider's dry run may take (a directory lookup for groups); default 5000 ms. */
  timeoutMs?: number;
  /** How many routes that did not match to list; default 10 (routes that matched too are always listed). */
  limit?: number;
  /** A sample of the backend's response headers: what the outbound rules and the leak guard do with them. */
  responseHeaders?: readonly (readonly [string, string])[];
}

function isDeployment(x: unknown): x is Deployment {
  return typeof x === 'object' && x !== null && 'matcher' in x && 'routes' in x && 'rewrite' in x;
}

function isGateway(x: unknown): x is GatewayLike {
  return typeof x === 'object' && x !== null && 'server' in x && 'settings' in x;
}

function sourceOf(from: Deployment | GatewayLike | ExplainSource): ExplainSource {
  if (isDeployment(from)) return { settings: from.settings, deployments: new Map([[from.name, from]]) };
  if (isGateway(from)) {
    const undeployed = new Map<string, { file: string; diagnostics: readonly Diagnostic[] }>();
    for (const [name, s] of from.status ?? []) {
      if (!s.deployed && !from.server.deployments.has(name)) undeployed.set(name, s);
    }
    return { settings: from.settings, deployments: from.server.deployments, undeployed };
  }
  return from;
}

// ---------------------------------------------------------------------------------------------------------------
// explain()
// ---------------------------------------------------------------------------------------------------------------

const at = (p: Position) => `${p.file}:${p.line}:${p.column}`;

const SECRET_PARAM = /pass(word|wd|phrase)?$|password|secret|credential|private|(^|[._-])key$|token$/i;

/** Params for display: a value whose name looks like a secret is masked. */
export function displayParams(params: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of params) out[name] = SECRET_PARAM.test(name) && value !== '' ? '******' : value;
  return out;
}

function routeRef(r: CompiledRoute): RouteRef {
  return { service: r.role, definition: r.definition, pattern: r.path, at: at(r.pos) };
}

/** A URL split without normalising anything (the gateway routes the raw request target). */
function splitUrl(
  url: string,
  settings: GatewaySettings,
): { scheme: string; authority: string; target: string; upgrade: boolean } {
  const served = settings.ssl.enabled ? 'https' : 'http';
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(url);
  const raw = m ? m[3] : url;
  const hash = raw.indexOf('#');
  let target = hash < 0 ? raw : raw.slice(0, hash);
  if (target === '' || target.startsWith('?')) target = `/${target}`;
  if (!m) return { scheme: served, authority: `localhost:${settings.port}`, target, upgrade: false };
  const scheme = m[1].toLowerCase();
  const upgrade = scheme === 'ws' || scheme === 'wss';
  const http = scheme === 'wss' ? 'https' : scheme === 'ws' ? 'http' : scheme;
  return { scheme: http, authority: m[2] || `localhost:${settings.port}`, target, upgrade };
}

function nearestNames(name: string, names: Iterable<string>): string[] {
  return [...names].sort((x, y) => editDistance(name, x) - editDistance(name, y) || (x < y ? -1 : 1));
}

/**
 * Explains what the gateway would do with `METHOD url`.
 * @param from a running gateway, one deployment, or deployments with their settings
 * @param url an absolute URL (`https://host:8443/gateway/sandbox/webhdfs/v1/tmp?op=LISTSTATUS`, `wss://…` for a
 *   WebSocket) or the request target alone (`/gateway/sandbox/…`, host `localhost:{gateway.port}`)
 */
export async function explain(
  from: Deployment | GatewayLike | ExplainSource,
  method: string,
  url: string,
  options: ExplainOptions = {},
): Promise<Explanation> {
  const e = await explainRequest(from, method, url, options);
  // The fields in reading order (the JSON is read by people too).
  const ordered: Record<string, unknown> = {};
  for (const key of KEY_ORDER) if (e[key] !== undefined) ordered[key] = e[key];
  return ordered as unknown as Explanation;
}

const KEY_ORDER: readonly (keyof Explanation)[] = [
  'version',
  'request',
  'outcome',
  'status',
  'code',
  'reason',
  'challenge',
  'topology',
  'route',
  'losers',
  'omittedLosers',
  'candidates',
  'chain',
  'rewrites',
  'backend',
  'response',
  'assumptions',
  'notes',
];

async function explainRequest(
  from: Deployment | GatewayLike | ExplainSource,
  method: string,
  url: string,
  options: ExplainOptions,
): Promise<Explanation> {
  const source = sourceOf(from);
  const { settings } = source;
  const limit = options.limit ?? 10;
  method = method.toUpperCase();
  const parts = splitUrl(url, settings);
  const out: Explanation = {
    version: 1,
    request: {
      method,
      url,
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.groups && options.groups.length > 0 ? { groups: [...options.groups] } : {}),
      upgrade: parts.upgrade,
    },
    outcome: 'unmatched',
    losers: [],
    omittedLosers: 0,
    chain: [],
    rewrites: [],
    assumptions: [],
    notes: [],
  };
  const served = settings.ssl.enabled ? 'https' : 'http';
  if (parts.scheme !== served) {
    out.notes.push(`the gateway serves ${served}; a ${parts.scheme} request would not reach it`);
  }

  // Topology and route: the request path's own resolver (gateway/resolve.ts).
  const prefix = `/${settings.path}/`;
  const deployed = [...source.deployments.keys()].sort();
  const authority = parts.authority;
  const resolved = resolveRequest(settings, source.deployments, { scheme: served, authority }, parts.target);
  switch (resolved.outcome) {
    case 'bad-path':
      return refused(out, 400, Catalog.badPath.code, resolved.reason);
    case 'not-gateway':
    case 'no-topology':
      out.status = 404;
      out.code = Catalog.topologyNotFound.code;
      out.reason =
        resolved.outcome === 'not-gateway'
          ? `the path does not start with the gateway path ${prefix} (gateway.path)`
          : `the path names no topology after ${prefix}`;
      out.candidates = { topologies: deployed.map((n) => `${prefix}${n}/`) };
      return out;
    case 'unknown-topology': {
      const { topology } = resolved;
      out.status = 404;
      out.code = Catalog.topologyNotFound.code;
      const broken = source.undeployed?.get(topology);
      if (broken) {
        const errors = broken.diagnostics.filter((d) => d.severity === 'error');
        out.reason = `topology "${topology}" (${broken.file}) is not deployed: ${errors.length} error(s)`;
        for (const d of errors.slice(0, 5)) out.notes.push(formatDiagnostic(d));
      } else {
        out.reason = `no topology "${topology}" is deployed`;
      }
      out.candidates = {
        topologies: nearestNames(topology, deployed)
          .slice(0, 5)
          .map((n) => `${prefix}${n}/`),
      };
      return out;
    }
  }
  const { topology, deployment, path, query, input } = resolved;
  // What the route, the policies and the rewrite read: the normalised target, as in the gateway.
  if (resolved.normalTarget !== parts.target) {
    out.notes.push(`the path is read in its normal form: ${resolved.normalTarget}`);
  }
  if (resolved.defaulted) {
    out.notes.push(`no service path: the topology's <path> sends the request to ${path}`);
  }
  out.topology = {
    name: topology,
    file: deployment.topology.file,
    ...(deployment.defaultPath ? { defaultPath: deployment.defaultPath } : {}),
    path: query ? `${path}?${query}` : path,
  };

  // The routes that lost, and why.
  const match = resolved.outcome === 'route' ? resolved.match : undefined;
  const others = deployment.routes.filter((r) => r !== match?.value);
  const diagnosed = others.map((r) => ({ r, d: diagnoseMatch(r.template, input) }));
  // Nearest first: the furthest into the URL, then the closest in spelling.
  const distance = new Map(others.map((r) => [r, editDistance(path, r.template.toString())]));
  const nearest = diagnosed
    .filter((x) => !x.d.matches)
    .sort(
      (a, b) =>
        (b.d.matches ? 0 : b.d.progress) - (a.d.matches ? 0 : a.d.progress) ||
        distance.get(a.r)! - distance.get(b.r)! ||
        deployment.routes.indexOf(a.r) - deployment.routes.indexOf(b.r),
    );
  if (resolved.outcome === 'no-route') {
    out.status = 404;
    out.code = Catalog.notFound.code;
    out.reason = `no route of topology "${topology}" matches ${out.topology.path}`;
    out.candidates = {
      routes: nearest.slice(0, limit).map((x) => ({
        ...routeRef(x.r),
        reason: x.d.matches ? '' : x.d.reason,
      })),
    };
    return out;
  }
  const { route, inboundUrl, rewriteContext, requestTarget } = resolved;
  out.route = { ...routeRef(route), params: Object.fromEntries(resolved.match.params) };
  if (route.route.inheritedFrom) {
    out.notes.push(
      `the route has no <rewrite> of its own: as in Knox it applies the bindings of the route at ${at(route.route.inheritedFrom)} (${route.route.rewrites.map((b) => `${b.apply} → ${b.to}`).join(', ')})`,
    );
  }
  const alsoMatched = diagnosed.filter((x) => x.d.matches);
  out.losers = [
    ...alsoMatched.map((x) => ({
      ...routeRef(x.r),
      matched: true,
      reason: whyLost(route.template, x.r.template),
    })),
    ...nearest.slice(0, limit).map((x) => ({
      ...routeRef(x.r),
      matched: false,
      reason: x.d.matches ? '' : x.d.reason,
    })),
  ];
  out.omittedLosers = others.length - out.losers.length;

  const clientHeaders: [string, string][] = [['Host', authority]];
  const given = options.headers;
  if (given) {
    for (const [n, v] of Array.isArray(given) ? given : Object.entries(given)) {
      if (n.toLowerCase() === 'host') clientHeaders[0] = [n, v];
      else clientHeaders.push([n, v]);
    }
  }
  if (parts.upgrade && !clientHeaders.some(([n]) => n.toLowerCase() === 'upgrade')) {
    clientHeaders.push(['Connection', 'Upgrade'], ['Upgrade', 'websocket']);
  }
  const ex = new DryRunExchange({
    method,
    url: requestTarget,
    headers: clientHeaders,
    remoteAddress: options.remoteAddress ?? '127.0.0.1',
    inboundUrl,
    path,
    query,
    rewriteContext,
  });

  // The chain.
  const chainEnded = await runChain(out, deployment, route, ex, options);
  if (chainEnded) {
    otherBindings(out, deployment, route);
    return out;
  }

  // A service that failed to deploy: its route answers 503 with its problem's code, after the chain.
  if (route.dispatch.name === 'failed') {
    const failed = deployment.failed.find(
      (f) => f.role === route.service.role && f.name === route.service.name,
    );
    const code = failed?.code ?? Catalog.serviceNotDeployed.code;
    const problem = failed?.diagnostics.find((d) => d.severity === 'error') ?? failed?.diagnostics[0];
    return refused(
      out,
      503,
      code,
      `service ${failed?.label ?? route.service.role} failed to deploy${problem ? `: ${at(problem)}: ${problem.message}` : ''}`,
    );
  }

  // Dispatch.
  const dispatchName = parts.upgrade ? 'websocket' : route.dispatch.name;
  out.chain.push({
    role: 'dispatch',
    name: dispatchName,
    at: at(route.dispatch.pos),
    params: parts.upgrade ? {} : displayParams(route.dispatch.params),
    effect: 'ran',
    note:
      route.dispatch.requestHeaders || parts.upgrade ? undefined : 'does not describe its backend request',
  });
  if (!parts.upgrade && REFUSED_METHODS.has(method)) {
    return refused(out, 405, Catalog.methodNotAllowed.code, `method ${method} is never forwarded`);
  }
  if (ex.target === undefined) {
    if (!route.dispatch.requestHeaders && !parts.upgrade) {
      out.outcome = 'answered';
      out.reason = `dispatch/${dispatchName} answers in the gateway`;
      return out;
    }
    return refused(out, 404, Catalog.noRewrite.code, 'no rewrite rule maps this URL to a backend');
  }
  let backendUrl = parts.upgrade ? withClientQuery(ex.target, ex.query) : ex.target;
  for (const e of editsApplied(out, ex, backendUrl)) backendUrl = e;
  otherBindings(out, deployment, route);
  if (parts.upgrade) backendUrl = toWebSocketUrl(backendUrl);
  const target = parts.upgrade ? { origin: '', path: '' } : splitTarget(backendUrl);
  if (!target) return refused(out, 500, Catalog.internal.code, 'the rewritten backend URL is not absolute');

  let headers: Record<string, string> = {};
  if (parts.upgrade) {
    out.notes.push('WebSocket upgrade: the backend handshake headers are not listed');
  } else if (route.dispatch.requestHeaders) {
    headers = { host: target.origin.replace(/^[a-z]+:\/\//i, ''), ...route.dispatch.requestHeaders(ex) };
  } else {
    out.outcome = 'answered';
    out.reason = `dispatch/${dispatchName} answers in the gateway`;
    return out;
  }
  out.outcome = 'proxied';
  out.backend = {
    method,
    url: backendUrl,
    headers,
    notForwarded: parts.upgrade
      ? []
      : notForwarded(clientHeaders, headers, dispatchName, route.dispatch.params),
  };
  if (options.responseHeaders && options.responseHeaders.length > 0) {
    out.response = explainLeaks({
      deployment,
      mode: settings.rewriteLeakGuard,
      headers: options.responseHeaders,
      filters: ex.responseHeaderFilters,
      rc: ex.rewriteContext,
      scope: route.service.role,
    });
  }
  return out;
}

function refused(out: Explanation, status: number, code: string, reason: string): Explanation {
  out.outcome = 'refused';
  out.status = status;
  out.code = code;
  out.reason = reason;
  return out;
}

/** Why each client header is missing from the backend request. */
function notForwarded(
  client: readonly [string, string][],
  sent: Record<string, string>,
  dispatch: string,
  params: ReadonlyMap<string, string>,
): { name: string; reason: string }[] {
  const excluded = (params.get('requestExcludeHeaders') ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const connection = client
    .filter(([n]) => n.toLowerCase() === 'connection')
    .flatMap(([, v]) => v.split(','))
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const out: { name: string; reason: string }[] = [];
  const seen = new Set<string>();
  for (const [n] of client) {
    const name = n.toLowerCase();
    if (seen.has(name)) continue;
    seen.add(name);
    // Host is sent, as the backend's own (in `headers`).
    if (name === 'host' || name in sent) continue;
    let reason: string;
    if (HOP_BY_HOP.has(name)) reason = 'hop-by-hop';
    else if (connection.includes(name)) reason = 'named by the client’s Connection header (hop-by-hop)';
    else if (name === 'expect') reason = 'answered by the gateway';
    else if (name.startsWith('x-knox-actor')) reason = 'identity headers only the gateway writes';
    else if (excluded.includes(name)) reason = `listed in requestExcludeHeaders of dispatch/${dispatch}`;
    else if (name === 'authorization')
      reason = `the client's credentials are not forwarded by dispatch/${dispatch}`;
    else reason = `not forwarded by dispatch/${dispatch}, or removed by a provider`;
    out.push({ name, reason });
  }
  return out;
}

/** Applies the providers' edits of the backend URL in order, recording each one. */
function editsApplied(out: Explanation, ex: DryRunExchange, start: string): string[] {
  const urls: string[] = [];
  let url = start;
  for (const { by, edit } of ex.editLog) {
    const next = edit(url);
    out.rewrites.push({
      step: 'identity',
      by,
      before: url,
      after: next,
      ...(next === url ? { note: 'no change' } : {}),
    });
    url = next;
    urls.push(url);
  }
  return urls;
}

// ---------------------------------------------------------------------------------------------------------------
// The chain, dry-run
// ---------------------------------------------------------------------------------------------------------------

/** Roles whose filters explain runs; the others are listed only. */
const RUN_ROLES = new Set(['rewrite', 'identity-assertion', 'authorization']);
const AUTH_ROLES = new Set(['authentication', 'federation']);
/** Providers that authenticate without credentials, so explain can run them. */
const CREDENTIAL_FREE = new Set(['anonymous']);
const NEEDS_USER = new Set(['identity-assertion', 'authorization']);

/** @returns true when the chain ended the request (refused or answered); `out` says how. */
async function runChain(
  out: Explanation,
  deployment: Deployment,
  route: CompiledRoute,
  ex: DryRunExchange,
  options: ExplainOptions,
): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const hasAuth = route.steps.some((s) => s.filter && AUTH_ROLES.has(s.role));
  if (options.user !== undefined && !hasAuth) {
    out.notes.push(`no authentication in this route's chain: the user "${options.user}" is not used`);
  }
  let ended = false;
  for (const step of route.steps) {
    const entry: ChainStepExplained = {
      role: step.role,
      name: step.name,
      at: at(step.pos),
      params: displayParams(step.params),
      effect: 'ran',
    };
    out.chain.push(entry);
    if (ended) {
      entry.effect = 'not-reached';
      continue;
    }
    if (!step.filter) {
      entry.effect = 'inactive';
      entry.note = 'nothing to do on this route';
      continue;
    }
    const credentialFree = AUTH_ROLES.has(step.role) && CREDENTIAL_FREE.has(step.name.toLowerCase());
    if (AUTH_ROLES.has(step.role) && !credentialFree) {
      if (options.user !== undefined) {
        if (!ex.user) ex.user = { name: options.user, groups: [...(options.groups ?? [])] };
        entry.effect = 'assumed';
        entry.note = `assumed to authenticate "${options.user}"`;
        out.assumptions.push(`${step.role}/${step.name} accepts the credentials of "${options.user}"`);
        continue;
      }
      // No user: the provider runs on the request as given, and a request without credentials gets its 401.
    }
    if (!AUTH_ROLES.has(step.role) && !RUN_ROLES.has(step.role)) {
      entry.effect = 'not-run';
      entry.note =
        step.role === 'webappsec'
          ? 'browser protections (CSRF, CORS, security headers, rate limit) are not simulated'
          : 'not simulated';
      out.assumptions.push(`${step.role}/${step.name} lets the request through`);
      continue;
    }
    if (NEEDS_USER.has(step.role) && !ex.user) {
      entry.effect = 'skipped';
      entry.note = 'no authenticated user';
      continue;
    }

    const targetBefore = ex.target;
    const editsBefore = ex.targetEdits?.length ?? 0;
    const urlRule =
      step.role === 'rewrite' && step.name === 'url-rewrite'
        ? describeUrlRewrite(deployment, route, ex)
        : undefined;
    const result = await dryRun(step.filter, ex, timeoutMs);
    for (const edit of ex.targetEdits?.slice(editsBefore) ?? []) {
      ex.editLog.push({ by: `${step.role}/${step.name}`, edit });
    }
    if (urlRule) {
      if (urlRule.rule) entry.note = `request.url by ${urlRule.rule} (${urlRule.chosen})`;
      urlRule.before = ex.inboundUrl;
      if (ex.target !== undefined) urlRule.after = ex.target;
      else urlRule.note ??= 'no rule maps the URL';
      out.rewrites.push(urlRule);
    } else if (ex.target !== targetBefore) {
      out.rewrites.push({
        step: 'request.url',
        by: `${step.role}/${step.name}`,
        before: ex.inboundUrl,
        after: ex.target,
      });
    }
    if (step.role === 'identity-assertion' && ex.effectiveUser !== undefined) {
      const groups = ex.effectiveGroups ?? ex.user?.groups ?? [];
      entry.note = `effective user "${ex.effectiveUser}"${groups.length > 0 ? `, groups ${groups.join(', ')}` : ''}`;
    }
    if (step.role === 'authentication' && ex.user) entry.note = `user "${ex.user.name}"`;
    if (result.kind === 'next') {
      if (step.role === 'authorization') entry.note = `allows "${ex.effectiveUser ?? ex.user?.name}"`;
      continue;
    }
    ended = true;
    if (result.kind === 'error') {
      const e = result.error;
      const status = e instanceof GatewayError ? e.status : 500;
      const code = e instanceof GatewayError ? e.code : Catalog.internal.code;
      entry.note = `refuses: ${status} ${e.message}`;
      refused(out, status, code, `${step.role}/${step.name}: ${e.message}`);
      const challenge = status === 401 ? challengeOf(e, ex) : undefined;
      if (challenge !== undefined) out.challenge = challenge;
      if (status === 401 && AUTH_ROLES.has(step.role) && options.user === undefined) {
        out.notes.push(
          `no credentials given: the client gets ${status}${challenge ? ` with WWW-Authenticate: ${challenge}` : ''}; give --user NAME to explain an authenticated request`,
        );
      }
    } else if (result.kind === 'timeout') {
      entry.note = `did not finish within ${timeoutMs} ms`;
      refused(
        out,
        504,
        'POSTERN_EXPLAIN_TIMEOUT',
        `${step.role}/${step.name} did not finish within ${timeoutMs} ms`,
      );
    } else {
      entry.note = 'answers the request itself';
      out.outcome = 'answered';
      out.reason = `${step.role}/${step.name} answers the request itself`;
    }
  }
  return ended;
}

/** The route's other rewrite bindings (headers, bodies): listed, since they act on what is not simulated. */
function otherBindings(out: Explanation, deployment: Deployment, route: CompiledRoute): void {
  for (const binding of route.route.rewrites) {
    if (binding.to === 'request.url') continue;
    const filter = deployment.rewrite.filter(binding.apply);
    const applies = filter ? describeFilter(filter) : undefined;
    out.rewrites.push({
      step: binding.to,
      by: 'rewrite',
      rule: binding.apply,
      at: filter ? at(filter.pos) : at(binding.pos),
      note: applies ?? (deployment.rewrite.hasRule(binding.apply) ? 'a rule' : 'not defined: does nothing'),
    });
  }
}

/** `application/json: $.Location → RULE; …` */
function describeFilter(filter: { contents: readonly { type: string; pos: Position }[] }): string {
  const parts: string[] = [];
  for (const content of filter.contents) {
    const rules: string[] = [];
    collectApplies(content, rules);
    parts.push(`${content.type}${rules.length > 0 ? `: ${rules.join(', ')}` : ''}`);
  }
  return parts.join('; ');
}

/** Every `{path, rule}` inside a filter content, however deep (buffers, detects, …). */
function collectApplies(node: unknown, into: string[]): void {
  if (Array.isArray(node)) {
    for (const n of node) collectApplies(n, into);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const o = node as Record<string, unknown>;
  if (typeof o.rule === 'string') into.push(`${typeof o.path === 'string' ? o.path : '*'} → ${o.rule}`);
  for (const [k, v] of Object.entries(o)) if (k !== 'pos' && typeof v === 'object') collectApplies(v, into);
}

/**
 * Which rule the url-rewrite provider applies to the request URL and where it is written: the route's
 * `request.url` binding (the last one, as the provider reads them), else Knox's best match in the service's scope.
 */
function describeUrlRewrite(
  deployment: Deployment,
  route: CompiledRoute,
  ex: DryRunExchange,
): RewriteExplained {
  let bound: string | undefined;
  for (const b of route.route.rewrites) if (b.to === 'request.url') bound = b.apply;
  const entry: RewriteExplained = {
    step: 'request.url',
    by: 'rewrite/url-rewrite',
    chosen: bound === undefined ? 'best match' : 'bound',
  };
  try {
    const rc = { ...ex.rewriteContext, username: ex.effectiveUser ?? ex.user?.name };
    const outcome = deployment.rewrite.apply(ex.inboundUrl, {
      rule: bound,
      dir: 'IN',
      ctx: rc,
      scope: route.role,
      anchor: prefixSegments(deployment.settings.path),
    });
    if (outcome.status === 'no-rule') {
      entry.rule = bound;
      entry.note =
        bound === undefined ? 'no IN rule pattern matches the URL' : 'the bound rule is not deployed';
    } else {
      entry.rule = outcome.rule;
      if (outcome.status === 'failed') entry.note = `the rule failed: ${outcome.reason}`;
    }
  } catch (err) {
    entry.rule = bound;
    entry.note = (err as Error).message;
  }
  if (entry.rule !== undefined) {
    const where = ruleWhere(deployment, entry.rule);
    if (where) entry.at = where;
  }
  return entry;
}

/** Where the rule applied by that name is written: the first definition of the deployment that has it. */
function ruleWhere(deployment: Deployment, name: string): string | undefined {
  for (const d of deployment.definitions) {
    const rule = d.rewrite.rules.find((r) => r.name === name);
    if (rule) return at(rule.pos);
  }
  return undefined;
}

type DryRunResult =
  | { kind: 'next' }
  | { kind: 'answered' }
  | { kind: 'error'; error: Error }
  | { kind: 'timeout' };

async function dryRun(
  filter: NonNullable<CompiledRoute['steps'][number]['filter']>,
  ex: DryRunExchange,
  timeoutMs: number,
): Promise<DryRunResult> {
  let reached = false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<DryRunResult>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
  });
  const run = (async (): Promise<DryRunResult> => {
    try {
      await filter(ex, () => {
        reached = true;
        return Promise.resolve();
      });
      return reached ? { kind: 'next' } : { kind: 'answered' };
    } catch (err) {
      return { kind: 'error', error: err instanceof Error ? err : new Error(String(err)) };
    }
  })();
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The `WWW-Authenticate` a refusal carries (its own headers, or those the provider set on the response). */
function challengeOf(e: Error, ex: DryRunExchange): string | undefined {
  const headers = e instanceof GatewayError ? (e.headers ?? {}) : {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'www-authenticate') return value;
  }
  const set = ex.res.getHeader('www-authenticate');
  return set === undefined ? undefined : String(set);
}

const SILENT = pino({ level: 'silent' });

/**
 * The exchange a dry run goes through: a real (unconnected) request and response, so providers see what they
 * would see, marked so that nothing is audited.
 */
class DryRunExchange implements Exchange {
  readonly [kDryRun] = true;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly id = '<request id>';
  readonly log = SILENT;
  readonly inboundUrl: string;
  readonly path: string;
  readonly query: string;
  readonly rewriteContext: RewriteContext;
  target: string | undefined = undefined;
  onClientClose: (() => void) | undefined = undefined;
  user: Principal | undefined = undefined;
  authMethod: AuthMethod | undefined = undefined;
  credentialExpiresAt: number | undefined = undefined;
  effectiveUser: string | undefined = undefined;
  effectiveGroups: readonly string[] | undefined = undefined;
  addRequestHeaders: [string, string][] | undefined = undefined;
  responseHeaderFilters: HeaderFilter[] | undefined = undefined;
  requestHeaderFilters: HeaderFilter[] | undefined = undefined;
  targetEdits: ((url: string) => string)[] | undefined = undefined;
  readonly clientAddress: string;
  readonly peerAddress: string;
  /** Each edit of the backend URL with the provider that added it. */
  readonly editLog: { by: string; edit: (url: string) => string }[] = [];

  constructor(init: {
    method: string;
    url: string;
    headers: readonly [string, string][];
    remoteAddress: string;
    inboundUrl: string;
    path: string;
    query: string;
    rewriteContext: RewriteContext;
  }) {
    this.clientAddress = init.remoteAddress;
    this.peerAddress = init.remoteAddress;
    const socket = new Socket();
    Object.defineProperty(socket, 'remoteAddress', { value: init.remoteAddress });
    const req = new IncomingMessage(socket);
    req.method = init.method;
    req.url = init.url;
    req.rawHeaders = init.headers.flat();
    const headers: Record<string, string> = {};
    for (const [n, v] of init.headers) {
      const name = n.toLowerCase();
      headers[name] = name in headers ? `${headers[name]}${name === 'cookie' ? '; ' : ', '}${v}` : v;
    }
    req.headers = headers;
    this.req = req;
    this.res = new ServerResponse(req);
    this.inboundUrl = init.inboundUrl;
    this.path = init.path;
    this.query = init.query;
    this.rewriteContext = init.rewriteContext;
  }
}
