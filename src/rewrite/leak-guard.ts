/**
 * @module rewrite/leak-guard
 * The leak guard (`postern.rewrite.leak.guard`): after a route's outbound rules ran, a backend address that is
 * still in a response header or body is a link that takes the browser out of the gateway ("the UI breaks behind
 * the gateway"). postern knows every backend URL of the topology, so it can see such a leak, report it, and in
 * `rewrite` mode map it back through the topology.
 *
 * What counts as a backend origin: `scheme://host:port` of every http(s) and ws(s) URL of every service of the
 * topology (HA URLs too), the host matched in any case, a default port (http/ws 80, https/wss 443) written or
 * not. A protocol-relative `//host:port` counts as well (a browser follows it). A bare `host:port` in text does
 * not: real pages print such addresses as information (a node list, a configuration dump) where they are no link,
 * and a bare host without a port cannot be told from a word; counting them would report pages that work.
 * The gateway's own origin never counts (a service may point back at the gateway itself).
 *
 * Mapping back (`rewrite` mode), for a leaked URL of service S:
 * 1. S's own outbound rules, run once more on the leaked URL (best match in S's scope: YARN's
 *    `YARNUI/yarn/outbound/proxy` turns `http://rm:8088/proxy/APP/` into `{gateway}/yarn/proxy/APP/`);
 * 2. otherwise S's URL → S's gateway path: with S at `http://oozie:11000/oozie` and its definition's context
 *    `/oozie/`, `http://oozie:11000/oozie/x?y` becomes `{gateway}/{topology}/oozie/x?y` (the gateway URL of the
 *    request, so `X-Forwarded-*` and `gateway.frontend.url` apply as they do to `$frontend`).
 * A leaked URL neither maps (outside S's path, or S has no routes) stays as it is, and is reported as unmapped.
 */
import type { HeaderMap } from '../spi/exchange.ts';
import type { RewriteRules } from '../spi/rewrite.ts';
import type { RewriteContext } from './types.ts';

export type LeakGuardMode = 'off' | 'report' | 'rewrite';

/** The response headers the guard looks at (lower case); `set-cookie` only for its Domain attribute. */
export const GUARDED_HEADERS = ['location', 'content-location', 'refresh', 'link', 'set-cookie'] as const;

/** One backend URL of the topology. */
export interface LeakTarget {
  readonly role: string;
  readonly scheme: string;
  /** Lower case, IPv6 in brackets. */
  readonly host: string;
  /** Always explicit (`80` for http). */
  readonly port: string;
  /** `scheme://host:port`. */
  readonly origin: string;
  /** The service URL's path without a trailing `/` (`/oozie`; `''` for the root). */
  readonly path: string;
}

/** A leak seen in one place of one response. */
export interface LeakHit {
  readonly target: LeakTarget;
  /** The leaked URL as it was found (may hold a query: never log it as it is). */
  readonly url: string;
  /** In `rewrite` mode: what it became, and by which rule (`service-url` for the plain mapping). */
  readonly mapped?: string;
  readonly by?: string;
}

/** What a backend URL in text starts with, before its host. */
const LEADS = ['http://', 'https://', 'ws://', 'wss://', '//'];
const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' };
/** Longest `:65535` after a host. */
const PORT_LENGTH = 6;
/** Characters that end a URL in text: whitespace, quotes, angle brackets, backtick, backslash. */
const URL_REST = `[^\\s"'<>\`\\\\]*`;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `gateway/{topology}`-relative path of a service: its definition's context, else its first route's first segment. */
export function servicePathOf(definition: {
  metadata?: { context?: string };
  routes: readonly { path: string }[];
}): string | undefined {
  const context = definition.metadata?.context?.trim();
  if (context) {
    const bare = context.replace(/^\/+|\/+$/g, '');
    if (bare !== '' && !/[{}*?]/.test(bare)) return `/${bare}`;
  }
  for (const route of definition.routes) {
    const first = route.path.replace(/^\/+/, '').split(/[/?]/)[0];
    if (first !== '' && !/[{}*]/.test(first)) return `/${first}`;
  }
  return undefined;
}

/** The origin (`scheme://host:port`) of an absolute URL, its default port made explicit; undefined otherwise. */
export function originOf(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = u.protocol.slice(0, -1);
  const port = u.port || DEFAULT_PORTS[scheme];
  if (port === undefined) return undefined;
  return `${scheme}://${u.hostname.toLowerCase()}:${port}`;
}

