/**
 * @module providers/authentication/shiro
 * Knox's `ShiroProvider`: HTTP Basic checked against the realms of a flattened `shiro.ini`
 * (config.ts), a session cookie, an authentication cache and `urls.*` path rules.
 *
 * Per request, the first `urls.*` rule matching the path below the topology decides:
 * - `anon`: the request goes on as `anonymous`.
 * - otherwise a live session cookie (`KNOXSESSIONID`, as Knox's Jetty names it) authenticates the request, unless
 *   the request also carries Basic credentials for another user; else `Authorization: Basic` is checked against
 *   each realm in order (the first that accepts wins; a realm that cannot be asked is skipped, and if none
 *   accepted and one could not be asked the answer is 503, not 401). A successful Basic login opens a session
 *   (`sessionTimeout` minutes idle, default 30) and sets the cookie: HttpOnly, SameSite=Lax, Secure over TLS,
 *   Path=/{gateway.path}/{topology}.
 * - missing, malformed or wrong credentials, an unknown or expired session: 401 with
 *   `WWW-Authenticate: BASIC realm="application"` (Shiro's default application name, which Knox keeps), except
 *   to a page's script (`X-Requested-With: XMLHttpRequest`), which would otherwise get the browser's dialog;
 *   `roles[...]` the user lacks: 403.
 *
 * With `redirectToUrl` (Knox's RedirectToUrlFilter), a request without an Authorization header is redirected
 * there first (the knoxauth login page of the stock knoxsso topology).
 *
 * The session cookie is removed from the request forwarded to the backend. Every outcome is audited
 * (`authentication` events); a password or session id never reaches a log line.
 *
 * State (realms and their LDAP connections, the session store, the authentication cache) is per topology
 * deployment and per distinct provider configuration, and is released when the deployment retires: a redeploy
 * starts with no sessions. With several workers the sessions are the primary's (cluster/hub.ts, through
 * HubSessions), held while any worker's deployment uses the same topology and configuration: a redeploy that
 * keeps the provider's params keeps them, and a store that does not answer makes the request a 503. With
 * `postern.state.redis.url` they are in Redis (cluster/redis-state.ts, RedisSessions), shared by every node: a
 * session outlives a redeploy and the restart of the node that opened it, and Redis unreachable is a 503.
 */

