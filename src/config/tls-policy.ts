/**
 * @module config/tls-policy
 * Knox's TLS lists (`ssl.include.protocols`, `ssl.exclude.protocols`, `ssl.include.ciphers`, `ssl.exclude.ciphers`)
 * with Jetty's semantics, turned into what Node's TLS takes:
 *
 * - **Protocols** are JSSE names (`TLSv1.2`, `TLSv1.3`; `SSLv3`, `TLSv1`, `TLSv1.1`, `SSLv2Hello` are known and
 *   never offered). The protocols offered are the included ones (all, when the include list is empty) minus the
 *   excluded ones (an exclusion wins), as Jetty's `SslContextFactory.selectProtocols`. postern never offers less
 *   than TLS 1.2, so what remains is TLS 1.2 and/or 1.3, given to Node as `minVersion`/`maxVersion`. An unknown
 *   name, or lists that leave nothing, are errors at the `<value>`.
 * - **Cipher suites** are regular expressions matching the whole IANA/JSSE name (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`,
 *   `.*_CBC_.*`), as Jetty's `selectCipherSuites`; postern also accepts OpenSSL's names (`ECDHE-RSA-AES128-GCM-SHA256`).
 *   With an include list, the suites are the runtime's supported ones that an include matches; without, the
 *   runtime's default ones; then every suite an exclude matches is removed. The result is written as an OpenSSL
 *   cipher string (TLS 1.3 suites included, which Node sends to `SSL_CTX_set_ciphersuites`). A protocol none of the
 *   chosen suites belongs to is not offered (JSSE could not negotiate it either): including only TLS 1.2 suites
 *   turns TLS 1.3 off.
 */
import { DEFAULT_CIPHERS, getCiphers } from 'node:tls';

