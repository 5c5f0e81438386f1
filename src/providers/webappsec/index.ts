/**
 * @module providers/webappsec
 * Knox's `WebAppSec` provider (role `webappsec`): one provider whose features are separate
 * modules, each built only when its `*.enabled` param is true (Knox: `WebAppSecContributor`). Param names compare
 * case-insensitively, as Knox lower-cases them.
 *
 * Order on a request: the response security headers are set first (./security-headers.ts, so even the gateway's
 * own refusals carry them), then rate limiting (./rate-limit.ts), CORS (./cors.ts; a preflight is answered
 * here), CSRF (./csrf.ts); Knox's order for the checks is the same. A refusal is audited (`webappsec`, denied,
 * with the feature's reason) and answered through the gateway's error response; whatever response headers the
 * features set stay on it.
 *
 * WebSocket upgrades run through the same provider (the route's chain runs on them): the rate limit counts them,
 * CORS refuses an upgrade from an origin it does not allow with 403, and CSRF checks the upgrade's `Origin`
 * instead of its header (see ./csrf.ts). A refusal is a plain HTTP answer; no backend is contacted.
 *
 * A param with one of the features' prefixes that no feature knows is reported as a warning (a misspelt
 * `cors.allowOrigins` would otherwise leave Knox's default, `*`, in force).
 */

import type { Filter, ProviderContext, ProviderFactory } from '../../spi/index.ts';
import { auditFor } from '../../spi/index.ts';
import { ParamReader } from '../common/param-reader.ts';
import { buildCors, type Cors } from './cors.ts';
import { buildCsrf } from './csrf.ts';
import type { Feature, Refusal } from './feature.ts';
import { buildRateLimit } from './rate-limit.ts';
import { buildSecurityHeaders } from './security-headers.ts';

const KNOWN = new Set(
  [
    'csrf.enabled',
    'csrf.customHeader',
    'csrf.methodsToIgnore',
    'cors.enabled',
    'cors.allowGenericHttpRequests',
    'cors.allowOrigin',
    'cors.allowSubdomains',
    'cors.supportedMethods',
    'cors.supportedHeaders',
    'cors.exposedHeaders',
    'cors.supportsCredentials',
    'cors.maxAge',
    'cors.tagRequests',
    'xframe.options.enabled',
    'xframe.options.value',
    'xframe.options',
    'xss.protection.enabled',
    'xss.protection',
    'xcontent-type.options.enabled',
    'xcontent-type.options',
    'strict.transport.enabled',
    'strict.transport',
    'rate.limiting.enabled',
    'rate.limiting.maxRequestsPerSec',
    'rate.limiting.delayMs',
    'rate.limiting.maxWaitMs',
    'rate.limiting.throttledRequests',
    'rate.limiting.throttleMs',
    'rate.limiting.maxRequestMs',
    'rate.limiting.maxIdleTrackerMs',
    'rate.limiting.insertHeaders',
    'rate.limiting.trackSessions',
    'rate.limiting.remotePort',
    'rate.limiting.ipWhitelist',
  ].map((n) => n.toLowerCase()),
);
const PREFIXES = ['csrf.', 'cors.', 'xframe.', 'xss.', 'xcontent-type.', 'strict.', 'rate.limiting.'];

export const webAppSec: ProviderFactory = {
  role: 'webappsec',
  name: 'WebAppSec',
  create(ctx: ProviderContext): Filter | undefined {
    const params = new ParamReader(ctx);
    for (const [name] of params.entries()) {
      const lower = name.toLowerCase();
      if (!KNOWN.has(lower) && PREFIXES.some((p) => lower.startsWith(p))) {
        params.warn(name, 'is not a WebAppSec param; it is ignored');
      }
    }

    const features: Feature[] = [];
    const headers = buildSecurityHeaders(params, ctx.settings);
    if (headers) features.push(headers);
    if (params.bool('rate.limiting.enabled', false)) features.push(buildRateLimit(params, ctx));
    let cors: Cors | undefined;
    if (params.bool('cors.enabled', false)) {
      cors = buildCors(params);
      features.push(cors.feature);
    }
    if (params.bool('csrf.enabled', false)) features.push(buildCsrf(params, cors?.allows));
    if (params.failed || features.length === 0) return undefined;

    const audit = auditFor(ctx, 'webappsec');
    return (ex, next) => {
      // Synchronous unless a feature asks something shared (the workers' rate limit, cluster/hub.ts).
      const from = (start: number): Promise<void> => {
        for (let i = start; i < features.length; i++) {
          const verdict = features[i].run(ex);
          if (verdict instanceof Promise) {
            return verdict.then((v) => (v === undefined ? from(i + 1) : refuse(v)));
          }
          if (verdict !== undefined) return refuse(verdict);
        }
        return next();
      };
      const refuse = (verdict: 'answered' | Refusal): Promise<void> => {
        if (verdict === 'answered') return Promise.resolve();
        audit(ex, 'denied', { reason: verdict.reason });
        return Promise.reject(verdict.error);
      };
      return from(0);
    };
  },
};
