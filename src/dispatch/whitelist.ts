/**
 * @module dispatch/whitelist
 * Knox's dispatch whitelist (`gateway.dispatch.whitelist`, `gateway.dispatch.whitelist.services`; Knox's
 * `GatewayDispatchFilter.isDispatchAllowed` and `WhitelistUtils`): for the services it covers, a request whose
 * backend URL does not match is answered 400 and never sent.
 *
 * - **Services covered**: `KNOXSSO` (always, as in Knox) and the roles `gateway.dispatch.whitelist.services` lists.
 *   Other services are not checked, as in Knox.
 * - **The whitelist**: `;`-separated regular expressions, each matching the whole *base* of the backend URL,
 *   `scheme://host:port` (as Knox's `RegExUtils.checkBaseUrlAgainstWhitelist`; the path and query never count).
 *   Unset or `DEFAULT`: derived from the host the gateway answers as — `^\/.*$;^https?:\/\/HOST:[0-9]+\/?.*$`, with
 *   HOST the gateway's domain (`(.+\.example\.com)` for `gw.example.com`), else the host itself, else loopback.
 *   `HTTPS_ONLY`: the same with `https` alone.
 *
 * Where postern is stricter than Knox, on purpose: a domain is derived only from a host of three labels or more
 * (Knox derives `.com` from `example.com`, allowing every .com host) and the host's dots are escaped; the derived
 * list follows the host of each request (Knox keeps the first request's, so whoever came first decided); the base
 * always carries its port, the scheme's default when the URL has none (Knox's base then has no port and its own
 * default list, which requires one, refuses it).
 */
import type { GatewaySettings } from '../config/gateway-site.ts';
import { Errors } from '../errors.ts';
import type { Exchange, Handler } from '../spi/index.ts';
import { backendTarget } from './target-url.ts';

/** Roles the whitelist always covers (Knox's `WhitelistUtils.DEFAULT_SERVICE_ROLES`). */
const ALWAYS = ['KNOXSSO'];
const LOOPBACK = '(localhost|127\\.0\\.0\\.1|0:0:0:0:0:0:0:1|::1|\\[::1\\])';
const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };

function compile(text: string): RegExp[] {
  return text
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => new RegExp(`^(?:${p})$`));
}

/** The host part of Knox's derived whitelist for the host the gateway answers as. */
function hostPattern(hostname: string): string {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (/^(localhost|127\.0\.0\.1|0:0:0:0:0:0:0:1|::1)$/.test(host)) return LOOPBACK;
  const labels = host.split('.');
  if (!/^\d+(\.\d+){3}$/.test(host) && labels.length >= 3 && labels.every((l) => /^[a-z0-9-]+$/.test(l))) {
    return `(.+\\.${labels.slice(1).join('\\.')})`;
  }
  return host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `scheme://host:port` of an absolute URL (ws and wss checked as http and https), or undefined. */
function baseOf(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const scheme =
    parsed.protocol === 'wss:' ? 'https:' : parsed.protocol === 'ws:' ? 'http:' : parsed.protocol;
  return `${scheme}//${parsed.hostname}:${parsed.port || DEFAULT_PORT[parsed.protocol] || ''}`;
}

/**
 * Wraps a service's dispatch in the whitelist check, or returns it unchanged when the whitelist does not cover
 * the role.
 */
export function withDispatchWhitelist(settings: GatewaySettings, role: string, run: Handler): Handler {
  const covered = [...ALWAYS, ...settings.dispatchWhitelistServices];
  if (!covered.includes(role)) return run;
  const text = settings.dispatchWhitelist?.trim();
  const mode =
    !text || text.toUpperCase() === 'DEFAULT'
      ? 'derived'
      : text.toUpperCase() === 'HTTPS_ONLY'
        ? 'https'
        : 'fixed';
  const fixed = mode === 'fixed' ? compile(text!) : undefined;
  const derived = new Map<string, RegExp[]>();
  const listFor = (ex: Exchange): RegExp[] => {
    if (fixed) return fixed;
    const host = ex.rewriteContext.inbound.host;
    let list = derived.get(host);
    if (!list) {
      const scheme = mode === 'https' ? 'https' : 'https?';
      list = compile(`^\\/.*$;^${scheme}:\\/\\/${hostPattern(host)}:[0-9]+\\/?.*$`);
      if (derived.size < 64) derived.set(host, list);
    }
    return list;
  };
  return (ex: Exchange) => {
    let target: string;
    try {
      target = backendTarget(ex);
    } catch {
      // No target to check (a refused method, no rewrite): the dispatch gives its own answer.
      return run(ex);
    }
    const base = baseOf(target);
    if (base === undefined || !listFor(ex).some((re) => re.test(base))) {
      ex.log.warn({ service: role }, 'dispatch refused by gateway.dispatch.whitelist');
      return Promise.reject(
        Errors.badRequest('The backend URL of this request is not allowed by the dispatch whitelist'),
      );
    }
    return run(ex);
  };
}
