/**
 * @module providers/webappsec/csrf
 * WebAppSec's CSRF feature (Knox's `CSRFPreventionFilter`): a request whose method is not in
 * `csrf.methodsToIgnore` (default `GET,OPTIONS,HEAD`) must carry the header `csrf.customHeader` (default
 * `X-XSRF-Header`, any value, even empty), else 400. A page of another site cannot add a custom header to a
 * cross-site request without a CORS preflight, which the gateway's CORS policy governs.
 *
 * WebSocket upgrades: a browser cannot add a header to an upgrade, and an upgrade is a GET that opens a channel
 * carrying the user's cookies (cross-site WebSocket hijacking), so with CSRF enabled the `Origin` check stands
 * in for the header on every upgrade, whatever `csrf.methodsToIgnore` says. An upgrade goes on when it carries
 * the custom header, or has no `Origin` (not from a browser), or comes from the gateway's own origin, or from an
 * origin the CORS feature allows (when it is enabled); otherwise 403.
 *
 * Method names compare in upper case and list entries are trimmed (Knox compares them exactly as written).
 */
import { Errors } from '../../errors.ts';
import type { ParamReader } from '../common/param-reader.ts';
import { isSameOrigin } from './cors.ts';
import { type Feature, isUpgrade, type Verdict } from './feature.ts';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function buildCsrf(
  params: ParamReader,
  corsAllows: ((origin: string) => boolean) | undefined,
): Feature {
  const header = params.text('csrf.customHeader') || 'X-XSRF-Header';
  if (!TOKEN.test(header)) params.error('csrf.customHeader', `"${header}" is not a header name`);
  const key = header.toLowerCase();
  const ignore = new Set(params.list('csrf.methodsToIgnore', 'GET,OPTIONS,HEAD').map((m) => m.toUpperCase()));

  return {
    name: 'csrf',
    run(ex): Verdict {
      const { req } = ex;
      if (req.headers[key] !== undefined) return undefined;
      if (isUpgrade(ex)) {
        const origin = req.headers.origin;
        if (origin === undefined || isSameOrigin(ex, origin) || corsAllows?.(origin)) return undefined;
        return {
          error: Errors.forbidden('Cross-site WebSocket upgrade refused'),
          reason: 'csrf websocket origin',
        };
      }
      if (ignore.has((req.method ?? 'GET').toUpperCase())) return undefined;
      return {
        error: Errors.badRequest(`Missing required header ${header} for CSRF protection`),
        reason: 'csrf header missing',
      };
    },
  };
}
