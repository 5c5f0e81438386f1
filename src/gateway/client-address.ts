/**
 * @module gateway/client-address
 * The client's address every policy on the client decides on (rate limits, the login throttle, IP ACLs, proxy
 * users, the audit and access logs; pre-authentication's IP check is on the front end that connected, the peer): the connection's peer, unless that peer is one of
 * `postern.trusted.proxies` (the load balancers in front of the gateway). Then it is read from X-Forwarded-For,
 * from the right: each proxy appends the address it saw, so the right-most entry that is not itself a trusted
 * proxy is the first address no trusted proxy vouches for beyond — the client. Entries left of it were written by
 * the client and are never believed. A malformed entry ends the walk at the last address a trusted proxy wrote
 * (or the peer). Without trusted proxies nothing changes: the peer is the client.
 *
 * Knox deviation, on purpose: Knox's `gateway.incoming.xforwarded.enabled` (default true) puts Jetty's
 * ForwardedRequestCustomizer in front of every request, which takes X-Forwarded-For from anyone, so a client can
 * name its own address to an IP ACL or the rate limiter. postern believes the header only from the proxies it is
 * told to trust.
 */
import { isIP } from 'node:net';
import type { IpMatcher } from '../config/ip-list.ts';

/** The client's address for a request from `peer` carrying `forwardedFor` (X-Forwarded-For, joined if repeated). */
export function forwardedClientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: IpMatcher,
): string | undefined {
  if (forwardedFor === undefined || trusted.entries.length === 0 || !trusted.matches(peer)) return peer;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = unbracket(hops[i].trim());
    if (isIP(hop) === 0) return client;
    client = hop;
    if (!trusted.matches(hop)) return hop;
  }
  return client;
}

/** `[::1]` → `::1` (RFC 7239 style, which some proxies write into X-Forwarded-For too). */
function unbracket(hop: string): string {
  return hop.startsWith('[') && hop.endsWith(']') ? hop.slice(1, -1) : hop;
}
