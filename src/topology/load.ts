/**
 * @module topology/load
 * Reads one topology file or simple descriptor from disk, choosing the reader by extension. These never throw for
 * what a file contains: unreadable, malformed or invalid content comes back as diagnostics, so a hot-deploy loop
 * can report a bad file and keep the previous version running.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { ConfigError, type Diagnostic, DiagnosticSink } from '../config/diagnostics.ts';
import { DESCRIPTOR_EXTENSIONS, parseDescriptor } from './descriptor.ts';
import type { Topology } from './model.ts';
import { parseXmlTopology } from './xml-topology.ts';
import { parseYamlTopology } from './yaml-topology.ts';

/** Extensions of topology files in `conf/topologies`. */
export const TOPOLOGY_EXTENSIONS = ['.xml', '.yaml', '.yml'] as const;

export interface TopologyReadResult {
  /**
   * Present exactly when no diagnostic is an error of the whole topology (errors that belong to one service, such
   * as its bad URL, fail that service alone when the topology deploys).
   */
  topology?: Topology;
  diagnostics: Diagnostic[];
}

export interface DescriptorReadResult extends TopologyReadResult {
  /** The shared provider configuration used, when found (watch it: a change regenerates this topology). */
  providerConfigFile?: string;
}

function readText(file: string, sink: DiagnosticSink): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    sink.error({ file, line: 1, column: 1 }, `cannot read file: ${(err as Error).message}`);
    return undefined;
  }
}

/** Runs a reader, turning a thrown ConfigError (malformed XML) into diagnostics. */
function guarded<T>(sink: DiagnosticSink, read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    sink.items.push(...err.diagnostics);
    return undefined;
  }
}

/** The topology, unless an error is the topology's (one that belongs to a service fails only that service). */
function result(topology: Topology | undefined, sink: DiagnosticSink): TopologyReadResult {
  const fatal = sink.items.some((d) => d.severity === 'error' && d.service === undefined);
  return fatal || !topology ? { diagnostics: sink.items } : { topology, diagnostics: sink.items };
}

/** Reads `conf/topologies/{name}.xml|.yaml|.yml`. */
export function readTopologyFile(file: string): TopologyReadResult {
  const sink = new DiagnosticSink();
  const ext = extname(file).toLowerCase();
  if (!(TOPOLOGY_EXTENSIONS as readonly string[]).includes(ext)) {
    sink.error(
      { file, line: 1, column: 1 },
      `not a topology file: expected ${TOPOLOGY_EXTENSIONS.join(', ')}`,
    );
    return result(undefined, sink);
  }
  const source = readText(file, sink);
  if (source === undefined) return result(undefined, sink);
  return readTopologySource(file, source, sink);
}

/**
 * Reads a topology from its text as if it were the file `file` (diagnostics name that file): how the admin API
 * checks a topology before writing it.
 */
export function readTopologySource(
  file: string,
  source: string,
  sink = new DiagnosticSink(),
): TopologyReadResult {
  const ext = extname(file).toLowerCase();
  const read = ext === '.xml' ? parseXmlTopology : parseYamlTopology;
  return result(
    guarded(sink, () => read(source, file, sink)),
    sink,
  );
}

/** Reads `conf/descriptors/{name}.json|.yml|.yaml`, resolving its provider configuration in `sharedProvidersDir`. */
export function readDescriptorFile(file: string, sharedProvidersDir: string): DescriptorReadResult {
  const sink = new DiagnosticSink();
  const ext = extname(file).toLowerCase();
  if (!(DESCRIPTOR_EXTENSIONS as readonly string[]).includes(ext)) {
    sink.error(
      { file, line: 1, column: 1 },
      `not a descriptor: expected ${DESCRIPTOR_EXTENSIONS.join(', ')}`,
    );
    return result(undefined, sink);
  }
  const source = readText(file, sink);
  if (source === undefined) return result(undefined, sink);
  return readDescriptorSource(file, source, sharedProvidersDir, undefined, sink);
}

/**
 * Reads a simple descriptor from its text as if it were the file `file`, with `proposed` read in place of that
 * provider configuration file: how the admin API checks a descriptor or a provider configuration before writing it.
 */
export function readDescriptorSource(
  file: string,
  source: string,
  sharedProvidersDir: string,
  proposed?: { file: string; source: string },
  sink = new DiagnosticSink(),
): DescriptorReadResult {
  const { topology, providerConfigFile } = guarded(sink, () =>
    parseDescriptor(source, file, sharedProvidersDir, sink, proposed),
  ) ?? { topology: undefined };
  const out: DescriptorReadResult = result(topology, sink);
  if (providerConfigFile !== undefined) out.providerConfigFile = providerConfigFile;
  return out;
}
