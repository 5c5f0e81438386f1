/**
 * @module kerberos/name-rules
 * Hadoop's `auth_to_local` rules (its `KerberosName`, `hadoop.security.auth_to_local` / HadoopAuth's
 * `kerberos.name.rules`): how a Kerberos principal becomes a short user name.
 *
 * - `DEFAULT`: a principal of the default realm becomes its first component (`alice@R` and `alice/host@R` →
 *   `alice`); a principal of another realm does not match.
 * - `RULE:[n:format](regex)s/pattern/replacement/g`: for a principal of `n` components, `format` is filled in
 *   (`$0` the realm, `$1`… the components), must match `regex` whole (when given), then the sed-like
 *   substitution applies (every match with `g`, else the first). A trailing `/L` lower-cases the result.
 *
 * The first rule that matches decides; none matching is an error, as is a result that still holds `@` or `/`
 * (Hadoop's default `hadoop` rule mechanism). Java and JavaScript regular expressions agree on what such rules
 * use (classes, groups, anchors, `$1` in replacements).
 */

export interface NameRule {
  readonly text: string;
  apply(realm: string, components: readonly string[], defaultRealm: string): string | undefined;
}

/** A name no rule maps, or that a rule maps to a name that is not simple. */
export class NoMatchingRule extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoMatchingRule';
  }
}

const RULE = /^\s*((DEFAULT)|(RULE:\[(\d*):([^\]]*)](\(([^)]*)\))?(s\/([^/]*)\/([^/]*)\/(g)?)?))\/?(L)?/;
const NON_SIMPLE = /[/@]/;

/** Parses a rules text (rules separated by white space or new lines); throws an Error naming what is wrong. */
export function parseNameRules(text: string): NameRule[] {
  const rules: NameRule[] = [];
  let rest = text.trim();
  while (rest.length > 0) {
    const m = RULE.exec(rest);
    if (!m) throw new Error(`invalid rule: ${rest.split(/\s/)[0]}`);
    const lower = m[12] === 'L';
    const ruleText = m[0].trim();
    if (m[2]) {
      rules.push({
        text: ruleText,
        apply: (realm, components, defaultRealm) => {
          const r = realm === defaultRealm ? components[0] : undefined;
          return r !== undefined && lower ? r.toLowerCase() : r;
        },
      });
    } else {
      const count = Number(m[4]);
      const format = m[5];
      let match: RegExp | undefined;
      let from: RegExp | undefined;
      try {
        match = m[7] === undefined ? undefined : new RegExp(`^(?:${m[7]})$`);
        from = m[9] === undefined ? undefined : new RegExp(m[9], m[11] === 'g' ? 'g' : '');
      } catch (err) {
        throw new Error(`invalid regular expression in ${ruleText}: ${(err as Error).message}`);
      }
      const to = m[10] ?? '';
      rules.push({
        text: ruleText,
        apply: (realm, components) => {
          if (components.length !== count) return undefined;
          const params = [realm, ...components];
          const base = format.replace(/\$(\d+)/g, (_all, i: string) => {
            const n = Number(i);
            if (n >= params.length) throw new NoMatchingRule(`index ${n} is out of range in ${ruleText}`);
            return params[n];
          });
          if (match && !match.test(base)) return undefined;
          const out = from ? base.replace(from, to) : base;
          if (NON_SIMPLE.test(out)) {
            throw new NoMatchingRule(`non-simple name ${out} after auth_to_local rule ${ruleText}`);
          }
          return lower ? out.toLowerCase() : out;
        },
      });
    }
    rest = rest.slice(m[0].length).trimStart();
  }
  return rules;
}

/** Splits `primary/instance@REALM` into its realm and components. */
export function splitPrincipal(principal: string): { realm: string; components: string[] } {
  const at = principal.lastIndexOf('@');
  const name = at < 0 ? principal : principal.slice(0, at);
  return { realm: at < 0 ? '' : principal.slice(at + 1), components: name.split('/') };
}

/** The short name of `principal` under `rules` (Hadoop's `KerberosName.getShortName`); throws NoMatchingRule. */
export function shortName(principal: string, rules: readonly NameRule[], defaultRealm: string): string {
  const { realm, components } = splitPrincipal(principal);
  // A name without a realm is already short (Hadoop returns its only component).
  if (realm === '' && components.length === 1) return components[0];
  for (const rule of rules) {
    const out = rule.apply(realm, components, defaultRealm);
    if (out !== undefined) return out;
  }
  throw new NoMatchingRule(`no rules applied to ${principal}`);
}
