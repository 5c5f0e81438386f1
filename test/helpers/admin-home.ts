/**
 * The admin side of a test home, as the console and admin API tests need it: `conf/users.yaml` with the given
 * users (each password `{name}-password`, hashed cheaply: ln=10) and the sample home's admin topology as shipped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/gateway/gateway.ts';
import { hashPassword } from '../../src/providers/authentication/shiro/password-hash.ts';
import type { TestHome } from './home.ts';

/** Writes the users (name → groups, in order) and `conf/topologies/admin.xml`. */
export async function writeAdminHome(
  home: TestHome,
  users: Record<string, readonly string[]>,
): Promise<void> {
  let yaml = 'users:\n';
  for (const [name, groups] of Object.entries(users)) {
    const hash = await hashPassword(`${name}-password`, { ln: 10, r: 8, p: 1 });
    yaml += `  ${name}:\n    password: "${hash}"\n    groups: [${groups.join(', ')}]\n`;
  }
  home.write('conf/users.yaml', yaml);
  home.write('conf/topologies/admin.xml', readFileSync(join(REPO_ROOT, 'conf/topologies/admin.xml'), 'utf8'));
}
