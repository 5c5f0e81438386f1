/**
 * @module cli/main
 * The `postern` command.
 *
 *   postern start [--home DIR] [--port N]   serve the home's topologies (default home: the repository's own)
 *   postern check [--home DIR]              validate gateway-site, topologies, descriptors and service
 *                                           definitions; one `path:line:column: message` line per problem
 *   postern hash-password                   print the scrypt hash of the password read from stdin (FileRealm)
 *
 * The home can also come from POSTERN_HOME (or Knox's GATEWAY_HOME).
 */
import { parseArgs } from 'node:util';
import { runCheck } from './check.ts';
import { runHashPassword } from './hash-password.ts';
import { runStart } from './start.ts';

const USAGE = `usage: postern <command> [options]

commands:
  start   serve the topologies of a home
  check   validate a home's configuration and print each problem as path:line:column: message
  hash-password   print the scrypt hash of a password read from stdin, for postern.FileRealm users files

options:
  --home DIR   the gateway home (default: $POSTERN_HOME, $GATEWAY_HOME, or the repository's own sample home)
  --port N     listen on this port instead of gateway-site's gateway.port (start only)
  -h, --help   show this help
`;

async function main(argv: string[]): Promise<number> {
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
      return runStart({ home, port: values.port === undefined ? undefined : Number(values.port) });
    case 'check':
      return runCheck({ home });
    case 'hash-password':
      return runHashPassword();
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
