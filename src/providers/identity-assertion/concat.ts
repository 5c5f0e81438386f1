/**
 * @module providers/identity-assertion/concat
 * Knox's `Concat` identity assertion: the user becomes `concat.prefix` + user + `concat.suffix` (each default
 * empty), after proxy-user impersonation and `principal.mapping`. Groups are left as they are (Knox has no group
 * variant).
 */
import { defineIdentityAssertion } from './common.ts';

export const concatIdentityAssertion = defineIdentityAssertion('Concat', (_ctx, params) => {
  const prefix = params.get('concat.prefix') ?? '';
  const suffix = params.get('concat.suffix') ?? '';
  if (!prefix && !suffix) params.warn(undefined, 'neither concat.prefix nor concat.suffix is set');
  return {
    ownParams: ['concat.prefix', 'concat.suffix'],
    mapUser: (name) => `${prefix}${name}${suffix}`,
  };
});
