/**
 * @module providers/identity-assertion/default
 * Knox's `Default` identity assertion (knox-features §3.3, §4.5): the authenticated user becomes the effective
 * user, and the backend learns it through Hadoop's pseudo-authentication query parameter `user.name`.
 * Impersonation parameters the client sent (`doAs`, `user.name`) are always removed first, so a client cannot
 * choose who it is. A request that reaches identity assertion without an authenticated user is refused (401):
 * a chain that forgot its authentication provider must not forward anonymous traffic as nobody.
 *
 * Params (Knox's names): `principal.mapping` (`user=mapped;user2=mapped2`), `group.principal.mapping` is left to
 * the security-providers issue; `impersonation.params` (postern: comma list to scrub, default `doAs,user.name`);
 * `user.name.param` (postern: the name of the query parameter that carries the user, default `user.name`).
 */
import { replaceQueryParams } from '../../dispatch/target-url.ts';
import { Errors } from '../../errors.ts';
import { addTo, type Filter, type ProviderContext, type ProviderFactory } from '../types.ts';

function parseMapping(value: string | undefined): Map<string, string> {
  const map = new Map<string, string>();
  if (!value) return map;
  for (const pair of value.split(';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const target = pair.slice(eq + 1).trim();
    for (const from of pair.slice(0, eq).split(',')) map.set(from.trim(), target);
  }
  return map;
}

export const defaultIdentityAssertion: ProviderFactory = {
  role: 'identity-assertion',
  name: 'Default',
  create(ctx: ProviderContext): Filter {
    const mapping = parseMapping(ctx.params.get('principal.mapping'));
    const scrub = new Set(
      (ctx.params.get('impersonation.params') ?? 'doAs,user.name')
        .split(',')
        .map((p) => p.trim().toLowerCase())
        .filter(Boolean),
    );
    const userParam = ctx.params.get('user.name.param') ?? 'user.name';
    scrub.add(userParam.toLowerCase());
    const encodedParam = encodeURIComponent(userParam);
    return (ex, next) => {
      const user = ex.user;
      if (!user)
        return Promise.reject(Errors.unauthenticated('No authenticated user to assert to the backend'));
      const effective = mapping.get(user.name) ?? user.name;
      ex.effectiveUser = effective;
      const assertion = `${encodedParam}=${encodeURIComponent(effective)}`;
      addTo(ex, 'targetEdits', (url) => replaceQueryParams(url, scrub, assertion));
      return next();
    };
  },
};
