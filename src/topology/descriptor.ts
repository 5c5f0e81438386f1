/**
 * @module topology/descriptor
 * Knox simple descriptors (`conf/descriptors/*.json|*.yml|*.yaml`) and the shared provider configurations they
 * reference (`conf/shared-providers/*`), turned into a generated {@link Topology}. Providers keep their positions in
 * the provider file, services theirs in the descriptor, so a mistake is reported where it was made.
 *
 * Cluster discovery (Ambari, Cloudera Manager) is not supported: every service must list its `urls`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import type { DiagnosticSink } from '../config/diagnostics.ts';
import { parseYaml } from '../config/yaml.ts';
import { checkTopology } from './check.ts';
import type { ProviderConfig, Topology } from './model.ts';
import { topologyNameFromFile } from './xml-topology.ts';
import { ParamsShape, ProviderShape, paramsAt, providersAt } from './yaml-topology.ts';

export { toTopologyXml } from './topology-xml-writer.ts';

/** Extensions a descriptor or provider configuration may have, in the order a bare reference tries them. */
export const DESCRIPTOR_EXTENSIONS = ['.json', '.yml', '.yaml'] as const;

const text = z.union([z.string(), z.number()]).transform(String);

const SharedProvidersShape = z.strictObject({ providers: z.array(ProviderShape) });

const DescriptorShape = z.strictObject({
  'discovery-type': text.optional(),
  'discovery-address': text.optional(),
  'discovery-user': text.optional(),
  'discovery-pwd-alias': text.optional(),
  cluster: text.optional(),
  'provider-config-ref': text,
  services: z
    .array(
      z.strictObject({
        // In a descriptor a service's `name` is its role (WEBHDFS), as in Knox.
        name: text,
        version: text.optional(),
        urls: z.array(z.string()).optional(),
        params: ParamsShape.optional(),
      }),
    )
    .default([]),
  applications: z
    .array(
      z.strictObject({ name: text, urls: z.array(z.string()).optional(), params: ParamsShape.optional() }),
    )
    .default([]),
});

const DISCOVERY_KEYS = [
  'discovery-type',
  'discovery-address',
  'discovery-user',
  'discovery-pwd-alias',
  'cluster',
];

/**
 * Reads a shared provider configuration (`{"providers": [{role, name, enabled, params}]}`).
 * @returns the providers, or `undefined` when the file is malformed (reported to `sink`)
 */
export function parseSharedProviders(
  source: string,
  file: string,
  sink: DiagnosticSink,
): ProviderConfig[] | undefined {
  const src = parseYaml(source, file, sink);
  if (!src) return undefined;
  const data = src.validate(SharedProvidersShape, sink);
  return data && providersAt(src, ['providers'], data.providers);
}

/**
 * Finds the provider configuration a descriptor's `provider-config-ref` names: an absolute path, or a file in
 * `sharedProvidersDir` with the name as given or with one of the descriptor extensions added.
 */
export function resolveProviderConfigRef(ref: string, sharedProvidersDir: string): string | undefined {
  const isFile = (f: string) => existsSync(f) && statSync(f).isFile();
  if (isAbsolute(ref)) return isFile(ref) ? ref : undefined;
  const base = join(sharedProvidersDir, ref);
  const candidates = (DESCRIPTOR_EXTENSIONS as readonly string[]).includes(extname(ref))
    ? [base]
    : [base, ...DESCRIPTOR_EXTENSIONS.map((ext) => base + ext)];
  return candidates.find(isFile);
}

export interface DescriptorTopology {
  topology?: Topology;
  /** The provider configuration the descriptor uses, when it was found (a change to it regenerates the topology). */
  providerConfigFile?: string;
}

/**
 * Reads a simple descriptor and its provider configuration into a generated topology named after the descriptor.
 * Problems (in either file) go to `sink`; `topology` is absent when either file could not be read.
 */
export function parseDescriptor(
  source: string,
  file: string,
  sharedProvidersDir: string,
  sink: DiagnosticSink,
  /** Text to read for this provider configuration file instead of the file's (an edit being checked). */
  proposed?: { file: string; source: string },
): DescriptorTopology {
  const src = parseYaml(source, file, sink);
  if (!src) return {};
  const data = src.validate(DescriptorShape, sink);
  if (!data) return {};
  for (const key of DISCOVERY_KEYS) {
    if (key in data && data[key as keyof typeof data] !== undefined) {
      sink.warn(src.locateKey([], key), `"${key}" is ignored: postern does not support cluster discovery`);
    }
  }

  const refPos = src.locate(['provider-config-ref']);
  const providerConfigFile = resolveProviderConfigRef(data['provider-config-ref'], sharedProvidersDir);
  let providers: ProviderConfig[] | undefined;
  if (!providerConfigFile) {
    sink.error(
      refPos,
      `provider configuration "${data['provider-config-ref']}" not found in ${sharedProvidersDir}`,
    );
  } else {
    try {
      const text =
        proposed?.file === providerConfigFile ? proposed.source : readFileSync(providerConfigFile, 'utf8');
      providers = parseSharedProviders(text, providerConfigFile, sink);
    } catch (err) {
      sink.error(
        refPos,
        `cannot read provider configuration ${providerConfigFile}: ${(err as Error).message}`,
      );
    }
  }

  const topology: Topology = {
    name: topologyNameFromFile(file),
    file,
    generated: true,
    providers: providers ?? [],
    chains: [],
    services: data.services.map((s, i) => {
      const path = ['services', i];
      if (s.urls === undefined || s.urls.length === 0) {
        sink.error(
          src.locate(path),
          `service ${s.name} has no "urls"; postern does not support cluster discovery, list the URLs`,
        );
      }
      const service = {
        role: s.name,
        urls: (s.urls ?? []).map((url, j) => ({ url, pos: src.locate([...path, 'urls', j]) })),
        params: paramsAt(src, [...path, 'params'], s.params),
        pos: src.locate(path),
      };
      return s.version === undefined ? service : { ...service, version: s.version };
    }),
    applications: data.applications.map((a, i) => {
      const path = ['applications', i];
      return {
        name: a.name,
        urls: (a.urls ?? []).map((url, j) => ({ url, pos: src.locate([...path, 'urls', j]) })),
        params: paramsAt(src, [...path, 'params'], a.params),
        pos: src.locate(path),
      };
    }),
    pos: src.locate([]),
  };
  checkTopology(topology, sink);
  return { topology: providers ? topology : undefined, providerConfigFile };
}
