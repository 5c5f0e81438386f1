/**
 * @module providers/authorization/acls
 * Knox's `AclsAuthz` authorization: one ACL per service role.
 *
 * Params (names compare case-insensitively, as Knox lower-cases them):
 * - `{role}.acl` = `users;groups;ips` (role in lower case, e.g. `webhdfs.acl`); the grammar, the placeholders
 *   `KNOX_ADMIN_USERS` / `KNOX_ADMIN_GROUPS` and the AND/OR semantics are in ./acl.ts. A malformed ACL fails the
 *   deployment at its `<param>`.
 * - `{role}.acl.mode`, else `acl.mode`: `AND` (default) or `OR`.
 *
 * A service without an ACL is open to everyone (no filter is added to its chain). Otherwise the user is the
 * effective user (after identity assertion), the groups are the effective groups (the user's, plus what identity
 * assertion mapped), and the address is the socket's remote address (never X-Forwarded-For, which a client
 * writes). No user at all → 401 (a chain without authentication must not be authorized as nobody); denied → 403.
 * Audit: `authorization` success and denied.
 *
 * A `*.acl` param whose role is not a service of the topology is reported as a warning: a misspelt role would
 * otherwise leave the intended service open.
 */

import { Errors } from '../../errors.ts';
import type { Filter, ProviderContext, ProviderFactory } from '../../spi/index.ts';
import { auditFor } from '../../spi/index.ts';
import { ParamReader } from '../common/param-reader.ts';
import { type AclMode, aclAllows, parseAcl, parseMode } from './acl.ts';

export const aclsAuthorization: ProviderFactory = {
  role: 'authorization',
  name: 'AclsAuthz',
  create(ctx: ProviderContext): Filter | undefined {
    const params = new ParamReader(ctx);
    const role = ctx.service.role.toLowerCase();

    const roles = new Set(ctx.topology.services.map((s) => s.role.toLowerCase()));
    for (const [name] of params.entries()) {
      const lower = name.toLowerCase();
      if (!lower.endsWith('.acl') || lower.endsWith('.path.acl')) continue;
      const named = lower.slice(0, -'.acl'.length);
      if (!roles.has(named))
        params.warn(name, `no service of role "${named}" in this topology uses this ACL`);
    }

    let mode: AclMode = 'AND';
    const modeParam = params.has(`${role}.acl.mode`) ? `${role}.acl.mode` : 'acl.mode';
    const modeText = params.text(modeParam);
    if (modeText !== undefined) {
      const parsed = parseMode(modeText);
      if (parsed) mode = parsed;
      else params.error(modeParam, `expected AND or OR, found "${modeText}"`);
    }

    const aclParam = `${role}.acl`;
    const text = params.raw(aclParam);
    if (text === undefined) return undefined;
    const acl = parseAcl(text, mode, { users: ctx.settings.adminUsers, groups: ctx.settings.adminGroups });
    if (typeof acl === 'string') {
      params.error(aclParam, acl);
      return undefined;
    }
    if (params.failed) return undefined;

    const audit = auditFor(ctx, 'authorization');
    return (ex, next) => {
      const user = ex.effectiveUser ?? ex.user?.name;
      if (user === undefined) {
        audit(ex, 'failure', { reason: 'no authenticated user' });
        return Promise.reject(Errors.unauthenticated('No authenticated user to authorize'));
      }
      const groups = ex.effectiveGroups ?? ex.user?.groups ?? [];
      const effectiveUser = user !== ex.user?.name ? user : undefined;
      if (!aclAllows(acl, mode, { user, groups, address: ex.clientAddress })) {
        audit(ex, 'denied', { effectiveUser, reason: `acl ${aclParam}` });
        return Promise.reject(Errors.forbidden('Access denied by the service ACL'));
      }
      audit(ex, 'success', { effectiveUser });
      return next();
    };
  },
};
