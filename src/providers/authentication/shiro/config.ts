/**
 * @module providers/authentication/shiro/config
 * Reads ShiroProvider's params, which are Knox's flattened `shiro.ini`: `main.<object>` =
 * class declares an object, `main.<object>.<property>` sets a property, `$name` refers to another object, and
 * `urls.<pattern>` holds the filter chains. Every problem is reported at the `<param>` at fault, naming it; a
 * realm class postern does not implement (`KnoxPamRealm`, `ActiveDirectoryRealm`, ...) stops the deployment.
 *
 * Realms (`main.securityManager.realms = $ldapRealm, $fileRealm`, or every declared realm in order):
 * - `org.apache.knox.gateway.shirorealm.KnoxLdapRealm`: LDAP bind with `userDnTemplate` or a user search, groups
 *   with `authorizationEnabled` (see ldap-realm.ts for the properties).
 * - `org.apache.shiro.realm.ldap.JndiLdapRealm`: the same with `userDnTemplate` only.
 * - `postern.FileRealm`: `usersFile` (see file-realm.ts).
 *
 * The context factory's properties are read from `main.<realm>.contextFactory.<prop>`, or from the object that
 * `main.<realm>.contextFactory = $ldapContextFactory` names: `url` (space-separated ldap:// or ldaps:// URLs),
 * `authenticationMechanism` (`simple`), `systemUsername` / `systemPassword`, and postern's `connectTimeout` and
 * `readTimeout` in ms (default 3000 and 5000; JNDI's `environment[com.sun.jndi.ldap.connect.timeout]` and
 * `environment[com.sun.jndi.ldap.read.timeout]` are read too) and `truststorePath` (a PEM file of CAs for
 * ldaps://; default: gateway-site's `gateway.truststore.path` when it is PEM, else the system CAs).
 *
 * Other params: `sessionTimeout` (minutes, default 30, Knox's `ShiroDeploymentContributor`; postern also reads
 * a duration such as `90s`),
 * `main.<realm>.authenticationCachingEnabled` (default false as in Knox; true for `postern.FileRealm`) with postern's `main.cacheManager.timeToLiveSeconds` (default 120,
 * the time-to-idle of Knox's ehcache default), and `urls.*` (see urls.ts; without any, `/**` needs `authcBasic`).
 */

import { readTrustStore } from '../../../config/keystore.ts';
import { parseDurationMs } from '../../../config/values.ts';
import type { ProviderContext } from '../../../spi/index.ts';
import { isValidFilter, type LdapEndpoint, parseLdapUrls, readPemTrust } from '../../common/ldap.ts';
import { ParamReader } from '../../common/param-reader.ts';
import { FileRealm, loadUsersFile } from './file-realm.ts';
import { LdapRealm, type LdapRealmConfig } from './ldap-realm.ts';
import type { Realm } from './realm.ts';
import { parseUrlRule, type UrlRule } from './urls.ts';

const REALM_CLASSES: ReadonlyMap<string, 'knox' | 'jndi' | 'file'> = new Map([
  ['org.apache.knox.gateway.shirorealm.KnoxLdapRealm', 'knox'],
  ['org.apache.hadoop.gateway.shirorealm.KnoxLdapRealm', 'knox'],
  ['org.apache.shiro.realm.ldap.JndiLdapRealm', 'jndi'],
  ['org.apache.shiro.realm.ldap.DefaultLdapRealm', 'jndi'],
  ['postern.FileRealm', 'file'],
]);

const DEFAULT_SESSION_TIMEOUT_MIN = 30;
const DEFAULT_CACHE_TTL_S = 120;
const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
const DEFAULT_READ_TIMEOUT_MS = 5000;

