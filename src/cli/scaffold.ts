/**
 * @module cli/scaffold
 * `postern topology new NAME [--service ROLE=URL]… [--auth anonymous|file|ldap]` writes
 * `conf/topologies/NAME.xml`; `postern service new ROLE [--version V] [--path /x]` writes
 * `data/services/{name}/{version}/service.xml` and `rewrite.xml`. What they write is what `postern check` accepts
 * as it is (the tests run check on it), commented where the operator has something to fill in. An existing file
 * is never overwritten.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, formatDiagnostic } from '../config/diagnostics.ts';
import { type HomeLayout, homeLayout, loadHome, REPO_ROOT, TOPOLOGY_EXTENSIONS } from '../gateway/gateway.ts';
import type { ServiceCatalog } from '../servicedef/catalog.ts';

export const TOPOLOGY_USAGE = `usage: postern topology new NAME [--home DIR] [--service ROLE=URL]... [--auth anonymous|file|ldap]

Writes conf/topologies/NAME.xml: the providers for --auth (default anonymous) and one <service> per role with its
URLs (repeat --service ROLE=URL for more roles, or more URLs of one role). Refuses to overwrite a topology.
  anonymous  every request is the user "anonymous"
  file       HTTP Basic against conf/users.yaml (postern.FileRealm; created empty when missing)
  ldap       HTTP Basic against an LDAP directory (KnoxLdapRealm; edit the URL and DN template)
`;

export const SERVICE_USAGE = `usage: postern service new ROLE [--home DIR] [--version V] [--path /x] [--name NAME]

Writes data/services/NAME/V/service.xml and rewrite.xml (NAME: the role in lower case, V: 1.0.0, path: /NAME):
everything under {gateway}/{topology}/x goes to the service URL with its path and query, and redirects back to
the service URL come back as gateway URLs. Refuses to overwrite a definition.
`;

const TOPOLOGY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ROLE = /^[A-Za-z][A-Za-z0-9_-]*$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z._-]*$/;
const PATH = /^(\/[A-Za-z0-9._~-]+)+$/;
const AUTH = ['anonymous', 'file', 'ldap'] as const;
type Auth = (typeof AUTH)[number];

class UsageError extends Error {}

function xml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function homeOf(value: string | undefined): string {
  return value ?? process.env.POSTERN_HOME ?? process.env.GATEWAY_HOME ?? REPO_ROOT;
}

export async function runScaffold(kind: 'topology' | 'service', argv: string[]): Promise<number> {
  const usage = kind === 'topology' ? TOPOLOGY_USAGE : SERVICE_USAGE;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        home: { type: 'string' },
        service: { type: 'string', multiple: true },
        auth: { type: 'string' },
        version: { type: 'string' },
        path: { type: 'string' },
        name: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(usage);
      return 0;
    }
    if (positionals[0] !== 'new' || positionals.length !== 2) throw new UsageError(`expected: ${kind} new …`);
    const home = homeOf(values.home);
    const written =
      kind === 'topology'
        ? await newTopology(home, positionals[1], {
            services: values.service ?? [],
            auth: (values.auth ?? 'anonymous') as Auth,
          })
        : newService(home, positionals[1], { version: values.version, path: values.path, name: values.name });
    for (const file of written) process.stdout.write(`wrote ${file}\n`);
    process.stderr.write(`check it with: npx postern check --home ${home}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const d of err.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      return 1;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`postern ${kind}: ${(err as Error).message}\n\n${usage}`);
      return 2;
    }
    if (err instanceof RefusedError) {
      process.stderr.write(`postern ${kind}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

class RefusedError extends Error {}

function writeNew(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true });
  // `wx`: fail rather than replace a file that appeared meanwhile.
  writeFileSync(file, content, { flag: 'wx' });
}

// ---------------------------------------------------------------------------------------------------------------
// topology new
// ---------------------------------------------------------------------------------------------------------------

async function newTopology(
  home: string,
  name: string,
  options: { services: readonly string[]; auth: Auth },
): Promise<string[]> {
  if (!TOPOLOGY_NAME.test(name)) {
    throw new UsageError(`"${name}" is not a topology name (letters, digits, ".", "_", "-")`);
  }
  if (!AUTH.includes(options.auth)) {
    throw new UsageError(`--auth must be one of ${AUTH.join(', ')}, not "${options.auth}"`);
  }
  const layout = homeLayout(home);
  const existing = TOPOLOGY_EXTENSIONS.map((ext) => join(layout.topologies, `${name}${ext}`)).filter(
    existsSync,
  );
  if (existing.length > 0) throw new RefusedError(`${existing[0]} exists; not overwritten`);

  const loaded = await loadHome(home);
  const services = parseServices(options.services, loaded.catalog);
  const file = join(layout.topologies, `${name}.xml`);
  const written: string[] = [];
  if (options.auth === 'file') {
    const users = join(layout.home, 'conf', 'users.yaml');
    if (!existsSync(users)) {
      writeNew(users, EMPTY_USERS);
      written.push(users);
    }
  }
  writeNew(file, topologyXml(name, services, options.auth, layout));
  written.unshift(file);
  return written;
}

function parseServices(specs: readonly string[], catalog: ServiceCatalog): Map<string, string[]> {
  const roles = new Map<string, string[]>();
  const known = [...new Set(catalog.all().map((d) => d.role))];
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`--service wants ROLE=URL, got "${spec}"`);
    const role = spec.slice(0, eq).trim();
    const url = spec.slice(eq + 1).trim();
    const definition = catalog.resolve(role);
    if (!definition) {
      const near = known.filter((r) => r.toLowerCase().includes(role.toLowerCase().slice(0, 3))).slice(0, 8);
      throw new RefusedError(
        `no service definition for role "${role}"${near.length > 0 ? `; did you mean ${near.join(', ')}?` : ''} (npx postern service new ${role} writes one)`,
      );
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--service ${role}: "${url}" is not a URL`);
    }
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol)) {
      throw new UsageError(`--service ${role}: expected an http(s) or ws(s) URL, got "${url}"`);
    }
    roles.set(definition.role, [...(roles.get(definition.role) ?? []), url]);
  }
  return roles;
}

const EMPTY_USERS = `# postern.FileRealm users (ShiroProvider with main.fileRealm.usersFile = conf/users.yaml).
# Passwords are scrypt hashes made by \`npx postern hash-password\` (it reads the password on stdin):
#   users:
#     alice:
#       password: "scrypt$ln=15,r=8,p=1$…"
#       groups: [users]
users: {}
`;

function authProviders(auth: Auth): string {
  switch (auth) {
    case 'anonymous':
      return `    <!-- Every request is the user "anonymous": use only behind something that authenticates. -->
    <provider>
      <role>authentication</role>
      <name>Anonymous</name>
      <enabled>true</enabled>
    </provider>`;
    case 'file':
      return `    <!-- HTTP Basic against the users of conf/users.yaml, then a session cookie for 30 minutes. -->
    <provider>
      <role>authentication</role>
      <name>ShiroProvider</name>
      <enabled>true</enabled>
      <param><name>main.fileRealm</name><value>postern.FileRealm</value></param>
      <param><name>main.fileRealm.usersFile</name><value>conf/users.yaml</value></param>
      <param><name>main.securityManager.realms</name><value>$fileRealm</value></param>
      <param><name>sessionTimeout</name><value>30</value></param>
      <param><name>urls./**</name><value>authcBasic</value></param>
    </provider>`;
    case 'ldap':
      return `    <!-- HTTP Basic against an LDAP directory: set the URL and how a user name becomes a DN. -->
    <provider>
      <role>authentication</role>
      <name>ShiroProvider</name>
      <enabled>true</enabled>
      <param><name>main.ldapRealm</name><value>org.apache.knox.gateway.shirorealm.KnoxLdapRealm</value></param>
      <param><name>main.ldapRealm.contextFactory.url</name><value>ldap://localhost:389</value></param>
      <param><name>main.ldapRealm.userDnTemplate</name><value>uid={0},ou=people,dc=example,dc=com</value></param>
      <param><name>main.ldapRealm.contextFactory.authenticationMechanism</name><value>simple</value></param>
      <param><name>main.securityManager.realms</name><value>$ldapRealm</value></param>
      <param><name>sessionTimeout</name><value>30</value></param>
      <param><name>urls./**</name><value>authcBasic</value></param>
    </provider>`;
  }
}

function topologyXml(name: string, services: Map<string, string[]>, auth: Auth, layout: HomeLayout): string {
  const serviceXml = [...services]
    .map(
      ([role, urls]) => `  <service>
    <role>${xml(role)}</role>
${urls.map((u) => `    <url>${xml(u)}</url>`).join('\n')}
  </service>`,
    )
    .join('\n\n');
  const site = relative(layout.home, layout.siteFile);
  return `<?xml version="1.0" encoding="UTF-8"?>
<!--
  Topology "${name}", written by \`postern topology new\`: served at /{gateway.path}/${name}/ (gateway.path in
  ${site}). See what a URL does with: npx postern explain GET /gateway/${name}/...
-->
<topology>
  <gateway>
${authProviders(auth)}

    <!-- The backend learns the user as user.name (or doAs on a Kerberos-secured cluster). -->
    <provider>
      <role>identity-assertion</role>
      <name>Default</name>
      <enabled>true</enabled>
    </provider>
  </gateway>
${serviceXml ? `\n${serviceXml}\n` : '\n  <!-- Services: <service><role>ROLE</role><url>http://host:port</url></service> -->\n'}</topology>
`;
}

// ---------------------------------------------------------------------------------------------------------------
// service new
// ---------------------------------------------------------------------------------------------------------------

function newService(
  home: string,
  role: string,
  options: { version?: string; path?: string; name?: string },
): string[] {
  if (!ROLE.test(role))
    throw new UsageError(`"${role}" is not a role name (a letter, then letters, digits, "_", "-")`);
  const name = options.name ?? role.toLowerCase();
  if (!VERSION.test(name)) throw new UsageError(`"${name}" is not a definition name`);
  const version = options.version ?? '1.0.0';
  if (!VERSION.test(version)) throw new UsageError(`"${version}" is not a version (e.g. 1.0.0)`);
  const path = (options.path ?? `/${name}`).replace(/\/+$/, '');
  if (!PATH.test(path)) {
    throw new UsageError(
      `--path must be /segment[/segment…] of letters, digits, ".", "_", "~", "-"; got "${options.path}"`,
    );
  }
  const dir = join(homeLayout(home).services, name, version);
  const files = [join(dir, 'service.xml'), join(dir, 'rewrite.xml')];
  const there = files.filter(existsSync);
  if (there.length > 0) throw new RefusedError(`${there[0]} exists; not overwritten`);
  writeNew(files[0], serviceXml(role, name, version, path));
  writeNew(files[1], rewriteXml(role, name, version, path));
  return files;
}

function serviceXml(role: string, name: string, version: string, path: string): string {
  const id = `${role}/${name}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!--
  Service definition ${role} ${version}, written by \`postern service new\`. A topology uses it with
  <service><role>${role}</role><url>http://host:port</url></service>; everything under
  {gateway}/{topology}${path} then goes to that URL with the rest of the path and the query.
-->
<service role="${xml(role)}" name="${xml(name)}" version="${xml(version)}">
  <metadata>
    <type>API</type>
    <context>${xml(path)}</context>
    <shortDesc>${xml(role)}</shortDesc>
  </metadata>
  <routes>
    <route path="${xml(path)}/?**">
      <rewrite apply="${xml(id)}/inbound/root" to="request.url"/>
      <rewrite apply="${xml(id)}/outbound/headers" to="response.headers"/>
    </route>
    <route path="${xml(path)}/**?**">
      <rewrite apply="${xml(id)}/inbound/path" to="request.url"/>
      <rewrite apply="${xml(id)}/outbound/headers" to="response.headers"/>
    </route>
  </routes>
  <dispatch classname="org.apache.knox.gateway.dispatch.ConfigurableDispatch"/>
</service>
`;
}

function rewriteXml(role: string, name: string, version: string, path: string): string {
  const id = `${role}/${name}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Rewrite rules of ${role} ${version}, written by \`postern service new\`. -->
<rules>
  <!-- {gateway}/{topology}${path} and ${path}/ (with any query) go to the service URL's root. -->
  <rule dir="IN" name="${xml(id)}/inbound/root" pattern="*://*:*/**${xml(path)}/?{**}">
    <rewrite template="{$serviceUrl[${xml(role)}]}/?{**}"/>
  </rule>

  <!-- {gateway}/{topology}${path}/a/b?q=1 goes to {service url}/a/b?q=1. -->
  <rule dir="IN" name="${xml(id)}/inbound/path" pattern="*://*:*/**${xml(path)}/{path=**}?{**}">
    <rewrite template="{$serviceUrl[${xml(role)}]}/{path=**}?{**}"/>
  </rule>

  <!-- A URL under the service URL in a redirect or a Location comes back as the same path under the gateway. -->
  <rule dir="OUT" name="${xml(id)}/outbound/url" flow="OR">
    <match pattern="{$serviceUrl[${xml(role)}]}/{path=**}?{**}">
      <rewrite template="{$frontend[url]}${xml(path)}/{path=**}?{**}"/>
    </match>
    <match pattern="{$serviceUrl[${xml(role)}]}/?{**}">
      <rewrite template="{$frontend[url]}${xml(path)}/?{**}"/>
    </match>
  </rule>

  <filter name="${xml(id)}/outbound/headers">
    <content type="application/x-http-headers">
      <apply path="Location" rule="${xml(id)}/outbound/url"/>
      <apply path="Content-Location" rule="${xml(id)}/outbound/url"/>
    </content>
  </filter>
</rules>
`;
}
