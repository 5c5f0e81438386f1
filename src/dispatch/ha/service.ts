/**
 * @module dispatch/ha/service
 * The HA state of one service of a deployed topology: its URLs in failover order, their health, and the choice
 * of a URL for each request.
 *
 * - Without load balancing the first URL is the active one; a URL whose request fails moves to the end of the
 *   list, so the next one becomes active and a restarted backend does not take the traffic back by itself.
 * - With load balancing, requests go round-robin over the list (unless the User-Agent is on the disable list);
 *   with sticky sessions, the cookie `{stickySessionCookieName}-{ROLE}` = sha256(url) pins a client to a URL.
 * - Beyond Knox: a URL whose request failed is passed over for `failureCooldown` while another is available
 *   (passive health), and an optional active check (`healthCheckPath`) marks URLs down and up. Every change of a
 *   URL's state is published on `postern:backend-health`; a URL nothing is known about is up.
 *
 * Shared by every route of the service (HTTP and WebSocket), released with its deployment.
 *
 * With several workers (`postern.workers` > 1), a request's failure or recovery of a URL is also told to the other
 * workers ({@link onHealthMark}, relayed by the primary: cluster/ha-relay.ts), which apply the same mark
 * ({@link applyHealthMark}): a backend one worker found dead is passed over by all. A worker that cannot reach the
 * primary keeps its own view. Active checks are not relayed: every worker runs its own.
 */

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import { type BackendHealthEvent, backendHealthEvents } from '../../observability/events.ts';
import type { HaSettings } from '../../providers/ha/config.ts';
import type { RouteContext } from '../../spi/index.ts';
import { type UrlBase, urlBase } from './retarget.ts';
import { StandbyAnswer } from './standby.ts';

export type BackendState = 'up' | 'down';

/** One URL of the service and what is known about it. */
export interface HaUrl {
  readonly url: string;
  readonly base: UrlBase;
  /** sha256(url), hex: the sticky cookie's value. */
  readonly hash: string;
  state: BackendState;
  /** Until when (ms since the epoch) a request failure keeps it out of rotation. */
  coolUntil: number;
  /** The active check found it down (it stays out until a check or a request succeeds). */
  checkDown: boolean;
}

/** Knox's non-idempotent methods: failed over only after a connect error, unless enabled. */
const NON_IDEMPOTENT = new Set(['POST', 'PATCH', 'CONNECT']);

/** Errors raised before the request reached the backend: failing over cannot repeat a request. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: string; errors?: unknown[] } | undefined;
  if (e?.code) return e.code;
  // Happy eyeballs over several addresses fails with an AggregateError of the attempts.
  if (Array.isArray(e?.errors) && e.errors.length > 0) return errorCode(e.errors[0]);
  return undefined;
}

export function isConnectError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && CONNECT_ERRORS.has(code);
}

/** The value of cookie `name` in a Cookie header, if present. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Cookie header without cookie `name`; undefined when nothing is left. */
export function withoutCookie(header: string, name: string): string | undefined {
  const kept = header.split(';').filter((part) => {
    const eq = part.indexOf('=');
    return (eq < 0 ? part : part.slice(0, eq)).trim() !== name;
  });
  const out = kept
    .map((p) => p.trim())
    .filter(Boolean)
    .join('; ');
  return out === '' ? undefined : out;
}

/** Every live HA service, for {@link backendHealth}. */
const live = new Set<HaService>();

/** A URL's state as a request found it, told to the other workers. */
export interface HealthMark {
  topology: string;
  service: string;
  url: string;
  state: BackendState;
  reason?: string;
}

let markListener: ((mark: HealthMark) => void) | undefined;

/** Called with every mark a request makes here (not with relayed ones); one listener per process. */
export function onHealthMark(listener: ((mark: HealthMark) => void) | undefined): void {
  markListener = listener;
}

/** Applies a mark another worker made, as if a request here had found it (without telling it on). */
export function applyHealthMark(mark: HealthMark, worker: number): void {
  for (const s of live) {
    if (s.topology !== mark.topology || s.role !== mark.service) continue;
    const u = s.urls.find((x) => x.url === mark.url);
    if (!u) continue;
    if (mark.state === 'down') s.failed(u, mark.reason ?? 'failed on another worker', worker);
    else s.succeeded(u, 'request', worker);
  }
}

/** The state of every URL of every deployed HA service (for health endpoints and metrics). */
export function backendHealth(): BackendHealthEvent[] {
  const out: BackendHealthEvent[] = [];
  for (const s of live) {
    for (const u of s.urls) out.push({ topology: s.topology, service: s.role, url: u.url, state: u.state });
  }
  return out;
}

export class HaService {
  readonly topology: string;
  readonly role: string;
  readonly settings: HaSettings;
  /** The URL the rewrite rules build targets from: the service's first `<url>`. */
  readonly primary: UrlBase;
  /** `{stickySessionCookieName}-{ROLE}`. */
  readonly cookieName: string;
  readonly secure: boolean;
  /** `/{gateway.path}/{topology}`: the sticky cookie's path. */
  readonly context: string;
  /** The URLs in the topology's order. */
  readonly urls: readonly HaUrl[];
  /** The URLs in failover order: the active one first, failed ones last. */
  #order: HaUrl[];
  #byHash = new Map<string, HaUrl>();
  #rr = 0;
  #checker: Dispatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #checks: AbortController | undefined;
  #closed = false;

