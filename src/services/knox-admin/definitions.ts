/**
 * @module services/knox-admin/definitions
 * Knox's `ServiceDefinitionsResource` answers: the loaded service definitions, sorted as Knox's
 * `ServiceDefinitionPairComparator` (name, role, version), in its `ServiceDefinitionsWrapper`
 * (`serviceDefinitions/serviceDefinition`). JSON gives each definition's service as Knox's model names it (role,
 * name, version, routes, dispatch, policies); XML gives each `service.xml` itself. Rewrite rules are not included
 * (Knox's `serviceOnly=false` adds them; postern answers as `serviceOnly=true` either way).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceDefinition } from '../../servicedef/model.ts';

function sorted(defs: readonly ServiceDefinition[]): ServiceDefinition[] {
  const key = (d: ServiceDefinition) => [d.name, d.role, d.version];
  return [...defs].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
  });
}

function serviceJson(d: ServiceDefinition) {
  return {
    name: d.name,
    role: d.role,
    version: d.version,
    routes: { route: d.routes.map((r) => ({ path: r.path })) },
    ...(d.dispatch && {
      dispatch: {
        ...(d.dispatch.contributorName && { contributorName: d.dispatch.contributorName }),
        ...(d.dispatch.className && { classname: d.dispatch.className }),
        ...(d.dispatch.haClassName && { haClassname: d.dispatch.haClassName }),
      },
    }),
    ...(d.policies && { policies: { policy: d.policies.map((p) => ({ role: p.role, name: p.name })) } }),
  };
}

export function serviceDefinitionsJson(defs: readonly ServiceDefinition[], _serviceOnly: boolean): string {
  return JSON.stringify({
    serviceDefinitions: { serviceDefinition: sorted(defs).map((d) => ({ service: serviceJson(d) })) },
  });
}

export function serviceDefinitionsXml(defs: readonly ServiceDefinition[]): string {
  const items = sorted(defs).map((d) => {
    let xml: string;
    try {
      xml = readFileSync(join(d.dir, 'service.xml'), 'utf8')
        .replace(/<\?xml[^>]*\?>/, '')
        .replace(/<!--[\s\S]*?-->/g, '')
        .trim();
    } catch {
      xml = `<service role="${d.role}" name="${d.name}" version="${d.version}"/>`;
    }
    return `   <serviceDefinition>\n${xml}\n   </serviceDefinition>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<serviceDefinitions>\n${items.join('\n')}\n</serviceDefinitions>\n`;
}
