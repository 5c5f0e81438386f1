/**
 * @module kerberos/krb5-conf
 * Reads MIT krb5.conf (its profile format: `[section]` headers, `name = value` relations, `name = { … }` blocks,
 * `#` and `;` comments, `include`/`includedir`/`module` directives) far enough to check that it parses and to
 * find `[libdefaults] default_realm`, without contacting a KDC. A file that does not parse is an Error whose
 * message starts with `file:line:column:`.
 */
import { readFileSync } from 'node:fs';

export interface Krb5Conf {
  /** `[libdefaults] default_realm`, when set. */
  readonly defaultRealm?: string;
  /** The sections, by name. */
  readonly sections: ReadonlySet<string>;
}

export function parseKrb5Conf(text: string, file: string): Krb5Conf {
  /** The lines (0-based) of the `{` of the blocks open now. */
  const open: number[] = [];
  let section: string | undefined;
  let defaultRealm: string | undefined;
  const sections = new Set<string>();
  const lines = text.split('\n');
  const fail = (i: number, message: string) => new Error(`${file}:${i + 1}:1: ${message}`);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (/^(include|includedir|module)\s/.test(line)) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      if (open.length > 0) throw fail(i, `[${header[1]}] starts inside a { … } block`);
      section = header[1].trim();
      sections.add(section);
      continue;
    }
    if (section === undefined) throw fail(i, 'a relation before any [section]');
    if (line === '}') {
      if (open.length === 0) throw fail(i, '"}" closes nothing');
      open.pop();
      continue;
    }
    const relation = /^([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!relation) throw fail(i, `expected name = value, found "${line}"`);
    if (relation[2] === '{') open.push(i);
    else if (open.length === 0 && section === 'libdefaults' && relation[1] === 'default_realm') {
      defaultRealm = relation[2].trim();
    }
  }
  if (open.length > 0) throw fail(open[open.length - 1], 'the { … } block opened here is not closed');
  return { defaultRealm, sections };
}

/** Reads and parses a krb5.conf file; throws (the system's reason, or where it does not parse). */
export function readKrb5Conf(file: string): Krb5Conf {
  return parseKrb5Conf(readFileSync(file, 'utf8'), file);
}

/** The krb5.conf MIT's library reads: gateway-site's, else `KRB5_CONFIG`'s first file, else /etc/krb5.conf. */
export function krb5ConfPath(configured: string | undefined): string {
  return configured ?? process.env.KRB5_CONFIG?.split(':')[0] ?? '/etc/krb5.conf';
}
