/**
 * @module dispatch/knox/jkg
 * Knox's JkgDispatch (gateway-service-jkg, the Jupyter Kernel Gateway): ConfigurableDispatch, and on a POST to a
 * path ending in `/kernels` (or `/kernels/`) the kernel-creation JSON's `env.KERNEL_USERNAME` is set to the
 * effective user. Kernel Gateway (and Enterprise Gateway) start the kernel as `KERNEL_USERNAME`, so the user comes
 * from the gateway, never from the client's JSON.
 *
 * An `env` that is not a JSON object is replaced by one holding only `KERNEL_USERNAME` (Knox's Jackson conversion
 * fails on it); a creation request with no authenticated user is refused (403).
 */
import { Errors } from '../../errors.ts';
import { effectivePrincipal, isEndpoint, knoxDispatch } from './extend.ts';
import { editJsonBody } from './json-body.ts';

export const jkgDispatch = knoxDispatch({
  name: 'jkg',
  classNames: ['org.apache.knox.gateway.jkg.JkgDispatch'],
  base: { variant: 'configurable' },
  // With HA on it fails over itself (Knox's definition names no HA dispatch: deploy/compile keeps this one).
  failover: true,
  prepare(ctx) {
    const limit = ctx.settings.rewriteBodyMaxBytes;
    return (ex) => {
      if (ex.req.method !== 'POST' || !isEndpoint(ex, ['/kernels'])) return;
      const user = effectivePrincipal(ex);
      if (user === undefined) throw Errors.forbidden('A kernel needs an authenticated user');
      editJsonBody(ex, limit, (body) => {
        const env = body.env;
        const kept =
          env !== null && typeof env === 'object' && !Array.isArray(env)
            ? (env as Record<string, unknown>)
            : {};
        kept.KERNEL_USERNAME = user;
        body.env = kept;
      });
    };
  },
});
