/**
 * @module cli/main
 * The `postern` command.
 *
 *   postern start [--home DIR] [--port N]   serve the home's topologies (default home: the repository's own)
 *   postern check [--home DIR]              validate gateway-site, topologies, descriptors and service
 *                                           definitions; one `path:line:column: message` line per problem
 *   postern hash-password                   print the scrypt hash of the password read from stdin (FileRealm)
 *   postern cli COMMAND                     Knox's knoxcli commands (cli/knox-cli): aliases, master secret
 *   postern explain [METHOD] URL            what the gateway would do with a request (cli/explain)
 *   postern topology new NAME / service new ROLE   scaffold files `check` accepts (cli/scaffold)
 *
 * The home can also come from POSTERN_HOME (or Knox's GATEWAY_HOME).
 */
// First, for its side effect: `postern start` re-executes itself with its V8 flags before loading the rest.
import './node-flags.ts';
import { parseArgs } from 'node:util';

const USAGE = `usage: postern <command> [options]

commands:
  start   serve the topologies of a home
  check   validate a home's configuration and print each problem as path:line:column: message
  hash-password   print the scrypt hash of a password read from stdin, for postern.FileRealm users files
  cli COMMAND            Knox's knoxcli commands: create-master, create-alias, list-alias, delete-alias
  explain [METHOD] URL   what the gateway would do with a request: route, chain, rewrites, backend request
  topology new NAME      write conf/topologies/NAME.xml (--service ROLE=URL..., --auth anonymous|file|ldap)
  service new ROLE       write a service definition into data/services (--version V, --path /x)

options:
  --home DIR   the gateway home (default: $POSTERN_HOME, $GATEWAY_HOME, or the repository's own sample home)
  --port N     listen on this port instead of gateway-site's gateway.port (start only)
  -h, --help   show this help
`;

/**
 * Commands that read their own options (`postern <command> --help` shows them). Each command's module is imported
 * when it runs, so that a command loads only what it needs (a worker of `postern start` starts sooner).
 */
const OWN_OPTIONS: Record<string, (argv: string[]) => Promise<number>> = {
  explain: async (argv) => (await import('./explain.ts')).runExplain(argv),
  cli: async (argv) => (await import('./knox-cli.ts')).runKnoxCli(argv),
  topology: async (argv) => (await import('./scaffold.ts')).runScaffold('topology', argv),
  service: async (argv) => (await import('./scaffold.ts')).runScaffold('service', argv),
};

async function main(argv: string[]): Promise<number> {
  const own = OWN_OPTIONS[argv[0]];
  if (own) return own(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      home: { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const home = values.home ?? process.env.POSTERN_HOME ?? process.env.GATEWAY_HOME;
  switch (command) {
    case 'start':
      return (await import('./start.ts')).runStart({
        home,
        port: values.port === undefined ? undefined : Number(values.port),
      });
    case 'check':
      return (await import('./check.ts')).runCheck({ home });
    case 'hash-password':
      return (await import('./hash-password.ts')).runHashPassword();
    default:
      process.stderr.write(`postern: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0 || process.argv[2] !== 'start') process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`postern: ${err.message}\n`);
    process.exitCode = 1;
  },
);