/** A URL without its query and fragment: what may be logged or listed of it. */
export function withoutQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut < 0 ? url : url.slice(0, cut);
}

/**
 * One topology's guard, built once per deployment: its backend origins, one regular expression that finds them,
 * and the mapping back. Routes register their service's gateway path ({@link learn}) as they are compiled.
 */
export class LeakGuard {
  readonly mode: LeakGuardMode;
  readonly targets: readonly LeakTarget[];
  /**
   * Finds a backend host in text (global, case-insensitive): groups 1 scheme (absent for `//host`), 2 host,
   * 3 port, 4 the rest of the URL. Whether scheme, host and port make a backend origin is {@link targetOf}'s call.
   * Undefined when the topology has no http(s)/ws(s) URL.
   */
  readonly pattern: RegExp | undefined;
  /** The longest `scheme://host:port` a match starts with: a streaming scan keeps this much of a chunk's end. */
  readonly maxOriginLength: number;
  readonly #rules: RewriteRules;
  readonly #byOrigin = new Map<string, LeakTarget[]>();
  readonly #byHostPort = new Map<string, LeakTarget[]>();
  readonly #hosts = new Set<string>();
  readonly #paths = new Map<string, string>();
  /** `gateway.frontend.url` + `/{topology}`, as `$frontend[url]` has it; absent: the request's gateway URL. */
  readonly #frontend: string | undefined;
  /** A copy of {@link pattern} for {@link leaks}, which runs inside a scan (a global RegExp keeps its position). */
  readonly #probe: RegExp | undefined;

