/**
 * The whole test suite, as README.md names it (`npm test`): installs what the tests need when it is missing,
 * then type-checks, lints and runs every test under test/ with node:test.
 *
 * Extra arguments are passed to `node --test` (for example a single file).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian packages the tests use, by the command that proves each is present. */
const debianPackages: Record<string, string> = {
  // test/gateway/tls.test.ts builds a PKCS#12 keystore with it.
  openssl: '/usr/bin/openssl',
  // test/gateway/keystore.test.ts: JKS, JCEKS and PKCS#12 keystores made by the JDK's own keytool.
  'openjdk-17-jre-headless': '/usr/bin/keytool',
  // test/helpers/slapd.ts: a real OpenLDAP server for the LDAP realm, group lookup and their failures.
  slapd: '/usr/sbin/slapd',
  'ldap-utils': '/usr/bin/ldapadd',
  // test/helpers/browser.ts: real headless Chromium, driven by playwright-core.
  chromium: '/usr/bin/chromium',
  // test/helpers/redis.ts: a real Redis for the channels' redis layer.
  'redis-server': '/usr/bin/redis-server',
  // test/helpers/postgres.ts: a real PostgreSQL for the JDBC token state (test/services/knoxtoken/).
  postgresql: '/usr/lib/postgresql/15/bin/postgres',
  // test/ops/load-balancer.test.ts: ops/nginx/postern-lb.conf in front of two postern nodes.
  nginx: '/usr/sbin/nginx',
  // test/helpers/jupyter.ts: a real Jupyter server (the kernels REST API and channels WebSocket that Jupyter
  // Kernel Gateway serves) behind Knox's JKG and JKGWS definitions, and the IPython kernel it runs.
  'jupyter-server': '/usr/bin/jupyter-server',
  'python3-ipykernel': '/usr/share/jupyter/kernels/python3/kernel.json',
};

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: env ?? process.env });
  if (r.status !== 0) {
    console.error(`\n${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

const missing = Object.entries(debianPackages)
  .filter(([, bin]) => !existsSync(bin))
  .map(([pkg]) => pkg);
if (missing.length > 0) {
  if (process.getuid?.() !== 0) {
    console.error(
      `The tests need these Debian packages: ${missing.join(' ')} (run as root to install them).`,
    );
    process.exit(1);
  }
  console.log(`Installing Debian packages for the tests: ${missing.join(' ')}`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    ...process.env,
    DEBIAN_FRONTEND: 'noninteractive',
  });
}

const extra = process.argv.slice(2);
if (extra.length === 0) {
  run('npx', ['tsc', '--noEmit']);
  run('npx', ['biome', 'check', '.']);
}
run(process.execPath, [
  '--test',
  '--test-concurrency=2',
  '--test-timeout=120000',
  ...(extra.length > 0 ? extra : ['test/**/*.test.ts']),
]);
