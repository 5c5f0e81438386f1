/**
 * @module rewrite/context
 * The state of one rule application: the URL as the steps change it, the parameters `match` steps bound, the
 * variables templates may name (`gateway.url` ...), and the call into rewrite functions.
 *
 * Mirrors Knox's `UrlRewriteContextImpl`: a name is looked up first among the parameters bound by the matches so
 * far, then among the request's variables. Only bound parameters count as "names" when a template's `{**}` emits
 * the parameters it did not consume, so `gateway.url` never leaks into a rewritten query string.
 */
import { type MatchOptions, type ParamValues, parseLiteral, type Template } from '../urltemplate/index.ts';
import type {
  Direction,
  FunctionCall,
  RewriteContext,
  RewriteEnvironment,
  RewriteFunctionRegistry,
} from './types.ts';

/** The public gateway URL, split once per request when a template first asks for a part of it. */
interface GatewayParts {
  url: string;
  scheme: string;
  host: string;
  port: string;
  path: string;
}

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' };

function splitGatewayUrl(url: string): GatewayParts {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    return { url, scheme: '', host: '', port: '', path: '' };
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  const host = parsed.hostname;
  const port = parsed.port || DEFAULT_PORTS[scheme] || '';
  const path = parsed.pathname.replace(/\/+$/, '');
  return { url: url.replace(/\/+$/, ''), scheme, host, port, path };
}

/**
 * The gateway URL of a request, split once per request (a body can hold thousands of URLs, each rewritten by a
 * rule run of its own), kept on the request's context under a symbol of this module. Not a WeakMap: an entry per
 * request in a weak table lives until the next mark-compact, and V8 rehashes the growing table on the way.
 */
const kGatewayParts: unique symbol = Symbol('postern.rewrite.gatewayParts');
type WithGatewayParts = RewriteContext & { [kGatewayParts]?: { from: string; parts: GatewayParts } };

function gatewayParts(ctx: RewriteContext): GatewayParts {
  const cached = (ctx as WithGatewayParts)[kGatewayParts];
  if (cached !== undefined && cached.from === ctx.gatewayUrl) return cached.parts;
  const parts = splitGatewayUrl(ctx.gatewayUrl);
  (ctx as WithGatewayParts)[kGatewayParts] = { from: ctx.gatewayUrl, parts };
  return parts;
}

/**
 * Everything one application of a rule needs. Created per `rewrite()` call; cheap (no parsing until a template
 * asks for a variable).
 */
export class RuleRun implements FunctionCall {
  readonly env: RewriteEnvironment;
  readonly ctx: RewriteContext;
  readonly dir: Direction;
  readonly ruleName: string;
  /** What the matches bound so far, in binding order (the order a `{**}` emits leftovers in). */
  readonly params = new Map<string, ParamValues>();
  /** The URL as the steps have left it so far. */
  url: string;
  /** Why a function could not answer during the current expansion; set by {@link evaluate}. */
  functionFailure: string | undefined;
  readonly #functions: RewriteFunctionRegistry;
  #gateway: GatewayParts | undefined;
  #inboundQuery: URLSearchParams | undefined;
  #literal: { url: string; template: Template } | undefined;
  /** The inbound URL's part before the query, and its anchor (see RewriteOptions.anchor). */
  #anchored: { base: string; options: MatchOptions } | undefined;

  constructor(
    env: RewriteEnvironment,
    ctx: RewriteContext,
    dir: Direction,
    functions: RewriteFunctionRegistry,
    ruleName: string,
    url: string,
  ) {
    this.env = env;
    this.ctx = ctx;
    this.dir = dir;
    this.ruleName = ruleName;
    this.url = url;
    this.functionFailure = undefined;
    this.#functions = functions;
  }

