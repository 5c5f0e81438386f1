/**
 * @module providers/identity-assertion/no-impersonation
 * Knox's `NoImpersonationProvider` (module `no-doas`; its earlier name `NoDoAsProvider` is accepted too): the
 * identity is mapped as Default maps it (`ex.effectiveUser`, `ex.effectiveGroups`, for authorization and for the
 * dispatch's actor headers), the client's impersonation parameters are still removed, but no `doAs` or
 * `user.name` is added: for backends that authenticate the user themselves.
 */
import { defineIdentityAssertion } from './common.ts';

export const noImpersonationIdentityAssertion = defineIdentityAssertion('NoImpersonationProvider', () => ({
  assertToBackend: false,
}));

export const noDoAsIdentityAssertion = defineIdentityAssertion('NoDoAsProvider', () => ({
  assertToBackend: false,
}));
