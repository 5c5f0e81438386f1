/**
 * @module services/knox-admin
 * Knox's Admin API (`gateway-service-admin`: role `KNOX`, the bundled services/knox/1.0.0), answered by the gateway
 * itself after the topology's chain, below `{gateway}/{topology}/api/v1/`, with Knox's paths, shapes and status
 * codes, so Knox's admin curl lines work unchanged. postern's own admin API (role ADMIN, services/admin) stays
 * beside it. Knox's access control is the topology's: the stock `admin` topology's AclsAuthz `knox.acl=admin;*;*`.
 *
 * | Knox resource | route | answer |
 * |---|---|---|
 * | VersionResource | `GET version` | `{"ServerVersion":{"version","hash"}}` (XML by Accept) |
 * | TopologiesResource | `GET topologies` | `{"topologies":{"topology":[{name,timestamp,uri,href}]}}` (XML by Accept) |
 * | | `GET topologies/{id}` | the topology bean (beans.ts); 204 when there is none, as Jersey answers Knox's null |
 * | | `PUT topologies/{id}` | JSON or XML bean; checked exactly as a deployment (a broken one: 400 with its diagnostics, nothing written), written to `conf/topologies/{id}.xml` and deployed; 200 with the bean; 204 for a topology generated from a descriptor (Knox does not overwrite it) |
 * | | `DELETE topologies/{id}` | `{ "deleted" : true }` (false for `admin`, which Knox never deletes, and for an unknown one) |
 * | | `GET descriptors`, `GET providerconfig` | Knox's `HrefListing` `{"href","items":[{"href","name"}]}` |
 * | | `GET descriptors/{name}`, `GET providerconfig/{name}` | the file (JSON, XML or YAML as text/plain); 404 |
 * | | `PUT`/`DELETE descriptors/{name}`, `providerconfig/{name}` | config-files.ts |
 * | ServiceDefinitionsResource | `GET servicedefinitions[/{name}[/{role}[/{version}]]]` | `{"serviceDefinitions":{"serviceDefinition":[{"service":{...}}]}}` |
 * | AliasResource | `GET aliases/{topology}`, `PUT`/`POST`/`DELETE aliases/{topology}/{alias}` | Knox's answers over postern's alias service (aliases.ts) |
 *
 * | | `POST`/`PUT servicedefinitions`, `DELETE servicedefinitions/{name}/{role}/{version}` | definition-writes.ts |
 *
 * Not done: ServiceDiscoveryResource (postern discovers no cluster).
 */
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Errors } from '../../errors.ts';
import { DESCRIPTOR_EXTENSIONS, TOPOLOGY_EXTENSIONS } from '../../gateway/home.ts';
import { readText } from '../../gateway/read-body.ts';
import type {
  DispatchContext,
  Exchange,
  GatewayHandle,
  Handler,
  ServiceFactory,
  TopologyReport,
} from '../../spi/index.ts';
import { diagnosticJson } from '../admin/api.ts';
import { noGateway, userOf } from '../admin/common.ts';
import { answerAliases } from './aliases.ts';
import {
  BeanError,
  beanFromJson,
  beanFromXml,
  beanJson,
  beanOf,
  beanXml,
  type TopologyBean,
} from './beans.ts';
import { deleteConfigFile, putConfigFile } from './config-files.ts';
import { deleteDefinition, writeDefinition } from './definition-writes.ts';
import { serviceDefinitionsJson, serviceDefinitionsXml } from './definitions.ts';
import { JSON_TYPE, send } from './send.ts';

const API = '/api/v1/';
/** Knox's `RESOURCE_NAME_PATTERN` (`^[\w-/.]+$`, at most 100), without `/`: a name is one file here. */
const NAME = /^[\w.-]{1,100}$/;
const MAX_BODY = 1 << 20;

type Media = 'json' | 'xml';