/** Realm properties read here; others get a warning (Knox-only ones say they are ignored). */
const LDAP_PROPS = new Set(
  [
    'contextFactory',
    'userDnTemplate',
    'searchBase',
    'userSearchBase',
    'userSearchAttributeName',
    'userSearchAttributeTemplate',
    'userSearchFilter',
    'userSearchScope',
    'userObjectClass',
    'authorizationEnabled',
    'groupSearchBase',
    'groupObjectClass',
    'memberAttribute',
    'memberAttributeValueTemplate',
    'groupIdAttribute',
    'authenticationCachingEnabled',
  ].map((p) => p.toLowerCase()),
);
const CONTEXT_FACTORY_PROPS = new Set(
  [
    'url',
    'authenticationMechanism',
    'systemUsername',
    'systemPassword',
    'connectTimeout',
    'readTimeout',
    'truststorePath',
  ].map((p) => p.toLowerCase()),
);
/** Knox and Shiro properties postern accepts and does not use. */
const IGNORED_PROPS = new Set(
  [
    'contextFactory.clusterName',
    'contextFactory.systemAuthenticationMechanism',
    'contextFactory.referral',
    'contextFactory.poolingEnabled',
    'principalRegex',
    'rolesByGroup',
    'permissionsByRole',
    'authorizationCachingEnabled',
    'credentialsMatcher',
    'pagingSize',
  ].map((p) => p.toLowerCase()),
);
/** KnoxLdapRealm properties that Shiro's JndiLdapRealm does not have. */
const KNOX_ONLY_PROPS = [
  'searchBase',
  'userSearchBase',
  'userSearchAttributeName',
  'userSearchFilter',
  'authorizationEnabled',
];

export interface ShiroConfig {
  /**
   * Knox's `redirectToUrl` (its RedirectToUrlFilter, put before Shiro on every route): a request without an
   * Authorization header is sent there (302, with its query), `${GATEWAY_PATH}` replaced by gateway.path. The
   * stock knoxsso topology sends browsers to the knoxauth login page this way.
   */
  readonly redirectToUrl?: string;
  readonly realms: readonly Realm[];
  readonly rules: readonly UrlRule[];
  readonly sessionTimeoutMs: number;
  readonly cacheTtlMs: number;
}

const ATTRIBUTE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$/;

/** Reads the config; undefined when any param is in error (each reported through ctx.sink). */
export function readShiroConfig(ctx: ProviderContext): ShiroConfig | undefined {
  const p = new ParamReader(ctx);
  const objects = new Map<string, { className: string; param: string }>();
  for (const [name, value] of p.entries()) {
    const m = /^main\.([^.]+)$/.exec(name);
    if (m) objects.set(m[1].toLowerCase(), { className: value.trim(), param: name });
  }

  // Which objects are realms, in order.
  const realmNames: string[] = [];
  const listed = p.text('main.securityManager.realms');
  if (listed !== undefined) {
    for (const ref of listed.split(',').map((r) => r.trim())) {
      const name = ref.startsWith('$') ? ref.slice(1) : '';
      if (!name || !objects.has(name.toLowerCase())) {
        p.error(
          'main.securityManager.realms',
          `"${ref}" does not name a realm declared as main.<name> = <class>`,
        );
        continue;
      }
      realmNames.push(name);
    }
  } else {
    for (const [, o] of objects) {
      if (REALM_CLASSES.has(o.className) || /Realm$/.test(o.className)) realmNames.push(o.param.slice(5));
    }
  }

  const realms: Realm[] = [];
  for (const name of realmNames) {
    const object = objects.get(name.toLowerCase())!;
    const kind = REALM_CLASSES.get(object.className);
    if (!kind) {
      p.error(
        object.param,
        `realm class ${object.className} is not supported by postern (use ${[...REALM_CLASSES.keys()].filter((c) => !c.includes('hadoop.gateway')).join(', ')})`,
      );
      continue;
    }
    warnUnknownProps(p, name, kind);
    const realm = kind === 'file' ? fileRealm(ctx, p, name) : ldapRealm(ctx, p, name, kind);
    if (realm) realms.push(realm);
  }
  if (realmNames.length === 0 && !p.failed) {
    p.error(
      'main.ldapRealm',
      'no realm is configured (e.g. main.ldapRealm = org.apache.knox.gateway.shirorealm.KnoxLdapRealm)',
    );
  }

  const rules: UrlRule[] = [];
  for (const [name, value] of p.entries()) {
    if (!name.startsWith('urls.')) continue;
    const rule = parseUrlRule(name.slice(5), value.trim());
    if (typeof rule === 'string') p.error(name, rule);
    else rules.push(rule);
  }

  const sessionTimeoutMs = readSessionTimeout(p);
  const redirectToUrl = readRedirectToUrl(p, ctx.settings.path);
  const cacheTtlS = p.int('main.cacheManager.timeToLiveSeconds', DEFAULT_CACHE_TTL_S, 1);
  if (
    realms.some((r) => r.cachingEnabled && p.has(`main.${r.name}.authenticationCachingEnabled`)) &&
    !p.has('main.cacheManager') &&
    !p.has('main.securityManager.cacheManager')
  ) {
    p.warn(
      'main.cacheManager',
      'authenticationCachingEnabled without a cacheManager: Shiro would not cache; postern caches anyway',
    );
  }

  if (p.failed) {
    for (const r of realms) r.close();
    return undefined;
  }
  return { redirectToUrl, realms, rules, sessionTimeoutMs, cacheTtlMs: cacheTtlS * 1000 };
}

