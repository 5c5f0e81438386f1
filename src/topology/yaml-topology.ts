/**
 * @module topology/yaml-topology
 * Reads a YAML topology (`conf/topologies/{name}.yaml|.yml`), postern's hand-editable twin of the Knox XML format.
 * The shape mirrors the XML element for element, with parameters as mappings:
 *
 * ```yaml
 * path: webhdfs                       # optional default service path
 * providers:
 *   - { role: authentication, name: ShiroProvider, enabled: true, params: { sessionTimeout: 30 } }
 * chains:
 *   - name: anonymous
 *     providers: [{ role: authentication, name: Anonymous, params: {} }]
 * services:
 *   - role: WEBHDFS
 *     version: 2.4.0                  # also: name
 *     urls: [http://nn:50070/webhdfs] # or url: one URL
 *     params: { replayBufferSize: 8 }
 *     dispatch: { classname: ..., ha-classname: ..., use-two-way-ssl: false, params: {} }
 *     chain: anonymous                # or { name: anonymous, params: { authentication: { k: v } } }
 * applications:
 *   - { name: knoxauth }
 * ```
 */
import { z } from 'zod';
import type { DiagnosticSink, Position } from '../config/diagnostics.ts';
import { parseBoolean } from '../config/values.ts';
import { parseYaml, type YamlSource } from '../config/yaml.ts';
import { checkTopology, DEFAULT_CHAIN } from './check.ts';
import type {
  ApplicationConfig,
  ChainConfig,
  DispatchOverride,
  Param,
  ProviderConfig,
  ServiceConfig,
  Topology,
} from './model.ts';
import { topologyNameFromFile } from './xml-topology.ts';

type Path = readonly PropertyKey[];

/** Text that YAML may have typed as a number (`version: 2.4`) or boolean. */
const text = z.union([z.string(), z.number(), z.boolean()]).transform(String);

const requiredText = (key: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const s = String(v).trim();
    if (s === '') ctx.addIssue({ code: 'custom', message: `"${key}" must not be empty` });
    return s;
  });

/** Parameters as a mapping; an empty value (`key:`) is the empty string, as `<value/>` is in XML. */
export const ParamsShape = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean(), z.null()]).transform((v) => (v === null ? '' : String(v))),
);

