/**
 * @module cli/knox-cli
 * `postern cli …`: Knox's `knoxcli.sh` commands with Knox's names and options, so a Knox runbook translates word
 * for word (`bin/knoxcli.sh create-alias ldcSystemPassword --cluster sandbox --value …` →
 * `postern cli create-alias ldcSystemPassword --cluster sandbox --value …`):
 *
 *   create-master [--master PW | --generate] [--force]   make data/security/master.secret
 *   create-alias NAME [--cluster T] [--value V | --generate]   store a secret (T: a topology; default __gateway)
 *   list-alias [--cluster T]                       the aliases of a store
 *   delete-alias NAME [--cluster T]                remove one
 *   create-cert, export-cert                       the gateway's certificate (knox-cli-cert.ts)
 *   list-topologies, validate-topology, redeploy   topologies (knox-cli-topologies.ts)
 *   user-auth-test, system-user-auth-test          a login with a topology's ShiroProvider (knox-cli-auth.ts)
 *   import-knox-master FILE                        Knox's data/security/master: its password becomes the aliases Knox
 *                                                  falls back to it for (keystore, key, truststores), where unset
 *   kerberos-test [--service-host HOST]            the gateway's Kerberos login as a dry run (cli/kerberos-test)
 *
 * A secret is read from standard input (a pipe, or typed at a terminal without echo) unless `--value` gives it on
 * the command line, which other users of the machine may see (`ps`): postern then warns. `--generate` makes a
 * random one, as Knox does. Every failure is one line on stderr and a non-zero exit. The stores are described in
 * deploy/aliases.ts and docs/aliases.md.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { CredentialStore, GATEWAY_CLUSTER, keystoresDir, masterSecretFile } from '../config/aliases.ts';
import { readKnoxMaster } from '../config/knox-master.ts';
import { loadOrCreateMasterSecret } from '../deploy/secrets.ts';
import { loadHome, REPO_ROOT } from '../gateway/gateway.ts';
import { kerberosTest } from './kerberos-test.ts';
import { systemUserAuthTest, userAuthTest } from './knox-cli-auth.ts';
import { createCert, exportCert } from './knox-cli-cert.ts';
import { CliError, type Io, readSecret } from './knox-cli-io.ts';
import { listTopologies, redeploy, validateTopology } from './knox-cli-topologies.ts';

const USAGE = `usage: postern cli <command> [options]   (Knox's knoxcli commands)

  create-master [--master PW | --generate] [--force]
  create-alias NAME [--cluster TOPOLOGY] [--value V | --generate]
  list-alias [--cluster TOPOLOGY]
  delete-alias NAME [--cluster TOPOLOGY]
  create-cert [--hostname H] [--force]
  export-cert [--type PEM|JKS|PKCS12]
  list-topologies
  validate-topology [--cluster TOPOLOGY | --path FILE]
  redeploy [--cluster TOPOLOGY]
  user-auth-test --cluster TOPOLOGY [--u USER] [--p PASSWORD] [--g]
  system-user-auth-test --cluster TOPOLOGY [--d]
  import-knox-master FILE
  kerberos-test [--service-host HOST]   log in from the JAAS file's keytab and get a ticket for HTTP/HOST

options: --home DIR (default $POSTERN_HOME, $GATEWAY_HOME, or the repository's sample home)
Without --value, --master or --generate the secret is read from standard input.
`;

/** A random secret, as Knox's `--generate` (printable, 32 bytes of randomness). */
const generated = () => randomBytes(32).toString('base64url');

/**
 * A master secret from a password: scrypt (N=2^15, r=8, p=1) with a fixed salt, so the same password gives the
 * same secret again (as Knox's master password unlocks the same stores).
 */
function secretFromPassword(password: string): Buffer {
  return scryptSync(password, 'postern master secret/1', 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 << 20 });
}

