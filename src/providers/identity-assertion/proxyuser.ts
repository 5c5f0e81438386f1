/**
 * @module providers/identity-assertion/proxyuser
 * Hadoop proxy-user impersonation in identity assertion (Knox 2.0, KNOX-2839): an authenticated user may act as
 * the user an inbound `doAs` names only when `hadoop.proxyuser.{user}.users|groups|hosts` allow it. The rules are
 * Hadoop's `DefaultImpersonationProvider`:
 *
 * - `users`: the users `{user}` may impersonate; `groups`: the groups whose members it may impersonate (the
 *   groups of the impersonated user); `*` in either allows everyone. Neither set means no one.
 * - `hosts`: the client addresses the impersonating request may come from, `*` for any. Unset means none.
 *   Addresses, CIDR blocks (`10.1.0.0/16`) and prefixes (`192.168.*`) are accepted; host names are not (they
 *   would need a DNS lookup per deployment) and are a deployment error.
 *
 * The impersonated user's groups come from a group lookup: Hadoop's default group mapping asks the operating
 * system (`id -Gn user`, ShellBasedUnixGroupsMapping), and so does postern, cached for 5 minutes as Hadoop's
 * `hadoop.security.groups.cache.secs` default. A provider with its own group source (HadoopGroupProvider) passes
 * its lookup instead. The lookup runs only when `groups` lists names and `users` did not already allow the user.
 */
import { execFile } from 'node:child_process';
import { BlockList, isIP } from 'node:net';
import type { Position } from '../../config/diagnostics.ts';
import { normalizeAddress, parseIpList } from '../../config/ip-list.ts';

/** The groups of a user, as the group mapping knows them. */
export type GroupLookup = (user: string) => Promise<readonly string[]>;

export const PROXYUSER_PREFIX = 'hadoop.proxyuser.';

interface Acl {
  all: boolean;
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
}

interface HostMatcher {
  matches(address: string | undefined): boolean;
}

export interface ProxyUserRules {
  /** The users with any `hadoop.proxyuser.{user}.*` entry. */
  readonly superusers: readonly string[];
  /**
   * Whether `realUser` may act as `doAs` from `remote`.
   * @returns undefined when allowed, else the reason (Hadoop's wording).
   */
  authorize(
    realUser: string,
    doAs: string,
    remote: string | undefined,
    groupsOf: GroupLookup,
  ): Promise<string | undefined>;
}

