/**
 * @module dispatch/spnego
 * SPNEGO towards Kerberos-secured backends (`gateway.hadoop.kerberos.secured=true`): what Knox's dispatch gets from
 * HttpClient's SPNEGO auth scheme (KnoxSpnegoAuthScheme) and its HadoopAuthCookieStore, as a hook the HTTP and
 * WebSocket dispatches call around each exchange.
 *
 * Per backend origin (scheme, host and port), of one topology:
 * - **the auth cookie**: the `hadoop.auth` (or `hive.server2.auth`, `impala.auth`) cookie a backend sets after a
 *   Negotiate round trip is kept and sent on the next requests instead of a new token, so a security context is
 *   negotiated once, not per request. As Knox's cookie store, a cookie in Hadoop's signed-token form (`u=…&p=…`)
 *   is kept only when it names the gateway's principal; an opaque one (mod_auth_gssapi's session) is kept as is.
 *   It is never sent to another origin, never passed to the client (the dispatch's header policy drops auth
 *   cookies from responses), and dropped when it expires (a little before) or the backend answers 401 to it.
 *   A client's own auth cookies are removed from the request: only the gateway authenticates here.
 * - **when to negotiate**: Knox sends the request plainly and answers a `401 WWW-Authenticate: Negotiate` with a
 *   token, replaying the body from a buffer. postern never replays a streamed body: a request with a body always
 *   carries a fresh token (and the cookie, which a Hadoop backend checks first); a request without one carries
 *   the cookie, or a token once the origin is known to ask for Negotiate, or nothing to an origin not yet seen,
 *   and a 401-Negotiate answer to it is retried once with a token (the 401's body is read and dropped, so the
 *   connection is reused).
 * - **a backend that refuses a fresh token** is a 502 with a log line naming the service principal (clock skew,
 *   a wrong service principal, a keytab the backend does not share) and is never retried; a KDC that cannot be
 *   reached is a 503.
 */
import { Errors, type GatewayError } from '../errors.ts';
import type { GatewayKerberos } from '../kerberos/login.ts';
import { KerberosTokenError } from '../kerberos/login.ts';
import type { Exchange } from '../spi/index.ts';
import { BLOCKED_AUTH_COOKIES } from './headers.ts';

/** What the proxy handler asks of the hook when the backend's response starts. */
export interface ResponseHook {
  /** undefined: relay the response; `retry`: drop it and call {@link retry}; an error: drop it and fail. */
  head(
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): 'retry' | GatewayError | undefined;
  retry(): void;
}

interface StoredCookie {
  readonly name: string;
  readonly value: string;
  readonly path: string;
  /** Epoch ms after which it is not sent (already less a margin); Infinity when the backend set none. */
  readonly until: number;
}

interface OriginState {
  /** The origin answered 401 Negotiate at least once: requests without a cookie carry a token at once. */
  negotiate: boolean;
  readonly cookies: Map<string, StoredCookie>;
}

/** How long before its expiry a cookie is no longer sent (a new token is sent instead). */
const EXPIRY_MARGIN_MS = 5_000;
const AUTH_COOKIES = new Set(BLOCKED_AUTH_COOKIES);

/** One attempt's headers and what authenticated it. */
export interface SpnegoAttempt {
  readonly headers: Record<string, string>;
  readonly sentToken: boolean;
  readonly sentCookie: boolean;
}

/** The SPNEGO state of one topology's backends (see the module comment). */
export class BackendSpnego {
  readonly kerberos: GatewayKerberos;
  readonly #origins = new Map<string, OriginState>();
  readonly #principal: string;
  readonly #short: string;

  constructor(kerberos: GatewayKerberos) {
    this.kerberos = kerberos;
    this.#principal = kerberos.login.principal;
    this.#short = this.#principal.split(/[/@]/)[0];
  }

