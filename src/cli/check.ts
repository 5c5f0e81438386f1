/**
 * @module cli/check
 * `postern check`: everything `start` would read, validated without serving. Each topology is compiled exactly
 * as a deployment would be (so a missing service definition, an unknown provider or a rule a route names but no
 * rewrite.xml defines is found here), then released. Besides what deployment reports, it warns about routes that
 * can never be chosen and rewrite rules nothing uses (explain/lint). Prints one `path:line:column: message` line
 * per problem and returns 1 when there is any error.
 */
import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { readMasterSecret } from '../config/aliases.ts';
import { ConfigError, type Diagnostic, DiagnosticSink, formatDiagnostic } from '../config/diagnostics.ts';
import { readIdentityKeystore, readTrustStore } from '../config/keystore.ts';
import { compileDeployment } from '../deploy/compile.ts';
import type { Deployment } from '../deploy/deployment.ts';
import {
  deadRewriteRules,
  inheritedBindings,
  sessionlessChannels,
  unreachableRoutes,
} from '../explain/lint.ts';
import {
  applicationDirs,
  DESCRIPTOR_EXTENSIONS,
  type HomeLayout,
  loadHome,
  REPO_ROOT,
  TOPOLOGY_EXTENSIONS,
  topologyName,
} from '../gateway/gateway.ts';
import { bindingProblem } from '../kerberos/gssapi.ts';
import { checkKerberosLogin, sitePosition } from '../kerberos/login.ts';
import { readDescriptorFile, readTopologyFile } from '../topology/load.ts';
import type { Topology } from '../topology/model.ts';

function list(dir: string, extensions: readonly string[]): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => extensions.includes(extname(n).toLowerCase()))
      .sort()
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/**
 * The topologies of a home as `start` would deploy them: `conf/topologies` files, and the topologies the
 * descriptors of `conf/descriptors` generate (a descriptor's topology replaces a file of the same name).
 */
export function readHomeTopologies(layout: HomeLayout): {
  topologies: Topology[];
  diagnostics: Diagnostic[];
} {
  const out: Diagnostic[] = [];
  const topologies: Topology[] = [];
  const names = new Map<string, string>();
  for (const file of list(layout.topologies, TOPOLOGY_EXTENSIONS)) {
    const name = topologyName(file);
    const twin = names.get(name);
    if (twin) {
      out.push({
        file,
        line: 1,
        column: 1,
        severity: 'error',
        message: `duplicate topology "${name}": also defined by ${twin}`,
      });
      continue;
    }
    names.set(name, file);
    const read = readTopologyFile(file);
    out.push(...read.diagnostics);
    if (read.topology) topologies.push(read.topology);
  }
  for (const file of list(layout.descriptors, DESCRIPTOR_EXTENSIONS)) {
    const read = readDescriptorFile(file, layout.sharedProviders);
    out.push(...read.diagnostics);
    // A generated topology of the same name is the descriptor's own output: check the descriptor's version.
    if (read.topology) {
      const i = topologies.findIndex((t) => t.name === read.topology!.name);
      if (i >= 0) topologies.splice(i, 1);
      topologies.push(read.topology);
    }
  }
  return { topologies, diagnostics: out };
}

export async function checkHome(home: string): Promise<Diagnostic[]> {
  let loaded: Awaited<ReturnType<typeof loadHome>>;
  try {
    loaded = await loadHome(home);
  } catch (err) {
    if (err instanceof ConfigError) return err.diagnostics;
    throw err;
  }
  const { layout, settings, registry, catalog } = loaded;
  const out: Diagnostic[] = [...loaded.diagnostics];
  // The identity keystore opens as `start` would open it: a wrong password or a missing key alias is an error here.
  if (settings.ssl.enabled && !settings.ssl.certificatePath && !settings.ssl.keyPath) {
    try {
      readIdentityKeystore(settings, layout.home);
    } catch (err) {
      out.push({
        file: settings.file ?? join(layout.home, 'conf', 'gateway-site.xml'),
        line: 1,
        column: 1,
        severity: 'error',
        message: (err as Error).message,
      });
    }
  }
  // The client-certificate truststore opens as `start` opens it (the backend truststore is read at deployment).
  const ssl = settings.ssl;
  if (ssl.enabled && (ssl.clientAuthNeeded || ssl.clientAuthWanted) && ssl.truststorePath) {
    try {
      readTrustStore(
        {
          key: 'gateway.truststore.path',
          path: ssl.truststorePath,
          type: ssl.truststoreType,
          passwordAlias: ssl.truststorePasswordAlias,
        },
        layout.home,
      );
    } catch (err) {
      out.push({
        file: settings.file ?? join(layout.home, 'conf', 'gateway-site.xml'),
        line: 1,
        column: 1,
        severity: 'error',
        message: (err as Error).message,
      });
    }
  }
  // gateway.hadoop.kerberos.secured: the JAAS file, the keytab holding its principal, the krb5.conf and the GSSAPI
  // binding, checked without contacting the KDC (the topologies' dispatches report the same once: deduplicated).
  if (settings.kerberos.secured) {
    const sink = new DiagnosticSink();
    const at = sitePosition(
      settings.file,
      settings.kerberos.loginConfig ? 'java.security.auth.login.config' : 'gateway.hadoop.kerberos.secured',
    );
    if (checkKerberosLogin(settings.kerberos, sink, at)) {
      const problem = bindingProblem();
      if (problem) sink.error(at, `gateway.hadoop.kerberos.secured is true but ${problem}`);
    }
    out.push(...sink.items);
  }
  // The home's own master secret when it has one, so that `${ALIAS=...}` values resolve as at start; check
  // creates none.
  const secret = readMasterSecret(layout.home) ?? new Uint8Array(32);
  const read = readHomeTopologies(layout);
  out.push(...read.diagnostics);
  const { topologies } = read;
  const deployments: Deployment[] = [];
  for (const topology of topologies) {
    const result = compileDeployment({
      topology,
      catalog,
      settings,
      registry,
      masterSecret: secret,
      home: layout.home,
      serviceErrors: read.diagnostics.filter((d) => d.file === topology.file),
      applicationDirs: applicationDirs(layout),
    });
    out.push(...result.diagnostics);
    if (result.deployment) {
      out.push(...unreachableRoutes(result.deployment));
      out.push(...inheritedBindings(result.deployment));
      out.push(...sessionlessChannels(result.deployment));
      deployments.push(result.deployment);
    }
  }
  out.push(...deadRewriteRules(deployments));
  await Promise.all(deployments.map((d) => d.retire()));
  return dedupe(out);
}

function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const key = formatDiagnostic(d);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export async function runCheck(options: { home?: string }): Promise<number> {
  const diagnostics = await checkHome(options.home ?? REPO_ROOT);
  for (const d of diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  if (errors > 0) {
    process.stderr.write(`postern check: ${errors} error(s)\n`);
    return 1;
  }
  process.stderr.write('postern check: no errors\n');
  return 0;
}
