/**
 * @module providers/common/ip-match
 * Knox's IP lists (`preauth.ip.addresses`, AclsAuthz's third part, `hadoop.proxyuser.*.hosts`): a comma list of
 * addresses where `*` means any address and an entry with `*` matches any address starting with the text before
 * the `*` (`192.168.*`, `10.0.*`). IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`, what Node reports on a
 * dual-stack socket) are compared in their IPv4 form.
 */

export interface IpMatcher {
  /** True when the list is `*` alone. */
  readonly any: boolean;
  matches(address: string | undefined): boolean;
}

export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function parseIpList(list: string | undefined): IpMatcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let any = false;
  for (const raw of (list ?? '').split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    if (entry === '*') any = true;
    else if (entry.includes('*')) prefixes.push(normalizeAddress(entry.slice(0, entry.indexOf('*'))));
    else exact.add(normalizeAddress(entry));
  }
  return {
    any,
    matches(address) {
      if (any) return true;
      if (!address) return false;
      const a = normalizeAddress(address);
      if (exact.has(a)) return true;
      for (const p of prefixes) if (a.startsWith(p)) return true;
      return false;
    },
  };
}