  constructor(init: {
    topology: string;
    role: string;
    urls: readonly string[];
    settings: HaSettings;
    secure: boolean;
    context: string;
  }) {
    this.topology = init.topology;
    this.role = init.role;
    this.settings = init.settings;
    this.secure = init.secure;
    this.context = init.context;
    this.cookieName = `${init.settings.stickySessionCookieName}-${init.role}`;
    this.urls = init.urls.map((url) => ({
      url,
      base: urlBase(url) ?? { origin: url, base: '' },
      hash: createHash('sha256').update(url).digest('hex'),
      state: 'up' as BackendState,
      coolUntil: 0,
      checkDown: false,
    }));
    this.primary = this.urls[0].base;
    this.#order = [...this.urls];
    for (const u of this.urls) this.#byHash.set(u.hash, u);
    live.add(this);
  }

  /**
   * The service's HA state in this deployment, made on first use by any of its routes and released with the
   * deployment.
   */
  static for(
    ctx: Pick<RouteContext, 'topology' | 'service' | 'settings' | 'shared' | 'onRetire'>,
    settings: HaSettings,
  ): HaService {
    return ctx.shared(`ha-service:${ctx.service.role}`, () => {
      const service = new HaService({
        topology: ctx.topology.name,
        role: ctx.service.role,
        urls: ctx.service.urls.map((u) => u.url),
        settings,
        secure: ctx.settings.ssl.enabled,
        context: `/${ctx.settings.path}/${ctx.topology.name}`,
      });
      ctx.onRetire(() => service.close());
      return service;
    });
  }

  /** Starts the active health check (when configured) with the dispatch's connection pool. Idempotent. */
  useDispatcher(dispatcher: Dispatcher): void {
    if (this.#checker || this.#closed || this.settings.healthCheckPath === undefined) return;
    this.#checker = dispatcher;
    this.#schedule(0);
  }

  close(): void {
    this.#closed = true;
    live.delete(this);
    clearTimeout(this.#timer);
    this.#checks?.abort();
  }

  /** Starts a request: picks its first URL (sticky, round-robin or active). */
  begin(req: IncomingMessage): HaRequest {
    const s = this.settings;
    let balance = s.enableLoadBalancing;
    if (balance && s.disableLoadBalancingForUserAgents.length > 0) {
      const agent = req.headers['user-agent'];
      if (agent && s.disableLoadBalancingForUserAgents.some((a) => agent.includes(a))) balance = false;
    }
    const sticky = balance && s.enableStickySession;
    let pinned: HaUrl | undefined;
    if (sticky) {
      const value = cookieValue(req.headers.cookie, this.cookieName);
      pinned = value === undefined ? undefined : this.#byHash.get(value);
    }
    // A pinned URL that is down is left for another, unless noFallback says the client must stay on it.
    const first =
      pinned && (s.noFallback || this.#available(pinned, Date.now())) ? pinned : this.pick([], balance);
    return new HaRequest(this, first, balance, sticky, pinned === first ? pinned : undefined, pinned);
  }

  /** The next URL to try: an untried available one, else an untried one, else an available one. */
  pick(tried: readonly HaUrl[], balance: boolean): HaUrl {
    const list = this.#order;
    const n = list.length;
    let start = 0;
    if (balance) {
      start = this.#rr;
      this.#rr = (this.#rr + 1) % n;
    }
    const now = Date.now();
    let untried: HaUrl | undefined;
    let available: HaUrl | undefined;
    for (let i = 0; i < n; i++) {
      const u = list[(start + i) % n];
      const fresh = !tried.includes(u);
      const ok = this.#available(u, now);
      if (fresh && ok) return u;
      if (fresh) untried ??= u;
      if (ok) available ??= u;
    }
    return untried ?? available ?? list[start];
  }

  /**
   * A request to `u` failed: it goes to the end of the list (Knox's DefaultURLManager.markFailed) and, for the
   * cool-down, out of rotation.
   * @param relayedFrom the worker whose request failed, when the primary relayed the mark here
   */
  failed(u: HaUrl, reason: string, relayedFrom?: number): void {
    const cooldown = this.settings.failureCooldown;
    if (cooldown > 0) u.coolUntil = Date.now() + cooldown;
    this.#toBack(u);
    this.#set(u, 'down', 'request', reason, relayedFrom);
    if (relayedFrom === undefined) {
      markListener?.({ topology: this.topology, service: this.role, url: u.url, state: 'down', reason });
    }
  }

  /** `u` answered. */
  succeeded(u: HaUrl, source: 'request' | 'check' = 'request', relayedFrom?: number): void {
    if (u.state === 'up') return;
    u.coolUntil = 0;
    u.checkDown = false;
    this.#set(u, 'up', source, undefined, relayedFrom);
    if (source === 'request' && relayedFrom === undefined) {
      markListener?.({ topology: this.topology, service: this.role, url: u.url, state: 'up' });
    }
  }

  #available(u: HaUrl, now: number): boolean {
    return u.state === 'up' || (!u.checkDown && now >= u.coolUntil);
  }

  #toBack(u: HaUrl): void {
    const order = this.#order;
    const i = order.indexOf(u);
    if (i < 0 || i === order.length - 1) return;
    order.splice(i, 1);
    order.push(u);
  }

  #set(u: HaUrl, state: BackendState, source: 'request' | 'check', reason?: string, worker?: number): void {
    if (u.state === state) return;
    u.state = state;
    if (backendHealthEvents.hasSubscribers) {
      backendHealthEvents.publish({
        topology: this.topology,
        service: this.role,
        url: u.url,
        state,
        source,
        reason,
        ...(worker !== undefined && { worker }),
      } satisfies BackendHealthEvent);
    }
  }

