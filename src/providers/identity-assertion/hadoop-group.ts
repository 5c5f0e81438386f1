/**
 * @module providers/identity-assertion/hadoop-group
 * Knox's `HadoopGroupProvider`: the groups of the asserted user are looked up the way
 * Hadoop's group mapping would (`org.apache.hadoop.security.LdapGroupsMapping`, or the operating system's groups
 * for `ShellBasedUnixGroupsMapping` / `JniBasedUnixGroupsMappingWithFallback`) and replace the authenticated
 * user's groups in `ex.effectiveGroups`, as Knox's `mapGroupPrincipals` does; everything else is the common
 * identity assertion (./common.ts: principal mapping, `user.name`, `group.principal.mapping`, ...). The lookup is
 * for the mapped user, after principal mapping.
 *
 * Hadoop's params are read inline from the provider, or from gateway-site under Knox's central prefix
 * `gateway.group.config.` (`gateway.group.config.hadoop.security.group.mapping.ldap.url`); a provider param
 * overrides the same gateway-site one. LDAP params (`hadoop.security.group.mapping.ldap.` + ...):
 * `url` (ldap:// or ldaps://, several separated by spaces or commas), `bind.user`, `bind.password` (or
 * `bind.password.file`, relative to the gateway home; no user: anonymous), `base`, `userbase` and `groupbase`
 * (default `base`), `search.filter.user` (default Hadoop's
 * `(&(|(objectclass=person)(objectclass=applicationProcess))(sAMAccountName={0}))`), `search.filter.group`
 * (default `(objectClass=group)`), `search.attr.member` (default `member`; `memberUid` matches the user name
 * instead of the DN), `search.attr.group.name` (default `cn`), `ssl` with `ssl.truststore` (a PEM file for
 * postern), and `connection.timeout.ms` / `read.timeout.ms` (postern's defaults: 3000 / 5000, shorter than
 * Hadoop's 60 s so that a hung directory gives a quick 503). Results are cached per deployment for
 * `hadoop.security.groups.cache.secs` (300) and "user not found" for `hadoop.security.groups.negative-cache.secs`
 * (30). The user name and DN are escaped into filters (RFC 4515).
 *
 * Knox logs a failed lookup and goes on with no groups; postern answers 503 (audited `unavailable`) instead,
 * because an authorization decision made without the user's groups is not the decision the policy describes.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Position } from '../../config/diagnostics.ts';
import { Errors } from '../../errors.ts';
import type { ProviderContext } from '../../spi/index.ts';
import { auditFor } from '../../spi/index.ts';
import {
  attributeValues,
  describeLdapError,
  escapeFilterValue,
  expandTemplate,
  isValidFilter,
  type LdapEndpoint,
  LdapUnavailableError,
  parseLdapUrls,
  readPemTrust,
  SystemConnection,
  search,
} from '../common/ldap.ts';
import { type AssertionParams, defineIdentityAssertion, type GroupLookup } from './common.ts';
import { osGroupLookup } from './proxyuser.ts';

/** Knox's `CENTRAL_GROUP_CONFIG_PREFIX`. */
export const CENTRAL_GROUP_CONFIG_PREFIX = 'gateway.group.config.';
const MAPPING = 'hadoop.security.group.mapping';
const LDAP = `${MAPPING}.ldap.`;
const LDAP_CLASS = 'org.apache.hadoop.security.LdapGroupsMapping';
const OS_CLASSES = new Set([
  'org.apache.hadoop.security.ShellBasedUnixGroupsMapping',
  'org.apache.hadoop.security.JniBasedUnixGroupsMappingWithFallback',
  'org.apache.hadoop.security.JniBasedUnixGroupsMapping',
]);
const DEFAULT_USER_FILTER = '(&(|(objectclass=person)(objectclass=applicationProcess))(sAMAccountName={0}))';
const DEFAULT_GROUP_FILTER = '(objectClass=group)';
const MAX_CACHED_USERS = 10_000;

/** Hadoop's group-mapping params: gateway-site's central ones, overridden by the provider's. */
class HadoopConf {
  readonly #values = new Map<string, { value: string; pos: Position; param?: string }>();
  readonly #params: AssertionParams;

  constructor(ctx: ProviderContext, params: AssertionParams) {
    this.#params = params;
    for (const [name, prop] of ctx.settings.raw) {
      if (name.startsWith(CENTRAL_GROUP_CONFIG_PREFIX)) {
        this.#values.set(name.slice(CENTRAL_GROUP_CONFIG_PREFIX.length).toLowerCase(), prop);
      }
    }
    for (const { name, lower, value } of params.entries()) {
      if (lower.startsWith('hadoop.security.group')) {
        this.#values.set(lower, { value, pos: params.pos(name), param: name });
      }
    }
  }

  get(name: string): string | undefined {
    const v = this.#values.get(name.toLowerCase())?.value.trim();
    return v === '' ? undefined : v;
  }

