/**
 * @module dispatch/actor-headers
 * ConfigurableDispatch's actor headers (KNOX-3023): with `shouldIncludePrincipalAndGroups=true`
 * the backend request carries `X-Knox-Actor-ID: <user>` and `X-Knox-Actor-Groups-1..n: <g1,g2,...>`, the groups
 * split so that no header value exceeds Knox's 1000 characters. As in Knox, the user is the authenticated
 * (primary) principal, not the identity-assertion's mapped one (that travels as `user.name`/`doAs`), and the
 * groups are those after identity assertion (`ex.effectiveGroups`), filtered by `groupFilterPattern` (a Java
 * regex matched against the whole name, default `.*`). `actorIdHeaderName` and `actorGroupsHeaderPrefix` rename
 * the headers. PassAllHeadersDispatch inherits this from ConfigurableDispatch; DefaultDispatch does not.
 *
 * Whatever the configuration, a client's own copies of these headers never reach a backend: every dispatch drops
 * `X-Knox-Actor-ID` and `X-Knox-Actor-Groups*` (see headers.ts), and a dispatch that renames them drops the
 * renamed ones too, so a backend that trusts them can trust that the gateway wrote them.
 */
import type { DispatchContext, Exchange } from '../spi/index.ts';
import { dispatchParams } from './params.ts';

export const DEFAULT_ACTOR_ID_HEADER = 'X-Knox-Actor-ID';
export const DEFAULT_ACTOR_GROUPS_PREFIX = 'X-Knox-Actor-Groups';
/** Knox's `MAX_HEADER_LENGTH`: the longest group header value (a longer single group goes alone). */
export const GROUP_HEADER_MAX_LENGTH = 1000;

/** What the dispatch adds, compiled at deployment. */
export interface ActorHeaders {
  readonly idHeader: string;
  readonly groupsPrefix: string;
  readonly groupFilter: RegExp | undefined;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The lower-case header names and prefixes a dispatch drops from the client's request. */
export function actorHeaderNames(params: ReadonlyMap<string, string>): {
  exact: string[];
  prefixes: string[];
} {
  const id = params.get('actorIdHeaderName')?.trim();
  const prefix = params.get('actorGroupsHeaderPrefix')?.trim();
  return {
    exact: id ? [id.toLowerCase()] : [],
    prefixes: prefix ? [prefix.toLowerCase()] : [],
  };
}

/**
 * Reads the actor-header params of a dispatch; an unreadable value is a deployment error at its `<param>` (Knox
 * fails to initialise the dispatch).
 * @returns undefined when `shouldIncludePrincipalAndGroups` is not true, or a value is unreadable
 */
export function parseActorHeaders(ctx: DispatchContext): ActorHeaders | undefined {
  const p = dispatchParams(ctx);
  const include = p.bool('shouldIncludePrincipalAndGroups', false);
  const idHeader = p.text('actorIdHeaderName') || DEFAULT_ACTOR_ID_HEADER;
  const groupsPrefix = p.text('actorGroupsHeaderPrefix') || DEFAULT_ACTOR_GROUPS_PREFIX;
  if (!TOKEN.test(idHeader)) p.error('actorIdHeaderName', `"${idHeader}" is not a header name`);
  if (!TOKEN.test(groupsPrefix)) p.error('actorGroupsHeaderPrefix', `"${groupsPrefix}" is not a header name`);
  const pattern = p.raw('groupFilterPattern');
  let groupFilter: RegExp | undefined;
  if (pattern !== undefined && pattern !== '.*') {
    try {
      groupFilter = new RegExp(`^(?:${pattern})$`);
    } catch (err) {
      p.error(
        'groupFilterPattern',
        `"${pattern}" is not a valid regular expression: ${(err as Error).message}`,
      );
    }
  }
  if (!include || p.failed) return undefined;
  return { idHeader: idHeader.toLowerCase(), groupsPrefix: groupsPrefix.toLowerCase(), groupFilter };
}

/** Joins groups with `,` into values of at most {@link GROUP_HEADER_MAX_LENGTH} characters. */
export function splitGroups(groups: readonly string[], max = GROUP_HEADER_MAX_LENGTH): string[] {
  const out: string[] = [];
  let current = '';
  for (const g of groups) {
    if (current !== '' && current.length + 1 + g.length > max) {
      out.push(current);
      current = '';
    }
    current = current === '' ? g : `${current},${g}`;
  }
  if (current !== '') out.push(current);
  return out;
}

/** Sets the actor headers of one backend request (after the client's copies were dropped). */
export function addActorHeaders(config: ActorHeaders, ex: Exchange, headers: Record<string, string>): void {
  const user = ex.user;
  if (!user) return;
  headers[config.idHeader] = user.name;
  const all = ex.effectiveGroups ?? user.groups;
  const groups = config.groupFilter ? all.filter((g) => config.groupFilter!.test(g)) : all;
  splitGroups(groups).forEach((value, i) => {
    headers[`${config.groupsPrefix}-${i + 1}`] = value;
  });
}
