/**
 * @module cli/knox-cli-auth
 * knoxcli's `user-auth-test` and `system-user-auth-test`: a real login (LDAP bind, or the file realm) with the
 * topology's ShiroProvider configuration, its aliases resolved as a deployment resolves them, with Knox's output:
 *
 *   user-auth-test [--cluster T] [--u USER] [--p PASS] [--g]   "LDAP authentication successful!" (and the groups)
 *   system-user-auth-test [--cluster T] [--d]                   "System LDAP Bind successful."
 *
 * The password is read from standard input (or a prompt without echo) unless `--p` gives it.
 */
import { AliasResolver, readMasterSecret } from '../config/aliases.ts';
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadHome } from '../gateway/gateway.ts';
import { openShiroRealms, type StandaloneShiro } from '../providers/authentication/shiro/standalone.ts';
import { readHomeTopologies } from './check.ts';
import { CliError, type Io, readSecret } from './knox-cli-io.ts';

async function shiroOf(home: string, cluster: string | undefined, io: Io): Promise<StandaloneShiro> {
  if (!cluster) throw new CliError('give the topology with --cluster NAME');
  const { layout, settings } = await loadHome(home);
  const topology = readHomeTopologies(layout).topologies.find((t) => t.name === cluster);
  if (!topology) throw new CliError(`Topology ${cluster} does not exist in the topologies directory.`);
  const master = readMasterSecret(layout.home) ?? new Uint8Array(32);
  const aliases = new AliasResolver(layout.home, readMasterSecret(layout.home), cluster);
  const shiro = openShiroRealms(topology, {
    settings,
    home: layout.home,
    masterSecret: master,
    secret: (value) => aliases.resolve(value),
  });
  if (!shiro) {
    throw new CliError(
      'ERR: This tool currently only works with Shiro as the authentication provider. Please update the topology to use "ShiroProvider" as the authentication provider.',
    );
  }
  for (const d of shiro.diagnostics.items) io.stderr.write(`${formatDiagnostic(d)}\n`);
  if (!shiro.config) {
    await shiro.close();
    throw new CliError(`the ShiroProvider of ${cluster} has configuration errors (above)`);
  }
  return shiro;
}

export async function userAuthTest(
  home: string,
  options: { cluster?: string; u?: string; p?: string; g?: boolean },
  io: Io,
): Promise<number> {
  const shiro = await shiroOf(home, options.cluster, io);
  try {
    const username = options.u ?? (await readSecret(io, 'Username: '));
    if (options.p !== undefined) {
      io.stderr.write(
        'postern cli: warning: --p puts the password on the command line, where other users may see it; pipe it on standard input instead\n',
      );
    }
    const password = options.p ?? (await readSecret(io, 'Password: '));
    for (const realm of shiro.config!.realms) {
      const user = await realm.authenticate(username, password);
      if (!user) continue;
      io.stdout.write('LDAP authentication successful!\n');
      if (options.g) {
        if (user.groups.length === 0) io.stdout.write(`${username} does not belong to any groups\n`);
        else io.stdout.write(`${username} is a member of: ${user.groups.join(', ')}\n`);
      }
      return 0;
    }
    io.stdout.write(`ERR: Unable to authenticate user: ${username}\n`);
    return 1;
  } catch (err) {
    throw new CliError((err as Error).message);
  } finally {
    await shiro.close();
  }
}

export async function systemUserAuthTest(
  home: string,
  options: { cluster?: string; d?: boolean },
  io: Io,
): Promise<number> {
  const shiro = await shiroOf(home, options.cluster, io);
  try {
    const realms = shiro.config!.realms.filter((r) => r.checkSystemUser);
    if (realms.length === 0) throw new CliError('the topology has no LDAP realm');
    for (const realm of realms) {
      try {
        await realm.checkSystemUser!();
      } catch (err) {
        if (options.d) io.stdout.write(`${(err as Error).message}\n`);
        io.stdout.write(
          'Unable to successfully bind to LDAP server with topology credentials. Are your parameters correct?\n',
        );
        return 1;
      }
    }
    io.stdout.write('System LDAP Bind successful.\n');
    return 0;
  } finally {
    await shiro.close();
  }
}
