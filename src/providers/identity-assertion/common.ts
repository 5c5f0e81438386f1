/**
 * @module providers/identity-assertion/common
 * The common base of every identity assertion (Knox's `CommonIdentityAssertionFilter`). Per request, in Knox's order:
 *
 * 1. Hadoop proxy-user impersonation: with `hadoop.proxyuser.impersonation.enabled=true`, an inbound `doAs`
 *    naming another user is honoured only when `hadoop.proxyuser.{user}.users|groups|hosts` allow it, else 403
 *    (audited `denied`). Knox's code defaults the flag to false (its guide says true): without it, an inbound
 *    `doAs` is simply removed. Ignored when the topology authenticates with HadoopAuth, which handles `doAs`.
 * 2. `principal.mapping` (`guest,alice=hdfs;mary=alice2`).
 * 3. The provider's own user mapping (Concat, SwitchCase, Regex).
 * 4. `expression.principal.mapping` (Knox's code also reads it as `advanced.principal.mapping`): a Knox
 *    expression of `username` and `groups`; a result that is not a string leaves the name unchanged.
 * 5. Groups: the authenticated user's groups (or the provider's replacement of them), plus
 *    `group.principal.mapping` (`*=users;hdfs=admin`, keyed by the mapped name) and every `group.mapping.{group}`
 *    whose predicate holds. They become `ex.effectiveGroups`, for the gateway's own authorization only: they are
 *    never sent to the backend by identity assertion.
 * 6. The effective user (`ex.effectiveUser`) goes to the backend as `user.name=<user>`, or as `doAs=<user>` when
 *    gateway-site says `gateway.hadoop.kerberos.secured=true`. Every client-supplied impersonation parameter is
 *    removed first: `doAs` and `user.name` plus those `impersonation.params` lists (provider param, or the
 *    topology service's param as Knox allows), compared case-insensitively on the decoded name, every occurrence.
 *    NoImpersonationProvider removes them and adds nothing.
 *
 * Param names compare case-insensitively (Knox lower-cases them). A param this base and the provider do not know
 * is reported as a warning; a param whose value cannot be used is a deployment error at its line.
 *
 * Providers are built with {@link defineIdentityAssertion}; {@link createIdentityAssertion} gives the filter for
 * a provider that builds its own factory. A provider contributes hooks: `mapUser` (a new name, or undefined to
 * refuse the user with 403), `mapGroups` (the groups to use in place of the authenticated user's; may be async,
 * e.g. a directory lookup), `groupLookup` (the group source for proxy-user `groups` checks), `assertToBackend`.
 */

import type { Diagnostic, Position } from '../../config/diagnostics.ts';
import { ConfigError } from '../../config/diagnostics.ts';
import { parseBoolean } from '../../config/values.ts';
import { decodeQueryComponent, replaceQueryParams } from '../../dispatch/target-url.ts';
import { Errors, type GatewayError } from '../../errors.ts';
import {
  addTo,
  auditFor,
  type Exchange,
  type Filter,
  type ProviderContext,
  type ProviderFactory,
} from '../../spi/index.ts';
import type { Param } from '../../topology/model.ts';
import { compileExpression, type Expression, ExpressionError } from './expression.ts';
import {
  type GroupLookup,
  osGroupLookup,
  PROXYUSER_PREFIX,
  type ProxyUserRules,
  parseProxyUserRules,
} from './proxyuser.ts';

export type { GroupLookup } from './proxyuser.ts';

/** What a provider adds to the common behaviour. */
export interface IdentityAssertionHooks {
  /** Knox's `mapUserPrincipal`, after proxy-user impersonation and `principal.mapping`; undefined refuses (403). */
  mapUser?(name: string): string | undefined;
  /**
   * Knox's `mapGroupPrincipals`: the groups to use in place of the authenticated user's (return
   * `[...groups, ...more]` to add). `user` is the mapped name.
   */
  mapGroups?(
    user: string,
    groups: readonly string[],
    ex: Exchange,
  ): readonly string[] | Promise<readonly string[]>;
  /** Where proxy-user `groups` rules find the impersonated user's groups; default: the operating system. */
  groupLookup?: GroupLookup;
  /** False: the identity is mapped but no `doAs`/`user.name` is added (client ones are still removed). */
  assertToBackend?: boolean;
  /** Names (lower case) of the provider's own params, so they are not reported as unknown. */
  ownParams?: readonly string[] | ((lowerCaseName: string) => boolean);
}

/** The provider's params as a provider setup sees them, with positions for its diagnostics. */
export class AssertionParams {
  readonly #ctx: ProviderContext;
  readonly #values = new Map<string, { name: string; value: string }>();
  readonly #positions = new Map<string, Position>();
  readonly errors: Diagnostic[] = [];

