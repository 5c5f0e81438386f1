/**
 * @module services/knox-ui/metadata
 * KNOX-METADATA's `topologies`, `profiles/{profile}` and `publicCert`, as Knox's `KnoxMetadataResource` answers
 * them (gateway-service-metadata), so Knox's home page and the scripts written against it read the same JSON:
 *
 * - `topologies[/{name}]`: `{"topologyInformations":{"topologyInformation":[{topology, pinned,
 *   apiServicesViewVersion, apiServices:{service:[…]}, uiServices:{service:[…]}}]}}`, pinned topologies first,
 *   then by name; `knox.homepage.hidden.topologies` left out. Each service (not NAMENODE, JOBTRACKER,
 *   RESOURCEMANAGERAPI, nor one without a URL) is Knox's `ServiceModel`: `serviceName`, `version`, `shortDesc`,
 *   `description`, `type` (its definition's metadata; `UNKNOWN` without), `context`, `serviceUrls` (the gateway URL
 *   of the context per backend URL, `{{BACKEND_HOST}}`/`{{SCHEME}}`/`{{HOST}}`/`{{PORT}}` filled from it; HIVE and
 *   IMPALA as JDBC URLs) and `samples:{sample:[{description, value}]}` (a curl line unless the sample gives one).
 * - `profiles/{profile}`: the home page profile's elements (`gpi_*` true/false and `topologies`), `{}` for none.
 * - `publicCert?type=pem`: the certificate the TLS listener presents, as an attachment `gateway-client-trust.pem`;
 *   503 without TLS (postern's token signing key has no certificate), 400 for another type but `jks`/`bcfks`,
 *   which postern does not write (501).
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { Errors } from '../../errors.ts';
import type { ServiceDefinition } from '../../servicedef/model.ts';
import type { Exchange, GatewayHandle } from '../../spi/index.ts';

const UNREAL_SERVICES = new Set(['NAMENODE', 'JOBTRACKER', 'RESOURCEMANAGERAPI']);
const TYPES = new Set(['API', 'UI', 'API_AND_UI']);

/** Knox's built-in home page profiles (HomePageProfile), which `knox.homepage.profile.*` may redefine. */
const BUILT_IN_PROFILES: Record<string, readonly string[]> = {
  full: [
    'gpi_version',
    'gpi_hostname',
    'gpi_cert',
    'gpi_admin_ui',
    'gpi_admin_api',
    'gpi_md_api',
    'gpi_tokens',
    'gpi_webshell',
  ],
  thin: ['gpi_version', 'gpi_hostname', 'gpi_cert'],
  token: ['gpi_version', 'gpi_hostname', 'gpi_cert', 'gpi_tokens'],
};
const PROFILE_ELEMENTS = [
  'gpi_version',
  'gpi_hostname',
  'gpi_cert',
  'gpi_admin_ui',
  'gpi_admin_api',
  'gpi_md_api',
  'gpi_tokens',
  'gpi_webshell',
];

interface ServiceModel {
  serviceName: string;
  version: string;
  shortDesc: string;
  description: string;
  type: string;
  context: string;
  serviceUrls: string[];
  samples: { sample: { description?: string; value: string }[] };
}

/** Where the client reached the gateway: Java's scheme, server name and port. */
interface Origin {
  scheme: string;
  host: string;
  port: string;
}

function originOf(ex: Exchange): Origin {
  const url = new URL(ex.inboundUrl);
  const scheme = url.protocol.slice(0, -1);
  return { scheme, host: url.hostname, port: url.port || (scheme === 'https' ? '443' : '80') };
}

function fill(context: string, backend: string | undefined): string {
  if (!backend) return context;
  let out = context.replaceAll('{{BACKEND_HOST}}', backend);
  if (/\{\{(SCHEME|HOST|PORT)\}\}/.test(out) && URL.canParse(backend)) {
    const u = new URL(backend);
    out = out
      .replaceAll('{{SCHEME}}', u.protocol.slice(0, -1))
      .replaceAll('{{HOST}}', u.hostname)
      .replaceAll('{{PORT}}', u.port || '-1');
  }
  return out;
}

function serviceModel(
  at: Origin,
  gatewayPath: string,
  topology: string,
  service: { role: string; version?: string; urls: readonly string[] },
  definition: ServiceDefinition | undefined,
  backend: string | undefined,
): ServiceModel {
  const meta = definition?.metadata;
  const role = service.role;
  const type = meta?.type && TYPES.has(meta.type) ? meta.type : 'UNKNOWN';
  const shortDesc = meta?.shortDesc ?? role.slice(0, 1).toUpperCase() + role.slice(1).toLowerCase();
  const description =
    meta?.description ??
    shortDesc + (type === 'API' ? ' REST API' : type === 'UI' ? ' Web User Interface' : '');
  const context = meta?.context ?? `/${role.toLowerCase()}`;
  const url = (ctx: string, b: string | undefined) =>
    `${at.scheme}://${at.host}:${at.port}/${gatewayPath}/${topology}${fill(ctx, b)}`;
  let serviceUrls: string[];
  if (role === 'HIVE') {
    serviceUrls = [
      `jdbc:hive2://${at.host}:${at.port}/;ssl=true;transportMode=http;httpPath=${gatewayPath}/${topology}/hive`,
    ];
  } else if (role === 'IMPALA') {
    serviceUrls = [
      `jdbc:impala://${at.host}:${at.port}/;ssl=1;transportMode=http;httpPath=${gatewayPath}/${topology}/impala;AuthMech=3`,
    ];
  } else if (backend !== undefined) {
    serviceUrls = [url(context, backend)];
  } else {
    serviceUrls = [...new Set(service.urls.map((u) => url(context, u)))].sort();
  }
  const samples = (meta?.samples ?? []).map((sample) => {
    if (sample.value?.trim()) return { description: sample.description, value: sample.value };
    const method = sample.method?.trim() || 'GET';
    const path = (sample.path ?? '').startsWith('/') ? (sample.path ?? '') : `/${sample.path ?? ''}`;
    return { description: sample.description, value: `curl -iv -X ${method} "${serviceUrls[0]}${path}"` };
  });
  return {
    serviceName: role,
    version: service.version ?? '',
    shortDesc,
    description,
    type,
    context,
    serviceUrls,
    samples: { sample: samples },
  };
}