/** Knox's RedirectToUrlFilter placeholder for gateway.path. */
const GATEWAY_PATH_PLACEHOLDER = '$' + '{GATEWAY_PATH}';

/** `redirectToUrl`: a path on this gateway or an absolute http(s) URL; `${GATEWAY_PATH}` is gateway.path. */
function readRedirectToUrl(p: ParamReader, gatewayPath: string): string | undefined {
  const written = p.text('redirectToUrl')?.trim();
  if (!written) return undefined;
  const url = written.replaceAll(GATEWAY_PATH_PLACEHOLDER, gatewayPath);
  if (/^\/(?!\/)/.test(url) || (/^https?:\/\//i.test(url) && URL.canParse(url))) return url;
  p.error('redirectToUrl', `expected a path starting with / or an absolute http(s) URL, found "${written}"`);
  return undefined;
}

/**
 * Knox's `sessionTimeout`: whole minutes, a value of 0 or less meaning the default (30). postern also reads a
 * duration with units (`90s`, `1m30s`).
 */
function readSessionTimeout(p: ParamReader): number {
  const text = p.text('sessionTimeout');
  if (text === undefined || text === '') return DEFAULT_SESSION_TIMEOUT_MIN * 60_000;
  if (/^[-+]?\d+$/.test(text)) {
    const minutes = Number(text);
    return (minutes > 0 ? minutes : DEFAULT_SESSION_TIMEOUT_MIN) * 60_000;
  }
  const ms = /[a-z]$/i.test(text) ? parseDurationMs(text) : undefined;
  if (ms === undefined || ms <= 0) {
    p.error('sessionTimeout', `expected minutes (e.g. 30) or a duration (e.g. 90s), found "${text}"`);
    return DEFAULT_SESSION_TIMEOUT_MIN * 60_000;
  }
  return ms;
}

function warnUnknownProps(p: ParamReader, realm: string, kind: 'knox' | 'jndi' | 'file'): void {
  const prefix = `main.${realm}.`.toLowerCase();
  for (const [name] of p.entries()) {
    if (!name.toLowerCase().startsWith(prefix)) continue;
    const prop = name.slice(prefix.length).toLowerCase();
    if (kind === 'file') {
      if (prop !== 'usersfile' && prop !== 'authenticationcachingenabled')
        p.warn(name, 'unknown FileRealm property; ignored');
      continue;
    }
    if (IGNORED_PROPS.has(prop)) p.warn(name, 'not supported by postern; ignored');
    else if (prop.startsWith('contextfactory.')) {
      const cf = prop.slice('contextfactory.'.length);
      if (!CONTEXT_FACTORY_PROPS.has(cf) && !cf.startsWith('environment['))
        p.warn(name, 'unknown context factory property; ignored');
    } else if (!LDAP_PROPS.has(prop)) p.warn(name, 'unknown realm property; ignored');
    else if (kind === 'jndi' && KNOX_ONLY_PROPS.some((k) => k.toLowerCase() === prop)) {
      p.warn(name, 'JndiLdapRealm has no such property (KnoxLdapRealm has); ignored');
    }
  }
}

function fileRealm(ctx: ProviderContext, p: ParamReader, name: string): Realm | undefined {
  const param = `main.${name}.usersFile`;
  const path = p.text(param);
  if (!path) {
    p.error(`main.${name}`, `${param} is required: the YAML file of users and password hashes`);
    return undefined;
  }
  const at = p.pos(param);
  const users = loadUsersFile(path, ctx.home, ctx.sink, at, param);
  if (!users) {
    p.error(param, `the users file ${path} has errors`);
    return undefined;
  }
  // Cached by default (postern's own realm, no Knox default to keep): without the cache every Basic request, and
  // every wrong password, costs a scrypt computation (password-hash.ts).
  const realm = new FileRealm(name, users, p.bool(`main.${name}.authenticationCachingEnabled`, true), {
    path,
    home: ctx.home,
    at,
    param,
  });
  // A changed users file takes effect without a redeploy (and on SIGHUP); the watch ends with the deployment.
  const file = realm.file;
  const unwatch = file && ctx.gateway?.watchFile(file, () => realm.reload());
  if (unwatch) ctx.onRetire(unwatch);
  return realm;
}

function ldapRealm(
  ctx: ProviderContext,
  p: ParamReader,
  name: string,
  kind: 'knox' | 'jndi',
): Realm | undefined {
  const prop = (n: string) => p.text(`main.${name}.${n}`) || undefined;
  const failedBefore = p.failed;

  // The context factory: inline properties, or those of the object it refers to.
  const factoryRef = prop('contextFactory');
  const factory = factoryRef?.startsWith('$') ? factoryRef.slice(1) : undefined;
  const cfParam = (n: string): string => {
    const inline = `main.${name}.contextFactory.${n}`;
    if (p.has(inline) || !factory) return inline;
    return `main.${factory}.${n}`;
  };
  const cf = (n: string) => p.text(cfParam(n)) || undefined;

  const urlParam = cfParam('url');
  const urlText = cf('url');
  const urls = urlText ? parseLdapUrls(urlText) : undefined;
  if (!urlText) p.error(urlParam, 'the LDAP URL is required (ldap://host:port or ldaps://host:port)');
  else if (!urls) p.error(urlParam, `expected ldap:// or ldaps:// URLs, found "${urlText}"`);

  const mechanism = cf('authenticationMechanism') ?? 'simple';
  if (mechanism.toLowerCase() !== 'simple') {
    p.error(cfParam('authenticationMechanism'), `only "simple" is supported, found "${mechanism}"`);
  }

  const systemUser = cf('systemUsername');
  let systemPassword = p.raw(cfParam('systemPassword'));
  let system: { dn: string; password: string } | undefined;
  // Knox's `${ALIAS=name}` (KnoxLdapContextFactory): the topology's alias, else the gateway's.
  let aliasFailed = false;
  if (systemPassword !== undefined) {
    try {
      systemPassword = ctx.secret(systemPassword);
    } catch (err) {
      p.error(cfParam('systemPassword'), (err as Error).message);
      aliasFailed = true;
    }
  }
  if (aliasFailed) {
    // reported above
  } else if (systemUser && systemPassword) system = { dn: systemUser, password: systemPassword };
  else if (systemUser || systemPassword) {
    p.error(
      cfParam(systemUser ? 'systemPassword' : 'systemUsername'),
      'systemUsername and systemPassword go together',
    );
  }

  const timeout = (n: string, jndi: string, fallback: number) => {
    const own = cfParam(n);
    const env = cfParam(`environment[${jndi}]`);
    return p.has(own) || !p.has(env) ? p.int(own, fallback, 1) : p.int(env, fallback, 1);
  };
  const connectTimeoutMs = timeout(
    'connectTimeout',
    'com.sun.jndi.ldap.connect.timeout',
    DEFAULT_CONNECT_TIMEOUT_MS,
  );
  const timeoutMs = timeout('readTimeout', 'com.sun.jndi.ldap.read.timeout', DEFAULT_READ_TIMEOUT_MS);

  let ca: string | undefined;
  const trustParam = cfParam('truststorePath');
  const trust = cf('truststorePath');
  if (trust) {
    try {
      ca = readPemTrust(trust, ctx.home);
    } catch (err) {
      p.error(trustParam, (err as Error).message);
    }
  } else if (ctx.settings.ssl.truststorePath && urls?.some((u) => u.startsWith('ldaps:'))) {
    try {
      const ssl = ctx.settings.ssl;
      ca = readTrustStore(
        {
          key: 'gateway.truststore.path',
          path: ssl.truststorePath!,
          type: ssl.truststoreType,
          passwordAlias: ssl.truststorePasswordAlias,
        },
        ctx.home,
      ).toString();
    } catch (err) {
      p.warn(urlParam, `gateway.truststore.path is not used for LDAP: ${(err as Error).message}`);
    }
  }

  // How the user's DN is found.
  const searchBase = prop('searchBase');
  const knox = kind === 'knox';
  const userBase = knox ? (prop('userSearchBase') ?? searchBase) : undefined;
  const attrName = knox ? prop('userSearchAttributeName') : undefined;
  const userFilter = knox ? prop('userSearchFilter') : undefined;
  const scopeText = (prop('userSearchScope') ?? 'subtree').toLowerCase();
  const scope = ({ subtree: 'sub', onelevel: 'one', object: 'base' } as const)[
    scopeText as 'subtree' | 'onelevel' | 'object'
  ];
  if (!scope)
    p.error(`main.${name}.userSearchScope`, `expected subtree, onelevel or object, found "${scopeText}"`);
  let userSearch: LdapRealmConfig['userSearch'];
  if (userBase && (attrName || userFilter || scope === 'base')) {
    let filter: string;
    const objectClass = prop('userObjectClass') ?? 'person';
    if (userFilter) filter = userFilter;
    else if (attrName) {
      if (!ATTRIBUTE.test(attrName))
        p.error(`main.${name}.userSearchAttributeName`, `"${attrName}" is not an attribute name`);
      const template = prop('userSearchAttributeTemplate') ?? '{0}';
      filter = `(&(objectclass=${objectClass})(${attrName}=${template}))`;
    } else filter = `(objectclass=${objectClass})`;
    if (!isValidFilter(filter)) {
      p.error(
        userFilter ? `main.${name}.userSearchFilter` : `main.${name}.userObjectClass`,
        `"${filter}" is not a valid LDAP filter`,
      );
    }
    userSearch = { base: userBase, filter, scope: scope ?? 'sub' };
  }
  const userDnTemplate = prop('userDnTemplate');
  if (!userSearch) {
    if (!userDnTemplate) {
      p.error(
        `main.${name}.userDnTemplate`,
        'a userDnTemplate (e.g. uid={0},ou=people,dc=example,dc=com) or a user search (userSearchBase with userSearchAttributeName or userSearchFilter) is required',
      );
    } else if (!userDnTemplate.includes('{0}')) {
      p.error(`main.${name}.userDnTemplate`, `"${userDnTemplate}" has no {0} for the user name`);
    }
  }

  // Groups.
  let groups: LdapRealmConfig['groups'];
  if (knox && p.bool(`main.${name}.authorizationEnabled`, false)) {
    const base = prop('groupSearchBase') ?? searchBase;
    if (!base)
      p.error(`main.${name}.authorizationEnabled`, 'group lookup needs groupSearchBase or searchBase');
    const attr = (n: string, fallback: string) => {
      const value = prop(n) ?? fallback;
      if (!ATTRIBUTE.test(value)) p.error(`main.${name}.${n}`, `"${value}" is not an attribute name`);
      return value;
    };
    const memberValueTemplate = prop('memberAttributeValueTemplate');
    if (memberValueTemplate !== undefined && !memberValueTemplate.includes('{0}')) {
      p.error(
        `main.${name}.memberAttributeValueTemplate`,
        `"${memberValueTemplate}" has no {0} for the user name`,
      );
    }
    const objectClass = prop('groupObjectClass') ?? 'groupOfNames';
    if (!ATTRIBUTE.test(objectClass))
      p.error(`main.${name}.groupObjectClass`, `"${objectClass}" is not an object class name`);
    groups = {
      base: base ?? '',
      objectClass,
      memberAttribute: attr('memberAttribute', 'member'),
      memberValueTemplate,
      idAttribute: attr('groupIdAttribute', 'cn'),
    };
  }

  const cachingEnabled = p.bool(`main.${name}.authenticationCachingEnabled`, false);
  if (p.failed && !failedBefore) return undefined;
  if (!urls) return undefined;
  const endpoint: LdapEndpoint = { urls, ca, connectTimeoutMs, timeoutMs };
  return new LdapRealm({ name, cachingEnabled, endpoint, system, userDnTemplate, userSearch, groups });
}