  constructor(ctx: ProviderContext) {
    this.#ctx = ctx;
    for (const [name, value] of ctx.params) this.#values.set(name.toLowerCase(), { name, value });
    const add = (list: readonly Param[] | undefined) => {
      for (const p of list ?? []) this.#positions.set(p.name.toLowerCase(), p.pos);
    };
    const samePos = (a: Position) =>
      a.file === ctx.pos.file && a.line === ctx.pos.line && a.column === ctx.pos.column;
    for (const p of ctx.topology.providers) if (samePos(p.pos)) add(p.params);
    for (const chain of ctx.topology.chains)
      for (const ref of chain.providers) if (samePos(ref.pos)) add(ref.params);
    add(ctx.service.chainRef?.params.filter((p) => p.role === ctx.role));
  }

  /** A param's value by case-insensitive name. */
  get(name: string): string | undefined {
    return this.#values.get(name.toLowerCase())?.value;
  }

  /** Every param: its name as written, lower-cased name and value. */
  entries(): { name: string; lower: string; value: string }[] {
    return [...this.#values].map(([lower, { name, value }]) => ({ name, lower, value }));
  }

  /** Where a param was written, else where the provider was. */
  pos(name?: string): Position {
    return (name && this.#positions.get(name.toLowerCase())) || this.#ctx.pos;
  }

  /** A deployment error about a param (or the provider, without a name). */
  error(name: string | undefined, message: string): void {
    this.errorAt(this.pos(name), `${name ? `${name}: ` : ''}${message}`);
  }

  errorAt(pos: Position, message: string): void {
    const text = `identity-assertion/${this.#ctx.name}: ${message}`;
    this.errors.push({
      file: pos.file,
      line: pos.line,
      column: pos.column,
      severity: 'error',
      message: text,
    });
  }

  warn(name: string | undefined, message: string): void {
    this.warnAt(this.pos(name), `${name ? `${name}: ` : ''}${message}`);
  }

  warnAt(pos: Position, message: string): void {
    this.#ctx.sink.warn(pos, `identity-assertion/${this.#ctx.name}: ${message}`);
  }

  /** A boolean param (`true`/`false`), its default when absent; an unreadable value is an error. */
  boolean(name: string, fallback: boolean): boolean {
    const text = this.get(name);
    if (text === undefined) return fallback;
    const value = parseBoolean(text);
    if (value === undefined) {
      this.error(name, `expected true or false, found "${text}"`);
      return fallback;
    }
    return value;
  }
}

/**
 * Knox's `principal.mapping`: `a,b=c;d=e`. Names are trimmed.
 * @throws Error describing the first malformed entry.
 */
export function parsePrincipalMapping(text: string | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const [from, to] of mappingEntries(text)) {
    if (to.length !== 1) throw new Error(`"${from.join(',')}" maps to more than one name (${to.join(',')})`);
    for (const name of from) map.set(name, to[0]);
  }
  return map;
}

/**
 * Knox's `group.principal.mapping`: `*=users;hdfs=admin,ops`.
 * @throws Error describing the first malformed entry.
 */
export function parseGroupMapping(text: string | undefined): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [from, to] of mappingEntries(text)) {
    for (const name of from) map.set(name, [...(map.get(name) ?? []), ...to]);
  }
  return map;
}

function mappingEntries(text: string | undefined): [string[], string[]][] {
  const out: [string[], string[]][] = [];
  for (const entry of (text ?? '').split(';')) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    const names = (s: string) =>
      s
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean);
    const from = eq < 0 ? [] : names(entry.slice(0, eq));
    const to = eq < 0 ? [] : names(entry.slice(eq + 1));
    if (from.length === 0 || to.length === 0) throw new Error(`"${entry.trim()}" is not names=names`);
    out.push([from, to]);
  }
  return out;
}

/** The query parameters removed from every backend URL. */
const DEFAULT_SCRUB = ['doAs', 'user.name'];

const BASE_PARAMS = new Set([
  'principal.mapping',
  'group.principal.mapping',
  'expression.principal.mapping',
  'advanced.principal.mapping',
  'impersonation.params',
  'user.name.param',
  'hadoop.proxyuser.impersonation.enabled',
]);

/** Every value of the query parameter `doAs` (any case of the name, percent-encoded or not). */
export function doAsValues(query: string): string[] {
  const values: string[] = [];
  if (!query) return values;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const name = decodeQueryComponent(eq < 0 ? part : part.slice(0, eq));
    if (name.toLowerCase() === 'doas') values.push(eq < 0 ? '' : decodeQueryComponent(part.slice(eq + 1)));
  }
  return values;
}

