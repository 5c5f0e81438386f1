/**
 * @module providers/authorization/acl
 * Knox's ACL grammar and decision (`AclParser`, `AclsAuthorizationFilter`), shared by AclsAuthz and PathAclsAuthz.
 *
 * An ACL is `users;groups;ips`: exactly three `;`-separated parts, each a comma list where `*` means anyone.
 * `KNOX_ADMIN_USERS` in the users part stands for gateway-site's `gateway.knox.admin.users`, `KNOX_ADMIN_GROUPS`
 * in the groups part for `gateway.knox.admin.groups`. IP entries take Knox's `*` prefix wildcards (`10.0.*`) and,
 * as a postern extension, CIDR subnets; they are matched against the socket's remote address.
 *
 * Mode `AND` (the default): the user, one of the groups and the address must each match (a `*` part matches; a
 * `*` groups part also lets a user with no groups through). Mode `OR`: any one concrete part must match, and a
 * `*` part counts as false, so `*;admins;*` in OR mode admits only `admins` and never everyone by mistake.
 *
 * Differences from Knox, each refusing what Knox would silently accept: modes other than AND/OR (any case) are
 * deployment errors (Knox denies every request); in AND mode an empty part is a deployment error (it matches
 * nobody, so the ACL would deny every request); entries are trimmed (`guest, admin`).
 */
import type { IpMatcher } from '../../config/ip-list.ts';
import { ipListProblems, parseIpList } from '../../config/ip-list.ts';

export type AclMode = 'AND' | 'OR';

export interface Acl {
  readonly users: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
  readonly anyUser: boolean;
  readonly anyGroup: boolean;
  readonly ips: IpMatcher;
}

/** Who asks: the effective user, their groups and the socket's address. */
export interface AclSubject {
  user: string;
  groups: readonly string[];
  address: string | undefined;
}

/** The admin lists the placeholders stand for (gateway-site). */
export interface AdminLists {
  users: readonly string[];
  groups: readonly string[];
}

function parts(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Parses `users;groups;ips`; returns the problem instead when the text is not an ACL. */
export function parseAcl(text: string, mode: AclMode, admins: AdminLists): Acl | string {
  const pieces = text.split(';');
  if (pieces.length !== 3) {
    return `"${text}" is not an ACL: expected exactly 3 ";"-separated parts (users;groups;ips), found ${pieces.length}`;
  }
  const [userPart, groupPart, ipPart] = pieces.map(parts);
  if (mode === 'AND') {
    const empty = ['users', 'groups', 'ips'].filter((_, i) => [userPart, groupPart, ipPart][i].length === 0);
    if (empty.length > 0) {
      return `"${text}": the ${empty.join(' and ')} part is empty, which in AND mode denies every request (use * for anyone)`;
    }
  }
  const bad = ipListProblems(ipPart.join(','));
  if (bad.length > 0) return `"${text}": not an address, prefix wildcard or subnet: ${bad.join(', ')}`;
  const users = new Set(userPart);
  if (users.delete('KNOX_ADMIN_USERS')) for (const u of admins.users) users.add(u);
  const groups = new Set(groupPart);
  if (groups.delete('KNOX_ADMIN_GROUPS')) for (const g of admins.groups) groups.add(g);
  return {
    users,
    groups,
    // From the parts as written: an admin list that holds "*" does not open the ACL to everyone.
    anyUser: userPart.includes('*'),
    anyGroup: groupPart.includes('*'),
    ips: parseIpList(ipPart.join(',')),
  };
}

/** Parses `AND` / `OR` (any case); undefined for anything else. */
export function parseMode(text: string): AclMode | undefined {
  const t = text.trim().toUpperCase();
  return t === 'AND' || t === 'OR' ? t : undefined;
}

/** Knox's decision for one subject. */
export function aclAllows(acl: Acl, mode: AclMode, subject: AclSubject): boolean {
  let user = acl.anyUser || acl.users.has(subject.user);
  let group = acl.anyGroup || subject.groups.some((g) => acl.groups.has(g));
  let ip = acl.ips.matches(subject.address);
  if (mode === 'OR') {
    if (acl.anyUser) user = false;
    if (acl.anyGroup) group = false;
    if (acl.ips.any) ip = false;
    return user || group || ip;
  }
  return user && group && ip;
}
