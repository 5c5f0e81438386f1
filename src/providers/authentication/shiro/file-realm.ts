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
 * known one, so timing does not tell which names exist. The file is read at deployment; a redeploy of the
 * topology reads it again.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { DiagnosticSink, Position } from '../../../config/diagnostics.ts';
import { parseYaml } from '../../../config/yaml.ts';
import type { Principal } from '../../../spi/index.ts';
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
          'passwords are refused. Make one with: postern hash-password',
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
  readonly #users: ReadonlyMap<string, FileUser>;

  constructor(name: string, users: ReadonlyMap<string, FileUser>, cachingEnabled: boolean) {
    this.name = name;
    this.#users = users;
    this.cachingEnabled = cachingEnabled;
  }

  async authenticate(username: string, password: string): Promise<Principal | undefined> {
    const user = this.#users.get(username);
    const ok = await verifyPassword(password, user?.hash ?? DECOY_HASH);
    return user && ok ? { name: username, groups: user.groups } : undefined;
  }

  close(): void {}
}
