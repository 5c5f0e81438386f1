/**
 * @module kerberos/jaas
 * Reads a JAAS login configuration (Java's `ConfigFile` syntax) as Knox's `krb5JAASLogin.conf` writes it:
 *
 * ```
 * com.sun.security.jgss.initiate {
 *     com.sun.security.auth.module.Krb5LoginModule required
 *     renewTGT=false doNotPrompt=true useKeyTab=true
 *     keyTab="/etc/knox/conf/knox.service.keytab"
 *     principal="knox/host.example.com@EXAMPLE.COM"
 *     storeKey=true useTicketCache=false;
 * };
 * ```
 *
 * Entries are `name { module flag key=value … ; … };`, with `//` and `/* … *\/` comments and values quoted or
 * bare. postern uses the entry Knox's dispatch logs in with (`com.sun.security.jgss.initiate`, or Java's
 * krb5-specific `com.sun.security.jgss.krb5.initiate`): its `Krb5LoginModule`'s `keyTab` and `principal`. Anything
 * postern cannot honour (a ticket cache instead of a keytab, another login module) is an error at its
 * file:line:column; an option postern does not need is a warning there.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, type DiagnosticSink, type Position } from '../config/diagnostics.ts';

/** The JAAS entries Knox's SPNEGO client logs in with, in the order Java's GSS looks for them. */
export const INITIATE_ENTRIES = ['com.sun.security.jgss.initiate', 'com.sun.security.jgss.krb5.initiate'];
export const KRB5_LOGIN_MODULE = 'com.sun.security.auth.module.Krb5LoginModule';

export interface JaasOption {
  readonly value: string;
  readonly pos: Position;
}

export interface JaasModule {
  readonly className: string;
  readonly flag: string;
  readonly options: ReadonlyMap<string, JaasOption>;
  readonly pos: Position;
}

export interface JaasEntry {
  readonly name: string;
  readonly modules: readonly JaasModule[];
  readonly pos: Position;
}

/** What the gateway logs in with: a principal and the keytab holding its keys. */
export interface KerberosLogin {
  readonly principal: string;
  readonly keytab: string;
  /** Where each came from, for errors about them (the keytab does not hold the principal). */
  readonly principalPos: Position;
  readonly keytabPos: Position;
}

const FLAGS = new Set(['required', 'requisite', 'sufficient', 'optional']);
/** Krb5LoginModule's options that say nothing postern needs to act on (Java's own switches). */
const HARMLESS = new Set([
  'storeKey',
  'doNotPrompt',
  'renewTGT',
  'debug',
  'isInitiator',
  'refreshKrb5Config',
  'clearPass',
  'tryFirstPass',
  'useFirstPass',
  'storePass',
]);

interface Token {
  kind: 'word' | 'string' | 'punct';
  text: string;
  pos: Position;
}

