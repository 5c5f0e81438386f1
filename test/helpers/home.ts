/**
 * Test homes: a temporary GATEWAY_HOME with a gateway-site and topologies written by the test, and a gateway
 * started on it in-process on an ephemeral loopback port.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Agent } from 'undici';
import { Gateway } from '../../src/gateway/gateway.ts';
import { createLogger } from '../../src/observability/logger.ts';

export interface TestHome {
  dir: string;
  write(relative: string, content: string): string;
  remove(): void;
}

export function siteXml(props: Record<string, string | number | boolean>): string {
  const body = Object.entries(props)
    .map(([name, value]) => `  <property><name>${name}</name><value>${value}</value></property>`)
    .join('\n');
  return `<?xml version="1.0"?>\n<configuration>\n${body}\n</configuration>\n`;
}

export function makeHome(site: Record<string, string | number | boolean> = {}): TestHome {
  const dir = mkdtempSync(join(tmpdir(), 'postern-home-'));
  for (const d of ['conf/topologies', 'conf/descriptors', 'conf/shared-providers', 'data/services', 'logs']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  const home: TestHome = {
    dir,
    write(relative, content) {
      const file = join(dir, relative);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      return file;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  home.write(
    'conf/gateway-site.xml',
    siteXml({ 'gateway.port': 0, 'gateway.host': '127.0.0.1', 'ssl.enabled': false, ...site }),
  );
  return home;
}

/** A Knox topology with the given providers and services. */
export function topologyXml(options: {
  providers?: { role: string; name: string; enabled?: boolean; params?: Record<string, string> }[];
  services: {
    role: string;
    urls: string[];
    name?: string;
    version?: string;
    params?: Record<string, string>;
  }[];
  extra?: string;
}): string {
  const providers = (
    options.providers ?? [
      { role: 'authentication', name: 'Anonymous' },
      { role: 'identity-assertion', name: 'Default' },
    ]
  )
    .map(
      (p) => `    <provider>
      <role>${p.role}</role>
      <name>${p.name}</name>
      <enabled>${p.enabled ?? true}</enabled>
${Object.entries(p.params ?? {})
  .map(([n, v]) => `      <param><name>${n}</name><value>${v}</value></param>`)
  .join('\n')}
    </provider>`,
    )
    .join('\n');
  const services = options.services
    .map(
      (s) => `  <service>
    <role>${s.role}</role>
${s.name ? `    <name>${s.name}</name>\n` : ''}${s.version ? `    <version>${s.version}</version>\n` : ''}${s.urls.map((u) => `    <url>${u}</url>`).join('\n')}
${Object.entries(s.params ?? {})
  .map(([n, v]) => `    <param><name>${n}</name><value>${v}</value></param>`)
  .join('\n')}
  </service>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<topology>
  <gateway>
${providers}
  </gateway>
${services}
${options.extra ?? ''}
</topology>
`;
}

/** Starts a gateway on the home; logs are silent unless POSTERN_TEST_LOG is set. */
export async function startGateway(home: TestHome, options: { watch?: boolean } = {}): Promise<Gateway> {
  const log = createLogger({
    level: process.env.POSTERN_TEST_LOG ?? 'silent',
    stdout: !!process.env.POSTERN_TEST_LOG,
  });
  return Gateway.start({ home: home.dir, port: 0, host: '127.0.0.1', log, watch: options.watch ?? false });
}

/** An undici agent that trusts the test gateway's self-signed certificate. */
export function insecureAgent(): Agent {
  return new Agent({ connect: { rejectUnauthorized: false } });
}
