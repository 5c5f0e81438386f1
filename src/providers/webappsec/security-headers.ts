/**
 * @module providers/webappsec/security-headers
 * WebAppSec's response security headers (Knox's `XFrameOptionsFilter`, `XSSProtectionFilter`,
 * `XContentTypeOptionsFilter`, `StrictTransportFilter`). Each is on only when enabled:
 *
 * | enable param | value param (default) | header |
 * |---|---|---|
 * | `xframe.options.enabled` | `xframe.options.value`, or Knox's code name `xframe.options` (`DENY`) | `X-Frame-Options` |
 * | `xss.protection.enabled` | `xss.protection` (`1;mode=block`, Knox's code) | `X-XSS-Protection` |
 * | `xcontent-type.options.enabled` | `xcontent-type.options` (`nosniff`) | `X-Content-Type-Options` |
 * | `strict.transport.enabled` | `strict.transport` (`max-age=31536000`) | `Strict-Transport-Security` |
 *
 * As in Knox, the configured value is the only one the client sees: the backend's header of the same name is
 * dropped. The headers are set before anything else runs, so the gateway's own answers (401, 403, 429, a CORS
 * preflight) carry them too.
 *
 * HSTS and plain HTTP: Knox sends the header whatever the scheme. RFC 6797 §7.2 says a host must not send it over
 * plain HTTP (browsers ignore it there anyway), so postern sends it only on responses to requests that reached
 * the gateway over TLS, and warns at deployment when it is enabled while gateway-site has `ssl.enabled=false`
 * (a TLS-terminating proxy in front must then add it itself). When the topology's WebAppSec does not set
 * `strict.transport.enabled`, gateway-site's `gateway.strict.transport.enabled` / `.option` apply, so the
 * topology's setting takes precedence as in Knox.
 */
import type { GatewaySettings } from '../../config/gateway-site.ts';
import { addTo, type HeaderMap } from '../../spi/index.ts';
import type { ParamReader } from '../common/param-reader.ts';
import { deleteHeaders, type Feature } from './feature.ts';

/** Characters a header value may hold (no CR, LF or other controls but tab). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function buildSecurityHeaders(params: ParamReader, settings: GatewaySettings): Feature | undefined {
  const fixed: [string, string][] = [];
  let hsts: string | undefined;

  const value = (param: string, fallback: string): string => {
    const v = params.text(param) ?? fallback;
    if (!FIELD_VALUE.test(v)) params.error(param, 'the value holds characters a header cannot carry');
    return v;
  };

  if (params.bool('xframe.options.enabled', false)) {
    const param = params.has('xframe.options.value') ? 'xframe.options.value' : 'xframe.options';
    const v = value(param, 'DENY');
    if (!/^(DENY|SAMEORIGIN)$/i.test(v)) {
      params.warn(
        param,
        `"${v}" is neither DENY nor SAMEORIGIN; browsers ignore other X-Frame-Options values`,
      );
    }
    fixed.push(['X-Frame-Options', v]);
  }
  if (params.bool('xss.protection.enabled', false)) {
    fixed.push(['X-XSS-Protection', value('xss.protection', '1;mode=block')]);
  }
  if (params.bool('xcontent-type.options.enabled', false)) {
    fixed.push(['X-Content-Type-Options', value('xcontent-type.options', 'nosniff')]);
  }
  const hstsParam = params.has('strict.transport.enabled');
  if (hstsParam ? params.bool('strict.transport.enabled', false) : settings.strictTransport.enabled) {
    hsts = hstsParam ? value('strict.transport', 'max-age=31536000') : settings.strictTransport.option;
    if (hstsParam && !settings.ssl.enabled) {
      params.warn(
        'strict.transport.enabled',
        'Strict-Transport-Security is sent only over TLS (RFC 6797 §7.2) and gateway-site has ssl.enabled=false',
      );
    }
  }
  if (fixed.length === 0 && hsts === undefined) return undefined;

  const owned = new Set(fixed.map(([n]) => n.toLowerCase()));
  if (hsts !== undefined) owned.add('strict-transport-security');
  const dropBackend = (headers: HeaderMap): HeaderMap => {
    deleteHeaders(headers, owned);
    return headers;
  };

  return {
    name: 'security-headers',
    run(ex) {
      const res = ex.res;
      for (const [n, v] of fixed) res.setHeader(n, v);
      if (hsts !== undefined && ex.rewriteContext.inbound.scheme === 'https') {
        res.setHeader('Strict-Transport-Security', hsts);
      }
      addTo(ex, 'responseHeaderFilters', dropBackend);
      return undefined;
    },
  };
}
