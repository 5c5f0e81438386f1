/**
 * @module providers/authentication/shiro/file-realm
 * postern's `postern.FileRealm`: users, password hashes and groups in a YAML file (`main.<realm>.usersFile`,
 * relative to the gateway home), for small installations and demos without a directory:
 *
 * ```yaml
 * users:
 *   alice:
 *     password: "scrypt$ln=15,r=8,p=1$...$..."   # made by `postern hash-password`
 *     groups: [analyst, admin]
 * ```
 *
 * Only scrypt hashes are accepted (see password-hash.ts): a plain-text password stops the deployment with an
 * error at its line in the file, which never repeats the value. An unknown user costs the same scrypt work as a
 * known one, so timing does not tell which names exist. The file is read at deployment, and again whenever it
 * changes or the gateway gets SIGHUP (GatewayHandle.watchFile): the new users replace the old ones at once and
 * whole, and the provider forgets the cached logins and the sessions of every user whose entry changed; a file
 * that no longer reads keeps the previous users, each problem logged at its `file:line:column`.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { DiagnosticSink, type Position } from '../../../config/diagnostics.ts';
import { parseYaml } from '../../../config/yaml.ts';
import type { FileReload, Principal } from '../../../spi/index.ts';
import { DECOY_HASH, parsePasswordHash, verifyPassword } from './password-hash.ts';
import type { Realm } from './realm.ts';

export interface FileUser {
  hash: NonNullable<ReturnType<typeof parsePasswordHash>>;
  groups: readonly string[];
}

// The password is `unknown` on purpose: a schema error message would otherwise quote a plain-text value.
const UsersFile = z.object({
  users: z.record(
    z.string(),
    z.object({ password: z.unknown(), groups: z.array(z.string()).optional() }).strict(),
  ),
});

/**
 * Reads a users file; each problem is reported at its place in the file.
 * @param at where the param naming the file is written (for a file that cannot be read)
 */
export function loadUsersFile(
  path: string,
  home: string,
  sink: DiagnosticSink,
  at: Position,
  param: string,
): Map<string, FileUser> | undefined {
  const file = isAbsolute(path) ? path : resolve(home, path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    sink.error(at, `${param}: cannot read users file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    return undefined;
  }
  const source = parseYaml(text, file, sink);
  const data = source?.validate(UsersFile, sink);
  if (!source || !data) return undefined;
  const users = new Map<string, FileUser>();
  let ok = true;
  for (const [name, entry] of Object.entries(data.users)) {
    const hash = typeof entry.password === 'string' ? parsePasswordHash(entry.password) : undefined;
    if (!hash) {
      ok = false;
      sink.error(
        source.locate(['users', name, 'password']),
        `user "${name}": the password must be a scrypt hash (scrypt$ln=..,r=..,p=..$salt$key); plain-text ` +
          'passwords are refused. Make one with: npx postern hash-password',
      );
      continue;
    }
    users.set(name, { hash, groups: entry.groups ?? [] });
  }
  return ok ? users : undefined;
}

export class FileRealm implements Realm {
  readonly name: string;
  readonly cachingEnabled: boolean;
  readonly hashesLocally = true;
  /** Replaced whole by {@link reload}: a login sees the old users or the new ones, never a mix. */
  #users: ReadonlyMap<string, FileUser>;
  readonly #source?: { path: string; home: string; at: Position; param: string };
  readonly #listeners: ((changed: ReadonlySet<string>) => void)[] = [];

  constructor(
    name: string,
    users: ReadonlyMap<string, FileUser>,
    cachingEnabled: boolean,
    source?: { path: string; home: string; at: Position; param: string },
  ) {
    this.name = name;
    this.#users = users;
    this.cachingEnabled = cachingEnabled;
    this.#source = source;
  }

  /** The users file, absolute (undefined for a realm made from a map). */
  get file(): string | undefined {
    const s = this.#source;
    return s && (isAbsolute(s.path) ? s.path : resolve(s.home, s.path));
  }

  /** Realm.onChange: called with the names whose entry was added, removed or changed by a reload. */
  onChange(listener: (changed: ReadonlySet<string>) => void): void {
    this.#listeners.push(listener);
  }

  /** Rereads the users file; on any error the previous users stay. */
  reload(): FileReload {
    const s = this.#source;
    if (!s) return { ok: false, diagnostics: [], summary: 'no users file' };
    const sink = new DiagnosticSink();
    const users = loadUsersFile(s.path, s.home, sink, s.at, s.param);
    if (!users) {
      return {
        ok: false,
        diagnostics: sink.items,
        summary: `it has errors; realm ${this.name} keeps its ${this.#users.size} previous user(s)`,
      };
    }
    const changed = new Set<string>();
    for (const [name, user] of this.#users) {
      const next = users.get(name);
      if (!next || !sameUser(user, next)) changed.add(name);
    }
    for (const name of users.keys()) if (!this.#users.has(name)) changed.add(name);
    this.#users = users;
    for (const listener of this.#listeners) listener(changed);
    return {
      ok: true,
      diagnostics: sink.items,
      summary: `realm ${this.name} has ${users.size} user(s); ${changed.size} changed${
        changed.size > 0 ? ` (${[...changed].sort().join(', ')})` : ''
      }`,
    };
  }

  async authenticate(username: string, password: string): Promise<Principal | undefined> {
    const user = this.#users.get(username);
    const ok = await verifyPassword(password, user?.hash ?? DECOY_HASH);
    return user && ok ? { name: username, groups: user.groups } : undefined;
  }

  close(): void {}
}

function sameUser(a: FileUser, b: FileUser): boolean {
  return (
    JSON.stringify(a.hash) === JSON.stringify(b.hash) &&
    a.groups.length === b.groups.length &&
    a.groups.every((g, i) => g === b.groups[i])
  );
}
