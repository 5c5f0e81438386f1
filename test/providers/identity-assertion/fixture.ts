/**
 * The identity-assertion tests' gateway: a home with a test-only authentication plugin (`TestUser`: the user
 * and groups come from the `X-Test-User` and `X-Test-Groups` request headers), an echo backend that answers with
 * the URL and headers it received, and audit events kept in memory. The HTTP service's ConfigurableDispatch adds
 * the actor headers, so a test sees the effective groups as the backend does.
 */
import pino from 'pino';
import { Agent, type Dispatcher, request } from 'undici';
import { Gateway } from '../../../src/gateway/gateway.ts';
import { auditLogOn } from '../../../src/observability/audit.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { makeHome, type TestHome } from '../../helpers/home.ts';

const TEST_USER_PLUGIN = `
export function register(registry) {
  registry.provider({
    role: 'authentication',
    name: 'TestUser',
    create() {
      return (ex, next) => {
        const name = ex.req.headers['x-test-user'];
        const groups = ex.req.headers['x-test-groups'];
        if (typeof name === 'string') {
          ex.user = { name, groups: typeof groups === 'string' && groups ? groups.split(',') : [] };
        }
        return next();
      };
    },
  });
}
`;

export interface AuditEvent {
  action: string;
  outcome: string;
  topology: string;
  provider?: string;
  user?: string;
  effectiveUser?: string;
  reason?: string;
}

export interface Provider {
  role: string;
  name: string;
  params?: Record<string, string>;
}

/** A topology: TestUser authentication, the given providers, one HTTP service on the backend. */
export function topology(
  backend: string,
  providers: Provider[],
  serviceParams: Record<string, string> = { shouldIncludePrincipalAndGroups: 'true' },
): string {
  const xmlEscape = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  const provider = (p: Provider) => `    <provider>
      <role>${p.role}</role>
      <name>${p.name}</name>
      <enabled>true</enabled>
${Object.entries(p.params ?? {})
  .map(
    ([n, v]) =>
      `      <param>\n        <name>${n}</name>\n        <value>${xmlEscape(v)}</value>\n      </param>`,
  )
  .join('\n')}
    </provider>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<topology>
  <gateway>
${[{ role: 'authentication', name: 'TestUser' }, ...providers].map(provider).join('\n')}
  </gateway>
  <service>
    <role>HTTP</role>
    <url>${backend}</url>
${Object.entries(serviceParams)
  .map(([n, v]) => `    <param><name>${n}</name><value>${xmlEscape(v)}</value></param>`)
  .join('\n')}
  </service>
</topology>
`;
}

/** The 1-based line of `<name>{param}</name>` in a topology's text. */
export function lineOf(text: string, param: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(`<name>${param}</name>`));
  if (index < 0) throw new Error(`param ${param} not in the topology`);
  return index + 1;
}

export interface Echo {
  status: number;
  /** The path and query the backend received (undefined when the request did not reach it). */
  url?: string;
  /** The backend's query, decoded. */
  query: URLSearchParams;
  headers: Record<string, string>;
  /** The gateway's error code, when it answered itself. */
  code?: string;
}

export interface IdentityGateway {
  gateway: Gateway;
  home: TestHome;
  backend: Backend;
  audit: AuditEvent[];
  /** GET {gateway}/{topology}/http{path} as `user` (with `groups`), with extra headers. */
  get(
    topology: string,
    path: string,
    user?: string,
    options?: { groups?: string[]; headers?: Record<string, string>; dispatcher?: Dispatcher },
  ): Promise<Echo>;
  close(): Promise<void>;
}

/**
 * Starts an echo backend and a gateway on a new home with the given topologies (files named `{name}.xml`, each
 * given the backend's URL) and gateway-site properties.
 */
export async function startIdentityGateway(
  topologies: Record<string, (backend: string) => string>,
  site: Record<string, string | number | boolean> = {},
): Promise<IdentityGateway> {
  const backend = await startBackend((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    });
  });
  const home = makeHome({ 'postern.plugins': './plugins/test-user.mjs', ...site });
  home.write('plugins/test-user.mjs', TEST_USER_PLUGIN);
  for (const [name, text] of Object.entries(topologies))
    home.write(`conf/topologies/${name}.xml`, text(backend.url));
  const audit: AuditEvent[] = [];
  const auditLogger = pino(
    { level: 'info', base: undefined },
    { write: (line: string) => audit.push(JSON.parse(line) as AuditEvent) },
  );
  const gateway = await Gateway.start({
    home: home.dir,
    port: 0,
    host: '127.0.0.1',
    log: createLogger({
      level: process.env.POSTERN_TEST_LOG ?? 'silent',
      stdout: !!process.env.POSTERN_TEST_LOG,
    }),
    watch: false,
    audit: auditLogOn(auditLogger),
  });
  return {
    gateway,
    home,
    backend,
    audit,
    async get(topologyName, path, user, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (user !== undefined) headers['x-test-user'] = user;
      if (options.groups) headers['x-test-groups'] = options.groups.join(',');
      const res = await request(`${gateway.url}/${topologyName}/http${path}`, {
        headers,
        dispatcher: options.dispatcher,
      });
      const body = (await res.body.json()) as {
        url?: string;
        headers?: Record<string, string>;
        error?: { code: string };
      };
      const url = body.url;
      const q = url?.indexOf('?') ?? -1;
      return {
        status: res.statusCode,
        url,
        query: new URLSearchParams(url && q >= 0 ? url.slice(q + 1) : ''),
        headers: body.headers ?? {},
        code: body.error?.code,
      };
    },
    async close() {
      await gateway.close();
      await backend.close();
      home.remove();
    },
  };
}

/** The groups the backend received in the actor headers, in order. */
export function actorGroups(headers: Record<string, string>, prefix = 'x-knox-actor-groups'): string[] {
  const out: string[] = [];
  for (let i = 1; headers[`${prefix}-${i}`] !== undefined; i++)
    out.push(...headers[`${prefix}-${i}`].split(','));
  return out;
}

/** An undici agent whose connections come from another loopback address (127.0.0.2, ...). */
export function agentFrom(localAddress: string): Agent {
  return new Agent({ localAddress });
}
