/**
 * @module bench/home
 * The gateway home every postern row of the benchmarks starts from: a gateway-site with the row's settings, and
 * one topology, `bench`, that lets anyone in (Anonymous, identity assertion Default: the cheapest chain) to the
 * services given.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `conf/gateway-site.xml` (the settings in the order given) and `conf/topologies/bench.xml` under `home`. */
export function writeBenchHome(
  home: string,
  site: Record<string, string>,
  services: readonly { role: string; url: string }[],
): string {
  mkdirSync(join(home, 'conf', 'topologies'), { recursive: true });
  const props = Object.entries(site)
    .map(([n, v]) => `  <property><name>${n}</name><value>${v}</value></property>\n`)
    .join('');
  writeFileSync(
    join(home, 'conf', 'gateway-site.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>\n<configuration>\n${props}</configuration>\n`,
  );
  writeFileSync(
    join(home, 'conf', 'topologies', 'bench.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>
<topology>
  <gateway>
    <provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
    <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled></provider>
  </gateway>
${services.map((s) => `  <service><role>${s.role}</role><url>${s.url}</url></service>\n`).join('')}</topology>
`,
  );
  return home;
}
