/**
 * @module cli/knox-cli-topologies
 * knoxcli's topology commands, with Knox's output lines:
 *
 *   list-topologies                             the files of conf/topologies (and descriptors' topologies)
 *   validate-topology [--cluster T | --path F]  read and compile one topology as `start` would; exit 1 on errors
 *   redeploy [--cluster T]                      touch the topology's file (all of them without --cluster): a
 *                                               running gateway redeploys it within a second
 */
import { existsSync, readdirSync, utimesSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readMasterSecret } from '../config/aliases.ts';
import { formatDiagnostic } from '../config/diagnostics.ts';
import { compileDeployment } from '../deploy/compile.ts';
import {
  applicationDirs,
  DESCRIPTOR_EXTENSIONS,
  loadHome,
  TOPOLOGY_EXTENSIONS,
  topologyName,
} from '../gateway/gateway.ts';
import { readTopologyFile } from '../topology/load.ts';
import { CliError, type Io } from './knox-cli-io.ts';

function files(dir: string, extensions: readonly string[]): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => extensions.some((e) => f.toLowerCase().endsWith(e)))
    .sort()
    .map((f) => join(dir, f));
}

export async function listTopologies(home: string, io: Io): Promise<number> {
  const { layout } = await loadHome(home);
  if (!existsSync(layout.topologies)) throw new CliError('ERR: Topologies directory does not exist.');
  io.stdout.write('List of files available in the topologies directory\n');
  for (const file of files(layout.topologies, TOPOLOGY_EXTENSIONS))
    io.stdout.write(`${topologyName(file)}\n`);
  const descriptors = files(layout.descriptors, DESCRIPTOR_EXTENSIONS);
  if (descriptors.length > 0) {
    io.stdout.write('Topologies generated from conf/descriptors\n');
    for (const file of descriptors) io.stdout.write(`${topologyName(file)}\n`);
  }
  return 0;
}

/** The topology file `--cluster` names in conf/topologies. */
function clusterFile(topologies: string, cluster: string): string | undefined {
  return files(topologies, TOPOLOGY_EXTENSIONS).find((f) => topologyName(f) === cluster);
}

export async function validateTopology(
  home: string,
  options: { cluster?: string; path?: string },
  io: Io,
): Promise<number> {
  if (!options.cluster === !options.path) throw new CliError('give --cluster NAME or --path FILE');
  const loaded = await loadHome(home);
  const { layout, settings, registry, catalog } = loaded;
  const file = options.path ? resolve(options.path) : clusterFile(layout.topologies, options.cluster!);
  io.stdout.write(
    `\nFile to be validated: \n${file ?? options.cluster}\n==========================================\n`,
  );
  if (!file || !existsSync(file)) {
    io.stdout.write('The topology file specified does not exist.\n');
    return 1;
  }
  const read = readTopologyFile(file);
  const diagnostics = [...read.diagnostics];
  if (read.topology) {
    const result = compileDeployment({
      topology: read.topology,
      catalog,
      settings,
      registry,
      masterSecret: readMasterSecret(layout.home) ?? new Uint8Array(32),
      home: layout.home,
      serviceErrors: read.diagnostics,
      applicationDirs: applicationDirs(layout),
    });
    diagnostics.push(...result.diagnostics);
    await result.deployment?.retire();
  }
  for (const d of diagnostics) io.stdout.write(`${formatDiagnostic(d)}\n`);
  if (diagnostics.some((d) => d.severity === 'error')) {
    io.stdout.write('Topology validation unsuccessful\n');
    return 1;
  }
  io.stdout.write('Topology file validated successfully\n');
  return 0;
}

export async function redeploy(home: string, cluster: string | undefined, io: Io): Promise<number> {
  const { layout, settings } = await loadHome(home);
  const targets = cluster
    ? [clusterFile(layout.topologies, cluster)].filter((f): f is string => f !== undefined)
    : files(layout.topologies, TOPOLOGY_EXTENSIONS);
  if (cluster && targets.length === 0)
    throw new CliError('Invalid cluster name provided. Nothing to redeploy.');
  const now = new Date();
  for (const file of targets) {
    utimesSync(file, now, now);
    io.stdout.write(`Redeploying ${topologyName(file)}\n`);
  }
  if (settings.topologyRedeployRequiresChanges) {
    io.stderr.write(
      'postern cli: warning: gateway.topology.redeploy.requires.changes is true: a running gateway redeploys only a topology whose content changed\n',
    );
  }
  return 0;
}
