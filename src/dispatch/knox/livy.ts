/**
 * @module dispatch/knox/livy
 * Knox's LivyDispatch (gateway-service-livy): ConfigurableDispatch, and on a POST to a path ending in `/sessions`
 * or `/batches` (with or without a trailing `/`) the JSON body's `proxyUser` is set to the effective user, whatever
 * the client put there. Livy runs the session or batch as its `proxyUser` when the caller (the gateway) is a
 * trusted proxy, so a client never chooses whom its Spark code runs as.
 *
 * A creation request with no authenticated user is refused (403): Knox would send `proxyUser: null`, which Livy
 * reads as "run as the caller", the gateway's own principal.
 */
import { Errors } from '../../errors.ts';
import { effectivePrincipal, isEndpoint, knoxDispatch } from './extend.ts';
import { editJsonBody } from './json-body.ts';

const ENDPOINTS = ['/sessions', '/batches'];

export const livyDispatch = knoxDispatch({
  name: 'livy',
  classNames: ['org.apache.knox.gateway.livy.LivyDispatch'],
  base: { variant: 'configurable' },
  // With HA on it fails over itself (Knox's definition names no HA dispatch: deploy/compile keeps this one).
  failover: true,
  prepare(ctx) {
    const limit = ctx.settings.rewriteBodyMaxBytes;
    return (ex) => {
      if (ex.req.method !== 'POST' || !isEndpoint(ex, ENDPOINTS)) return;
      const user = effectivePrincipal(ex);
      if (user === undefined) throw Errors.forbidden('A Livy session or batch needs an authenticated user');
      editJsonBody(ex, limit, (body) => {
        body.proxyUser = user;
      });
    };
  },
});