import { createHash, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { hub } from '../../../cluster/ipc.ts';
import { sharedState } from '../../../cluster/redis-state.ts';
import { HubUnavailableError } from '../../../cluster/rpc.ts';
import { Errors, type GatewayError } from '../../../errors.ts';
import { clientAddress } from '../../../gateway/connection-limits.ts';
import {
  addTo,
  auditFor,
  type Exchange,
  type Filter,
  type Principal,
  type ProviderContext,
  type ProviderFactory,
  type RouteAudit,
} from '../../../spi/index.ts';
import { basicCredentials, cookieValue, withoutCookies } from '../../common/credentials.ts';
import { type Attempt, loginThrottle, type Refusal, type Throttle } from '../../common/login-throttle.ts';
import { AuthenticationCache } from './auth-cache.ts';
import { readShiroConfig, type ShiroConfig } from './config.ts';
import { RealmUnavailableError } from './realm.ts';
import { HubSessions, RedisSessions, SessionStore, type Sessions } from './sessions.ts';
import { DEFAULT_RULE } from './urls.ts';

/** Knox's session cookie name (GatewayServer's `KNOXSESSIONCOOKIENAME`). */
export const SESSION_COOKIE = 'KNOXSESSIONID';
/** Shiro's `BasicHttpAuthenticationFilter` default application name. */
export const BASIC_REALM = 'application';
const CHALLENGE = `BASIC realm="${BASIC_REALM}"`;
/** An upper bound on one login, whatever the realms' own timeouts add up to. */
const MAX_LOGIN_MS = 30_000;

const ANONYMOUS: Principal = Object.freeze({
  name: 'anonymous',
  groups: Object.freeze([]) as readonly string[],
});
const COOKIE_NAMES: ReadonlySet<string> = new Set([SESSION_COOKIE]);

interface ShiroState {
  config: ShiroConfig;
  sessions: Sessions;
  cache: AuthenticationCache;
  /** Logins being checked, by {@link flightKey}: the same credentials from the same address at once share one. */
  checking: Map<string, Promise<LoginResult>>;
}

// A KeyObject made once, never stored: the keys of logins in flight hold no password.
const FLIGHT_KEY = createSecretKey(randomBytes(32));

const flightKey = (address: string, username: string, password: string) =>
  createHmac('sha256', FLIGHT_KEY)
    .update(`${address}\u0000${username}\u0000`)
    .update(password)
    .digest('base64url');

/** The state of one provider configuration in one deployment, made on the first route that uses it. */
function stateFor(ctx: ProviderContext): ShiroState | undefined {
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([...ctx.params]))
    .digest('hex');
  return ctx.shared(`shiro:${fingerprint}`, () => {
    const config = readShiroConfig(ctx);
    if (!config) return undefined;
    // Several nodes (postern.state.redis.url): the sessions live in Redis, shared by every node and worker.
    // Several workers without it: they live in the primary, so a session opened on one worker holds on every other.
    const ns = `${ctx.topology.name}:${fingerprint}`;
    const redis = sharedState(ctx.settings);
    const rpc = hub();
    const state: ShiroState = {
      config,
      sessions: redis
        ? new RedisSessions(redis, ns, config.sessionTimeoutMs)
        : rpc
          ? new HubSessions(rpc, ns, config.sessionTimeoutMs)
          : new SessionStore({ timeoutMs: config.sessionTimeoutMs }),
      cache: new AuthenticationCache({ ttlMs: config.cacheTtlMs }),
      checking: new Map(),
    };
    // A realm whose users changed (a reloaded users file): their cached logins and sessions no longer hold.
    for (const realm of config.realms) {
      realm.onChange?.((changed) => {
        state.cache.clear();
        state.sessions.dropUsers(changed);
      });
    }
    const sweeper = setInterval(() => state.sessions.sweep(), 60_000);
    sweeper.unref();
    ctx.onRetire(() => {
      clearInterval(sweeper);
      for (const realm of config.realms) realm.close();
      state.sessions.clear();
      state.cache.clear();
    });
    return state;
  });
}

type LoginResult =
  | { user: Principal }
  | { failure: 'rejected' | 'unavailable'; detail?: string }
  | { failure: 'throttled'; refusal: Refusal };

/**
 * The realms in order, each asked its cache first. Before the first password check the cache does not spare, the
 * attempt is reserved (counted as a failure at once, login-throttle.ts), and before the first hash `spend` is
 * asked; a reserved attempt that does not end rejected (a good password, a realm unavailable, a refusal, an
 * error) is given back. A check still running when the provider stops waiting (MAX_LOGIN_MS) settles it later.
 */
async function login(
  state: ShiroState,
  throttle: Throttle,
  address: string,
  username: string,
  password: string,
): Promise<LoginResult> {
  let unavailable: string | undefined;
  let attempt: Attempt | undefined;
  let spent = false;
  let rejected = false;
  try {
    for (const realm of state.config.realms) {
      if (realm.cachingEnabled) {
        const cached = state.cache.get(realm.name, username, password);
        if (cached) return { user: cached };
      }
      if (!attempt) {
        const reservation = await throttle.reserve(address, username);
        if (!reservation.ok) return { failure: 'throttled', refusal: reservation.refusal };
        attempt = reservation.attempt;
      }
      if (!spent && realm.hashesLocally) {
        spent = true;
        const refusal = await throttle.spend(address);
        if (refusal) return { failure: 'throttled', refusal };
      }
      try {
        const user = await realm.authenticate(username, password);
        if (user) {
          if (realm.cachingEnabled) state.cache.set(realm.name, username, password, user);
          return { user };
        }
      } catch (err) {
        if (!(err instanceof RealmUnavailableError)) throw err;
        unavailable = `${realm.name}: ${err.message}`;
      }
    }
    if (unavailable) return { failure: 'unavailable', detail: unavailable };
    rejected = true;
    return { failure: 'rejected' };
  } finally {
    // Best effort: a slot that cannot be given back stays counted as a failure until its window ends (fail closed).
    if (attempt && !rejected) await throttle.release(attempt).catch(() => {});
  }
}