/** `true`/`false`, also as strings: Knox's own JSON provider configurations write `"enabled": "true"`. */
export const booleanShape = (key: string) =>
  z.unknown().transform((v, ctx): boolean => {
    if (typeof v === 'boolean') return v;
    const b = typeof v === 'string' ? parseBoolean(v) : undefined;
    if (b === undefined) {
      ctx.addIssue({ code: 'custom', message: `${key} must be true or false, found ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return b;
  });

/** One `providers` entry, shared with shared provider configurations. */
export const ProviderShape = z.strictObject({
  role: requiredText('role'),
  name: requiredText('name'),
  enabled: booleanShape('enabled').optional(),
  params: ParamsShape.optional(),
});

const ChainShape = z.strictObject({
  name: requiredText('name'),
  providers: z
    .array(
      z.strictObject({ role: requiredText('role'), name: text.optional(), params: ParamsShape.optional() }),
    )
    .default([]),
});

const DispatchShape = z.strictObject({
  'contributor-name': text.optional(),
  'ha-contributor-name': text.optional(),
  classname: text.optional(),
  'ha-classname': text.optional(),
  'http-client-factory': text.optional(),
  'use-two-way-ssl': booleanShape('use-two-way-ssl').optional(),
  params: ParamsShape.optional(),
});

const ChainRefShape = z.union([
  z.string(),
  z.strictObject({ name: text.optional(), params: z.record(z.string(), ParamsShape).optional() }),
]);

const ServiceShape = z.strictObject({
  role: requiredText('role'),
  name: text.optional(),
  version: text.optional(),
  url: z.string().optional(),
  urls: z.array(z.string()).optional(),
  params: ParamsShape.optional(),
  dispatch: DispatchShape.optional(),
  chain: ChainRefShape.optional(),
});

const ApplicationShape = z.strictObject({
  name: requiredText('name'),
  role: text.optional(),
  version: text.optional(),
  url: z.string().optional(),
  urls: z.array(z.string()).optional(),
  params: ParamsShape.optional(),
});

const TopologyShape = z.strictObject({
  name: text.optional(),
  path: text.optional(),
  generated: booleanShape('generated').optional(),
  providers: z.array(ProviderShape).default([]),
  chains: z.array(ChainShape).default([]),
  services: z.array(ServiceShape).default([]),
  applications: z.array(ApplicationShape).default([]),
});

/** Turns a params mapping at `path` into ordered params, each at its key. */
export function paramsAt(src: YamlSource, path: Path, params: Record<string, string> | undefined): Param[] {
  return Object.entries(params ?? {}).map(([name, value]) => ({
    name,
    value,
    pos: src.locateKey(path, name),
  }));
}

/** Provider entries at `path` (a topology's or a shared provider configuration's `providers`). */
export function providersAt(
  src: YamlSource,
  path: Path,
  list: z.output<typeof ProviderShape>[],
): ProviderConfig[] {
  return list.map((p, i) => ({
    role: p.role,
    name: p.name,
    enabled: p.enabled ?? true,
    params: paramsAt(src, [...path, i, 'params'], p.params),
    pos: src.locate([...path, i]),
  }));
}

function urlsAt(
  src: YamlSource,
  path: Path,
  entry: { url?: string; urls?: string[] },
): { url: string; pos: Position }[] {
  const urls = entry.url === undefined ? [] : [{ url: entry.url, pos: src.locate([...path, 'url']) }];
  for (const [j, url] of (entry.urls ?? []).entries())
    urls.push({ url, pos: src.locate([...path, 'urls', j]) });
  return urls;
}

function dispatchAt(src: YamlSource, path: Path, d: z.output<typeof DispatchShape>): DispatchOverride {
  const out: DispatchOverride = {
    params: paramsAt(src, [...path, 'params'], d.params),
    pos: src.locate(path),
  };
  if (d['contributor-name'] !== undefined) out.contributorName = d['contributor-name'];
  if (d['ha-contributor-name'] !== undefined) out.haContributorName = d['ha-contributor-name'];
  if (d.classname !== undefined) out.className = d.classname;
  if (d['ha-classname'] !== undefined) out.haClassName = d['ha-classname'];
  if (d['http-client-factory'] !== undefined) out.httpClientFactory = d['http-client-factory'];
  if (d['use-two-way-ssl'] !== undefined) out.useTwoWaySsl = d['use-two-way-ssl'];
  return out;
}

function serviceAt(src: YamlSource, path: Path, s: z.output<typeof ServiceShape>): ServiceConfig {
  const service: ServiceConfig = {
    role: s.role,
    urls: urlsAt(src, path, s),
    params: paramsAt(src, [...path, 'params'], s.params),
    pos: src.locate(path),
  };
  if (s.name !== undefined) service.name = s.name;
  if (s.version !== undefined) service.version = s.version;
  if (s.dispatch) service.dispatch = dispatchAt(src, [...path, 'dispatch'], s.dispatch);
  if (s.chain !== undefined) {
    const chainPath = [...path, 'chain'];
    const ref = typeof s.chain === 'string' ? { name: s.chain, params: {} } : s.chain;
    service.chainRef = {
      name: ref.name || DEFAULT_CHAIN,
      params: Object.entries(ref.params ?? {}).flatMap(([role, params]) =>
        paramsAt(src, [...chainPath, 'params', role], params).map((p) => ({ role, ...p })),
      ),
      pos: src.locate(chainPath),
    };
  }
  return service;
}

function applicationAt(src: YamlSource, path: Path, a: z.output<typeof ApplicationShape>): ApplicationConfig {
  const app: ApplicationConfig = {
    name: a.name,
    urls: urlsAt(src, path, a),
    params: paramsAt(src, [...path, 'params'], a.params),
    pos: src.locate(path),
  };
  if (a.role !== undefined) app.role = a.role;
  if (a.version !== undefined) app.version = a.version;
  return app;
}

/**
 * Reads a YAML topology.
 * @returns the topology, or `undefined` when the file's syntax or shape is wrong; problems go to `sink`
 */
export function parseYamlTopology(source: string, file: string, sink: DiagnosticSink): Topology | undefined {
  const src = parseYaml(source, file, sink);
  if (!src) return undefined;
  if (src.data === null || src.data === undefined) {
    sink.error({ file, line: 1, column: 1 }, 'empty topology');
    return undefined;
  }
  const data = src.validate(TopologyShape, sink);
  if (!data) return undefined;
  const name = topologyNameFromFile(file);
  if (data.name !== undefined && data.name !== '' && data.name !== name) {
    sink.warn(
      src.locate(['name']),
      `name "${data.name}" is ignored; the topology is named "${name}" after its file`,
    );
  }
  const chains: ChainConfig[] = data.chains.map((c, i) => ({
    name: c.name,
    providers: c.providers.map((p, j) => {
      const path = ['chains', i, 'providers', j];
      const ref = {
        role: p.role,
        params: paramsAt(src, [...path, 'params'], p.params),
        pos: src.locate(path),
      };
      return p.name === undefined ? ref : { ...ref, name: p.name };
    }),
    pos: src.locate(['chains', i]),
  }));
  const topology: Topology = {
    name,
    file,
    generated: data.generated ?? false,
    providers: providersAt(src, ['providers'], data.providers),
    chains,
    services: data.services.map((s, i) => serviceAt(src, ['services', i], s)),
    applications: data.applications.map((a, i) => applicationAt(src, ['applications', i], a)),
    pos: src.locate([]),
  };
  if (data.path !== undefined && data.path !== '') topology.defaultPath = data.path;
  checkTopology(topology, sink);
  return topology;
}
