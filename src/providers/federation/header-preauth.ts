/**
 * @module providers/federation/header-preauth
 * Knox's `HeaderPreAuth` federation: a trusted front end (an SSO agent such as SiteMinder,
 * an authenticating proxy, a service mesh) has already authenticated the user and names them in a request header.
 * The gateway believes the header only from where the validators allow, so this is safe only behind network
 * controls: with `preauth.ip.validation` naming the front end's addresses, or mTLS to the gateway.
 *
 * Params (Knox's names and defaults):
 * - `preauth.custom.header` (`SM_USER`): the header naming the user.
 * - `preauth.custom.group.header` (unset): a header with the user's groups, comma-separated; absent means none.
 * - `preauth.validation.method` (`preauth.default.validation`): comma list of validators, run in order; the first
 *   that fails stops the request with 403. `preauth.default.validation` accepts everything,
 *   `preauth.ip.validation` accepts requests whose socket address is in `preauth.ip.addresses` (Knox's `*`
 *   prefix wildcards, plus CIDR as a postern extension). Any other name (Knox's
 *   `preauth.k8s.service.account.validation`, a custom validator class) fails the deployment at the provider.
 * - `preauth.client.cert.validation` (a postern validator, named in Knox's style): accepts only requests that came
 *   over a TLS connection whose client certificate the gateway's truststore accepted (`gateway.client.auth.needed`
 *   or `.wanted`, `gateway.truststore.path`; see gateway/tls.ts). With `preauth.client.cert.names` (comma list)
 *   the certificate must also name one of them, as its subject CN or a DNS subjectAltName — so that of all the
 *   certificates a CA issues, only the federating gateway's is believed. This is what a cloud gateway behind
 *   `HeaderPreAuthFederationDispatch` uses, together with `preauth.ip.validation`.
 *
 * Answers: no user header (or an empty one, or the header twice) → 401; a validator refuses → 403. Knox's filter
 * answers 403 to a missing header; postern answers 401 because no identity was presented at all (as Knox's user
 * guide says). Differences from Knox, each safer:
 * - `preauth.ip.validation` without `preauth.ip.addresses` is a deployment error (Knox then trusts every address).
 * - The user and group headers are removed from the request forwarded to the backend, so the backend learns the
 *   user only through identity assertion (`user.name`/`doAs`, or a header a dispatch adds on purpose): a client
 *   cannot hand the backend an identity the chain did not check. A header of the same name that a later
 *   provider adds for the backend (`addRequestHeaders`) is kept.
 *
 * Sets `ex.user` (name and groups) and `ex.authMethod = 'header'`. Audit: `federation` success, failure (no
 * header) and denied (validation).
 */

import type { TLSSocket } from 'node:tls';
import { type IpMatcher, ipListProblems, parseIpList } from '../../config/ip-list.ts';
import { Errors } from '../../errors.ts';
import {
  addTo,
  auditFor,
  type Exchange,
  type Filter,
  type ProviderContext,
  type ProviderFactory,
} from '../../spi/index.ts';
import { ParamReader } from '../common/param-reader.ts';

const DEFAULT_VALIDATION = 'preauth.default.validation';
const IP_VALIDATION = 'preauth.ip.validation';
const CLIENT_CERT_VALIDATION = 'preauth.client.cert.validation';

/** A validator: true lets the request through. */
type Validator = (ex: Exchange) => boolean;

/** HTTP header names are tokens (RFC 9110 §5.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Every value of one request header as sent (Node joins repeated unknown headers with ", "). */
function headerValues(rawHeaders: readonly string[], lowerName: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === lowerName) values.push(rawHeaders[i + 1]);
  }
  return values;
}

/**
 * The request came over TLS with a client certificate the truststore accepted, and (when `names` is not empty)
 * the certificate's subject CN or one of its DNS subjectAltNames is among `names`.
 */
