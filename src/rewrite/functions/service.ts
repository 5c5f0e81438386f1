/**
 * @module rewrite/functions/service
 * The service-registry functions: `$serviceUrl[ROLE]` and its parts (`$serviceAddr`, `$serviceHost`,
 * `$servicePort`, `$servicePath`, `$serviceScheme`), plus the host-mapped variants (`$serviceMappedUrl`,
 * `$serviceMappedAddr`, `$serviceMappedHost`) that pass the host through the topology's hostmap, inward for
 * requests and outward for responses.
 *
 * Every function takes one role per argument and answers one value per role. Knox answers the role name itself
 * when the topology has no such service (`WEBHDFS/v1/...` as a backend URL); postern returns `undefined` instead,
 * which fails the rule, so a missing `<service>` is an error that says so rather than a request to nowhere.
 */
import type { Direction, FunctionCall, RewriteEnvironment, RewriteFunction } from '../types.ts';

interface UrlParts {
  url: string;
  scheme: string;
  host: string;
  /** Empty when the URL has no explicit port (Knox's `Template.getPort()` is then absent too). */
  port: string;
  path: string;
}

/** Service URLs are few and fixed per topology; split each once. */
const partsCache = new Map<string, UrlParts | null>();

function split(url: string): UrlParts | null {
  let parts = partsCache.get(url);
  if (parts !== undefined) return parts;
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?([^?#]*)/.exec(url);
  parts = m ? { url, scheme: m[1], host: m[2], port: m[3] ?? '', path: m[4] } : null;
  if (partsCache.size > 4096) partsCache.clear();
  partsCache.set(url, parts);
  return parts;
}

/** The active URL of a role: the first one the topology lists. */
function lookup(env: RewriteEnvironment, role: string): string | undefined {
  const urls = env.serviceUrls(role.trim());
  return urls && urls.length > 0 ? urls[0] : undefined;
}

function mapHost(env: RewriteEnvironment, dir: Direction, host: string): string {
  if (!env.hostmap) return host;
  const mapped = dir === 'IN' ? env.hostmap.toInternal(host) : env.hostmap.toExternal(host);
  return mapped ?? host;
}

/** Builds a function that maps each role to one value, failing as a whole if any role is unknown. */
function perRole(pick: (parts: UrlParts, call: FunctionCall) => string | undefined): RewriteFunction {
  return (args, call) => {
    const out: string[] = [];
    for (const role of args) {
      const url = lookup(call.env, role);
      if (url === undefined) return undefined;
      const parts = split(url);
      if (parts === null) return undefined;
      const value = pick(parts, call);
      if (value === undefined) return undefined;
      out.push(value);
    }
    return out;
  };
}

function addr(host: string, port: string): string {
  return port ? `${host}:${port}` : host;
}

/** The URL with its host replaced, keeping everything else byte for byte. */
function withHost(parts: UrlParts, host: string): string {
  if (host === parts.host) return parts.url;
  const at = parts.url.indexOf(parts.host, parts.scheme.length + 3);
  return parts.url.slice(0, at) + host + parts.url.slice(at + parts.host.length);
}

export const serviceUrl = perRole((p) => p.url);
export const serviceAddr = perRole((p) => addr(p.host, p.port));
export const serviceHost = perRole((p) => p.host);
export const servicePort = perRole((p) => p.port);
export const servicePath = perRole((p) => p.path);
export const serviceScheme = perRole((p) => p.scheme);
export const serviceMappedUrl = perRole((p, call) => withHost(p, mapHost(call.env, call.dir, p.host)));
export const serviceMappedAddr = perRole((p, call) => addr(mapHost(call.env, call.dir, p.host), p.port));
export const serviceMappedHost = perRole((p, call) => mapHost(call.env, call.dir, p.host));

/**
 * `{$hostmap(host)}`: each argument (usually a matched host) mapped inward (IN) or outward (OUT) by the
 * topology's hostmap; a host the map does not know stays as it is.
 */
export const hostmap: RewriteFunction = (args, call) => args.map((host) => mapHost(call.env, call.dir, host));