export async function runKnoxCli(argv: string[], io: Io = process): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.stderr.write(`postern cli: ${(err as Error).message}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, name, ...extra] = positionals;
  if (values.help || !command) {
    io.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const home = values.home ?? process.env.POSTERN_HOME ?? process.env.GATEWAY_HOME ?? REPO_ROOT;
  const cluster = values.cluster ?? GATEWAY_CLUSTER;
  try {
    if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`);
    if (values.value !== undefined && values.generate)
      throw new CliError('give --value or --generate, not both');
    switch (command) {
      case 'create-master':
        return await createMaster(home, values, io);
      case 'create-alias': {
        if (!name) throw new CliError('create-alias needs the alias name');
        if (values.value !== undefined) {
          io.stderr.write(
            'postern cli: warning: --value puts the secret on the command line, where other users may see it; pipe it on standard input instead\n',
          );
        }
        const value =
          values.value ?? (values.generate ? generated() : await readSecret(io, `Value of ${name}: `));
        if (value === '') throw new CliError('the value is empty');
        store(home, cluster).set(name, value);
        io.stdout.write(`${name} has been successfully created.\n`);
        return 0;
      }
      case 'list-alias': {
        if (name) throw new CliError(`unexpected argument "${name}"`);
        io.stdout.write(`Listing aliases for: ${cluster}\n`);
        for (const alias of store(home, cluster).list()) io.stdout.write(`${alias}\n`);
        return 0;
      }
      case 'delete-alias': {
        if (!name) throw new CliError('delete-alias needs the alias name');
        if (!store(home, cluster).delete(name))
          throw new CliError(`alias ${name} does not exist in ${cluster}`);
        io.stdout.write(`${name} has been successfully deleted.\n`);
        return 0;
      }
      case 'create-cert':
        return await createCert(home, { hostname: values.hostname, force: values.force }, io);
      case 'export-cert':
        return await exportCert(home, values.type, io);
      case 'list-topologies':
        return await listTopologies(home, io);
      case 'validate-topology':
        return await validateTopology(home, { cluster: values.cluster, path: values.path }, io);
      case 'redeploy':
        return await redeploy(home, values.cluster, io);
      case 'user-auth-test':
        return await userAuthTest(
          home,
          { cluster: values.cluster, u: values.u, p: values.p, g: values.g },
          io,
        );
      case 'system-user-auth-test':
        return await systemUserAuthTest(home, { cluster: values.cluster, d: values.d }, io);
      case 'import-knox-master': {
        if (!name) throw new CliError("import-knox-master needs the path of Knox's data/security/master");
        const master = readKnoxMaster(name);
        const gatewayStore = store(home, GATEWAY_CLUSTER);
        const { settings } = await loadHome(home);
        // Knox's DefaultKeystoreService uses the master secret wherever these aliases are not set.
        for (const alias of [
          settings.ssl.keystorePasswordAlias,
          settings.ssl.keyPassphraseAlias,
          settings.ssl.truststorePasswordAlias,
          settings.httpclient.truststorePasswordAlias,
        ]) {
          if (gatewayStore.has(alias)) {
            io.stdout.write(`${alias} is already set; kept.\n`);
            continue;
          }
          gatewayStore.set(alias, master);
          io.stdout.write(`${alias} has been set from Knox's master secret.\n`);
        }
        return 0;
      }
      case 'kerberos-test':
        if (name) throw new CliError(`unexpected argument "${name}"`);
        return await kerberosTest(home, values['service-host'], io.stdout);
      default:
        throw new CliError(`unknown command "${command}" (${COMMANDS.join(', ')})`);
    }
  } catch (err) {
    io.stderr.write(`postern cli ${command}: ${(err as Error).message}\n`);
    return 1;
  }
}

const COMMANDS = [
  'create-master',
  'create-alias',
  'list-alias',
  'delete-alias',
  'create-cert',
  'export-cert',
  'list-topologies',
  'validate-topology',
  'redeploy',
  'user-auth-test',
  'system-user-auth-test',
  'import-knox-master',
  'kerberos-test',
];

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      home: { type: 'string' },
      cluster: { type: 'string' },
      value: { type: 'string' },
      master: { type: 'string' },
      generate: { type: 'boolean' },
      force: { type: 'boolean' },
      hostname: { type: 'string' },
      type: { type: 'string' },
      path: { type: 'string' },
      u: { type: 'string' },
      p: { type: 'string' },
      g: { type: 'boolean' },
      d: { type: 'boolean' },
      'service-host': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function store(home: string, cluster: string): CredentialStore {
  return new CredentialStore(home, loadOrCreateMasterSecret(masterSecretFile(home)), cluster);
}

async function createMaster(
  home: string,
  values: { master?: string; generate?: boolean; force?: boolean },
  io: Io,
): Promise<number> {
  const file = masterSecretFile(home);
  if (existsSync(file) && !values.force) {
    throw new CliError(
      `${file} exists; --force replaces it (and makes the existing credential stores unreadable)`,
    );
  }
  if (values.master !== undefined) {
    io.stderr.write(
      'postern cli: warning: --master puts the password on the command line, where other users may see it\n',
    );
  }
  const secret = values.generate
    ? randomBytes(32)
    : secretFromPassword(values.master ?? (await readSecret(io, 'Master secret: ')));
  const stores = existsSync(keystoresDir(home))
    ? readdirSync(keystoresDir(home)).filter((f) => f.endsWith('-credentials.json'))
    : [];
  if (stores.length > 0) {
    io.stderr.write(
      `postern cli: warning: ${stores.length} credential store(s) in ${keystoresDir(home)} were written with the previous master secret and will not decrypt; create their aliases again\n`,
    );
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${secret.toString('base64')}\n`, { mode: 0o600 });
  io.stdout.write('Master secret has been persisted to disk.\n');
  return 0;
}