function trustedPeer(ex: Exchange, names: ReadonlySet<string>): boolean {
  const socket = ex.req.socket as Partial<TLSSocket>;
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return false;
  if (names.size === 0) return true;
  const cert = socket.getPeerCertificate();
  const cn = cert.subject?.CN;
  const cns = Array.isArray(cn) ? cn : cn ? [cn] : [];
  if (cns.some((n) => names.has(n))) return true;
  const dns = (cert.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  return dns.some((n) => names.has(n));
}

export const headerPreAuthFederation: ProviderFactory = {
  role: 'federation',
  name: 'HeaderPreAuth',
  create(ctx: ProviderContext): Filter | undefined {
    const params = new ParamReader(ctx);
    const userHeader = params.text('preauth.custom.header') || 'SM_USER';
    const groupHeader = params.text('preauth.custom.group.header') || undefined;
    for (const [param, header] of [
      ['preauth.custom.header', userHeader],
      ['preauth.custom.group.header', groupHeader],
    ] as const) {
      if (header !== undefined && !TOKEN.test(header))
        params.error(param, `"${header}" is not a header name`);
    }

    const validators: { name: string; check: Validator }[] = [];
    const methods = params.list('preauth.validation.method', DEFAULT_VALIDATION);
    for (const method of new Set(methods.length > 0 ? methods : [DEFAULT_VALIDATION])) {
      if (method === DEFAULT_VALIDATION) {
        // Knox's default: any client that can reach the gateway may name any user in the header.
        if (methods.every((m) => m === DEFAULT_VALIDATION)) {
          params.warn(
            'preauth.validation.method',
            `${DEFAULT_VALIDATION} believes the ${userHeader} header from any address: any client that reaches the gateway can name any user. Use ${IP_VALIDATION} with preauth.ip.addresses (the trusted front end), or ${CLIENT_CERT_VALIDATION}`,
          );
        }
        validators.push({ name: method, check: () => true });
      } else if (method === IP_VALIDATION) {
        const list = params.text('preauth.ip.addresses');
        if (!list) {
          params.error(
            'preauth.validation.method',
            `${IP_VALIDATION} needs preauth.ip.addresses (the addresses of the trusted front end)`,
          );
          continue;
        }
        const bad = ipListProblems(list);
        if (bad.length > 0) {
          params.error(
            'preauth.ip.addresses',
            `not an address, prefix wildcard or subnet: ${bad.join(', ')}`,
          );
        }
        const trusted: IpMatcher = parseIpList(list);
        // The front end that sends the identity header is the connection's peer, not the client it forwarded for.
        validators.push({ name: method, check: (ex) => trusted.matches(ex.peerAddress) });
      } else if (method === CLIENT_CERT_VALIDATION) {
        const ssl = ctx.settings.ssl;
        if (!ssl.enabled || (!ssl.clientAuthNeeded && !ssl.clientAuthWanted)) {
          params.error(
            'preauth.validation.method',
            `${CLIENT_CERT_VALIDATION} needs gateway-site's ssl.enabled and gateway.client.auth.needed (or .wanted): without them no request carries a verified client certificate`,
          );
          continue;
        }
        const names = new Set(params.list('preauth.client.cert.names', ''));
        validators.push({ name: method, check: (ex) => trustedPeer(ex, names) });
      } else {
        params.error(
          'preauth.validation.method',
          `unknown validator "${method}" (postern has ${DEFAULT_VALIDATION}, ${IP_VALIDATION} and ${CLIENT_CERT_VALIDATION})`,
        );
      }
    }
    if (params.failed) return undefined;

    const userKey = userHeader.toLowerCase();
    const groupKey = groupHeader?.toLowerCase();
    const audit = auditFor(ctx, 'federation');

    // Removes the client's identity headers from the backend request, keeping one a provider added on purpose.
    const scrub = new Set([userKey, ...(groupKey ? [groupKey] : [])]);
    const stripFor = (ex: Exchange) => (headers: Record<string, string | string[] | undefined>) => {
      for (const key of Object.keys(headers)) if (scrub.has(key.toLowerCase())) delete headers[key];
      if (ex.addRequestHeaders) {
        for (const [n, v] of ex.addRequestHeaders) {
          const key = n.toLowerCase();
          if (scrub.has(key)) headers[key] = v;
        }
      }
      return headers;
    };

    return (ex, next) => {
      const sent = headerValues(ex.req.rawHeaders, userKey);
      const name = sent.length === 1 ? sent[0].trim() : '';
      if (!name) {
        const reason = sent.length > 1 ? `${userHeader} header repeated` : `no ${userHeader} header`;
        audit(ex, 'failure', { reason });
        return Promise.reject(Errors.unauthenticated(`Pre-authenticated user header ${userHeader} required`));
      }
      for (const v of validators) {
        if (!v.check(ex)) {
          audit(ex, 'denied', { user: name, reason: v.name });
          return Promise.reject(Errors.forbidden('Pre-authenticated identity not accepted from this client'));
        }
      }
      let groups: string[] = [];
      if (groupKey) {
        groups = headerValues(ex.req.rawHeaders, groupKey)
          .flatMap((v) => v.split(','))
          .map((g) => g.trim())
          .filter((g) => g !== '');
      }
      ex.user = { name, groups };
      ex.authMethod = 'header';
      addTo(ex, 'requestHeaderFilters', stripFor(ex));
      audit(ex, 'success', { user: name });
      return next();
    };
  },
};
