/**
 * @module providers/identity-assertion/regex
 * Knox's `Regex` identity assertion: `input` (a regex searched in the user name), `output` (a template where
 * `{n}` is group n and `{[n]}` looks group n up in `lookup`), `lookup` (`us=USA;ca=CANADA`, keys compared
 * case-insensitively), `use.original.on.lookup.failure` (default false: a failed lookup gives ''). For example
 * input `(.*)@(.*?)\..*`, output `{1}_{[2]}` and that lookup turn `nobody@us.imaginary.tld` into `nobody_USA`.
 *
 * `input` and `output` are required, a regex that does not compile or an output naming a group the regex lacks is
 * a deployment error, and a user the regex does not match is refused (403) — Knox would assert the unexpanded
 * template text as the user.
 */
import { defineIdentityAssertion } from './common.ts';
import { compileRegexTemplate, parseLookup, type RegexTemplate } from './template.ts';

export const regexIdentityAssertion = defineIdentityAssertion('Regex', (_ctx, params) => {
  const input = params.get('input');
  const output = params.get('output');
  if (!input) params.error(undefined, 'the input regex is required');
  if (!output) params.error(undefined, 'the output template is required');
  let lookup = new Map<string, string>();
  try {
    lookup = parseLookup(params.get('lookup'));
  } catch (err) {
    params.error('lookup', (err as Error).message);
  }
  const useOriginal = params.boolean('use.original.on.lookup.failure', false);
  let template: RegexTemplate | undefined;
  if (input && output) {
    try {
      template = compileRegexTemplate(input, output, lookup, useOriginal);
    } catch (err) {
      params.error((err as Error).message.includes('output') ? 'output' : 'input', (err as Error).message);
    }
  }
  return {
    ownParams: ['input', 'output', 'lookup', 'use.original.on.lookup.failure'],
    mapUser: (name) => template?.apply(name),
  };
});
