/**
 * @module providers/identity-assertion/switch-case
 * Knox's `SwitchCase` identity assertion: `principal.case` (`lower`, `upper` or `none`; default `lower`) switches
 * the user name's case, `group.principal.case` (default: as `principal.case`) the groups'.
 *
 * Two differences from Knox: a value other than the three is a deployment error (Knox silently keeps the
 * default), and the switched groups replace the user's groups (Knox adds them, so `Admin` and `admin` would both
 * be present, which defeats the point for a backend that needs one case).
 */
import { defineIdentityAssertion } from './common.ts';

const CASES = new Set(['lower', 'upper', 'none']);

function switchCase(text: string, mode: string): string {
  return mode === 'upper' ? text.toUpperCase() : mode === 'lower' ? text.toLowerCase() : text;
}

export const switchCaseIdentityAssertion = defineIdentityAssertion('SwitchCase', (_ctx, params) => {
  const read = (name: string, fallback: string): string => {
    const value = params.get(name)?.trim().toLowerCase();
    if (value === undefined) return fallback;
    if (!CASES.has(value)) {
      params.error(name, `expected lower, upper or none, found "${params.get(name)}"`);
      return fallback;
    }
    return value;
  };
  const userCase = read('principal.case', 'lower');
  const groupCase = read('group.principal.case', userCase);
  return {
    ownParams: ['principal.case', 'group.principal.case'],
    mapUser: (name) => switchCase(name, userCase),
    mapGroups:
      groupCase === 'none' ? undefined : (_user, groups) => groups.map((g) => switchCase(g, groupCase)),
  };
});
