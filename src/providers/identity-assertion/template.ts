/**
 * @module providers/identity-assertion/template
 * Knox's regular-expression template (`RegexTemplate`), shared by the `Regex` identity assertion and the
 * `regex-template` function of the expression language: the input regex is searched in the name (not anchored,
 * as Java's `Matcher.find`), then `{n}` in the output is replaced by group n and `{[n]}` by the lookup table's
 * value for group n (keys compare case-insensitively, as Knox's `TreeMap(CASE_INSENSITIVE_ORDER)`). A missing
 * lookup gives '' or, with `use.original.on.lookup.failure`, the group text itself.
 *
 * Two deliberate differences from Knox: a name the regex does not match yields `undefined` (Knox returns the
 * unexpanded template text, e.g. the literal user `{1}_{[2]}`), and the output is expanded in one pass, so a
 * group value that itself contains `{1}` is not expanded again.
 */

export interface RegexTemplate {
  readonly groupCount: number;
  /** The expanded output, or undefined when the regex does not match the input. */
  apply(input: string): string | undefined;
}

const PLACEHOLDER = /\{(\[)?(\d+)(\])?\}/g;

/**
 * Parses Knox's lookup table `us=USA;ca=CANADA` (entries split on `;`, name and value trimmed).
 * @throws Error naming the entry that has no `=`.
 */
export function parseLookup(text: string | undefined): Map<string, string> {
  const table = new Map<string, string>();
  if (!text) return table;
  for (const entry of text.split(';')) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new Error(`lookup entry "${entry.trim()}" is not name=value`);
    table.set(entry.slice(0, eq).trim().toLowerCase(), entry.slice(eq + 1).trim());
  }
  return table;
}

/** The number of capturing groups of a regex. */
function groupCount(re: RegExp): number {
  return (new RegExp(`${re.source}|`).exec('')?.length ?? 1) - 1;
}

/**
 * Compiles a template.
 * @param lookup keys in lower case (as {@link parseLookup} returns them)
 * @throws Error when the regex is invalid or the output names a group the regex does not have.
 */
export function compileRegexTemplate(
  regex: string,
  output: string,
  lookup: ReadonlyMap<string, string>,
  useOriginalOnLookupFailure: boolean,
): RegexTemplate {
  let re: RegExp;
  try {
    re = new RegExp(regex);
  } catch (err) {
    throw new Error(`"${regex}" is not a valid regular expression: ${(err as Error).message}`);
  }
  const groups = groupCount(re);
  for (const m of output.matchAll(PLACEHOLDER)) {
    if ((m[1] === undefined) !== (m[3] === undefined)) {
      throw new Error(`"${m[0]}" in the output is neither {n} nor {[n]}`);
    }
    if (Number(m[2]) > groups) {
      throw new Error(`the output uses group ${m[2]} but the regex "${regex}" has ${groups} group(s)`);
    }
  }
  return {
    groupCount: groups,
    apply(input) {
      const match = re.exec(input);
      if (!match) return undefined;
      return output.replace(PLACEHOLDER, (_all, open: string | undefined, index: string) => {
        const value = match[Number(index)];
        if (open === undefined) return value ?? '';
        if (value === undefined) return '';
        return lookup.get(value.toLowerCase()) ?? (useOriginalOnLookupFailure ? value : '');
      });
    },
  };
}
