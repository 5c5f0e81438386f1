/**
 * @module rewrite/types
 * The two environments a rewrite runs in, and the shape of a rewrite function.
 *
 * - {@link RewriteEnvironment}: known at deployment, one per topology (service URLs, host map, frontend URL,
 *   the secret that keys `encrypt-query`).
 * - {@link RewriteContext}: known per request (the public gateway URL the client used, the inbound URL, the user).
 *
 * Rules are compiled once against the environment; applying one only needs the context.
 */

/** Knox's `UrlRewriter.Direction`: IN rewrites requests (client → backend), OUT rewrites responses. */
export type Direction = 'IN' | 'OUT';

/** Per topology, fixed at deployment. */
export interface RewriteEnvironment {
  /** The topology name (`sandbox`); `$frontend[topology]`, `cluster.name`, and the per-topology crypto keys. */
  topology: string;
  /** `gateway.path` of gateway-site.xml (`gateway`); `$frontend[gateway.name]`. */
  gatewayPath: string;
  /** The backend URLs of a role in this topology (`WEBHDFS` → `['http://nn:50070/webhdfs']`), first is active. */
  serviceUrls(role: string): string[] | undefined;
  /** The topology's `hostmap` provider; absent means hosts are not mapped. */
  hostmap?: {
    toInternal(host: string): string | undefined;
    toExternal(host: string): string | undefined;
  };
  /**
   * `gateway.frontend.url` from gateway-site.xml (`https://lb.example.com/gateway`). When set, `$frontend[...]`
   * answers from it instead of from the request; the topology name is appended unless the URL already ends with it.
   */
  frontendUrl?: string;
  /** Secret from which the per-topology `encrypt-query`/`encrypt` keys are derived. At least 16 bytes. */
  secret: Uint8Array;
  /**
   * `gateway.global.rules.services`: roles whose rules are matched in every service's scope.
   * Defaults to Knox's list (NAMENODE, JOBTRACKER, WEBHDFS, WEBHCAT, OOZIE, WEBHBASE, HIVE, RESOURCEMANAGER).
   */
  globalRulesServices?: readonly string[];
}

/** Per request. */
export interface RewriteContext {
  /** Public URL up to and including the topology, as the client reached it: `https://localhost:8443/gateway/sandbox`. */
  gatewayUrl: string;
  /** The request as it arrived at the gateway. */
  inbound: {
    scheme: string;
    /** `host[:port]` the gateway answered as (the checked Host header, or `gateway.frontend.url`'s). */
    authority: string;
    host: string;
    port: string;
    /** Path as received, still percent-encoded: `/gateway/sandbox/webhdfs/v1/tmp`. */
    path: string;
    /** Raw query string without `?`; empty when there is none. */
    query: string;
    /** The whole URL: `https://localhost:8443/gateway/sandbox/webhdfs/v1/tmp?op=LISTSTATUS`. */
    url: string;
  };
  /** The effective (asserted) user name, once identity assertion ran. */
  username?: string;
}

/** What a function sees besides its arguments. */
export interface FunctionCall {
  readonly env: RewriteEnvironment;
  readonly ctx: RewriteContext;
  readonly dir: Direction;
  /** Resolves a template variable the way a template would (`gateway.url`, a matched parameter ...). */
  resolve(name: string): string[] | undefined;
}

/**
 * A rewrite function (`{$serviceUrl[WEBHDFS]}` calls `serviceUrl` with `['WEBHDFS']`).
 * Returns the values to insert; `[]` means "nothing to insert" (still a success); `undefined` means the function
 * cannot answer (unknown role, no user ...), which fails the rule that called it.
 */
export type RewriteFunction = (args: readonly string[], call: FunctionCall) => string[] | undefined;

/** All functions rules may call, by name without the `$`. */
export type RewriteFunctionRegistry = ReadonlyMap<string, RewriteFunction>;