  #state(origin: string): OriginState {
    let state = this.#origins.get(origin);
    if (!state) {
      state = { negotiate: false, cookies: new Map() };
      this.#origins.set(origin, state);
    }
    return state;
  }

  /** The cookies the gateway holds for `origin` that apply to `path` now (for tests and explain). */
  cookiesFor(origin: string, path: string): StoredCookie[] {
    const state = this.#origins.get(origin);
    if (!state) return [];
    const now = Date.now();
    const out: StoredCookie[] = [];
    for (const [name, c] of state.cookies) {
      if (c.until <= now) state.cookies.delete(name);
      else if (path.startsWith(c.path)) out.push(c);
    }
    return out;
  }

  /**
   * The headers of one attempt. `hasBody`: the request cannot be replayed, so it carries a token whatever the
   * cookie; `force`: a retry after a 401, with a token.
   */
  async authorize(
    target: { origin: string; path: string },
    headers: Record<string, string>,
    opts: { hasBody: boolean; force?: boolean },
  ): Promise<SpnegoAttempt> {
    const out = { ...headers };
    const clientCookies = withoutAuthCookies(out.cookie);
    const ours = this.cookiesFor(target.origin, target.path);
    const cookie = [clientCookies, ...ours.map((c) => `${c.name}=${c.value}`)].filter(Boolean).join('; ');
    if (cookie) out.cookie = cookie;
    else delete out.cookie;
    const state = this.#state(target.origin);
    const sendToken = opts.force === true || opts.hasBody || (ours.length === 0 && state.negotiate);
    if (sendToken) {
      const host = new URL(target.origin).hostname;
      out.authorization = `Negotiate ${await this.kerberos.token(host)}`;
    }
    return { headers: out, sentToken: sendToken, sentCookie: ours.length > 0 };
  }

  /**
   * What to do with a backend's response to an attempt: keeps the auth cookies it sets; for a 401 asking for
   * Negotiate, a retry with a token when one was not sent and `canRetry`, else the 502 (logged).
   */
  verdict(
    ex: Exchange,
    target: { origin: string },
    attempt: SpnegoAttempt,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    canRetry: boolean,
  ): 'retry' | GatewayError | undefined {
    const state = this.#state(target.origin);
    if (status < 400) this.#keep(state, headers['set-cookie']);
    if (status !== 401 || !asksNegotiate(headers['www-authenticate'])) return undefined;
    state.negotiate = true;
    if (attempt.sentCookie) state.cookies.clear();
    if (!attempt.sentToken && canRetry) return 'retry';
    const host = new URL(target.origin).hostname;
    ex.log.error(
      { backend: target.origin, principal: this.#principal, service: `HTTP/${host}` },
      attempt.sentToken
        ? "backend answered 401 to the gateway's fresh Kerberos token: check the clock skew between the hosts, that the backend's keytab holds HTTP/<its canonical host name>@REALM and that it trusts the gateway's realm; not retried"
        : 'backend asks for Negotiate after its auth cookie was refused and the request body cannot be replayed; not retried',
    );
    return Errors.upstreamAuthRefused();
  }

  #keep(state: OriginState, setCookie: string | string[] | undefined): void {
    if (setCookie === undefined) return;
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const cookie = parseSetCookie(line);
      if (!cookie || !AUTH_COOKIES.has(cookie.name)) continue;
      if (cookie.value === '' || cookie.value === '""' || cookie.until <= Date.now()) {
        state.cookies.delete(cookie.name);
        continue;
      }
      if (!this.#isGatewayCookie(cookie.value)) continue;
      state.cookies.set(cookie.name, cookie);
    }
  }

  /**
   * Knox's HadoopAuthCookieStore check: a signed Hadoop token (`u=…&p=…&…`) must name the gateway's principal (or
   * its short name), so a token of another user is never replayed for everyone.
   */
  #isGatewayCookie(value: string): boolean {
    const bare = value.replace(/^"|"$/g, '');
    if (!/(^|&)p=/.test(bare)) return true;
    return bare.includes(`=${this.#principal}`) || bare.split('&').some((kv) => kv === `u=${this.#short}`);
  }
}