  /** The name as the user wrote it, with where it comes from, for messages. */
  #label(name: string): string {
    const v = this.#values.get(name.toLowerCase());
    return v && !v.param ? `${CENTRAL_GROUP_CONFIG_PREFIX}${name}` : (v?.param ?? name);
  }

  error(name: string, message: string): void {
    const v = this.#values.get(name.toLowerCase());
    this.#params.errorAt(v?.pos ?? this.#params.pos(), `${this.#label(name)}: ${message}`);
  }

  int(name: string, fallback: number): number {
    const text = this.get(name);
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text) || Number(text) < 1) {
      this.error(name, `expected a positive integer, found "${text}"`);
      return fallback;
    }
    return Number(text);
  }
}

interface LdapLookupConfig {
  endpoint: LdapEndpoint;
  bind?: { dn: string; password: string };
  userBase: string;
  userFilter: string;
  groupBase: string;
  groupFilter: string;
  memberAttribute: string;
  groupNameAttribute: string;
}

/** Reads the LDAP params; undefined after reporting errors. */
function readLdapConfig(ctx: ProviderContext, conf: HadoopConf): LdapLookupConfig | undefined {
  let ok = true;
  const fail = (name: string, message: string) => {
    ok = false;
    conf.error(name, message);
  };
  const urlText = conf.get(`${LDAP}url`);
  const urls = urlText ? parseLdapUrls(urlText) : undefined;
  if (!urlText) fail(`${LDAP}url`, 'the LDAP URL is required for LdapGroupsMapping');
  else if (!urls) fail(`${LDAP}url`, `expected ldap:// or ldaps:// URLs, found "${urlText}"`);

  const ssl = conf.get(`${LDAP}ssl`)?.toLowerCase() === 'true';
  if (ssl && urls?.some((u) => u.startsWith('ldap:'))) {
    fail(`${LDAP}url`, `${LDAP}ssl is true: use ldaps:// URLs`);
  }
  let ca: string | undefined;
  const truststore = conf.get(`${LDAP}ssl.truststore`);
  if (truststore) {
    try {
      ca = readPemTrust(truststore, ctx.home);
    } catch (err) {
      fail(`${LDAP}ssl.truststore`, (err as Error).message);
    }
  }

  const user = conf.get(`${LDAP}bind.user`);
  let password = conf.get(`${LDAP}bind.password`);
  const passwordFile = conf.get(`${LDAP}bind.password.file`);
  if (password === undefined && passwordFile) {
    try {
      password = readFileSync(
        isAbsolute(passwordFile) ? passwordFile : resolve(ctx.home, passwordFile),
        'utf8',
      ).trim();
    } catch (err) {
      fail(`${LDAP}bind.password.file`, `cannot read it: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }
  if (password !== undefined) {
    // Knox's `${ALIAS=name}`: the topology's alias, else the gateway's.
    try {
      password = ctx.secret(password);
    } catch (err) {
      fail(`${LDAP}bind.password`, (err as Error).message);
    }
  }
  if (user && password === undefined)
    fail(`${LDAP}bind.user`, `${LDAP}bind.password is required with a bind user`);

  const base = conf.get(`${LDAP}base`) ?? '';
  const userBase = conf.get(`${LDAP}userbase`) ?? base;
  const groupBase = conf.get(`${LDAP}groupbase`) ?? base;
  if (!userBase) fail(`${LDAP}base`, 'the search base is required (or userbase and groupbase)');
  if (!groupBase && userBase) fail(`${LDAP}groupbase`, 'the group search base is required (or base)');
  const userFilter = conf.get(`${LDAP}search.filter.user`) ?? DEFAULT_USER_FILTER;
  if (!userFilter.includes('{0}'))
    fail(`${LDAP}search.filter.user`, `"${userFilter}" has no {0} for the user name`);
  if (!isValidFilter(userFilter))
    fail(`${LDAP}search.filter.user`, `"${userFilter}" is not a valid LDAP filter`);
  const groupFilter = conf.get(`${LDAP}search.filter.group`) ?? DEFAULT_GROUP_FILTER;
  if (!isValidFilter(wrap(groupFilter))) {
    fail(`${LDAP}search.filter.group`, `"${groupFilter}" is not a valid LDAP filter`);
  }
  const memberAttribute = conf.get(`${LDAP}search.attr.member`) ?? 'member';
  const groupNameAttribute = conf.get(`${LDAP}search.attr.group.name`) ?? 'cn';
  for (const [name, value] of [
    [`${LDAP}search.attr.member`, memberAttribute],
    [`${LDAP}search.attr.group.name`, groupNameAttribute],
  ]) {
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(value)) fail(name, `"${value}" is not an attribute name`);
  }
  if (conf.get(`${LDAP}search.attr.memberof`)) {
    fail(`${LDAP}search.attr.memberof`, 'memberOf lookups are not supported by postern yet');
  }
  const connectTimeoutMs = conf.int(`${LDAP}connection.timeout.ms`, 3000);
  const timeoutMs = conf.int(`${LDAP}read.timeout.ms`, 5000);
  if (!ok || !urls) return undefined;
  return {
    endpoint: { urls, ca, connectTimeoutMs, timeoutMs },
    bind: user && password !== undefined ? { dn: user, password } : undefined,
    userBase,
    userFilter,
    groupBase,
    groupFilter,
    memberAttribute,
    groupNameAttribute,
  };
}

/** The user's groups from the directory; [] when the user is not in it. */
async function ldapGroups(
  cfg: LdapLookupConfig,
  connection: SystemConnection,
  user: string,
): Promise<string[]> {
  const users = await connection.run((c) =>
    search(c, cfg.userBase, {
      scope: 'sub',
      filter: expandTemplate(cfg.userFilter, escapeFilterValue(user)),
      attributes: ['1.1'],
      sizeLimit: 1,
    }),
  );
  if (users.length === 0) return [];
  const member = cfg.memberAttribute.toLowerCase() === 'memberuid' ? user : users[0].dn;
  const filter = `(&${wrap(cfg.groupFilter)}(${cfg.memberAttribute}=${escapeFilterValue(member)}))`;
  const groups = await connection.run((c) =>
    search(c, cfg.groupBase, { scope: 'sub', filter, attributes: [cfg.groupNameAttribute] }),
  );
  const names = new Set<string>();
  for (const g of groups) {
    const name = attributeValues(g, cfg.groupNameAttribute)[0];
    if (name) names.add(name);
  }
  return [...names].sort();
}

function wrap(filter: string): string {
  return filter.startsWith('(') ? filter : `(${filter})`;
}

/** A lookup cached per user: results for `ttlMs`, "no such user" for `negativeTtlMs`, failures not at all. */
function cached(
  lookup: (user: string) => Promise<string[]>,
  ttlMs: number,
  negativeTtlMs: number,
): GroupLookup {
  const cache = new Map<string, { expiresAt: number; groups: Promise<string[]> }>();
  return (user) => {
    const now = Date.now();
    const hit = cache.get(user);
    if (hit && hit.expiresAt > now) return hit.groups;
    if (cache.size >= MAX_CACHED_USERS) {
      for (const [key, entry] of cache) if (entry.expiresAt <= now) cache.delete(key);
      if (cache.size >= MAX_CACHED_USERS) cache.delete(cache.keys().next().value as string);
    }
    const groups = lookup(user);
    const entry = { expiresAt: now + ttlMs, groups };
    cache.set(user, entry);
    groups.then(
      (list) => {
        if (list.length === 0) entry.expiresAt = Date.now() + negativeTtlMs;
      },
      () => {
        if (cache.get(user) === entry) cache.delete(user);
      },
    );
    return groups;
  };
}

export const hadoopGroupIdentityAssertion = defineIdentityAssertion('HadoopGroupProvider', (ctx, params) => {
  const conf = new HadoopConf(ctx, params);
  const ownParams = (name: string) => name.startsWith('hadoop.security.group');
  const mappingClass = conf.get(MAPPING) ?? (conf.get(`${LDAP}url`) ? LDAP_CLASS : undefined);
  const ttlMs = conf.int('hadoop.security.groups.cache.secs', 300) * 1000;
  const negativeTtlMs = conf.int('hadoop.security.groups.negative-cache.secs', 30) * 1000;

  let lookup: GroupLookup | undefined;
  if (mappingClass === LDAP_CLASS) {
    const cfg = readLdapConfig(ctx, conf);
    if (cfg) {
      const key = createHash('sha256').update(JSON.stringify(cfg)).digest('hex');
      lookup = ctx.shared(`hadoop-group:${key}:${ttlMs}:${negativeTtlMs}`, () => {
        const connection = new SystemConnection(cfg.endpoint, cfg.bind);
        ctx.onRetire(() => connection.close());
        return cached((user) => ldapGroups(cfg, connection, user), ttlMs, negativeTtlMs);
      });
    }
  } else if (mappingClass === undefined || OS_CLASSES.has(mappingClass)) {
    lookup = ctx.shared('identity-assertion:os-groups', osGroupLookup);
  } else {
    conf.error(
      MAPPING,
      `${mappingClass} is not supported by postern (use ${LDAP_CLASS} or the Unix group mappings)`,
    );
  }

  const audit = auditFor(ctx, 'identity-assertion');
  const groupsOf: GroupLookup = lookup ?? (async () => []);
  return {
    ownParams,
    groupLookup: groupsOf,
    async mapGroups(user, _groups, ex) {
      try {
        return await groupsOf(user);
      } catch (err) {
        const reason = err instanceof LdapUnavailableError ? err.message : describeLdapError(err);
        ex.log.warn({ user, reason }, 'group lookup failed');
        audit(ex, 'unavailable', { effectiveUser: user, reason: 'group lookup failed' });
        throw Errors.unavailable('The group directory is unavailable; retry shortly');
      }
    },
  };
});
