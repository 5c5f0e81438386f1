/**
 * @module rewrite/functions
 * The registry of rewrite functions, keyed by the name used after `$` in templates. It holds every function
 * Knox's service definitions call and the rest of Knox's
 * service-registry family. Deployments may add their own by copying the map and setting more entries.
 */
import type { RewriteFunction, RewriteFunctionRegistry } from '../types.ts';
import { frontend, importFn, infix, postfix, prefix } from './frontend.ts';
import { inboundurl, username } from './request.ts';
import {
  hostmap,
  serviceAddr,
  serviceHost,
  serviceMappedAddr,
  serviceMappedHost,
  serviceMappedUrl,
  servicePath,
  servicePort,
  serviceScheme,
  serviceUrl,
} from './service.ts';

/** A fresh registry with every built-in function. */
export function defaultRewriteFunctions(): Map<string, RewriteFunction> {
  return new Map<string, RewriteFunction>([
    ['frontend', frontend],
    ['prefix', prefix],
    ['postfix', postfix],
    ['infix', infix],
    ['import', importFn],
    ['serviceUrl', serviceUrl],
    ['serviceAddr', serviceAddr],
    ['serviceHost', serviceHost],
    ['servicePort', servicePort],
    ['servicePath', servicePath],
    ['serviceScheme', serviceScheme],
    ['serviceMappedUrl', serviceMappedUrl],
    ['serviceMappedAddr', serviceMappedAddr],
    ['serviceMappedHost', serviceMappedHost],
    ['hostmap', hostmap],
    ['username', username],
    ['inboundurl', inboundurl],
  ]);
}

export type { RewriteFunction, RewriteFunctionRegistry };
