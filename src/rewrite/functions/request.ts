/**
 * @module rewrite/functions/request
 * Functions that read the request being served: `$username` and `$inboundurl`.
 */
import type { RewriteFunction } from '../types.ts';

/**
 * `{$username}`: the effective user name (after identity assertion). Without a user the rule fails: Knox would
 * print the raw `{$username}` into the backend path (`/user/{$username}`).
 */
export const username: RewriteFunction = (_args, call) =>
  call.ctx.username ? [call.ctx.username] : undefined;

/**
 * `{$inboundurl[name]}`: in responses (OUT), the values of query parameter `name` of the inbound request (Knox's
 * `query.param.name`), decoded. Used to carry `?host=&port=` of a proxied UI page over to the links in it. In
 * requests (IN), and when the parameter is absent, there is nothing to insert.
 */
export const inboundurl: RewriteFunction = (args, call) => {
  if (args.length === 0 || call.dir === 'IN') return [];
  return call.resolve(`query.param.${args[0]}`) ?? [];
};
