/**
 * @module config/ip-list
 * Knox's IP lists (`preauth.ip.addresses`, AclsAuthz's third part, `hadoop.proxyuser.*.hosts`): a comma list of
 * addresses where `*` means any address and an entry with `*` matches any address starting with the text before
 * the `*` (`192.168.*`, `10.0.*`). IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`, what Node reports on a
 * dual-stack socket) are compared in their IPv4 form.
 *
 * postern extension: an entry in CIDR notation (`10.0.0.0/8`, `fd00::/8`) matches the addresses of that subnet,
 * as Jetty's DoSFilter `ipWhitelist` accepts. {@link ipListProblems} names entries that are neither.
 */
import { BlockList, isIP } from 'node:net';

export interface IpMatcher {
  /** The entries as written, trimmed, empty ones dropped. */
  readonly entries: readonly string[];
  /** True when the list is `*` alone. */
  readonly any: boolean;
  matches(address: string | undefined): boolean;
}

export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** `addr/bits` with a valid address and prefix length, or undefined. */
function parseCidr(entry: string): { address: string; prefix: number; type: 'ipv4' | 'ipv6' } | undefined {
  const slash = entry.indexOf('/');
  if (slash < 0) return undefined;
  const address = normalizeAddress(entry.slice(0, slash));
  const bits = entry.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = Number(bits);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  return { address, prefix, type: family === 4 ? 'ipv4' : 'ipv6' };
}

export function parseIpList(list: string | undefined): IpMatcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let subnets: BlockList | undefined;
  let any = false;
  const entries: string[] = [];
  for (const raw of (list ?? '').split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    entries.push(entry);
    if (entry === '*') any = true;
    else if (entry.includes('*')) prefixes.push(normalizeAddress(entry.slice(0, entry.indexOf('*'))));
    else {
      const cidr = parseCidr(entry);
      if (cidr) {
        subnets ??= new BlockList();
        subnets.addSubnet(cidr.address, cidr.prefix, cidr.type);
      } else exact.add(normalizeAddress(entry));
    }
  }
  return {
    entries,
    any,
    matches(address) {
      if (any) return true;
      if (!address) return false;
      const a = normalizeAddress(address);
      if (exact.has(a)) return true;
      for (const p of prefixes) if (a.startsWith(p)) return true;
      if (subnets) {
        const family = isIP(a);
        if (family !== 0 && subnets.check(a, family === 4 ? 'ipv4' : 'ipv6')) return true;
      }
      return false;
    },
  };
}

/**
 * Entries of a list that can never match: neither `*`, a prefix wildcard, an IP address nor a CIDR subnet
 * (a host name, a typo). Callers report them at deployment.
 */
export function ipListProblems(list: string): string[] {
  const problems: string[] = [];
  for (const raw of list.split(',')) {
    const entry = raw.trim();
    if (!entry || entry === '*') continue;
    if (entry.includes('*')) {
      if (!/^[0-9a-fA-F.:]*\*$/.test(entry)) problems.push(entry);
    } else if (isIP(normalizeAddress(entry)) === 0 && !parseCidr(entry)) problems.push(entry);
  }
  return problems;
}
