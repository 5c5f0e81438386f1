/**
 * @module topology/xml-topology
 * Reads a Knox topology file (`conf/topologies/{name}.xml`) into the format-independent {@link Topology}, including
 * the named chains (`gateway/chain/provider-ref`, `service/chain-ref`). Knox writes most fields as child
 * elements but accepts attributes for some (`<param name="" value=""/>`); this reader takes either form everywhere.
 */
import { basename, extname } from 'node:path';
import type { DiagnosticSink } from '../config/diagnostics.ts';
import { parseBoolean } from '../config/values.ts';
import { checkShape, type Located, parseXml, TEXT, type XmlElement, type XmlShape } from '../config/xml.ts';
import { checkTopology, DEFAULT_CHAIN } from './check.ts';
import type {
  ApplicationConfig,
  ChainConfig,
  ChainRef,
  ChainRefParam,
  DispatchOverride,
  Param,
  ProviderConfig,
  ProviderRef,
  ServiceConfig,
  Topology,
} from './model.ts';

/**
 * The elements and attributes a topology may have. Knox's (`KnoxFormatXmlTopologyRules`, `topology-v1.xsd`): root
 * `name`, `version`, `path`, `generated`, `redeployTime`, `gateway/provider`, `service`, `application`, and
 * `<param>` as `<name>`/`<value>` children or `name`/`value` attributes. postern adds the named chains
 * (`gateway/chain`, `service/chain-ref`), `<description>` in a param, and takes each field of a provider, service,
 * application or dispatch as an attribute too (`field` below). Anything else is an error with the nearest name.
 */
const fields = (...names: string[]): XmlShape => ({
  attributes: names,
  children: Object.fromEntries(names.map((n) => [n, TEXT])),
});
const withChildren = (shape: XmlShape, children: Record<string, XmlShape>): XmlShape => ({
  ...shape,
  children: { ...shape.children, ...children },
});
const PARAM = withChildren(fields('name', 'value'), { description: { any: true } });
const CHAIN_REF_PARAM = withChildren(fields('role', 'name', 'value'), { description: { any: true } });
const DISPATCH = withChildren(
  fields(
    'contributor-name',
    'ha-contributor-name',
    'classname',
    'ha-classname',
    'http-client-factory',
    'use-two-way-ssl',
  ),
  { param: PARAM },
);
export const TOPOLOGY_SHAPE: XmlShape = {
  children: {
    name: TEXT,
    version: TEXT,
    path: TEXT,
    generated: TEXT,
    redeployTime: TEXT,
    gateway: {
      children: {
        provider: withChildren(fields('role', 'name', 'enabled'), { param: PARAM }),
        chain: withChildren(fields('name'), {
          'provider-ref': withChildren(fields('role', 'name'), { param: PARAM }),
        }),
      },
    },
    service: withChildren(fields('role', 'name', 'version'), {
      url: TEXT,
      param: PARAM,
      dispatch: DISPATCH,
      'chain-ref': withChildren(fields('name'), { param: CHAIN_REF_PARAM }),
    }),
    application: withChildren(fields('name', 'role', 'version'), { url: TEXT, param: PARAM }),
  },
};

/** A topology is named after its file (`sandbox.xml` → `sandbox`), whatever its `<name>` says. */
export function topologyNameFromFile(file: string): string {
  return basename(file, extname(file));
}

/**
 * Reads topology XML.
 * @returns the topology, or `undefined` when the document is not a topology at all; problems go to `sink`
 * @throws ConfigError only for XML that is not well-formed
 */
export function parseXmlTopology(source: string, file: string, sink: DiagnosticSink): Topology | undefined {
  const root = parseXml(source, file);
  if (root.name !== 'topology') {
    sink.error(root.pos, `root element must be <topology>, found <${root.name}>`);
    return undefined;
  }
  checkShape(root, TOPOLOGY_SHAPE, sink);
  const name = topologyNameFromFile(file);
  const declared = root.child('name');
  if (declared && declared.text !== '' && declared.text !== name) {
    sink.warn(
      declared.pos,
      `<name> "${declared.text}" is ignored; the topology is named "${name}" after its file`,
    );
  }
  const generatedEl = root.child('generated');
  const topology: Topology = {
    name,
    file,
    defaultPath: nonEmpty(root.childText('path')),
    generated: generatedEl
      ? booleanField({ value: generatedEl.text, pos: generatedEl.pos }, 'generated', sink)
      : false,
    providers: [],
    chains: [],
    services: [],
    applications: [],
    pos: root.pos,
  };
  for (const gateway of root.childrenNamed('gateway')) {
    for (const el of gateway.childrenNamed('provider')) {
      const p = readProvider(el, sink);
      if (p) topology.providers.push(p);
    }
    for (const el of gateway.childrenNamed('chain')) {
      const c = readChain(el, sink);
      if (c) topology.chains.push(c);
    }
  }
  for (const el of root.childrenNamed('service')) {
    const s = readService(el, sink);
    if (s) topology.services.push(s);
  }
  for (const el of root.childrenNamed('application')) {
    const a = readApplication(el, sink);
    if (a) topology.applications.push(a);
  }
  checkTopology(topology, sink);
  return topology;
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
}