/** The groups without repeats, in first-seen order (the same array when it has none). */
function unique(groups: readonly string[]): readonly string[] {
  if (groups.length < 2) return groups;
  if (groups.length < 16) {
    let repeats = false;
    for (let i = 1; i < groups.length && !repeats; i++) repeats = groups.indexOf(groups[i], 0) < i;
    if (!repeats) return groups;
  }
  return [...new Set(groups)];
}

/**
 * The identity-assertion filter for one route: the common behaviour plus the provider's hooks.
 * @throws ConfigError with every problem found in the params (each at its line).
 */
export function createIdentityAssertion(
  ctx: ProviderContext,
  hooks: IdentityAssertionHooks = {},
  params: AssertionParams = new AssertionParams(ctx),
): Filter {
  const own = hooks.ownParams;
  const isOwn = typeof own === 'function' ? own : (name: string) => (own ?? []).includes(name);

  // Principal and group mapping.
  let principalMapping = new Map<string, string>();
  try {
    principalMapping = parsePrincipalMapping(params.get('principal.mapping'));
  } catch (err) {
    params.error('principal.mapping', (err as Error).message);
  }
  let groupMapping = new Map<string, string[]>();
  try {
    groupMapping = parseGroupMapping(params.get('group.principal.mapping'));
  } catch (err) {
    params.error('group.principal.mapping', (err as Error).message);
  }
  const wildcardGroups = groupMapping.get('*') ?? [];

  let expression: Expression | undefined;
  const expressionParams = ['expression.principal.mapping', 'advanced.principal.mapping'].filter((n) =>
    params.get(n)?.trim(),
  );
  if (expressionParams.length > 1) {
    params.error('advanced.principal.mapping', 'give either expression.principal.mapping or this, not both');
  } else if (expressionParams.length === 1) {
    try {
      expression = compileExpression(params.get(expressionParams[0])!);
    } catch (err) {
      params.error(expressionParams[0], (err as Error).message);
    }
  }

  const virtualGroups: { group: string; predicate: Expression }[] = [];
  let proxyUserParams: { name: string; value: string; pos: Position }[] = [];
  for (const { name, lower, value } of params.entries()) {
    if (lower.startsWith('group.mapping.')) {
      const group = name.slice('group.mapping.'.length).trim();
      if (!group) {
        params.error(name, 'names no group');
        continue;
      }
      try {
        virtualGroups.push({ group, predicate: compileExpression(value) });
      } catch (err) {
        params.error(name, (err as Error).message);
      }
    } else if (lower.startsWith('hadoop.proxygroup.')) {
      params.error(name, 'group-based impersonation (hadoop.proxygroup.*) is not supported yet');
    } else if (lower.startsWith(PROXYUSER_PREFIX) && lower !== 'hadoop.proxyuser.impersonation.enabled') {
      proxyUserParams.push({ name, value, pos: params.pos(name) });
    } else if (!BASE_PARAMS.has(lower) && !isOwn(lower)) {
      params.warn(name, 'is not a parameter of this provider; it is ignored');
    }
  }

  // Proxy-user impersonation.
  let impersonation = params.boolean('hadoop.proxyuser.impersonation.enabled', false);
  const hadoopAuth = ctx.topology.providers.some(
    (p) => p.enabled && p.role === 'authentication' && p.name.toLowerCase() === 'hadoopauth',
  );
  if (impersonation && hadoopAuth) {
    params.warn(
      'hadoop.proxyuser.impersonation.enabled',
      'ignored: the topology authenticates with HadoopAuth, which handles doAs itself (as in Knox)',
    );
    impersonation = false;
    proxyUserParams = [];
  }
  let proxyUsers: ProxyUserRules | undefined;
  if (impersonation) {
    proxyUsers = parseProxyUserRules(proxyUserParams, {
      error: (pos, message) => params.errorAt(pos, message),
      warn: (pos, message) => params.warnAt(pos, message),
    });
    if (proxyUsers.superusers.length === 0) {
      params.warn(
        'hadoop.proxyuser.impersonation.enabled',
        'no hadoop.proxyuser.{user}.* rules: every inbound doAs naming another user is refused',
      );
    }
  } else if (proxyUserParams.length > 0 && !hadoopAuth) {
    params.warn(
      proxyUserParams[0].name,
      'hadoop.proxyuser.* rules have no effect without hadoop.proxyuser.impersonation.enabled=true',
    );
  }
  const groupLookup = hooks.groupLookup ?? ctx.shared('identity-assertion:os-groups', osGroupLookup);

  // Outbound identity.
  const scrub = new Set(DEFAULT_SCRUB.map((p) => p.toLowerCase()));
  const addScrub = (text: string | undefined) => {
    for (const p of (text ?? '').split(',')) if (p.trim()) scrub.add(p.trim().toLowerCase());
  };
  addScrub(params.get('impersonation.params'));
  addScrub(ctx.service.params.find((p) => p.name.toLowerCase() === 'impersonation.params')?.value);
  const userParam = params.get('user.name.param')?.trim() || 'user.name';
  scrub.add(userParam.toLowerCase());
  const kerberos = ctx.settings.kerberos.secured;
  const assertParam = encodeURIComponent(kerberos ? 'doAs' : userParam);
  const assertToBackend = hooks.assertToBackend ?? true;

  if (params.errors.length > 0) throw new ConfigError(params.errors);

  const audit = auditFor(ctx, 'identity-assertion');
  const remoteOf = (ex: Exchange) => ex.clientAddress;

  const refuse = (ex: Exchange, effectiveUser: string | undefined, reason: string): never => {
    audit(ex, 'denied', { user: ex.user?.name, effectiveUser, reason });
    throw Errors.forbidden('The gateway may not assert this identity to the service');
  };

  return async (ex, next) => {
    const user = ex.user;
    if (!user) throw Errors.unauthenticated('No authenticated user to assert to the backend');
    let name = user.name;
    let impersonated = false;

    if (proxyUsers) {
      const requested = doAsValues(ex.query);
      if (requested.length > 0) {
        const doAs = requested[0];
        if (doAs === '' || requested.some((v) => v !== doAs)) {
          audit(ex, 'denied', { reason: 'empty or conflicting doAs' });
          throw Errors.badRequest('The doAs parameter must name one user');
        }
        if (doAs !== name) {
          const denied = await proxyUsers.authorize(name, doAs, remoteOf(ex), groupLookup);
          if (denied) refuse(ex, doAs, denied);
          name = doAs;
          impersonated = true;
        }
      }
    }

    name = principalMapping.get(name) ?? name;
    if (hooks.mapUser) {
      const mapped = hooks.mapUser(name);
      if (mapped === undefined) refuse(ex, undefined, `${ctx.name} cannot map the user`);
      name = mapped as string;
    }
    if (expression) {
      let result: unknown;
      try {
        result = expression.evaluate({ username: name, groups: user.groups, req: ex.req });
      } catch (err) {
        throw expressionFailure(ex, 'expression.principal.mapping', err);
      }
      if (typeof result === 'string') name = result;
    }
    if (name === '') refuse(ex, name, 'the user maps to an empty name');

    let groups: readonly string[] = user.groups;
    if (hooks.mapGroups) groups = await hooks.mapGroups(name, groups, ex);
    const mapped = groupMapping.get(name);
    // The user's groups as they are when no mapping adds any (the common case: no copy).
    const all =
      mapped || wildcardGroups.length > 0 || virtualGroups.length > 0
        ? [...groups, ...(mapped ?? []), ...wildcardGroups]
        : groups;
    for (const { group, predicate } of virtualGroups) {
      let result: unknown;
      try {
        result = predicate.evaluate({ username: name, groups, req: ex.req });
      } catch (err) {
        throw expressionFailure(ex, `group.mapping.${group}`, err);
      }
      if (result === true) (all as string[]).push(group);
    }

    ex.effectiveUser = name;
    if (impersonated) ex.impersonatedBy = user.name;
    ex.effectiveGroups = unique(all);
    if (assertToBackend) {
      const assertion = `${assertParam}=${encodeURIComponent(name)}`;
      addTo(ex, 'targetEdits', (url) => replaceQueryParams(url, scrub, assertion));
    } else {
      addTo(ex, 'targetEdits', (url) => replaceQueryParams(url, scrub));
    }
    if (name !== user.name) {
      audit(ex, 'success', {
        user: user.name,
        effectiveUser: name,
        reason: impersonated ? 'impersonation (doAs)' : 'principal mapping',
      });
    }
    return next();
  };
}

function expressionFailure(ex: Exchange, param: string, err: unknown): GatewayError {
  if (!(err instanceof ExpressionError)) return Errors.internal(undefined, { cause: err });
  ex.log.error({ param, err: err.message }, 'identity assertion expression failed');
  return Errors.internal('The identity mapping could not be evaluated', { cause: err });
}

/**
 * A provider factory on the common base. `setup` reads the provider's own params (reporting problems through
 * `params.error`) and returns its hooks; it runs once per route at deployment.
 */
export function defineIdentityAssertion(
  name: string,
  setup?: (ctx: ProviderContext, params: AssertionParams) => IdentityAssertionHooks,
): ProviderFactory {
  return {
    role: 'identity-assertion',
    name,
    create(ctx) {
      const params = new AssertionParams(ctx);
      const hooks = setup ? setup(ctx, params) : {};
      return createIdentityAssertion(ctx, hooks, params);
    },
  };
}
