/**
 * @module gateway/authority
 * An authority (`host[:port]`, `[v6]:port`) split once into its host name and port, for the Host check and for
 * the public URLs the resolver builds.
 */

/** The host part, as written (brackets kept for IPv6), and the port when one is given. */
export interface Authority {
  readonly hostname: string;
  readonly port?: string;
}

/** `example.org:8443` → `{hostname: 'example.org', port: '8443'}`; `[::1]` → `{hostname: '[::1]'}`. */
export function splitAuthority(authority: string): Authority {
  const colon = authority.lastIndexOf(':');
  if (colon <= 0 || authority.endsWith(']')) return { hostname: authority };
  return { hostname: authority.slice(0, colon), port: authority.slice(colon + 1) };
}