/** A required field: reports `<element> without a <field>` at the element when absent or empty. */
function required(el: XmlElement, field: string, sink: DiagnosticSink): Located | undefined {
  const f = el.field(field);
  if (!f || f.value === '') {
    sink.error(el.pos, `<${el.name}> without a <${field}>`);
    return undefined;
  }
  return f;
}

function booleanField(f: Located, label: string, sink: DiagnosticSink): boolean {
  const b = parseBoolean(f.value);
  if (b === undefined) sink.error(f.pos, `${label} must be true or false, found "${f.value}"`);
  return b ?? false;
}

function readParams(el: XmlElement, sink: DiagnosticSink): Param[] {
  const params: Param[] = [];
  for (const p of el.childrenNamed('param')) {
    const name = required(p, 'name', sink);
    if (name) params.push({ name: name.value, value: p.field('value')?.value ?? '', pos: p.pos });
  }
  return params;
}

function readProvider(el: XmlElement, sink: DiagnosticSink): ProviderConfig | undefined {
  const role = required(el, 'role', sink);
  const name = required(el, 'name', sink);
  const enabled = el.field('enabled');
  const params = readParams(el, sink);
  if (!role || !name) return undefined;
  return {
    role: role.value,
    name: name.value,
    enabled: enabled ? booleanField(enabled, 'enabled', sink) : true,
    params,
    pos: el.pos,
  };
}

function readChain(el: XmlElement, sink: DiagnosticSink): ChainConfig | undefined {
  const name = required(el, 'name', sink);
  const providers: ProviderRef[] = [];
  for (const ref of el.childrenNamed('provider-ref')) {
    const role = required(ref, 'role', sink);
    const params = readParams(ref, sink);
    if (role)
      providers.push({ role: role.value, name: nonEmpty(ref.field('name')?.value), params, pos: ref.pos });
  }
  return name ? { name: name.value, providers, pos: el.pos } : undefined;
}

function readUrls(el: XmlElement): { url: string; pos: ServiceConfig['pos'] }[] {
  return el.childrenNamed('url').map((u) => ({ url: u.text, pos: u.pos }));
}

function readService(el: XmlElement, sink: DiagnosticSink): ServiceConfig | undefined {
  const role = required(el, 'role', sink);
  const chainRefs = el.childrenNamed('chain-ref');
  for (const extra of chainRefs.slice(1)) sink.error(extra.pos, 'a service can refer to one chain only');
  const dispatchEl = el.child('dispatch');
  const service: ServiceConfig = {
    role: role?.value ?? '',
    name: nonEmpty(el.field('name')?.value),
    version: nonEmpty(el.field('version')?.value),
    urls: readUrls(el),
    params: readParams(el, sink),
    dispatch: dispatchEl ? readDispatch(dispatchEl, sink) : undefined,
    chainRef: chainRefs[0] ? readChainRef(chainRefs[0], sink) : undefined,
    pos: el.pos,
  };
  return role ? service : undefined;
}

const DISPATCH_FIELDS = [
  ['contributor-name', 'contributorName'],
  ['ha-contributor-name', 'haContributorName'],
  ['classname', 'className'],
  ['ha-classname', 'haClassName'],
  ['http-client-factory', 'httpClientFactory'],
] as const;

function readDispatch(el: XmlElement, sink: DiagnosticSink): DispatchOverride {
  const dispatch: DispatchOverride = { params: readParams(el, sink), pos: el.pos };
  for (const [xml, key] of DISPATCH_FIELDS) {
    const value = nonEmpty(el.field(xml)?.value);
    if (value !== undefined) dispatch[key] = value;
  }
  const twoWay = el.field('use-two-way-ssl');
  if (twoWay) dispatch.useTwoWaySsl = booleanField(twoWay, 'use-two-way-ssl', sink);
  return dispatch;
}

function readChainRef(el: XmlElement, sink: DiagnosticSink): ChainRef {
  const params: ChainRefParam[] = [];
  for (const p of el.childrenNamed('param')) {
    const role = required(p, 'role', sink);
    const name = required(p, 'name', sink);
    if (role && name)
      params.push({ role: role.value, name: name.value, value: p.field('value')?.value ?? '', pos: p.pos });
  }
  return { name: nonEmpty(el.field('name')?.value) ?? DEFAULT_CHAIN, params, pos: el.pos };
}

function readApplication(el: XmlElement, sink: DiagnosticSink): ApplicationConfig | undefined {
  const name = required(el, 'name', sink);
  const app: ApplicationConfig = {
    name: name?.value ?? '',
    role: nonEmpty(el.field('role')?.value),
    version: nonEmpty(el.field('version')?.value),
    urls: readUrls(el),
    params: readParams(el, sink),
    pos: el.pos,
  };
  return name ? app : undefined;
}