function tokenize(source: string, file: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (at: number): Position => ({ file, line, column: at - lineStart + 1 });
  while (i < source.length) {
    const c = source[i];
    if (c === '\n') {
      line++;
      i++;
      lineStart = i;
    } else if (/\s/.test(c)) i++;
    else if (source.startsWith('//', i) || c === '#') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (source.startsWith('/*', i)) {
      const start = pos(i);
      const end = source.indexOf('*/', i + 2);
      if (end < 0) throw ConfigError.at(start, 'comment is not closed (no */)');
      for (let j = i; j < end; j++) {
        if (source[j] === '\n') {
          line++;
          lineStart = j + 1;
        }
      }
      i = end + 2;
    } else if ('{};='.includes(c)) {
      tokens.push({ kind: 'punct', text: c, pos: pos(i) });
      i++;
    } else if (c === '"' || c === "'") {
      const start = pos(i);
      const end = source.indexOf(c, i + 1);
      const nl = source.indexOf('\n', i + 1);
      if (end < 0 || (nl >= 0 && nl < end)) throw ConfigError.at(start, `string is not closed (no ${c})`);
      tokens.push({ kind: 'string', text: source.slice(i + 1, end), pos: start });
      i = end + 1;
    } else {
      const start = i;
      while (i < source.length && !/[\s{};="']/.test(source[i])) i++;
      tokens.push({ kind: 'word', text: source.slice(start, i), pos: pos(start) });
    }
  }
  return tokens;
}

/** Parses JAAS configuration text; throws a ConfigError at the first thing it cannot read. */
export function parseJaas(source: string, file: string): JaasEntry[] {
  const tokens = tokenize(source, file);
  const entries: JaasEntry[] = [];
  let i = 0;
  const eof: Position = tokens.at(-1)?.pos ?? { file, line: 1, column: 1 };
  const next = (what: string): Token => {
    const t = tokens[i++];
    if (!t) throw ConfigError.at(eof, `the file ends where ${what} was expected`);
    return t;
  };
  const expect = (text: string, what: string): Token => {
    const t = next(what);
    if (t.text !== text || t.kind !== 'punct')
      throw ConfigError.at(t.pos, `expected ${what}, found "${t.text}"`);
    return t;
  };
  while (i < tokens.length) {
    const name = next('an entry name');
    if (name.kind === 'punct') throw ConfigError.at(name.pos, `expected an entry name, found "${name.text}"`);
    expect('{', `"{" after the entry name ${name.text}`);
    const modules: JaasModule[] = [];
    for (;;) {
      const t = next('a login module or "}"');
      if (t.kind === 'punct' && t.text === '}') break;
      if (t.kind === 'punct') throw ConfigError.at(t.pos, `expected a login module class, found "${t.text}"`);
      const flag = next('a control flag');
      if (!FLAGS.has(flag.text.toLowerCase())) {
        throw ConfigError.at(
          flag.pos,
          `expected a control flag (required, requisite, sufficient or optional), found "${flag.text}"`,
        );
      }
      const options = new Map<string, JaasOption>();
      for (;;) {
        const key = next('an option or ";"');
        if (key.kind === 'punct' && key.text === ';') break;
        if (key.kind !== 'word')
          throw ConfigError.at(key.pos, `expected an option name, found "${key.text}"`);
        expect('=', `"=" after ${key.text}`);
        const value = next(`the value of ${key.text}`);
        if (value.kind === 'punct')
          throw ConfigError.at(value.pos, `expected the value of ${key.text}, found "${value.text}"`);
        if (options.has(key.text)) throw ConfigError.at(key.pos, `${key.text} is given twice`);
        options.set(key.text, { value: value.text, pos: value.pos });
      }
      modules.push({ className: t.text, flag: flag.text.toLowerCase(), options, pos: t.pos });
    }
    expect(';', `";" after the "}" of ${name.text}`);
    entries.push({ name: name.text, modules, pos: name.pos });
  }
  return entries;
}

/**
 * The gateway's login from the JAAS file `file` (gateway-site's `java.security.auth.login.config`): the keytab and
 * principal of its initiate entry. Problems go to `sink` at their position; undefined when there is an error.
 * A relative `keyTab` is resolved against the JAAS file's directory.
 */
export function readKerberosLogin(
  file: string,
  sink: DiagnosticSink,
  settingPos: Position,
): KerberosLogin | undefined {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    sink.error(
      settingPos,
      `java.security.auth.login.config: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
    return undefined;
  }
  let entries: JaasEntry[];
  try {
    entries = parseJaas(source, file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const d of err.diagnostics) sink.error(d, d.message);
    return undefined;
  }
  const entry = INITIATE_ENTRIES.map((n) => entries.find((e) => e.name === n)).find((e) => e !== undefined);
  if (!entry) {
    sink.error(
      { file, line: 1, column: 1 },
      `no ${INITIATE_ENTRIES[0]} entry: the gateway's SPNEGO client logs in with it (entries found: ${entries.map((e) => e.name).join(', ') || 'none'})`,
    );
    return undefined;
  }
  const module = entry.modules.find((m) => m.className === KRB5_LOGIN_MODULE);
  if (!module) {
    sink.error(entry.pos, `${entry.name}: postern understands only ${KRB5_LOGIN_MODULE} here`);
    return undefined;
  }
  for (const other of entry.modules) {
    if (other !== module)
      sink.warn(other.pos, `${other.className} is ignored: postern logs in with ${KRB5_LOGIN_MODULE}`);
  }
  const opt = (k: string) => module.options.get(k);
  let ok = true;
  const useKeyTab = opt('useKeyTab');
  if (useKeyTab?.value.toLowerCase() !== 'true') {
    sink.error(
      useKeyTab?.pos ?? module.pos,
      'useKeyTab must be true: postern logs in from a keytab (keyTab and principal), never a ticket cache or a password',
    );
    ok = false;
  }
  const useTicketCache = opt('useTicketCache');
  if (useTicketCache?.value.toLowerCase() === 'true') {
    sink.error(
      useTicketCache.pos,
      'useTicketCache=true is not supported: postern keeps its tickets in a private cache filled from the keytab',
    );
    ok = false;
  }
  const keyTab = opt('keyTab');
  const principal = opt('principal');
  if (!keyTab || keyTab.value.trim() === '') {
    sink.error(keyTab?.pos ?? module.pos, `${entry.name}: keyTab is missing`);
    ok = false;
  }
  if (!principal || principal.value.trim() === '' || principal.value.includes('*')) {
    sink.error(
      principal?.pos ?? module.pos,
      `${entry.name}: principal is missing${principal?.value.includes('*') ? ' (a * names no one principal)' : ''}`,
    );
    ok = false;
  }
  for (const [k, v] of module.options) {
    if (!HARMLESS.has(k) && !['useKeyTab', 'useTicketCache', 'keyTab', 'principal'].includes(k)) {
      sink.warn(v.pos, `${k} is not understood by postern and is ignored`);
    }
  }
  if (!ok || !keyTab || !principal) return undefined;
  return {
    principal: principal.value.trim(),
    keytab: resolve(file, '..', keyTab.value.trim()),
    principalPos: principal.pos,
    keytabPos: keyTab.pos,
  };
}