  constructor(options: {
    mode: LeakGuardMode;
    services: readonly { role: string; urls: readonly string[] }[];
    rules: RewriteRules;
    /** `gateway.frontend.url` and the topology's name: the gateway URL `$frontend[url]` writes. */
    frontend?: { url: string | undefined; topology: string };
  }) {
    this.mode = options.mode;
    this.#rules = options.rules;
    const fixed = options.frontend?.url?.replace(/\/+$/, '');
    const topology = options.frontend?.topology;
    this.#frontend =
      fixed && topology !== undefined
        ? fixed.endsWith(`/${topology}`)
          ? fixed
          : `${fixed}/${topology}`
        : fixed;
    const targets: LeakTarget[] = [];
    for (const service of options.services) {
      for (const raw of service.urls) {
        let u: URL;
        try {
          u = new URL(raw);
        } catch {
          continue;
        }
        const scheme = u.protocol.slice(0, -1).toLowerCase();
        const port = u.port || DEFAULT_PORTS[scheme];
        if (port === undefined) continue; // hdfs://, rpc://, thrift:// … are no links a browser follows
        const host = u.hostname.toLowerCase();
        if (host === '') continue;
        const target: LeakTarget = {
          role: service.role,
          scheme,
          host,
          port,
          origin: `${scheme}://${host}:${port}`,
          path: u.pathname.replace(/\/+$/, ''),
        };
        targets.push(target);
        push(this.#byOrigin, target.origin, target);
        push(this.#byHostPort, `${host}:${port}`, target);
        this.#hosts.add(host);
      }
    }
    this.targets = targets;
    if (this.#hosts.size === 0) {
      this.pattern = undefined;
      this.#probe = undefined;
      this.maxOriginLength = 0;
      return;
    }
    // Longest hosts first, so `rm.example` is not taken for `rm` (the lookahead would refuse it anyway).
    const hosts = [...this.#hosts].sort((a, b) => b.length - a.length).map(escapeRegex);
    this.pattern = new RegExp(
      `(?<![\\w.+\\-:/])(?:(https?|wss?):)?//(${hosts.join('|')})(?::(\\d{1,5}))?(?![\\w.\\-:])(${URL_REST})`,
      'gi',
    );
    this.#probe = new RegExp(this.pattern);
    this.maxOriginLength =
      'https://'.length + Math.max(...[...this.#hosts].map((h) => h.length)) + PORT_LENGTH;
  }

  /**
   * Whether `fragment` (the end of a chunk) could be the start of a backend URL the next chunk completes: a prefix
   * of `scheme://host:port` or `//host:port`. A streaming rewrite holds back only such an end, so text that ends
   * a chunk (an event of a stream) is not kept waiting for the next one.
   */
  couldStart(fragment: string): boolean {
    const f = fragment.toLowerCase();
    for (const lead of LEADS) {
      if (lead.startsWith(f)) return true;
      if (!f.startsWith(lead)) continue;
      const rest = f.slice(lead.length);
      for (const host of this.#hosts) {
        if (host.startsWith(rest)) return true;
        if (rest.startsWith(host) && /^(?::\d{0,5})?$/.test(rest.slice(host.length))) return true;
      }
    }
    return false;
  }

  /** Registers the gateway path of a service's routes (`/oozie`), used by the plain mapping. */
  learn(role: string, path: string | undefined): void {
    if (path !== undefined && !this.#paths.has(role)) this.#paths.set(role, path);
  }

  /** The backend URL a match of {@link pattern} names, or undefined when scheme, host and port are no origin. */
  targetOf(
    scheme: string | undefined,
    host: string,
    port: string | undefined,
    prefer?: string,
  ): LeakTarget | undefined {
    const h = host.toLowerCase();
    let found: LeakTarget[] | undefined;
    if (scheme !== undefined) {
      const s = scheme.toLowerCase();
      found = this.#byOrigin.get(`${s}://${h}:${port ?? DEFAULT_PORTS[s]}`);
    } else if (port !== undefined) {
      found = this.#byHostPort.get(`${h}:${port}`);
    } else {
      found = this.#byHostPort.get(`${h}:80`) ?? this.#byHostPort.get(`${h}:443`);
    }
    if (!found) return undefined;
    return (prefer && found.find((t) => t.role === prefer)) || found[0];
  }

  /** Whether a host is one of the topology's backend hosts (for a Set-Cookie Domain). */
  isBackendHost(host: string): boolean {
    return this.#hosts.has(host.toLowerCase());
  }

  /**
   * Maps a leaked URL back into the gateway (see the module comment): the outbound rules of the service it
   * belongs to, else its service URL → its gateway path. Undefined when neither applies.
   * @param url absolute, or protocol-relative (`//host:port/…`, then the target's scheme is assumed)
   */
  map(url: string, target: LeakTarget, rc: RewriteContext): { url: string; by: string } | undefined {
    const absolute = url.startsWith('//') ? `${target.scheme}:${url}` : url;
    // The targets of this origin, the one whose path holds the URL's path first (the longest such path).
    const candidates = [...(this.#byOrigin.get(target.origin) ?? [target])];
    const path = pathOf(absolute);
    const holds = (t: LeakTarget) => path === t.path || path.startsWith(`${t.path}/`) || t.path === '';
    candidates.sort(
      (a, b) =>
        Number(holds(b)) - Number(holds(a)) ||
        b.path.length - a.path.length ||
        Number(b.role === target.role) - Number(a.role === target.role),
    );
    for (const t of candidates) {
      const outcome = this.#rules.apply(absolute, { rule: '*', dir: 'OUT', ctx: rc, scope: t.role });
      if (outcome.status === 'rewritten' && outcome.url !== absolute && !this.leaks(outcome.url, rc)) {
        return { url: keepSlash(absolute, outcome.url), by: outcome.rule };
      }
    }
    for (const t of candidates) {
      if (!holds(t)) continue;
      const servicePath = this.#paths.get(t.role);
      if (servicePath === undefined) continue;
      // What follows the service URL's path: '', '/x', '?q' or '#f'.
      const rest = absolute.slice(authorityEnd(absolute) + t.path.length);
      const restPath = rest === '' || /^[/?#]/.test(rest) ? rest : `/${rest}`;
      let base = `${(this.#frontend ?? rc.gatewayUrl).replace(/\/+$/, '')}${servicePath}`;
      if (t.scheme === 'ws' || t.scheme === 'wss') base = base.replace(/^http/, 'ws');
      return { url: `${base}${restPath}`, by: 'service-url' };
    }
    return undefined;
  }

  /** The gateway's own origin for a request (never a leak). */
  gatewayOrigin(rc: RewriteContext): string | undefined {
    return originOf(this.#frontend ?? rc.gatewayUrl);
  }

  /** Whether a text still holds a backend URL (not the gateway's own). */
  leaks(text: string, rc: RewriteContext): boolean {
    const re = this.#probe;
    if (!re || !text.includes('//')) return false;
    const gateway = this.gatewayOrigin(rc);
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const target = this.targetOf(m[1], m[2], m[3]);
      if (target && target.origin !== gateway) return true;
    }
    return false;
  }

  /**
   * Finds every backend URL in `text`; `onHit` may return a replacement. Returns the text with the
   * replacements (the same string when there were none).
   */
  scan(
    text: string,
    rc: RewriteContext,
    onHit: (target: LeakTarget, url: string) => string | undefined,
    gateway = this.gatewayOrigin(rc),
    prefer?: string,
  ): string {
    const re = this.pattern;
    if (!re || !text.includes('//')) return text;
    re.lastIndex = 0;
    let out = '';
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const target = this.targetOf(m[1], m[2], m[3], prefer);
      if (!target || target.origin === gateway) continue;
      const replacement = onHit(target, m[0]);
      if (replacement !== undefined) {
        out += text.slice(last, m.index) + replacement;
        last = m.index + m[0].length;
      }
    }
    return last === 0 ? text : out + text.slice(last);
  }

  /**
   * Checks (and in `rewrite` mode maps back) the guarded response headers. Returns the same object when nothing
   * changed. `hits` receives every leak found, by header name.
   */
  headers(
    headers: HeaderMap,
    rc: RewriteContext,
    scope: string,
    hits: (where: string, hit: LeakHit) => void,
  ): HeaderMap {
    if (!this.pattern) return headers;
    const rewrite = this.mode === 'rewrite';
    // Most answers carry none of the guarded headers: the gateway's origin (a URL parse) only when one is there.
    let gateway: string | undefined | null = null;
    let out: HeaderMap | undefined;
    for (const name of GUARDED_HEADERS) {
      const value = headers[name];
      if (value === undefined) continue;
      if (gateway === null) gateway = this.gatewayOrigin(rc);
      const own = gateway;
      const values = Array.isArray(value) ? value : [value];
      let changed = false;
      const next = values.map((v) => {
        const fixed =
          name === 'set-cookie'
            ? this.#cookie(v, own, rewrite, hits)
            : this.scan(
                v,
                rc,
                (target, url) => {
                  const mapped = rewrite ? this.map(url, target, rc) : undefined;
                  hits(name, { target, url, mapped: mapped?.url, by: mapped?.by });
                  return mapped?.url;
                },
                own,
                scope,
              );
        if (fixed !== v) changed = true;
        return fixed;
      });
      if (!changed) continue;
      out ??= { ...headers };
      out[name] = Array.isArray(value) ? next : next[0];
    }
    return out ?? headers;
  }

  /** A cookie whose Domain is a backend host: reported, and in `rewrite` mode made host-only (Domain dropped). */
  #cookie(
    value: string,
    gateway: string | undefined,
    rewrite: boolean,
    hits: (where: string, hit: LeakHit) => void,
  ): string {
    const parts = value.split(';');
    let changed = false;
    for (let i = parts.length - 1; i >= 1; i--) {
      const eq = parts[i].indexOf('=');
      if (eq < 0 || parts[i].slice(0, eq).trim().toLowerCase() !== 'domain') continue;
      const domain = parts[i]
        .slice(eq + 1)
        .trim()
        .replace(/^\./, '')
        .toLowerCase();
      if (!this.isBackendHost(domain)) continue;
      if (gateway !== undefined && new URL(gateway).hostname === domain) continue;
      const target = this.targets.find((t) => t.host === domain)!;
      hits('set-cookie', {
        target,
        url: `Domain=${domain}`,
        mapped: rewrite ? '(Domain removed)' : undefined,
        by: rewrite ? 'host-only' : undefined,
      });
      if (rewrite) {
        parts.splice(i, 1);
        changed = true;
      }
    }
    return changed ? parts.join(';') : value;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * The leaked URL's trailing `/` on the mapped one when a rule's `{**}` dropped it (Knox's templates do): a redirect
 * whose only purpose is to add the slash (YARN's proxied applications) would otherwise come back without it.
 */
function keepSlash(leaked: string, mapped: string): string {
  const cut = (u: string) => {
    const q = u.slice(authorityEnd(u)).search(/[?#]/);
    return q < 0 ? u.length : authorityEnd(u) + q;
  };
  const l = cut(leaked);
  const m = cut(mapped);
  if (leaked[l - 1] !== '/' || mapped[m - 1] === '/') return mapped;
  return `${mapped.slice(0, m)}/${mapped.slice(m)}`;
}

/** Where the authority of an absolute URL ends (its path, query or fragment begins, or the URL ends). */
function authorityEnd(url: string): number {
  const from = url.indexOf('//') + 2;
  const end = url.slice(from).search(/[/?#]/);
  return end < 0 ? url.length : from + end;
}

/** The path of an absolute URL, without query, fragment or trailing `/` (`''` for none). */
function pathOf(url: string): string {
  const rest = url.slice(authorityEnd(url));
  const end = rest.search(/[?#]/);
  return (end < 0 ? rest : rest.slice(0, end)).replace(/\/+$/, '');
}
