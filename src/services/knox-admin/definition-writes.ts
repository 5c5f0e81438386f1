/**
 * @module services/knox-admin/definition-writes
 * Knox's `ServiceDefinitionsResource` writes, into the home's `data/services/{name}/{version}/` (where the
 * gateway's definition watcher picks them up and redeploys, as Knox's registry does):
 *
 * The gateway rereads its definitions and redeploys at once (its watcher would within a second).
 *
 * | route | answer |
 * |---|---|
 * | `POST servicedefinitions` | a `<serviceDefinition>` holding `<service>` and `<rules>` (application/xml); 201 with the definition's `Location`; 409 when that name and version exist |
 * | `PUT servicedefinitions` | the same, replacing an existing one; 201 |
 * | `DELETE servicedefinitions/{name}/{role}/{version}` | 200 with its `Location`; 404 when the home has no such definition (a bundled one is not the home's to delete) |
 *
 * Beyond Knox: both files are read as the gateway reads them before anything is written; one with errors is
 * refused with its diagnostics (400) and nothing changes.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DiagnosticSink } from '../../config/diagnostics.ts';
import { Errors } from '../../errors.ts';
import { readText } from '../../gateway/read-body.ts';
import { parseRewriteXml } from '../../servicedef/rewrite-xml.ts';
import { parseServiceXml } from '../../servicedef/service-xml.ts';
import type { Exchange, GatewayHandle } from '../../spi/index.ts';
import { diagnosticJson } from '../admin/api.ts';
import { userOf } from '../admin/common.ts';
import { send } from './send.ts';

const MAX_BODY = 1024 * 1024;
const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function servicesDir(gateway: GatewayHandle): string {
  return join(gateway.layout.home, 'data', 'services');
}

/** The `<service>…</service>` and `<rules>…</rules>` (or `<rules/>`) of a ServiceDefinitionPair. */
function parts(body: string): { service: string; rules: string } | undefined {
  const service = /<service\b[\s\S]*?<\/service>/.exec(body)?.[0];
  const rules = /<rules\b[^>]*\/>|<rules\b[\s\S]*?<\/rules>/.exec(body)?.[0] ?? '<rules/>';
  return service ? { service, rules } : undefined;
}

export async function writeDefinition(ex: Exchange, gateway: GatewayHandle, api: string): Promise<void> {
  const type = (ex.req.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
  if (type !== 'application/xml' && type !== 'text/xml') {
    ex.req.resume();
    throw Errors.unsupportedMediaType('Send the <serviceDefinition> as application/xml');
  }
  const body = await readText(ex.req, MAX_BODY);
  const found = parts(body);
  if (!found) throw Errors.badRequest('The body holds no <serviceDefinition> with a <service>');
  const sink = new DiagnosticSink();
  let service: ReturnType<typeof parseServiceXml>;
  try {
    service = parseServiceXml(
      `<?xml version="1.0" encoding="UTF-8"?>\n${found.service}\n`,
      'service.xml',
      sink,
    );
    parseRewriteXml(`<?xml version="1.0" encoding="UTF-8"?>\n${found.rules}\n`, 'rewrite.xml', sink);
  } catch (err) {
    // XML that is not well-formed.
    if (!(err instanceof ConfigError)) throw err;
    sink.items.push(...err.diagnostics);
    service = undefined;
  }
  if (!service || sink.hasErrors) {
    throw Errors.badRequest('the service definition does not read; nothing was written', {
      details: { diagnostics: sink.items.map((d) => diagnosticJson(gateway, d)) },
    });
  }
  if (!SAFE.test(service.name) || !SAFE.test(service.version)) {
    throw Errors.badRequest('the definition name and version must be plain names');
  }
  const dir = join(servicesDir(gateway), service.name, service.version);
  if (ex.req.method === 'POST' && existsSync(join(dir, 'service.xml'))) {
    throw Errors.conflict(`Service definition ${service.name}/${service.version} exists; PUT replaces it`);
  }
  mkdirSync(dir, { recursive: true });
  // Each file written whole then renamed, rules first: the watcher never reads a service.xml without its rules.
  for (const [name, text] of [
    ['rewrite.xml', found.rules],
    ['service.xml', found.service],
  ] as const) {
    const temporary = join(dir, `.${name}.knox-admin-tmp`);
    writeFileSync(temporary, `<?xml version="1.0" encoding="UTF-8"?>\n${text}\n`);
    renameSync(temporary, join(dir, name));
  }
  gateway.reloadDefinitions();
  ex.log.info(
    { definition: `${service.name}/${service.version}`, user: userOf(ex) },
    'Knox admin API wrote a service definition',
  );
  send(ex, 201, undefined, '', {
    location: `${api}/servicedefinitions/${service.name}/${service.role}/${service.version}`,
  });
}

export function deleteDefinition(
  ex: Exchange,
  gateway: GatewayHandle,
  api: string,
  name: string | undefined,
  role: string | undefined,
  version: string | undefined,
): void {
  ex.req.resume();
  if (!name || !role || !version || !SAFE.test(name) || !SAFE.test(version)) {
    throw Errors.badRequest('DELETE servicedefinitions/{name}/{role}/{version}');
  }
  const dir = join(servicesDir(gateway), name, version);
  const mine = gateway
    .definitions()
    .some((d) => d.dir === dir && d.role.toLowerCase() === role.toLowerCase() && d.source === 'home');
  if (!mine || !existsSync(dir))
    throw Errors.notFound(`The home has no service definition ${name}/${role}/${version}`);
  rmSync(dir, { recursive: true, force: true });
  gateway.reloadDefinitions();
  ex.log.info(
    { definition: `${name}/${version}`, user: userOf(ex) },
    'Knox admin API removed a service definition',
  );
  send(ex, 200, undefined, '', { location: `${api}/servicedefinitions/${name}/${role}/${version}` });
}