/** Jersey's choice between the resource's `@Produces({APPLICATION_JSON, APPLICATION_XML})`: JSON unless the client prefers XML. */
function negotiate(ex: Exchange, offered: readonly Media[] = ['json', 'xml']): Media {
  const accept = ex.req.headers.accept;
  if (!accept) return offered[0];
  const ranges = accept
    .split(',')
    .map((part, i) => {
      const [type, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { type: type.trim(), q: q ? Number(q.slice(2)) : 1, i };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranges) {
    if (r.type === '*/*' || r.type === 'application/*') return offered[0];
    if (r.type === 'application/json' && offered.includes('json')) return 'json';
    if ((r.type === 'application/xml' || r.type === 'text/xml') && offered.includes('xml')) return 'xml';
  }
  throw Errors.notAcceptable(`Ask for ${offered.map((m) => `application/${m}`).join(' or ')}`);
}

const XML_TYPE = 'application/xml';

function sendMedia(ex: Exchange, media: Media, json: string, xml: () => string): void {
  send(ex, 200, media === 'json' ? JSON_TYPE : XML_TYPE, media === 'json' ? json : xml());
}

/** Knox's `buildXForwardBaseURL` without the context: scheme and authority, X-Forwarded-* first. */
function origin(ex: Exchange): string {
  const h = ex.req.headers;
  const one = (name: string) => {
    const v = h[name];
    return typeof v === 'string' && v.trim() ? v.split(',')[0].trim() : undefined;
  };
  const own = new URL(ex.inboundUrl);
  const scheme = one('x-forwarded-proto') ?? own.protocol.slice(0, -1);
  const port = one('x-forwarded-port');
  const host = one('x-forwarded-host');
  const server = one('x-forwarded-server');
  let authority = own.host;
  if (host && port) authority = host.includes(port) ? host : `${host}:${port}`;
  else if (server && port) authority = `${server}:${port}`;
  else if (port) authority = `${own.hostname}:${port}`;
  return `${scheme}://${authority}`;
}

interface Where {
  gateway: GatewayHandle;
  /** `scheme://authority` as the client sees the gateway. */
  origin: string;
  /** `{origin}{context}/api/v1`: what Knox's hrefs start with. */
  api: string;
}

function whereOf(ex: Exchange, gateway: GatewayHandle, self: string): Where {
  const base = origin(ex);
  const forwarded = ex.req.headers['x-forwarded-context'];
  const context =
    typeof forwarded === 'string' && forwarded.startsWith('/')
      ? forwarded
      : `/${gateway.settings.path}/${self}`;
  return { gateway, origin: base, api: `${base}${context}/api/v1` };
}

function timestampOf(report: TopologyReport): number {
  try {
    return report.file ? Math.floor(statSync(report.file).mtimeMs) : 0;
  } catch {
    return report.serving ? report.serving.since.getTime() : 0;
  }
}

function served(gateway: GatewayHandle): TopologyReport[] {
  return gateway.topologies().filter((t) => t.serving !== undefined);
}

// ---------------------------------------------------------------------------------------------------------------
// version, topologies
// ---------------------------------------------------------------------------------------------------------------

function version(ex: Exchange, where: Where): void {
  const { version, hash } = where.gateway.build;
  sendMedia(ex, negotiate(ex), JSON.stringify({ ServerVersion: { version, hash } }), () =>
    xmlDocument('ServerVersion', [
      ['version', version],
      ['hash', hash],
    ]),
  );
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;',
  );
}

function xmlDocument(root: string, leaves: [string, string | undefined][]): string {
  const body = leaves
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `   <${k}>${escapeXml(v!)}</${k}>`)
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}>\n${body}\n</${root}>\n`;
}

function listTopologies(ex: Exchange, where: Where): void {
  const items = served(where.gateway)
    .map((t) => ({
      name: t.name,
      timestamp: String(timestampOf(t)),
      ...(t.serving?.topology.defaultPath && { defaultServicePath: t.serving.topology.defaultPath }),
      uri: `${where.origin}/${where.gateway.settings.path}/${t.name}`,
      href: `${where.api}/topologies/${t.name}`,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  sendMedia(ex, negotiate(ex), JSON.stringify({ topologies: { topology: items } }), () => {
    const body = items
      .map(
        (i) =>
          `   <topology>\n${Object.entries(i)
            .map(([k, v]) => `      <${k}>${escapeXml(v)}</${k}>`)
            .join('\n')}\n   </topology>`,
      )
      .join('\n');
    return `<?xml version="1.0" encoding="UTF-8"?>\n<topologies>\n${body}\n</topologies>\n`;
  });
}

function beanFor(where: Where, name: string): TopologyBean | undefined {
  const report = served(where.gateway).find((t) => t.name === name);
  if (!report?.serving) return undefined;
  return beanOf(report.serving.topology, {
    uri: `${where.origin}/${where.gateway.settings.path}/${name}`,
    timestamp: timestampOf(report),
  });
}

function getTopology(ex: Exchange, where: Where, name: string): void {
  const media = negotiate(ex);
  const bean = beanFor(where, name);
  // Knox's resource returns null: Jersey answers 204 No Content.
  if (!bean) send(ex, 204, undefined);
  else sendMedia(ex, media, beanJson(bean), () => beanXml(bean));
}

function generatedFrom(gateway: GatewayHandle, name: string): boolean {
  const report = gateway.topologies().find((t) => t.name === name);
  if (report?.serving?.topology.generated) return true;
  return DESCRIPTOR_EXTENSIONS.some((ext) => existsSync(join(gateway.layout.descriptors, `${name}${ext}`)));
}

async function putTopology(ex: Exchange, where: Where, name: string): Promise<void> {
  const { gateway } = where;
  const media = negotiate(ex);
  const type = (ex.req.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
  const json = type === JSON_TYPE || type.endsWith('+json');
  const xml = type === XML_TYPE || type === 'text/xml' || type.endsWith('+xml');
  if (!json && !xml) {
    ex.req.resume();
    throw Errors.unsupportedMediaType('Send the topology as application/xml or application/json');
  }
  const source = await readText(ex.req, MAX_BODY);
  const file = join(gateway.layout.topologies, `${name}.xml`);
  let bean: TopologyBean;
  try {
    bean = json ? beanFromJson(source) : beanFromXml(source, file);
  } catch (err) {
    if (err instanceof BeanError) throw Errors.badRequest(`Not a topology: ${err.message}`);
    throw err;
  }
  // Knox does not overwrite a topology generated from a descriptor (its resource returns null: 204).
  if (generatedFrom(gateway, name)) {
    ex.log.warn(
      { topology: name, user: userOf(ex) },
      `Knox admin API: topology ${name} is generated; not replaced`,
    );
    return send(ex, 204, undefined);
  }
  const text = beanXml({ ...bean, name }, { file: true });
  const diagnostics = await gateway.checkTopology(file, text);
  if (diagnostics.some((d) => d.severity === 'error')) {
    throw Errors.invalidTopology('the topology does not deploy; nothing was written', {
      details: { name, deployed: false, diagnostics: diagnostics.map((d) => diagnosticJson(gateway, d)) },
    });
  }
  // Written whole then renamed, so the topology monitor never reads half a file.
  const temporary = join(gateway.layout.topologies, `.${name}.xml.knox-admin-tmp`);
  writeFileSync(temporary, text);
  renameSync(temporary, file);
  await gateway.rescan();
  ex.log.info({ topology: name, file, user: userOf(ex) }, `Knox admin API wrote topology ${name}`);
  const written = beanFor(where, name);
  if (!written) return send(ex, 204, undefined);
  sendMedia(ex, media, beanJson(written), () => beanXml(written));
}

async function deleteTopology(ex: Exchange, where: Where, self: string, name: string): Promise<void> {
  ex.req.resume();
  const { gateway } = where;
  let deleted = false;
  // Knox never deletes `admin`; postern also keeps the topology that serves this request.
  if (name !== 'admin' && name !== self) {
    const files = TOPOLOGY_EXTENSIONS.map((ext) => join(gateway.layout.topologies, `${name}${ext}`)).filter(
      (f) => existsSync(f),
    );
    for (const f of files) unlinkSync(f);
    deleted = files.length > 0;
    if (deleted) {
      await gateway.rescan();
      ex.log.info({ topology: name, user: userOf(ex) }, `Knox admin API removed topology ${name}`);
    }
  }
  send(ex, 200, JSON_TYPE, `{ "deleted" : ${deleted} }`);
}

// ---------------------------------------------------------------------------------------------------------------
// descriptors, providerconfig
// ---------------------------------------------------------------------------------------------------------------

function filesIn(dir: string, extensions: readonly string[]): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => !n.startsWith('.') && extensions.includes(extname(n).toLowerCase()))
      .sort();
  } catch {
    return [];
  }
}

const PROVIDER_CONFIG_EXTENSIONS = ['.xml', '.json', '.yml', '.yaml'];

function listing(ex: Exchange, where: Where, kind: string, dir: string, extensions: readonly string[]): void {
  negotiate(ex, ['json']);
  const items = filesIn(dir, extensions).map((n) => ({
    href: `${where.api}/${kind}/${basename(n, extname(n))}`,
    name: n,
  }));
  send(ex, 200, JSON_TYPE, JSON.stringify({ href: `${where.api}/${kind}`, items }));
}

function oneFile(ex: Exchange, dir: string, extensions: readonly string[], name: string): void {
  const found = filesIn(dir, extensions).find((n) => basename(n, extname(n)) === name);
  if (!found) throw Errors.notFound(`No file named ${name}`);
  const ext = extname(found).toLowerCase();
  const type = ext === '.json' ? JSON_TYPE : ext === '.xml' ? XML_TYPE : 'text/plain';
  send(ex, 200, type, readFileSync(join(dir, found), 'utf8'));
}

// ---------------------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------------------

function allow(ex: Exchange, methods: readonly string[]): void {
  if (!methods.includes(ex.req.method ?? '')) {
    ex.req.resume();
    throw Errors.methodNotAllowed(`Use ${methods.join(' or ')}`, { headers: { allow: methods.join(', ') } });
  }
}

const READ = ['GET', 'HEAD'];

async function answer(ex: Exchange, gateway: GatewayHandle, self: string, master: Uint8Array): Promise<void> {
  if (!ex.path.startsWith(API)) throw Errors.notFound();
  const parts = ex.path
    .slice(API.length)
    .split('/')
    .filter((p) => p !== '')
    .map((p) => decodeURIComponent(p));
  const where = whereOf(ex, gateway, self);
  const [head, name, ...more] = parts;
  if (name !== undefined && head !== 'servicedefinitions' && head !== 'aliases') {
    if (more.length > 0) throw Errors.notFound();
    if (!NAME.test(name) || name.startsWith('.')) {
      ex.req.resume();
      throw Errors.badRequest(`Invalid ${head === 'topologies' ? 'topology' : 'resource'} name: ${name}`);
    }
  }
  switch (head) {
    case 'version':
      if (name !== undefined) throw Errors.notFound();
      allow(ex, READ);
      ex.req.resume();
      return version(ex, where);
    case 'topologies':
      if (name === undefined) {
        allow(ex, READ);
        ex.req.resume();
        return listTopologies(ex, where);
      }
      allow(ex, [...READ, 'PUT', 'DELETE']);
      if (ex.req.method === 'PUT') return putTopology(ex, where, name);
      if (ex.req.method === 'DELETE') return deleteTopology(ex, where, self, name);
      ex.req.resume();
      return getTopology(ex, where, name);
    case 'descriptors':
    case 'providerconfig': {
      const dir = head === 'descriptors' ? gateway.layout.descriptors : gateway.layout.sharedProviders;
      const extensions = head === 'descriptors' ? DESCRIPTOR_EXTENSIONS : PROVIDER_CONFIG_EXTENSIONS;
      if (name !== undefined && ex.req.method === 'PUT') {
        return putConfigFile(ex, gateway, head, name, `${where.api}/${head}/${encodeURIComponent(name)}`);
      }
      if (name !== undefined && ex.req.method === 'DELETE') return deleteConfigFile(ex, gateway, head, name);
      allow(ex, READ);
      ex.req.resume();
      if (name === undefined) return listing(ex, where, head, dir, extensions);
      return oneFile(ex, dir, extensions, name);
    }
    case 'servicedefinitions': {
      if (ex.req.method === 'POST' || ex.req.method === 'PUT') {
        if (name !== undefined) {
          ex.req.resume();
          throw Errors.notFound();
        }
        return writeDefinition(ex, gateway, where.api);
      }
      if (ex.req.method === 'DELETE') return deleteDefinition(ex, gateway, where.api, name, more[0], more[1]);
      allow(ex, READ);
      ex.req.resume();
      const [defName, role, defVersion] = [name, ...more];
      const query = new URLSearchParams(ex.query);
      const serviceOnly = query.get('serviceOnly') === 'true';
      const same = (a: string, b: string | undefined) =>
        b === undefined || a.toLowerCase() === b.toLowerCase();
      const defs = gateway
        .definitions()
        .filter((d) => same(d.name, defName) && same(d.role, role) && same(d.version, defVersion));
      return sendMedia(ex, negotiate(ex), serviceDefinitionsJson(defs, serviceOnly), () =>
        serviceDefinitionsXml(defs),
      );
    }
    case 'aliases':
      return answerAliases(ex, gateway.layout.home, master, name, more[0], more.slice(1));
    default:
      ex.req.resume();
      throw Errors.notFound();
  }
}

export const knoxAdminService: ServiceFactory = {
  name: 'KnoxAdmin',
  roles: ['KNOX'],
  classNames: [
    'org.apache.knox.gateway.service.admin.TopologiesResource',
    'org.apache.knox.gateway.service.admin.deploy.AdminServiceDeploymentContributor',
  ],
  create(ctx: DispatchContext): Handler {
    const gateway = ctx.gateway;
    const self = ctx.topology.name;
    return async (ex) => {
      if (!gateway) throw noGateway();
      return answer(ex, gateway, self, ctx.masterSecret);
    };
  },
};