/** Protocol names Java's JSSE knows; only the last two are ever offered. */
export const KNOWN_PROTOCOLS = ['SSLv2Hello', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
const OFFERED = ['TLSv1.2', 'TLSv1.3'] as const;
type Offered = (typeof OFFERED)[number];

/**
 * OpenSSL name → IANA name of every suite Node's OpenSSL supports (`tls.getCiphers()`), from
 * `openssl ciphers -stdname`; TLS 1.3 suites have the same name in both.
 */
const SUITES: readonly (readonly [string, string])[] = [
  ['AES128-GCM-SHA256', 'TLS_RSA_WITH_AES_128_GCM_SHA256'],
  ['AES128-SHA', 'TLS_RSA_WITH_AES_128_CBC_SHA'],
  ['AES128-SHA256', 'TLS_RSA_WITH_AES_128_CBC_SHA256'],
  ['AES256-GCM-SHA384', 'TLS_RSA_WITH_AES_256_GCM_SHA384'],
  ['AES256-SHA', 'TLS_RSA_WITH_AES_256_CBC_SHA'],
  ['AES256-SHA256', 'TLS_RSA_WITH_AES_256_CBC_SHA256'],
  ['DHE-PSK-AES128-CBC-SHA', 'TLS_DHE_PSK_WITH_AES_128_CBC_SHA'],
  ['DHE-PSK-AES128-CBC-SHA256', 'TLS_DHE_PSK_WITH_AES_128_CBC_SHA256'],
  ['DHE-PSK-AES128-GCM-SHA256', 'TLS_DHE_PSK_WITH_AES_128_GCM_SHA256'],
  ['DHE-PSK-AES256-CBC-SHA', 'TLS_DHE_PSK_WITH_AES_256_CBC_SHA'],
  ['DHE-PSK-AES256-CBC-SHA384', 'TLS_DHE_PSK_WITH_AES_256_CBC_SHA384'],
  ['DHE-PSK-AES256-GCM-SHA384', 'TLS_DHE_PSK_WITH_AES_256_GCM_SHA384'],
  ['DHE-PSK-CHACHA20-POLY1305', 'TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  ['DHE-RSA-AES128-GCM-SHA256', 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256'],
  ['DHE-RSA-AES128-SHA', 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA'],
  ['DHE-RSA-AES128-SHA256', 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA256'],
  ['DHE-RSA-AES256-GCM-SHA384', 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384'],
  ['DHE-RSA-AES256-SHA', 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA'],
  ['DHE-RSA-AES256-SHA256', 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA256'],
  ['DHE-RSA-CHACHA20-POLY1305', 'TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
  ['ECDHE-ECDSA-AES128-GCM-SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
  ['ECDHE-ECDSA-AES128-SHA', 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA'],
  ['ECDHE-ECDSA-AES128-SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256'],
  ['ECDHE-ECDSA-AES256-GCM-SHA384', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'],
  ['ECDHE-ECDSA-AES256-SHA', 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA'],
  ['ECDHE-ECDSA-AES256-SHA384', 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384'],
  ['ECDHE-ECDSA-CHACHA20-POLY1305', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'],
  ['ECDHE-PSK-AES128-CBC-SHA', 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA'],
  ['ECDHE-PSK-AES128-CBC-SHA256', 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256'],
  ['ECDHE-PSK-AES256-CBC-SHA', 'TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA'],
  ['ECDHE-PSK-AES256-CBC-SHA384', 'TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384'],
  ['ECDHE-PSK-CHACHA20-POLY1305', 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  ['ECDHE-RSA-AES128-GCM-SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
  ['ECDHE-RSA-AES128-SHA', 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'],
  ['ECDHE-RSA-AES128-SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256'],
  ['ECDHE-RSA-AES256-GCM-SHA384', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'],
  ['ECDHE-RSA-AES256-SHA', 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA'],
  ['ECDHE-RSA-AES256-SHA384', 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384'],
  ['ECDHE-RSA-CHACHA20-POLY1305', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
  ['PSK-AES128-CBC-SHA', 'TLS_PSK_WITH_AES_128_CBC_SHA'],
  ['PSK-AES128-CBC-SHA256', 'TLS_PSK_WITH_AES_128_CBC_SHA256'],
  ['PSK-AES128-GCM-SHA256', 'TLS_PSK_WITH_AES_128_GCM_SHA256'],
  ['PSK-AES256-CBC-SHA', 'TLS_PSK_WITH_AES_256_CBC_SHA'],
  ['PSK-AES256-CBC-SHA384', 'TLS_PSK_WITH_AES_256_CBC_SHA384'],
  ['PSK-AES256-GCM-SHA384', 'TLS_PSK_WITH_AES_256_GCM_SHA384'],
  ['PSK-CHACHA20-POLY1305', 'TLS_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  ['RSA-PSK-AES128-CBC-SHA', 'TLS_RSA_PSK_WITH_AES_128_CBC_SHA'],
  ['RSA-PSK-AES128-CBC-SHA256', 'TLS_RSA_PSK_WITH_AES_128_CBC_SHA256'],
  ['RSA-PSK-AES128-GCM-SHA256', 'TLS_RSA_PSK_WITH_AES_128_GCM_SHA256'],
  ['RSA-PSK-AES256-CBC-SHA', 'TLS_RSA_PSK_WITH_AES_256_CBC_SHA'],
  ['RSA-PSK-AES256-CBC-SHA384', 'TLS_RSA_PSK_WITH_AES_256_CBC_SHA384'],
  ['RSA-PSK-AES256-GCM-SHA384', 'TLS_RSA_PSK_WITH_AES_256_GCM_SHA384'],
  ['RSA-PSK-CHACHA20-POLY1305', 'TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  ['SRP-AES-128-CBC-SHA', 'TLS_SRP_SHA_WITH_AES_128_CBC_SHA'],
  ['SRP-AES-256-CBC-SHA', 'TLS_SRP_SHA_WITH_AES_256_CBC_SHA'],
  ['SRP-RSA-AES-128-CBC-SHA', 'TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA'],
  ['SRP-RSA-AES-256-CBC-SHA', 'TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA'],
  ['TLS_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256'],
  ['TLS_AES_256_GCM_SHA384', 'TLS_AES_256_GCM_SHA384'],
  ['TLS_CHACHA20_POLY1305_SHA256', 'TLS_CHACHA20_POLY1305_SHA256'],
  ['TLS_AES_128_CCM_8_SHA256', 'TLS_AES_128_CCM_8_SHA256'],
  ['TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_SHA256'],
];

/**
 * The cipher order of the gateway's listener when gateway-site names none, and the order it offers `https://` and
 * `wss://` backends: Node's default list (forward secrecy and AEAD first) with the AES-128-GCM suites ahead of the
 * AES-256 ones. With AES-NI, AES-128-GCM costs about a fifth less CPU per byte than AES-256-GCM at the same 128-bit
 * security level that the ECDHE key exchange gives either. The listener honours its own order: clients (curl, wrk,
 * browsers, Java) otherwise pick AES-256-GCM, their first choice. Towards a backend the gateway is the client: a
 * server that takes the client's order (OpenSSL's default: nginx, httpd) answers in AES-128-GCM, one that keeps
 * its own (Node's default, Jetty's) is not changed. The suites offered are Node's default either way; only their
 * order differs.
 */
export const PREFERRED_CIPHERS = (() => {
  const all = DEFAULT_CIPHERS.split(':');
  const aes128 = all.filter((c) => /^(TLS_AES_128_GCM|ECDHE-\w+-AES128-GCM)/.test(c));
  return [...aes128, ...all.filter((c) => !aes128.includes(c))].join(':');
})();

export interface ProtocolRange {
  minVersion: Offered;
  maxVersion: Offered;
}

/** Protocols offered, or the problem with the lists. */
export function protocolRange(
  include: readonly string[],
  exclude: readonly string[],
): ProtocolRange | { problem: string } {
  const unknown = [...include, ...exclude].filter((p) => !(KNOWN_PROTOCOLS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    return {
      problem: `unknown TLS protocol ${unknown.map((p) => `"${p}"`).join(', ')}; known: ${KNOWN_PROTOCOLS.join(', ')}`,
    };
  }
  const offered = OFFERED.filter(
    (p) => (include.length === 0 || include.includes(p)) && !exclude.includes(p),
  );
  if (offered.length === 0) {
    return {
      problem: `no protocol left to offer: postern offers TLSv1.2 and TLSv1.3 only (included: ${include.join(', ') || 'all'}; excluded: ${exclude.join(', ') || 'none'})`,
    };
  }
  return { minVersion: offered[0], maxVersion: offered.at(-1)! };
}

/** Each pattern as a whole-name regular expression (Java's `matches()`), or the one that does not compile. */
function patterns(list: readonly string[]): RegExp[] | { problem: string } {
  const out: RegExp[] = [];
  for (const p of list) {
    try {
      out.push(new RegExp(`^(?:${p})$`));
    } catch (err) {
      return { problem: `"${p}" is not a valid regular expression: ${(err as Error).message}` };
    }
  }
  return out;
}

const supported = (): (readonly [string, string])[] => {
  const have = new Set(getCiphers().map((c) => c.toUpperCase()));
  return SUITES.filter(([openssl]) => have.has(openssl.toUpperCase()));
};

/**
 * The OpenSSL cipher string for the lists: undefined when both are empty (the runtime's defaults), or the
 * problem (a pattern that does not compile, or lists that leave no suite).
 */
export function cipherString(
  include: readonly string[],
  exclude: readonly string[],
): string | undefined | { problem: string } {
  if (include.length === 0 && exclude.length === 0) return undefined;
  const inc = patterns(include);
  if ('problem' in inc) return inc;
  const exc = patterns(exclude);
  if ('problem' in exc) return exc;
  const matches = (res: RegExp[], [openssl, iana]: readonly [string, string]) =>
    res.some((re) => re.test(iana) || re.test(openssl));
  const all = supported();
  const excluded = all.filter((s) => matches(exc, s));
  if (include.length > 0) {
    const chosen = all.filter((s) => matches(inc, s) && !excluded.includes(s));
    if (chosen.length === 0)
      return { problem: 'no cipher suite left: the include list matches none that is not excluded' };
    return chosen.map(([openssl]) => openssl).join(':');
  }
  // The runtime's defaults, less the excluded: TLS 1.3 suites listed (OpenSSL's `!` does not reach them), TLS 1.2
  // ones removed with `!` from the default string.
  const defaults = DEFAULT_CIPHERS.split(':');
  const tls13 = defaults.filter((c) => c.startsWith('TLS_') && !excluded.some(([o]) => o === c));
  const rest = defaults.filter((c) => !c.startsWith('TLS_'));
  const removed = excluded.filter(([o]) => !o.startsWith('TLS_')).map(([o]) => `!${o}`);
  return [...tls13, ...rest, ...removed].join(':');
}

/** What the listener offers: the protocol range and, when the lists say so, the cipher string. */
export interface TlsPolicy extends ProtocolRange {
  ciphers?: string;
}

/** The four lists as the settings hold them. */
export interface TlsLists {
  includeProtocols: readonly string[];
  excludeProtocols: readonly string[];
  includeCiphers: readonly string[];
  excludeCiphers: readonly string[];
}

/** The policy for the four lists, or the problem and the property it comes from. */
export function tlsPolicy(lists: TlsLists): TlsPolicy | { problem: string; key: string } {
  const range = protocolRange(lists.includeProtocols, lists.excludeProtocols);
  if ('problem' in range) {
    const key = lists.includeProtocols.length > 0 ? 'ssl.include.protocols' : 'ssl.exclude.protocols';
    return { problem: range.problem, key };
  }
  const ciphers = cipherString(lists.includeCiphers, lists.excludeCiphers);
  const cipherKey = lists.includeCiphers.length > 0 ? 'ssl.include.ciphers' : 'ssl.exclude.ciphers';
  if (typeof ciphers === 'object') return { problem: ciphers.problem, key: cipherKey };
  if (ciphers === undefined) return range;
  const names = ciphers.split(':');
  const has13 = names.some((c) => c.startsWith('TLS_'));
  const has12 = lists.includeCiphers.length === 0 || names.some((c) => !c.startsWith('TLS_'));
  const offered = (['TLSv1.2', 'TLSv1.3'] as const).filter(
    (p) => p >= range.minVersion && p <= range.maxVersion && (p === 'TLSv1.3' ? has13 : has12),
  );
  if (offered.length === 0) {
    return {
      problem: `no cipher suite left for the protocols offered (${range.minVersion === range.maxVersion ? range.minVersion : `${range.minVersion}, ${range.maxVersion}`})`,
      key: cipherKey,
    };
  }
  return { minVersion: offered[0], maxVersion: offered.at(-1)!, ciphers };
}
