/**
 * @module providers/authentication/shiro/urls
 * Shiro's `[urls]` section as Knox flattens it into params: `urls./**=authcBasic`, `urls./public/**=anon`. The
 * key is an Ant-style path pattern (`?` one character, `*` any characters within a segment, `**` any number of
 * segments), matched as Shiro does against the path within the web application, which for Knox is the path below
 * `/{gateway.path}/{topology}` (`/webhdfs/v1/tmp`). Definitions are tried in the order they are written and the
 * first match decides.
 *
 * Filters understood in a definition (comma-separated): `anon` (no authentication, the user is `anonymous`),
 * `authcBasic` (HTTP Basic against the realms, or the session cookie), `noSessionCreation` (authenticate but create
 * no session), `roles[a,b]` (the user must be in every listed group, else 403). A path that no definition matches
 * needs authentication (`authcBasic`); Shiro would let it through unauthenticated, which is never what a gateway
 * wants.
 */

export interface UrlRule {
  /** The pattern as written (for diagnostics). */
  readonly pattern: string;
  readonly matches: (path: string) => boolean;
  readonly anon: boolean;
  readonly noSessionCreation: boolean;
  /** Groups the user must all have (`roles[...]`). */
  readonly roles: readonly string[];
}

/** What a path with no matching `urls.*` definition gets. */
export const DEFAULT_RULE: UrlRule = {
  pattern: '/**',
  matches: () => true,
  anon: false,
  noSessionCreation: false,
  roles: [],
};

function segmentRegex(segment: string): RegExp {
  const body = segment
    .split('')
    .map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

/** Compiles an Ant path pattern into a matcher over paths that start with `/`. */
export function antMatcher(pattern: string): (path: string) => boolean {
  const normalized = pattern.startsWith('/') ? pattern : `/${pattern}`;
  const parts = normalized
    .split('/')
    .slice(1)
    .map((seg) => (seg === '**' ? ('**' as const) : segmentRegex(seg)));
  const match = (p: number, segs: readonly string[], s: number): boolean => {
    for (; p < parts.length; p++) {
      const part = parts[p];
      if (part === '**') {
        if (p === parts.length - 1) return true;
        for (let k = s; k <= segs.length; k++) if (match(p + 1, segs, k)) return true;
        return false;
      }
      if (s >= segs.length || !part.test(segs[s])) return false;
      s++;
    }
    return s === segs.length;
  };
  return (path) => match(0, path.split('/').slice(1), 0);
}

/** Splits a filter chain definition on the commas outside brackets: `roles[a,b], authcBasic`. */
function splitDefinition(definition: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of definition) {
    if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
    if (c === ',' && depth === 0) {
      items.push(current.trim());
      current = '';
    } else current += c;
  }
  items.push(current.trim());
  return items.filter(Boolean);
}

/**
 * Parses one `urls.<pattern>` definition.
 * @returns the rule, or an error message naming what is not supported
 */
export function parseUrlRule(pattern: string, definition: string): UrlRule | string {
  let anon = false;
  let authc = false;
  let noSessionCreation = false;
  const roles: string[] = [];
  for (const item of splitDefinition(definition)) {
    const m = /^([A-Za-z]+)\s*(?:\[(.*)\])?$/.exec(item);
    const name = m?.[1];
    const arg = m?.[2];
    if (name === 'anon' && arg === undefined) anon = true;
    else if (name === 'authcBasic' && arg === undefined) authc = true;
    else if (name === 'noSessionCreation' && arg === undefined) noSessionCreation = true;
    else if (name === 'roles' && arg !== undefined) {
      roles.push(
        ...arg
          .split(',')
          .map((r) => r.trim().replace(/^"|"$/g, ''))
          .filter(Boolean),
      );
    } else {
      return `"${item}" is not supported (postern understands anon, authcBasic, noSessionCreation and roles[...])`;
    }
  }
  if (anon && (authc || roles.length > 0)) return '"anon" cannot be combined with authcBasic or roles[...]';
  if (!anon && !authc && roles.length === 0 && !noSessionCreation) return 'the definition is empty';
  return { pattern, matches: antMatcher(pattern), anon, noSessionCreation, roles };
}
