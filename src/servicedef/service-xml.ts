/**
 * @module servicedef/service-xml
 * Reads a service definition's `service.xml` (role, name, version, routes with their rewrite bindings, dispatch,
 * policies, metadata). Knox writes these with attributes (`<service role="" name="" version="">`,
 * `<dispatch classname=""/>`); parameters are `<param><name/><value/></param>`.
 */
import type { DiagnosticSink } from '../config/diagnostics.ts';
import { parseBoolean } from '../config/values.ts';
import { checkShape, parseXml, TEXT, type XmlElement, type XmlShape } from '../config/xml.ts';
import type { DefParam, DispatchDef, PolicyDef, RouteDef, ServiceDefinition } from './model.ts';

/**
 * The elements and attributes of service.xml, as Knox's JAXB classes bind them (`ServiceDefinition`, `Route`,
 * `Rewrite`, `Policy`, `CustomDispatch`, `Metadata`, `Sample`): anything else is an error with the nearest name.
 * A `<param>` may also carry a `<description>` (postern's bundled definitions document their params).
 */
const DISPATCH: XmlShape = {
  attributes: [
    'contributor-name',
    'ha-contributor-name',
    'classname',
    'ha-classname',
    'http-client-factory',
    'use-two-way-ssl',
  ],
  children: { param: { children: { name: TEXT, value: TEXT, description: { any: true } } } },
};
const POLICIES: XmlShape = { children: { policy: { attributes: ['role', 'name'] } } };
export const SERVICE_SHAPE: XmlShape = {
  attributes: ['role', 'name', 'version'],
  children: {
    metadata: {
      children: {
        context: TEXT,
        type: TEXT,
        shortDesc: TEXT,
        description: { any: true },
        samples: {
          children: {
            sample: {
              children: { description: { any: true }, method: TEXT, path: TEXT, value: { any: true } },
            },
          },
        },
      },
    },
    routes: {
      children: {
        route: {
          attributes: ['path'],
          children: { rewrite: { attributes: ['apply', 'to'] }, dispatch: DISPATCH, policies: POLICIES },
        },
      },
    },
    dispatch: DISPATCH,
    policies: POLICIES,
    testURLs: { children: { testURL: TEXT } },
  },
};

/** What service.xml alone says; the catalog adds the rewrite rules, directory and source. */
export type ServiceXml = Omit<ServiceDefinition, 'rewrite' | 'dir' | 'source'>;

function requiredAttr(el: XmlElement, attr: string, sink: DiagnosticSink): string | undefined {
  const value = el.attrs[attr]?.trim();
  if (!value) {
    sink.error(el.pos, `<${el.name}> without the ${attr} attribute`);
    return undefined;
  }
  return value;
}

function readParams(el: XmlElement, sink: DiagnosticSink): DefParam[] {
  const params: DefParam[] = [];
  for (const p of el.childrenNamed('param')) {
    const name = p.field('name');
    if (!name || name.value === '') sink.error(p.pos, '<param> without a <name>');
    else params.push({ name: name.value, value: p.field('value')?.value ?? '', pos: p.pos });
  }
  return params;
}

function readDispatch(el: XmlElement, sink: DiagnosticSink): DispatchDef {
  const dispatch: DispatchDef = { params: readParams(el, sink), pos: el.pos };
  const a = el.attrs;
  if (a['contributor-name'] !== undefined) dispatch.contributorName = a['contributor-name'];
  if (a.classname !== undefined) dispatch.className = a.classname;
  if (a['ha-contributor-name'] !== undefined) dispatch.haContributorName = a['ha-contributor-name'];
  if (a['ha-classname'] !== undefined) dispatch.haClassName = a['ha-classname'];
  const twoWay = a['use-two-way-ssl'];
  if (twoWay !== undefined) {
    const b = parseBoolean(twoWay);
    if (b === undefined) {
      sink.error(
        el.attrPos['use-two-way-ssl'] ?? el.pos,
        `use-two-way-ssl must be true or false, found "${twoWay}"`,
      );
    } else dispatch.useTwoWaySsl = b;
  }
  return dispatch;
}

