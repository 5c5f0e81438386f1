/**
 * @module providers/identity-assertion/default
 * Knox's `Default` identity assertion (also registered under its legacy name `Pseudo`): the common behaviour
 * alone (see ./common.ts): proxy-user impersonation, `principal.mapping`, `expression.principal.mapping`,
 * `group.principal.mapping`, `group.mapping.{group}`, and the effective user sent as `user.name` (or `doAs` on a
 * Kerberos-secured cluster). A request that reaches it without an authenticated user is refused (401).
 *
 * Besides Knox's params, `user.name.param` (postern) names the query parameter that carries the user on a
 * cluster that is not Kerberos-secured (default `user.name`).
 */
import { defineIdentityAssertion } from './common.ts';

export const defaultIdentityAssertion = defineIdentityAssertion('Default');

/** Knox's former name of Default, still accepted in topologies. */
export const pseudoIdentityAssertion = defineIdentityAssertion('Pseudo');