  /** The current URL parsed literally, reused by consecutive matches (an OR of seven alternatives parses once). */
  literal(): Template {
    if (this.#literal?.url !== this.url) this.#literal = { url: this.url, template: parseLiteral(this.url) };
    return this.#literal.template;
  }

  /** Adds what a match bound; a name bound again is replaced, as in Knox. */
  bind(params: ReadonlyMap<string, ParamValues>): void {
    for (const [name, values] of params) this.params.set(name, values);
  }

  /** FunctionCall.resolve: a matched parameter (a `?flag` without value counts as empty) or a variable. */
  resolve(name: string): string[] | undefined {
    const bound = this.params.get(name);
    if (bound !== undefined) return bound.map((v) => v ?? '');
    return this.variable(name);
  }

  /** The evaluator handed to the expander: calls a registered function and remembers a failure. */
  readonly evaluate = (fn: string, args: string[]): string[] | undefined => {
    const name = fn.startsWith('$') ? fn.slice(1) : fn;
    const impl = this.#functions.get(name);
    if (impl === undefined) {
      this.functionFailure ??= `unknown function $${name}`;
      return undefined;
    }
    let result: string[] | undefined;
    try {
      result = impl(args, this);
    } catch (err) {
      this.functionFailure ??= `$${name} failed: ${(err as Error).message}`;
      return undefined;
    }
    if (result === undefined) this.functionFailure ??= `$${name}[${args.join(',')}] has no value`;
    return result;
  };

  /**
   * The variables Knox's request and response wrappers resolve (`UrlRewriteResponse.resolve`): `gateway.*` from
   * the public URL the client used, `request.*` from the inbound request, `cluster.name`, and
   * `query.param.NAME` (the inbound request's query parameters, what `$inboundurl` reads).
   */
  readonly variable = (name: string): string[] | undefined => {
    if (name.startsWith('gateway.')) {
      const g = this.gateway();
      switch (name) {
        case 'gateway.url':
          return [g.url];
        case 'gateway.scheme':
          return [g.scheme];
        case 'gateway.host':
          return [g.host];
        case 'gateway.port':
          return [g.port];
        case 'gateway.addr':
        case 'gateway.address':
          return [g.port ? `${g.host}:${g.port}` : g.host];
        case 'gateway.path':
          return [g.path];
        case 'gateway.name':
          return [this.env.gatewayPath];
        default:
          return undefined;
      }
    }
    if (name.startsWith('request.')) {
      const inbound = this.ctx.inbound;
      switch (name) {
        case 'request.host':
          return [inbound.host];
        case 'request.port':
          return [inbound.port];
        case 'request.scheme':
          return [inbound.scheme];
        case 'request.context-path':
          return [this.gateway().path.replace(/^\/+/, '')];
        default:
          return undefined;
      }
    }
    if (name === 'cluster.name') return [this.env.topology];
    if (name.startsWith('query.param.')) {
      this.#inboundQuery ??= new URLSearchParams(this.ctx.inbound.query);
      const values = this.#inboundQuery.getAll(name.slice('query.param.'.length));
      return values.length > 0 ? values : undefined;
    }
    return undefined;
  };

  gateway(): GatewayParts {
    this.#gateway ??= gatewayParts(this.ctx);
    return this.#gateway;
  }

  /** Marks the URL as the request's inbound URL whose first `anchor` path segments are gateway path and topology. */
  anchorInput(anchor: number): void {
    const end = this.url.search(/[?#]/);
    this.#anchored = { base: end < 0 ? this.url : this.url.slice(0, end), options: { anchor } };
  }

  /**
   * Match options for the current URL: anchored while its scheme, authority and path are still the inbound URL's
   * (a `decrypt-query` step changes only the query).
   */
  matchOptions(): MatchOptions | undefined {
    const a = this.#anchored;
    if (a === undefined || !this.url.startsWith(a.base)) return undefined;
    const next = this.url.charCodeAt(a.base.length);
    return Number.isNaN(next) || next === 0x3f || next === 0x23 ? a.options : undefined;
  }

  /** Seeds {@link literal} with the parse best match already made of the URL, so it is not parsed twice. */
  seedLiteral(template: Template): void {
    this.#literal = { url: this.url, template };
  }
}
