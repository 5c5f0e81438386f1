/**
 * @module providers/authorization/path-acls
 * Knox's `PathAclsAuthz` authorization: ACLs chosen by the request URL.
 *
 * Params (names compare case-insensitively):
 * - `path.acl` (every service), `{role}.path.acl` and `{role}.{rule}.path.acl` (services of that role, role in
 *   lower case; `{rule}` is any name): `{url-pattern};users;groups;ips`. The ACL part is AclsAuthz's (./acl.ts).
 * - `{role}.path.acl.mode`, else `path.acl.mode`: `AND` (default) or `OR`.
 *
 * The pattern is a URL template in the rewrite syntax (src/urltemplate), matched against the request URL with its
 * path normalised (`{scheme}://{host}:{port}/{gateway}/{topology}/...?{query}`, gateway/request-target); see the
 * examples below. A pattern that starts with `/` matches that path under any scheme, host and port (a postern
 * shorthand). A template without a query matches any query. A pattern's leading `**` stands for the gateway path
 * and topology, exactly as in the rewrite that builds the backend URL (anchored matching, urltemplate/matcher):
 * with `/gateway/t/webhdfs/v1/tmp/webhdfs/v1/user/bob`, the rule for `.../webhdfs/v1/tmp/**` decides, because
 * that is the HDFS path the backend gets — not a rule for `.../webhdfs/v1/user/bob/**` found further along.
 *
 * When a route has rules: the best-matching rule decides (the matcher's most specific template; Knox takes the
 * first of an unordered map), and a request no rule matches is denied (403), as in Knox. No rules → no filter.
 * No user → 401. Audit: `authorization` success and denied, with the rule's param name.
 */
// Examples (in a line comment: the patterns hold the characters that end a block comment):
//   webhdfs.tmp.path.acl = *://*:*/**/webhdfs/v1/tmp/**;*;analysts;*
//   webhdfs.path.acl     = /gateway/sandbox/webhdfs/v1/**;admin;*;*

import { Errors } from '../../errors.ts';
import { prefixSegments } from '../../gateway/request-target.ts';
import { auditFor, type Filter, type ProviderContext, type ProviderFactory } from '../../spi/index.ts';
import { parseLiteral, parseTemplate, TemplateMatcher } from '../../urltemplate/index.ts';
import { ParamReader } from '../common/param-reader.ts';
import { type Acl, type AclMode, aclAllows, parseAcl, parseMode } from './acl.ts';

interface Rule {
  param: string;
  acl: Acl;
}

export const pathAclsAuthorization: ProviderFactory = {
  role: 'authorization',
  name: 'PathAclsAuthz',
  create(ctx: ProviderContext): Filter | undefined {
    const params = new ParamReader(ctx);
    const role = ctx.service.role.toLowerCase();

    let mode: AclMode = 'AND';
    const modeParam = params.has(`${role}.path.acl.mode`) ? `${role}.path.acl.mode` : 'path.acl.mode';
    const modeText = params.text(modeParam);
    if (modeText !== undefined) {
      const parsed = parseMode(modeText);
      if (parsed) mode = parsed;
      else params.error(modeParam, `expected AND or OR, found "${modeText}"`);
    }

    const admins = { users: ctx.settings.adminUsers, groups: ctx.settings.adminGroups };
    const matcher = new TemplateMatcher<Rule>();
    let count = 0;
    for (const [name, value] of params.entries()) {
      const lower = name.toLowerCase();
      if (lower !== 'path.acl' && !(lower.startsWith(`${role}.`) && lower.endsWith('.path.acl'))) continue;
      const semi = value.indexOf(';');
      const pattern = semi < 0 ? '' : value.slice(0, semi).trim();
      if (!pattern) {
        params.error(name, `"${value}" is not a path ACL: expected {url-pattern};users;groups;ips`);
        continue;
      }
      const acl = parseAcl(value.slice(semi + 1), mode, admins);
      if (typeof acl === 'string') {
        params.error(name, acl);
        continue;
      }
      let template: ReturnType<typeof parseTemplate>;
      try {
        template = parseTemplate(pattern.startsWith('/') ? `*://*:*${pattern}` : pattern);
      } catch (err) {
        params.error(name, `"${pattern}" is not a URL template: ${(err as Error).message}`);
        continue;
      }
      matcher.add(template, { param: name, acl });
      count++;
    }
    if (params.failed || count === 0) return undefined;

    const audit = auditFor(ctx, 'authorization');
    const anchored = { anchor: prefixSegments(ctx.settings.path) };
    return (ex, next) => {
      const user = ex.effectiveUser ?? ex.user?.name;
      if (user === undefined) {
        audit(ex, 'failure', { reason: 'no authenticated user' });
        return Promise.reject(Errors.unauthenticated('No authenticated user to authorize'));
      }
      const effectiveUser = user !== ex.user?.name ? user : undefined;
      let rule: Rule | undefined;
      try {
        rule = matcher.match(parseLiteral(ex.inboundUrl), anchored)?.value;
      } catch {
        rule = undefined;
      }
      if (!rule) {
        audit(ex, 'denied', { effectiveUser, reason: 'no path ACL matches' });
        return Promise.reject(Errors.forbidden('Access denied: no path ACL matches this URL'));
      }
      const groups = ex.effectiveGroups ?? ex.user?.groups ?? [];
      if (!aclAllows(rule.acl, mode, { user, groups, address: ex.clientAddress })) {
        audit(ex, 'denied', { effectiveUser, reason: `path acl ${rule.param}` });
        return Promise.reject(Errors.forbidden('Access denied by the path ACL'));
      }
      audit(ex, 'success', { effectiveUser, reason: `path acl ${rule.param}` });
      return next();
    };
  },
};