  #schedule(delay: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#checkAll().then(
        () => this.#schedule(this.settings.healthCheckInterval),
        () => this.#schedule(this.settings.healthCheckInterval),
      );
    }, delay);
    this.#timer.unref();
  }

  async #checkAll(): Promise<void> {
    const checks = new AbortController();
    this.#checks = checks;
    await Promise.all(this.urls.map((u) => this.#check(u, checks.signal)));
  }

  async #check(u: HaUrl, signal: AbortSignal): Promise<void> {
    const { healthCheckPath, healthCheckTimeout } = this.settings;
    const origin = u.base.origin.replace(/^ws(s?):/i, 'http$1:');
    let reason: string | undefined;
    try {
      const res = await this.#checker!.request({
        origin,
        path: `${u.base.base}${healthCheckPath}`,
        method: 'GET',
        headersTimeout: healthCheckTimeout,
        bodyTimeout: healthCheckTimeout,
        signal: AbortSignal.any([signal, AbortSignal.timeout(healthCheckTimeout)]),
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 400) {
        this.succeeded(u, 'check');
        return;
      }
      reason = `status ${res.statusCode}`;
    } catch (err) {
      if (this.#closed) return;
      reason = errorCode(err) ?? (err as Error).name;
    }
    if (this.#closed) return;
    const wasDown = u.checkDown;
    u.checkDown = true;
    if (!wasDown) this.#toBack(u);
    this.#set(u, 'down', 'check', reason);
  }
}

/** One request's way through the service's URLs. */
export class HaRequest {
  readonly service: HaService;
  /** The URL being tried. */
  url: HaUrl;
  /** The number of failovers so far. */
  failovers = 0;
  readonly #balance: boolean;
  readonly #sticky: boolean;
  /** The URL the client's sticky cookie chose, when this request went there first. */
  readonly #pinned: HaUrl | undefined;
  /** The URL the client's cookie names (whether or not it was used). */
  readonly #cookie: HaUrl | undefined;
  #tried: HaUrl[] = [];

  constructor(
    service: HaService,
    first: HaUrl,
    balance: boolean,
    sticky: boolean,
    pinned: HaUrl | undefined,
    cookie: HaUrl | undefined,
  ) {
    this.service = service;
    this.url = first;
    this.#balance = balance;
    this.#sticky = sticky;
    this.#pinned = pinned;
    this.#cookie = cookie;
  }

  /**
   * The attempt on {@link url} failed before a response started. Records the failure and says what next:
   * `retry` (with {@link url} moved on; wait `failoverSleep` first), `noFallback` (the sticky URL is gone and the
   * client must not be moved: 502), or `stop` (the error stands).
   * @param replayable the request body (if any) can be sent again
   */
  failed(err: Error, method: string, replayable: boolean): 'retry' | 'noFallback' | 'stop' {
    const s = this.service.settings;
    this.service.failed(this.url, errorCode(err) ?? err.message);
    if (this.#pinned !== undefined && this.url === this.#pinned && s.noFallback) return 'noFallback';
    if (!replayable) return 'stop';
    // A standby's answer says the request was not carried out: retried like a connect error.
    const notCarriedOut = isConnectError(err) || err instanceof StandbyAnswer;
    if (NON_IDEMPOTENT.has(method) && !s.failoverNonIdempotentRequestEnabled && !notCarriedOut) {
      return 'stop';
    }
    if (this.failovers >= s.maxFailoverAttempts) return 'stop';
    this.failovers++;
    this.#tried.push(this.url);
    this.url = this.service.pick(this.#tried, this.#balance);
    return 'retry';
  }

  /** The response came from {@link url}. */
  succeeded(): void {
    this.service.succeeded(this.url);
  }

  /**
   * The sticky cookie to set on the response (`Path` as given), when sticky sessions apply to this request and
   * the client's cookie does not already name the URL that answered.
   */
  stickyCookie(path: string): string | undefined {
    if (!this.#sticky || this.#cookie === this.url) return undefined;
    const secure = this.service.secure ? '; Secure' : '';
    return `${this.service.cookieName}=${this.url.hash}; Path=${path}; HttpOnly${secure}`;
  }

  /** Whether the sticky cookie must be kept from the backend (it is the gateway's). */
  get sticky(): boolean {
    return this.#sticky;
  }
}
