/**
 * @module rewrite/functions/frontend
 * `$frontend[part]` (the public URL of the topology, or a part of it) and the helpers Knox built on it for HTML
 * and JavaScript bodies: `$prefix`, `$postfix`, `$infix`, `$import`.
 *
 * Without `gateway.frontend.url` the parts come from the request (`gateway.url` & co., i.e. the URL the client
 * used); with it they are fixed for the topology, which is what a gateway behind a load balancer needs.
 */
import type { FunctionCall, RewriteEnvironment, RewriteFunction } from '../types.ts';

/** Parts of a configured frontend URL, computed once per environment. */
interface FixedFrontend {
  url: string;
  scheme: string;
  host: string;
  port: string;
  path: string;
}

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443' };
const fixedCache = new WeakMap<RewriteEnvironment, FixedFrontend | null>();

/**
 * The frontend of a topology when `gateway.frontend.url` is set: that URL plus `/{topology}` (Knox tests use a
 * frontend URI that ends with the topology; postern accepts both spellings and never doubles the topology).
 */
function fixedFrontend(env: RewriteEnvironment): FixedFrontend | null {
  let fixed = fixedCache.get(env);
  if (fixed !== undefined) return fixed;
  fixed = null;
  if (env.frontendUrl) {
    try {
      const base = env.frontendUrl.replace(/\/+$/, '');
      const url = base.endsWith(`/${env.topology}`) ? base : `${base}/${env.topology}`;
      const parsed = new URL(url);
      const scheme = parsed.protocol.replace(/:$/, '');
      fixed = {
        url,
        scheme,
        host: parsed.hostname,
        port: parsed.port || DEFAULT_PORTS[scheme] || '',
        path: parsed.pathname,
      };
    } catch {
      fixed = null;
    }
  }
  fixedCache.set(env, fixed);
  return fixed;
}

/** One part of the frontend URL; `undefined` for a part Knox does not know (which fails the rule). */
function frontendPart(part: string, call: FunctionCall): string[] | undefined {
  const key = part.trim().toLowerCase();
  if (key === 'topology') return [call.env.topology];
  if (key === 'gateway.name') return [call.env.gatewayPath];
  const fixed = fixedFrontend(call.env);
  if (fixed) {
    switch (key) {
      case 'url':
        return [fixed.url];
      case 'addr':
      case 'address':
        return [`${fixed.host}:${fixed.port}`];
      case 'scheme':
        return [fixed.scheme];
      case 'host':
        return [fixed.host];
      case 'port':
        return [fixed.port];
      case 'path':
        return [fixed.path];
      default:
        return undefined;
    }
  }
  switch (key) {
    case 'url':
    case 'addr':
    case 'scheme':
    case 'host':
    case 'port':
    case 'path':
      return call.resolve(`gateway.${key}`);
    case 'address':
      return call.resolve('gateway.addr');
    default:
      return undefined;
  }
}

/** `{$frontend}` = `{$frontend[url]}`; also `addr`/`address`, `scheme`, `host`, `port`, `path`, `topology`, `gateway.name`. */
export const frontend: RewriteFunction = (args, call) => frontendPart(args[0] ?? 'url', call);

/** Concatenation of every value the frontend function gives for `args`. */
function joinedFrontend(args: readonly string[], call: FunctionCall): string | undefined {
  const values = frontend(args, call);
  return values === undefined ? undefined : values.join('');
}

/** `{$prefix[pre,url]}` → `pre` + frontend url. With a single argument it is the frontend part, without prefix. */
export const prefix: RewriteFunction = (args, call) => {
  const [pre, rest] = args.length > 1 ? [args[0], args.slice(1)] : ['', args];
  const value = joinedFrontend(rest, call);
  return value === undefined ? undefined : [pre + value];
};

/** `{$postfix[url,post]}` → frontend url + `post` (the last argument). */
export const postfix: RewriteFunction = (args, call) => {
  const [rest, post] = args.length > 1 ? [args.slice(0, -1), args[args.length - 1]] : [args, ''];
  const value = joinedFrontend(rest, call);
  return value === undefined ? undefined : [value + post];
};

/** `{$infix[pre,url,post]}` → `pre` + frontend url + `post`. */
export const infix: RewriteFunction = (args, call) => {
  const [pre, rest, post] =
    args.length > 1 ? [args[0], args.slice(1, -1), args[args.length - 1]] : ['', args, ''];
  const value = joinedFrontend(rest, call);
  return value === undefined ? undefined : [pre + value + post];
};

/** `{$import[pre,url]}` → `@import pre` + frontend url, for CSS `@import` inside HTML. */
export const importFn: RewriteFunction = (args, call) => {
  const [pre, rest] = args.length > 1 ? [args[0], args.slice(1)] : ['', args];
  const value = joinedFrontend(rest, call);
  return value === undefined ? undefined : [`@import ${pre}${value}`];
};
