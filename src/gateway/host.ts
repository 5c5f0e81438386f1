/**
 * @module gateway/host
 * Which host a request is answered as. The Host header ends up in rewritten `Location` headers, SSO redirects,
 * the KNOXSSO redirect allow-list and X-Forwarded-Host, so it is not simply believed:
 * - a request with two Host headers is refused (400): two parsers of it may each pick a different one;
 * - with `gateway.frontend.url`, the gateway is always answered as that URL's scheme and host, whatever Host says;
 * - with `postern.host.allowlist`, a Host naming another host (or a malformed one) is answered as the gateway's
 *   own host (the front-end URL's, the first allowed name, or the listener's address), or refused with 400 under
 *   `postern.host.strict`.
 */
import type { IncomingMessage } from 'node:http';
import type { GatewaySettings } from '../config/gateway-site.ts';
import { splitAuthority } from './authority.ts';
import type { Arrival } from './resolve.ts';

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The arrival to answer the request as; `refused` says why it must get 400 instead. */
export interface HostVerdict {
  readonly arrival: Arrival;
  readonly refused?: string;
}

/** The host part of an authority, lower case, without the port (`[::1]:8443` → `[::1]`). */
function hostnameOf(authority: string): string {
  return splitAuthority(authority).hostname.toLowerCase();
}

function hostCount(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') n++;
  return n;
}

export function hostOf(
  req: IncomingMessage,
  settings: GatewaySettings,
  scheme: 'http' | 'https',
  listenerPort: number,
): HostVerdict {
  const allow = settings.hostAllowlist;
  const frontend = settings.frontendUrl ? new URL(settings.frontendUrl) : undefined;
  const own: Arrival = frontend
    ? { scheme: frontend.protocol === 'http:' ? 'http' : 'https', authority: frontend.host }
    : { scheme, authority: allow.length > 0 ? `${allow[0]}:${listenerPort}` : `localhost:${listenerPort}` };
  if (hostCount(req.rawHeaders) > 1)
    return { arrival: own, refused: 'the request has more than one Host header' };
  // HTTP/2 (gateway/http2): `:authority` is the Host; a Host header that says otherwise is refused (RFC 9113 §8.3.1).
  if ((req as { authorityConflict?: boolean }).authorityConflict === true)
    return { arrival: own, refused: 'the Host header and :authority disagree' };
  const given = req.headers.host;
  const wellFormed = given !== undefined && HOST.test(given);
  const allowed =
    wellFormed && (allow.length === 0 || allow.some((h) => h.toLowerCase() === hostnameOf(given)));
  if (!allowed && settings.hostStrict && (given !== undefined || allow.length > 0)) {
    return {
      arrival: own,
      refused: wellFormed
        ? `the host ${hostnameOf(given)} is not one this gateway answers for (postern.host.allowlist)`
        : 'the Host header is not a host name',
    };
  }
  if (frontend || !allowed) return { arrival: own };
  return { arrival: { scheme, authority: given } };
}
