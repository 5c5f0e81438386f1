/**
 * The whole test suite, as README.md names it (`npm test`): installs what the tests need when it is missing,
 * then type-checks, lints and runs every test under test/ with node:test.
 *
 * Extra arguments are passed to `node --test` (for example a single file).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

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
  // bench/http2.ts: h2load, the HTTP/2 load generator of the bench's HTTP/2 rows.
  'nghttp2-client': '/usr/bin/h2load',
  // test/helpers/jupyter.ts: a real Jupyter server (the kernels REST API and channels WebSocket that Jupyter
  // Kernel Gateway serves) behind Knox's JKG and JKGWS definitions, and the IPython kernel it runs.
  'jupyter-server': '/usr/bin/jupyter-server',
  'python3-ipykernel': '/usr/share/jupyter/kernels/python3/kernel.json',
  // test/helpers/kerberos.ts: a real MIT KDC (krb5kdc, kdb5_util; kadmin.local exports keytabs), kinit for the
  // users' tickets, and Apache httpd with mod_auth_gssapi as the Kerberized backend (apache2-bin: the server and
  // its modules without Debian's service setup).
  'krb5-kdc': '/usr/sbin/krb5kdc',
  'krb5-admin-server': '/usr/sbin/kadmin.local',
  'krb5-user': '/usr/bin/kinit',
  'apache2-bin': '/usr/sbin/apache2',
  'libapache2-mod-auth-gssapi': '/usr/lib/apache2/modules/mod_auth_gssapi.so',
  // The headers the GSSAPI binding (npm's optional `kerberos`) is built against; see ensureGssapiBinding().
  'libkrb5-dev': '/usr/include/gssapi/gssapi.h',
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

/**
 * The GSSAPI binding (optional dependency `kerberos`) is built from source at `npm ci`; on a machine without
 * libkrb5-dev that build fails and npm leaves the optional package out. Now that the headers are installed, the
 * missing package is installed again from the lockfile (built against them), or an installed one that does not
 * load is rebuilt, with the Node headers of the pinned `node` package (N-API: no download).
 */
function ensureGssapiBinding(): void {
  const loads = () =>
    spawnSync(process.execPath, ['-e', "require('kerberos')"], { stdio: 'ignore' }).status === 0;
  if (loads()) return;
  const nodedir = dirname(dirname(process.execPath));
  const env = {
    ...process.env,
    ...(existsSync(join(nodedir, 'include', 'node', 'node_api.h')) && { npm_config_nodedir: nodedir }),
  };
  if (existsSync('node_modules/kerberos/package.json')) {
    console.log('Rebuilding the GSSAPI binding (kerberos) against libkrb5-dev');
    run('npm', ['rebuild', 'kerberos'], env);
  } else {
    console.log('Installing the GSSAPI binding (kerberos, an optional dependency) against libkrb5-dev');
    run('npm', ['install', '--no-save', '--no-audit', '--no-fund'], env);
  }
  if (!loads()) {
    console.error(
      'The GSSAPI binding (npm package kerberos) still does not load: the Kerberos tests need it.',
    );
    process.exit(1);
  }
}
ensureGssapiBinding();

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