function asksNegotiate(value: string | string[] | undefined): boolean {
  if (value === undefined) return false;
  return (Array.isArray(value) ? value : [value]).some((v) => /^\s*negotiate\b/i.test(v));
}

/** The Cookie header without the auth cookies (undefined when nothing is left). */
function withoutAuthCookies(cookie: string | undefined): string | undefined {
  if (!cookie) return undefined;
  const kept = cookie
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c && !AUTH_COOKIES.has(c.slice(0, c.indexOf('=') < 0 ? c.length : c.indexOf('=')).trim()));
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/** A Set-Cookie line's name, value (as written, quotes kept), path and expiry (less the margin). */
export function parseSetCookie(line: string): StoredCookie | undefined {
  const parts = line.split(';');
  const first = parts[0];
  const eq = first.indexOf('=');
  if (eq <= 0) return undefined;
  const name = first.slice(0, eq).trim();
  const value = first.slice(eq + 1).trim();
  let path = '/';
  let until = Number.POSITIVE_INFINITY;
  for (const attr of parts.slice(1)) {
    const aeq = attr.indexOf('=');
    const key = (aeq < 0 ? attr : attr.slice(0, aeq)).trim().toLowerCase();
    const v = aeq < 0 ? '' : attr.slice(aeq + 1).trim();
    if (key === 'path' && v.startsWith('/')) path = v;
    else if (key === 'max-age' && /^-?\d+$/.test(v)) until = Math.min(until, Date.now() + Number(v) * 1000);
    else if (key === 'expires') {
      const t = Date.parse(v);
      if (!Number.isNaN(t)) until = Math.min(until, t);
    }
  }
  // Hadoop's signed token carries its own expiry (`e=<epoch ms>`).
  const e = /(?:^|&)e=(\d+)/.exec(value.replace(/^"|"$/g, ''));
  if (e) until = Math.min(until, Number(e[1]));
  return { name, value, path, until: until - EXPIRY_MARGIN_MS };
}

/** The client's answer for a failure to make a token. */
export function tokenFailure(ex: Exchange, err: unknown, backend: string): GatewayError {
  if (err instanceof KerberosTokenError) {
    ex.log.error(
      { backend, reason: err.message },
      err.kdcUnreachable
        ? 'cannot obtain a Kerberos ticket for the backend: the KDC does not answer'
        : 'cannot make a Kerberos token for the backend',
    );
    return err.kdcUnreachable ? Errors.kerberosUnavailable() : Errors.upstreamAuthRefused();
  }
  ex.log.error({ backend, err }, 'cannot make a Kerberos token for the backend');
  return Errors.internal();
}

/** A handler that can fail before undici took it and be given a response hook (dispatch/proxy-handler). */
export interface HookableHandler {
  hook?: ResponseHook;
  fail(err: GatewayError): void;
}

/**
 * Sends one exchange through SPNEGO: authorizes an attempt, hands `send` the headers, and on a 401 asking for
 * Negotiate retries once with a token through a fresh handler from `makeHandler` (requests without a body only).
 */
export function sendWithSpnego<H extends HookableHandler>(opts: {
  spnego: BackendSpnego;
  ex: Exchange;
  target: { origin: string; path: string };
  headers: Record<string, string>;
  hasBody: boolean;
  first: H;
  makeHandler: () => H;
  send: (handler: H, headers: Record<string, string>) => void;
}): void {
  const { spnego, ex, target, hasBody } = opts;
  const attemptWith = (handler: H, force: boolean) => {
    spnego.authorize(target, opts.headers, { hasBody, force }).then(
      (attempt) => {
        handler.hook = {
          head: (status, headers) => spnego.verdict(ex, target, attempt, status, headers, !force && !hasBody),
          retry: () => attemptWith(opts.makeHandler(), true),
        };
        opts.send(handler, attempt.headers);
      },
      (err: unknown) => handler.fail(tokenFailure(ex, err, target.origin)),
    );
  };
  attemptWith(opts.first, false);
}