function readPolicies(el: XmlElement, sink: DiagnosticSink): PolicyDef[] {
  const policies: PolicyDef[] = [];
  for (const p of el.childrenNamed('policy')) {
    const role = requiredAttr(p, 'role', sink);
    if (!role) continue;
    const name = p.attrs.name?.trim();
    policies.push(name ? { role, name, pos: p.pos } : { role, pos: p.pos });
  }
  return policies;
}

function readRoute(el: XmlElement, sink: DiagnosticSink): RouteDef | undefined {
  const path = requiredAttr(el, 'path', sink);
  const rewrites = [];
  for (const r of el.childrenNamed('rewrite')) {
    const apply = requiredAttr(r, 'apply', sink);
    // Without `to`, Knox binds the rule to the request URL; every such use in Knox's own definitions is inbound.
    if (apply) rewrites.push({ apply, to: r.attrs.to?.trim() || 'request.url', pos: r.pos });
  }
  if (path === undefined) return undefined;
  const route: RouteDef = { path, rewrites, pos: el.pos };
  const dispatch = el.child('dispatch');
  if (dispatch) route.dispatch = readDispatch(dispatch, sink);
  const policies = el.child('policies');
  if (policies) route.policies = readPolicies(policies, sink);
  return route;
}

function readMetadata(el: XmlElement): NonNullable<ServiceXml['metadata']> {
  const metadata: NonNullable<ServiceXml['metadata']> = {};
  for (const key of ['context', 'type', 'shortDesc', 'description'] as const) {
    const text = el.childText(key);
    if (text !== undefined) metadata[key] = text;
  }
  const samples = el.child('samples')?.childrenNamed('sample') ?? [];
  if (samples.length > 0) {
    metadata.samples = samples.map((sample) => {
      const out: NonNullable<NonNullable<ServiceXml['metadata']>['samples']>[number] = {};
      for (const key of ['description', 'method', 'path', 'value'] as const) {
        const text = sample.childText(key);
        if (text !== undefined) out[key] = text;
      }
      return out;
    });
  }
  return metadata;
}

/**
 * Knox's deployment rule for routes without `<rewrite>`: its contributor keeps one map of bindings (`to` → `apply`)
 * across the routes of a definition and clears it only for a route that has rewrites, so a route with none keeps
 * the bindings of the last route before it that had some (none when no earlier route had any). Knox's own
 * definitions rely on it: TRINOUI's `/trino/ui/**?**`, SPARKHISTORYUI's `/sparkhistory/**?**`, DATANODE's
 * `/datanode/?**` and others carry the bindings of the route above them.
 */
function inheritBindings(routes: RouteDef[]): void {
  let last: RouteDef | undefined;
  for (const route of routes) {
    if (route.rewrites.length > 0) {
      last = route;
      continue;
    }
    if (!last) continue;
    // One binding per target, the last written winning, as in Knox's map.
    const byTarget = new Map(last.rewrites.map((b) => [b.to, b]));
    route.rewrites = [...byTarget.values()];
    route.inheritedFrom = last.pos;
  }
}

/**
 * Reads service.xml text.
 * @returns the definition, or `undefined` when role, name or version is missing (reported to `sink`)
 * @throws ConfigError only for XML that is not well-formed
 */
export function parseServiceXml(source: string, file: string, sink: DiagnosticSink): ServiceXml | undefined {
  const root = parseXml(source, file);
  if (root.name !== 'service') {
    sink.error(root.pos, `root element must be <service>, found <${root.name}>`);
    return undefined;
  }
  checkShape(root, SERVICE_SHAPE, sink);
  const role = requiredAttr(root, 'role', sink);
  const name = requiredAttr(root, 'name', sink);
  const version = requiredAttr(root, 'version', sink);
  const routes: RouteDef[] = [];
  for (const group of root.childrenNamed('routes')) {
    for (const el of group.childrenNamed('route')) {
      const route = readRoute(el, sink);
      if (route) routes.push(route);
    }
  }
  if (!role || !name || !version) return undefined;
  inheritBindings(routes);
  const def: ServiceXml = { role, name, version, routes, pos: root.pos };
  const policies = root.child('policies');
  if (policies) def.policies = readPolicies(policies, sink);
  const dispatch = root.child('dispatch');
  if (dispatch) def.dispatch = readDispatch(dispatch, sink);
  const metadata = root.child('metadata');
  if (metadata) def.metadata = readMetadata(metadata);
  return def;
}