export interface ProxyUserParam {
  /** The param name as written (the user part keeps its case). */
  name: string;
  value: string;
  pos: Position;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseAcl(users: string | undefined, groups: string | undefined): Acl {
  const u = list(users ?? '');
  const g = list(groups ?? '');
  return { all: u.includes('*') || g.includes('*'), users: new Set(u), groups: new Set(g) };
}

function parseHosts(
  value: string,
  pos: Position,
  error: (pos: Position, message: string) => void,
): HostMatcher {
  const blocks = new BlockList();
  let cidr = false;
  const plain: string[] = [];
  for (const entry of list(value)) {
    const slash = entry.indexOf('/');
    if (slash > 0) {
      const address = entry.slice(0, slash);
      const bits = Number(entry.slice(slash + 1));
      const family = isIP(address);
      if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) {
        error(pos, `"${entry}" is not a valid CIDR block`);
        continue;
      }
      blocks.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
      cidr = true;
    } else if (entry === '*' || entry.includes('*') || isIP(entry) !== 0) {
      plain.push(entry);
    } else {
      error(
        pos,
        `"${entry}" is a host name; postern accepts addresses, CIDR blocks and prefixes such as 10.0.*`,
      );
    }
  }
  const ips = parseIpList(plain.join(','));
  return {
    matches(address) {
      if (ips.any) return true;
      if (!address) return false;
      if (ips.matches(address)) return true;
      if (!cidr) return false;
      const a = normalizeAddress(address);
      const family = isIP(a);
      return family !== 0 && blocks.check(a, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/**
 * Builds the rules from the `hadoop.proxyuser.{user}.{users|groups|hosts}` params (the caller has removed
 * `hadoop.proxyuser.impersonation.enabled`). Problems go to `error` with the param's position.
 */
export function parseProxyUserRules(
  params: readonly ProxyUserParam[],
  report: { error(pos: Position, message: string): void; warn(pos: Position, message: string): void },
): ProxyUserRules {
  const error = report.error.bind(report);
  const byUser = new Map<
    string,
    { users?: string; groups?: string; hosts?: string; hostsPos?: Position; pos: Position }
  >();
  for (const p of params) {
    const rest = p.name.slice(PROXYUSER_PREFIX.length);
    const dot = rest.lastIndexOf('.');
    const user = dot > 0 ? rest.slice(0, dot) : '';
    const kind = dot > 0 ? rest.slice(dot + 1).toLowerCase() : '';
    if (!user || (kind !== 'users' && kind !== 'groups' && kind !== 'hosts')) {
      error(p.pos, `"${p.name}" is not hadoop.proxyuser.{user}.users, .groups or .hosts`);
      continue;
    }
    const entry = byUser.get(user) ?? { pos: p.pos };
    entry[kind] = p.value;
    if (kind === 'hosts') entry.hostsPos = p.pos;
    byUser.set(user, entry);
  }
  const rules = new Map<string, { acl?: Acl; hosts?: HostMatcher }>();
  for (const [user, e] of byUser) {
    if (e.hosts === undefined) {
      report.warn(
        e.pos,
        `hadoop.proxyuser.${user}.hosts is not set: ${user} may impersonate from no address`,
      );
    } else if (e.users === undefined && e.groups === undefined) {
      report.warn(
        e.pos,
        `hadoop.proxyuser.${user}.users and .groups are not set: ${user} may impersonate no one`,
      );
    }
    rules.set(user, {
      acl: e.users !== undefined || e.groups !== undefined ? parseAcl(e.users, e.groups) : undefined,
      hosts: e.hosts !== undefined ? parseHosts(e.hosts, e.hostsPos!, error) : undefined,
    });
  }
  return {
    superusers: [...rules.keys()],
    async authorize(realUser, doAs, remote, groupsOf) {
      const rule = rules.get(realUser);
      const acl = rule?.acl;
      let allowed = !!acl && (acl.all || acl.users.has(doAs));
      if (acl && !allowed && acl.groups.size > 0) {
        const groups = await groupsOf(doAs);
        allowed = groups.some((g) => acl.groups.has(g));
      }
      if (!allowed) return `User: ${realUser} is not allowed to impersonate ${doAs}`;
      if (!rule?.hosts?.matches(remote)) {
        return `Unauthorized connection for super-user: ${realUser} from IP ${remote ?? 'unknown'}`;
      }
      return undefined;
    },
  };
}

const GROUP_CACHE_MS = 300_000;
const GROUP_CACHE_MAX = 10_000;
const LOOKUP_TIMEOUT_MS = 5_000;

/**
 * The operating system's groups of a user (`id -Gn -- user`, no shell), cached; an unknown user has no groups.
 * One cache per deployment.
 */
export function osGroupLookup(): GroupLookup {
  const cache = new Map<string, { at: number; groups: Promise<readonly string[]> }>();
  return (user) => {
    const now = Date.now();
    const hit = cache.get(user);
    if (hit && now - hit.at < GROUP_CACHE_MS) return hit.groups;
    if (cache.size >= GROUP_CACHE_MAX) cache.clear();
    const groups = new Promise<readonly string[]>((resolve) => {
      // A name starting with '-' would still be safe after '--'; control characters never name a user.
      if (!user || user.length > 256 || /[\0-\x1f]/.test(user)) {
        resolve([]);
        return;
      }
      execFile('id', ['-Gn', '--', user], { timeout: LOOKUP_TIMEOUT_MS }, (err, stdout) => {
        resolve(err ? [] : String(stdout).trim().split(/\s+/).filter(Boolean));
      });
    });
    cache.set(user, { at: now, groups });
    return groups;
  };
}