function withDeadline<T>(pending: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  return Promise.race([pending, deadline]).finally(() => clearTimeout(timer));
}

/** A session store operation; a shared store that does not answer is a 503, never an anonymous pass (fail closed). */
async function sessionStore<T>(op: () => T | Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof HubUnavailableError) {
      throw Errors.unavailable('The session store is unavailable; retry shortly', { cause: err });
    }
    throw err;
  }
}

function isScripted(ex: Exchange): boolean {
  return String(ex.req.headers['x-requested-with'] ?? '').toLowerCase() === 'xmlhttprequest';
}

export const shiroProvider: ProviderFactory = {
  role: 'authentication',
  name: 'ShiroProvider',
  create(ctx: ProviderContext): Filter | undefined {
    const state = stateFor(ctx);
    if (!state) {
      // readShiroConfig reported why; make sure the deployment cannot go ahead without authentication.
      if (!ctx.sink.hasErrors) ctx.sink.error(ctx.pos, 'ShiroProvider: the configuration cannot be used');
      return undefined;
    }
    const { config, sessions } = state;
    const audit: RouteAudit = auditFor(ctx, 'authentication');
    const throttle: Throttle = loginThrottle(ctx.settings);
    const throttled = (ex: Exchange, user: string, refusal: Refusal): GatewayError => {
      audit(ex, 'denied', { user, reason: `throttled: ${refusal.reason}` });
      return Errors.tooManyRequests('Too many login attempts; retry later', {
        headers: { 'Retry-After': String(refusal.retryAfterS) },
      });
    };
    const cookiePath = `/${[ctx.settings.path, ctx.topology.name].filter(Boolean).join('/')}`;
    const secureAlways = ctx.settings.ssl.enabled;
    const cookieAttributes = (ex: Exchange) =>
      `Path=${cookiePath}; HttpOnly; SameSite=Lax${secureAlways || ex.rewriteContext.inbound.scheme === 'https' ? '; Secure' : ''}`;

    const unauthenticated = (ex: Exchange, message: string, clearCookie: boolean): GatewayError => {
      // A page's own script (X-Requested-With: XMLHttpRequest, as the knoxauth login page sends) gets no Basic
      // challenge: a browser would answer it with its password dialog instead of letting the page say why.
      const headers: Record<string, string> = isScripted(ex) ? {} : { 'WWW-Authenticate': CHALLENGE };
      if (clearCookie) headers['Set-Cookie'] = `${SESSION_COOKIE}=; Max-Age=0; ${cookieAttributes(ex)}`;
      return Errors.unauthenticated(message, { headers });
    };

    return async (ex, next) => {
      if (config.redirectToUrl !== undefined && ex.req.headers.authorization === undefined) {
        // Knox's RedirectToUrlFilter runs before Shiro on every route of the topology, anon paths included.
        ex.req.resume();
        const query = ex.rewriteContext.inbound.query;
        audit(ex, 'failure', { reason: 'no credentials: redirected to redirectToUrl' });
        ex.res.writeHead(302, {
          location: query ? `${config.redirectToUrl}?${query}` : config.redirectToUrl,
          'cache-control': 'no-store',
          'content-length': '0',
        });
        ex.res.end();
        return;
      }
      const rule = config.rules.find((r) => r.matches(ex.path)) ?? DEFAULT_RULE;
      if (rule.anon) {
        ex.user = ANONYMOUS;
        ex.authMethod = 'anonymous';
        audit(ex, 'success', { reason: `anon ${rule.pattern}` });
        return next();
      }

      const headers = ex.req.headers;
      const sessionId = cookieValue(headers, SESSION_COOKIE);
      if (sessionId !== undefined && headers.cookie) {
        // The gateway's session cookie is the gateway's business: the backend never sees it.
        addTo(ex, 'requestHeaderFilters', (h) => {
          const cookie = typeof h.cookie === 'string' ? withoutCookies(h.cookie, COOKIE_NAMES) : undefined;
          const { cookie: _removed, ...rest } = h;
          return cookie ? { ...rest, cookie } : rest;
        });
      }
      const credentials = basicCredentials(headers);
      const session = sessionId ? await sessionStore(() => sessions.touch(sessionId)) : undefined;

      let user: Principal;
      if (session && (!credentials || credentials.username === session.user.name)) {
        user = session.user;
        ex.authMethod = 'session';
        const id = sessionId as string;
        // Through a variable (test/source-closures.test.ts): an arrow assigned straight to a property is allocated
        // in V8's old generation and would keep this request alive there until the next mark-compact.
        const endSession = () => {
          sessions.end(id);
          return `${SESSION_COOKIE}=; Max-Age=0; ${cookieAttributes(ex)}`;
        };
        ex.endSession = endSession;
        // No credentialExpiresAt: a session ends after idle time, and an open WebSocket is use, not idleness.
      } else {
        if (!credentials) {
          const reason = sessionId ? 'unknown or expired session' : 'no credentials';
          audit(ex, 'failure', { reason });
          throw unauthenticated(ex, 'Authentication required', sessionId !== undefined);
        }
        // Failed logins and password checks are bounded per client address and per user (login-throttle.ts).
        const address = clientAddress({ remoteAddress: ex.clientAddress });
        // Kept for the gateway, not the process: in the primary with several workers, in Redis with several nodes;
        // a store that does not answer is a 503 (fail closed).
        const refusal = await throttle.admit(address, credentials.username);
        if (refusal) throw throttled(ex, credentials.username, refusal);
        // A client sending the same credentials on several connections at once (parallel API calls) gets one
        // check: one password hash or bind, and one attempt for the throttle, whose limit would otherwise refuse
        // the calls past it while they are all in flight.
        const key = flightKey(address, credentials.username, credentials.password);
        let checking = state.checking.get(key);
        if (!checking) {
          const started = withDeadline(
            login(state, throttle, address, credentials.username, credentials.password),
            MAX_LOGIN_MS,
            () => ({
              failure: 'unavailable' as const,
              detail: `no realm answered within ${MAX_LOGIN_MS} ms`,
            }),
          );
          checking = started.finally(() => state.checking.delete(key));
          state.checking.set(key, checking);
        }
        const result = await checking;
        if ('failure' in result) {
          if (result.failure === 'throttled') throw throttled(ex, credentials.username, result.refusal);
          if (result.failure === 'unavailable') {
            ex.log.warn({ realm: result.detail }, 'authentication could not be checked: realm unavailable');
            audit(ex, 'unavailable', { user: credentials.username, reason: 'realm unavailable' });
            throw Errors.unavailable('The authentication service is unavailable; retry shortly');
          }
          // Counted when it was reserved: the failure stays in the windows.
          audit(ex, 'failure', { user: credentials.username, reason: 'invalid credentials' });
          throw unauthenticated(ex, 'Invalid credentials', false);
        }
        user = result.user;
        ex.authMethod = 'basic';
        // An upgrade's 101 carries no Set-Cookie: a session opened for it could never be used.
        if (!rule.noSessionCreation && ex.req.headers.upgrade === undefined) {
          const opened = await sessionStore(() => sessions.create(user));
          const endSession = () => {
            sessions.end(opened.id);
            return `${SESSION_COOKIE}=; Max-Age=0; ${cookieAttributes(ex)}`;
          };
          ex.endSession = endSession;
          const cookie = `${SESSION_COOKIE}=${opened.id}; ${cookieAttributes(ex)}`;
          addTo(ex, 'responseHeaderFilters', (h) => {
            const existing = h['set-cookie'];
            const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
            return { ...h, 'set-cookie': [...list, cookie] };
          });
        }
      }

      if (rule.roles.length > 0 && !rule.roles.every((r) => user.groups.includes(r))) {
        audit(ex, 'denied', { user: user.name, reason: `roles ${rule.roles.join(',')}` });
        throw Errors.forbidden('The user lacks a role this path requires');
      }
      ex.user = user;
      audit(ex, 'success', { user: user.name, reason: ex.authMethod });
      return next();
    };
  },
};