/** The definition a topology's service is served by: the deployed route's, else the newest of its role. */
function definitionFor(
  gateway: GatewayHandle,
  routes: readonly { role: string; definition: string }[],
  service: { role: string; version?: string },
): ServiceDefinition | undefined {
  const defs = gateway.definitions().filter((d) => d.role.toLowerCase() === service.role.toLowerCase());
  const used = routes.find((r) => r.role === service.role)?.definition;
  return (
    defs.find((d) => `${d.name}/${d.version}` === used) ??
    defs.find((d) => service.version === undefined || d.version === service.version)
  );
}

export function topologiesJson(ex: Exchange, gateway: GatewayHandle, only: string | undefined): string {
  const settings = gateway.settings.homepage;
  const hidden = new Set(
    settings.hiddenTopologies.length > 0
      ? settings.hiddenTopologies
      : ['admin', 'manager', 'knoxsso', 'metadata', 'homepage'],
  );
  const pinned = new Set(settings.pinnedTopologies);
  const at = originOf(ex);
  const out: unknown[] = [];
  const reports = gateway
    .topologies()
    .filter(
      (t) =>
        t.serving &&
        !hidden.has(t.name) &&
        (only === undefined || t.name.toLowerCase() === only.toLowerCase()),
    )
    .sort((a, b) => Number(pinned.has(b.name)) - Number(pinned.has(a.name)) || a.name.localeCompare(b.name));
  for (const report of reports) {
    const serving = report.serving!;
    const api = new Map<string, ServiceModel>();
    const ui = new Map<string, ServiceModel>();
    for (const service of serving.services) {
      if (UNREAL_SERVICES.has(service.role) || service.urls.length === 0) continue;
      const definition = definitionFor(gateway, serving.routes, service);
      const backends = settings.groupUiServices ? [undefined] : service.urls;
      for (const backend of backends) {
        const model = serviceModel(at, gateway.settings.path, report.name, service, definition, backend);
        const key = JSON.stringify(model);
        if (model.type === 'UI' || model.type === 'API_AND_UI') ui.set(key, model);
        if (model.type !== 'UI') api.set(key, model);
      }
    }
    const sorted = (m: Map<string, ServiceModel>) =>
      [...m.values()].sort(
        (a, b) =>
          a.serviceName.localeCompare(b.serviceName) || a.serviceUrls[0].localeCompare(b.serviceUrls[0]),
      );
    out.push({
      topology: report.name,
      pinned: pinned.has(report.name),
      apiServicesViewVersion: settings.apiServicesViewVersion,
      apiServices: { service: sorted(api) },
      uiServices: { service: sorted(ui) },
    });
  }
  return JSON.stringify({ topologyInformations: { topologyInformation: out } });
}

export function profileJson(gateway: GatewayHandle, name: string): string {
  const key = name.toLowerCase();
  const configured = [...gateway.settings.homepage.profiles].find(([k]) => k.toLowerCase() === key)?.[1];
  const elements = configured ?? BUILT_IN_PROFILES[key];
  if (!elements) return '{}';
  const profile: Record<string, string> = {};
  for (const e of PROFILE_ELEMENTS) profile[e] = String(elements.includes(e));
  profile.topologies = elements
    .filter((e) => e.startsWith('top_'))
    .map((e) => e.slice(4))
    .join(',');
  return JSON.stringify(profile);
}

/** `publicCert?type=pem`: the listener's certificate as a PEM attachment. */
export function sendPublicCert(ex: Exchange): void {
  const type = new URLSearchParams(ex.query).get('type') ?? 'pem';
  if (type === 'jks' || type === 'bcfks') {
    throw Errors.notImplemented(
      `postern gives the public certificate as PEM only (type=pem), not ${type.toUpperCase()}`,
    );
  }
  if (type !== 'pem') throw Errors.badRequest('Invalid certification type provided!');
  const socket = ex.req.socket as Partial<TLSSocket>;
  const own = typeof socket.getCertificate === 'function' ? socket.getCertificate() : null;
  const raw = own && 'raw' in own && Buffer.isBuffer(own.raw) ? own.raw : undefined;
  if (!raw)
    throw Errors.unavailable('Could not generate public certificate: the gateway does not listen with TLS');
  const body = new X509Certificate(raw).toString();
  ex.res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-disposition': 'attachment;filename=gateway-client-trust.pem',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  ex.res.end(ex.req.method === 'HEAD' ? undefined : body);
}
