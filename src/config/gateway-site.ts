/**
 * @module config/gateway-site
 * Reads `conf/gateway-site.xml` (Hadoop configuration format: `configuration/property/{name,value,description}`)
 * into one typed, frozen settings object with Knox's defaults (`GatewayConfigImpl`). Every setting postern uses is
 * named and defaulted here, in one place; properties postern does not model stay available in `raw`, because Knox
 * has hundreds and a site file written for Knox must load unchanged.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, type Diagnostic, DiagnosticSink, type Position } from './diagnostics.ts';
import { parseBoolean, parseDurationMs, parseNonNegativeInt, splitList } from './values.ts';
import { parseXml, warnUnknownChildren } from './xml.ts';

/** One property as written in the file; `pos` is the `<value>` element (or the property, when it has none). */
export interface SiteProperty {
  value: string;
  pos: Position;
}

export interface GatewaySettings {
  /** The file read, absent when every value is a default. */
  file?: string;
  /** `gateway.host`: bind address (Knox accepts a comma-separated list; kept as written). */
  host: string;
  /** `gateway.port`. */
  port: number;
  /** `gateway.path`: the first URL segment, before the topology name. */
  path: string;
  ssl: {
    /** `ssl.enabled`. */
    enabled: boolean;
    /** `gateway.tls.certificate.path`: postern's PEM certificate (chain). */
    certificatePath?: string;
    /** `gateway.tls.key.path`: postern's PEM private key. */
    keyPath?: string;
    /** `gateway.tls.keystore.path`; unset means Knox's `data/security/keystores/gateway.jks`. */
    keystorePath?: string;
    keystoreType: string;
    keystorePasswordAlias: string;
    keyAlias: string;
    keyPassphraseAlias: string;
    /** `ssl.include.protocols`; empty means every protocol the runtime offers. */
    includeProtocols: string[];
    excludeProtocols: string[];
    includeCiphers: string[];
    excludeCiphers: string[];
    renegotiation: boolean;
    clientAuthNeeded: boolean;
    clientAuthWanted: boolean;
    /** `gateway.client.auth.exclude`: topologies exempt from client certificates. */
    clientAuthExclude: string[];
    /** `gateway.truststore.path`; unset means the identity keystore. */
    truststorePath?: string;
    truststoreType: string;
    truststorePasswordAlias: string;
    trustAllCerts: boolean;
  };
  httpclient: {
    /** Per route and in total, per dispatch client. */
    maxConnections: number;
    connectionTimeoutMs: number;
    socketTimeoutMs: number;
    /** `gateway.httpclient.truststore.path`: trust for backends (also wss backends). */
    truststorePath?: string;
    truststoreType: string;
    truststorePasswordAlias: string;
  };
  xforwardedEnabled: boolean;
  /** `gateway.xforwarded.header.context.append.servicename`. */
  xforwardedContextAppendServices: string[];
  /** `gateway.frontend.url`: the public URL rewrite uses instead of the request's own. */
  frontendUrl?: string;
  remoteIpHeaderName: string;
  /** `gateway.httpserver.requestHeaderBuffer`: postern's maximum request header size. */
  requestHeaderBufferBytes: number;
  /** `gateway.httpserver.requestBuffer`: also the default replay-buffer size. */
  requestBufferBytes: number;
  responseBufferBytes: number;
  responseHeaderBufferBytes: number;
  /** `gateway.idle.timeout`. */
  idleTimeoutMs: number;
  serverHeaderEnabled: boolean;
  /** `gateway.strict.transport.enabled` / `.option`: global HSTS (a topology's WebAppSec setting wins). */
  strictTransport: { enabled: boolean; option: string };
  customFederationHeaderName: string;
  /** `gateway.dispatch.whitelist`, unparsed (`;`-separated regexes or `DEFAULT` / `HTTPS_ONLY`). */
  dispatchWhitelist?: string;
  dispatchWhitelistServices: string[];
  globalRulesServices: string[];
  strictTopologyValidation: boolean;
  topologyRedeployRequiresChanges: boolean;
  readOnlyOverrideTopologies: string[];
  autoDeployTopologies: string[];
  /** `default.app.topology.name`: the topology for URLs that omit the topology segment. */
  defaultTopologyName: string;
  /** `gateway.port.mapping.enabled` and every `gateway.port.mapping.{topology}` = port. */
  portMapping: { enabled: boolean; ports: ReadonlyMap<string, number> };
  scopeCookiesEnabled: boolean;
  adminUsers: string[];
  adminGroups: string[];
  websocketFeatureEnabled: boolean;
  websocket: {
    maxTextMessageSize: number;
    maxBinaryMessageSize: number;
    maxTextMessageBufferSize: number;
    maxBinaryMessageBufferSize: number;
    inputBufferSize: number;
    asyncWriteTimeoutMs: number;
    idleTimeoutMs: number;
    /** Backend→client messages queued before the client side is ready. */
    maxWaitBufferCount: number;
  };
  /** `postern.plugins`: npm package names or paths whose modules register providers and dispatches. */
  plugins: string[];
  /** `postern.demo.backends.enabled`: start the built-in demo backends. */
  demoBackends: boolean;
  /** `postern.services.dirs`: extra service-definition directories, searched after the bundled ones. */
  serviceDefinitionDirs: string[];
  /** Every property not modelled above, as written. */
  raw: ReadonlyMap<string, SiteProperty>;
  /** Warnings found while reading (unknown elements, a property without a value); errors throw instead. */
  warnings: readonly Diagnostic[];
}

const INT_MAX = 2147483647;
const PORT_MAPPING_PREFIX = 'gateway.port.mapping.';

/** Turns a parse function into a zod transform: absent → default, unparsable → an issue naming what was expected. */
function setting<T>(parse: (text: string) => T | undefined, fallback: T, expected: string) {
  return z
    .string()
    .optional()
    .transform((text, ctx): T => {
      if (text === undefined) return fallback;
      const value = parse(text);
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected ${expected}, found "${text}"` });
        return z.NEVER;
      }
      return value;
    });
}

const text = (fallback: string) => setting((t) => t.trim(), fallback, 'text');
const optionalText = () => setting<string | undefined>((t) => t.trim() || undefined, undefined, 'text');
const bool = (fallback: boolean) => setting(parseBoolean, fallback, 'true or false');
const list = (fallback: string[], separators?: RegExp) =>
  setting((t) => splitList(t, separators), fallback, 'a list');
const duration = (fallbackMs: number) =>
  setting(parseDurationMs, fallbackMs, 'a duration (milliseconds, or with an m/s suffix such as 20s)');
const int = (fallback: number, min: number, max: number) =>
  setting(
    (t) => {
      const n = parseNonNegativeInt(t);
      return n !== undefined && n >= min && n <= max ? n : undefined;
    },
    fallback,
    `an integer from ${min} to ${max}`,
  );
const url = () =>
  setting<string | undefined>(
    (t) => (URL.canParse(t.trim()) ? t.trim() : undefined),
    undefined,
    'an absolute URL',
  );

/** The properties postern reads, keyed by their gateway-site name, with Knox's defaults. */
const SiteSchema = z.object({
  'gateway.host': text('0.0.0.0'),
  'gateway.port': int(8888, 0, 65535),
  'gateway.path': setting((t) => t.trim().replace(/^\/+|\/+$/g, ''), 'gateway', 'a path'),
  'ssl.enabled': bool(true),
  'gateway.tls.certificate.path': optionalText(),
  'gateway.tls.key.path': optionalText(),
  'gateway.tls.keystore.path': optionalText(),
  'gateway.tls.keystore.type': text('JKS'),
  'gateway.tls.keystore.password.alias': text('gateway-identity-keystore-password'),
  'gateway.tls.key.alias': text('gateway-identity'),
  'gateway.tls.key.passphrase.alias': text('gateway-identity-passphrase'),
  'ssl.include.protocols': list([]),
  'ssl.exclude.protocols': list(['SSLv3']),
  'ssl.include.ciphers': list([]),
  'ssl.exclude.ciphers': list([]),
  'ssl.renegotiation': bool(true),
  'gateway.client.auth.needed': bool(false),
  'gateway.client.auth.wanted': bool(false),
  'gateway.client.auth.exclude': list([], /,/),
  'gateway.truststore.path': optionalText(),
  'gateway.truststore.type': text('JKS'),
  'gateway.truststore.password.alias': text('gateway-truststore-password'),
  'gateway.trust.all.certs': bool(false),
  'gateway.httpclient.maxConnections': int(32, 1, INT_MAX),
  'gateway.httpclient.connectionTimeout': duration(20_000),
  'gateway.httpclient.socketTimeout': duration(20_000),
  'gateway.httpclient.truststore.path': optionalText(),
  'gateway.httpclient.truststore.type': text('JKS'),
  'gateway.httpclient.truststore.password.alias': text('gateway-httpclient-truststore-password'),
  'gateway.xforwarded.enabled': bool(true),
  'gateway.xforwarded.header.context.append.servicename': list(['LIVYSERVER'], /,/),
  'gateway.frontend.url': url(),
  'gateway.remote.ip.header.name': text('X-Forwarded-For'),
  'gateway.httpserver.requestHeaderBuffer': int(8192, 1, INT_MAX),
  'gateway.httpserver.requestBuffer': int(16384, 1, INT_MAX),
  'gateway.httpserver.responseBuffer': int(32768, 1, INT_MAX),
  'gateway.httpserver.responseHeaderBuffer': int(8192, 1, INT_MAX),
  'gateway.idle.timeout': int(300_000, 0, Number.MAX_SAFE_INTEGER),
  'gateway.server.header.enabled': bool(false),
  'gateway.strict.transport.enabled': bool(false),
  'gateway.strict.transport.option': text('max-age=31536000; includeSubDomains'),
  'gateway.custom.federation.header.name': text('SM_USER'),
  'gateway.dispatch.whitelist': optionalText(),
  'gateway.dispatch.whitelist.services': list([], /,/),
  'gateway.global.rules.services': list(
    ['NAMENODE', 'JOBTRACKER', 'WEBHDFS', 'WEBHCAT', 'OOZIE', 'WEBHBASE', 'HIVE', 'RESOURCEMANAGER'],
    /,/,
  ),
  'gateway.strict.topology.validation': bool(false),
  'gateway.topology.redeploy.requires.changes': bool(false),
  'gateway.read.only.override.topologies': list([], /,/),
  'gateway.auto.deploy.topologies': list(['manager', 'admin'], /,/),
  'default.app.topology.name': text('homepage'),
  'gateway.port.mapping.enabled': bool(true),
  'gateway.scope.cookies.feature.enabled': bool(false),
  'gateway.knox.admin.users': list([], /,/),
  'gateway.knox.admin.groups': list([], /,/),
  'gateway.websocket.feature.enabled': bool(false),
  'gateway.websocket.max.text.size': int(INT_MAX, 1, INT_MAX),
  'gateway.websocket.max.binary.size': int(INT_MAX, 1, INT_MAX),
  'gateway.websocket.max.text.buffer.size': int(32768, 1, INT_MAX),
  'gateway.websocket.max.binary.buffer.size': int(32768, 1, INT_MAX),
  'gateway.websocket.input.buffer.size': int(4096, 1, INT_MAX),
  'gateway.websocket.async.write.timeout': int(60_000, 0, Number.MAX_SAFE_INTEGER),
  'gateway.websocket.idle.timeout': int(300_000, 0, Number.MAX_SAFE_INTEGER),
  'gateway.websocket.max.wait.buffer.count': int(100, 0, INT_MAX),
  'postern.plugins': list([], /,/),
  'postern.demo.backends.enabled': bool(false),
  'postern.services.dirs': list([], /,/),
});

const KNOWN = new Set(Object.keys(SiteSchema.shape));

/**
 * Reads gateway settings.
 * @param file path of `gateway-site.xml`; `undefined` or a file that does not exist gives every default
 * @throws ConfigError listing every bad value, each at its `<value>` element
 */
export function loadGatewaySite(file: string | undefined): GatewaySettings {
  if (file === undefined) return defaultSettings();
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return defaultSettings();
    throw ConfigError.at({ file, line: 1, column: 1 }, `cannot read gateway-site: ${(err as Error).message}`);
  }
  return parseGatewaySite(source, file);
}

/** Same as {@link loadGatewaySite}, from text already read. */
export function parseGatewaySite(source: string, file: string): GatewaySettings {
  const sink = new DiagnosticSink();
  const props = readProperties(source, file, sink);
  const settings = buildSettings(props, file, sink);
  sink.throwIfErrors();
  return settings!;
}

/** Knox's defaults, as if gateway-site.xml were empty. */
export function defaultSettings(): GatewaySettings {
  return buildSettings(new Map(), undefined, new DiagnosticSink())!;
}

/** `configuration/property` → name → value; a later property of the same name wins, as in Hadoop. */
function readProperties(source: string, file: string, sink: DiagnosticSink): Map<string, SiteProperty> {
  const root = parseXml(source, file);
  const props = new Map<string, SiteProperty>();
  if (root.name !== 'configuration') {
    sink.error(root.pos, `root element must be <configuration>, found <${root.name}>`);
    return props;
  }
  warnUnknownChildren(root, ['property'], sink);
  for (const prop of root.childrenNamed('property')) {
    warnUnknownChildren(prop, ['name', 'value', 'description', 'final', 'source'], sink);
    const name = prop.field('name');
    if (!name || name.value === '') {
      sink.error(prop.pos, 'property without a <name>');
      continue;
    }
    const value = prop.field('value');
    if (!value) {
      sink.warn(prop.pos, `property ${name.value} has no <value>; ignored`);
      continue;
    }
    props.set(name.value, value);
  }
  return props;
}

function buildSettings(
  props: Map<string, SiteProperty>,
  file: string | undefined,
  sink: DiagnosticSink,
): GatewaySettings | undefined {
  const input: Record<string, string> = {};
  const raw = new Map<string, SiteProperty>();
  const ports = new Map<string, number>();
  for (const [name, prop] of props) {
    if (KNOWN.has(name)) input[name] = prop.value;
    else if (name.startsWith(PORT_MAPPING_PREFIX)) {
      const port = parseNonNegativeInt(prop.value);
      if (port === undefined || port < 1 || port > 65535)
        sink.error(prop.pos, `${name}: expected an integer from 1 to 65535, found "${prop.value}"`);
      else ports.set(name.slice(PORT_MAPPING_PREFIX.length), port);
    } else raw.set(name, prop);
  }
  const parsed = SiteSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      const pos = props.get(name)?.pos ?? { file: file ?? '<defaults>', line: 1, column: 1 };
      sink.error(pos, `${name}: ${issue.message}`);
    }
    return undefined;
  }
  const p = parsed.data;
  const settings: GatewaySettings = {
    ...(file !== undefined && { file }),
    host: p['gateway.host'],
    port: p['gateway.port'],
    path: p['gateway.path'],
    ssl: {
      enabled: p['ssl.enabled'],
      certificatePath: p['gateway.tls.certificate.path'],
      keyPath: p['gateway.tls.key.path'],
      keystorePath: p['gateway.tls.keystore.path'],
      keystoreType: p['gateway.tls.keystore.type'],
      keystorePasswordAlias: p['gateway.tls.keystore.password.alias'],
      keyAlias: p['gateway.tls.key.alias'],
      keyPassphraseAlias: p['gateway.tls.key.passphrase.alias'],
      includeProtocols: p['ssl.include.protocols'],
      excludeProtocols: p['ssl.exclude.protocols'],
      includeCiphers: p['ssl.include.ciphers'],
      excludeCiphers: p['ssl.exclude.ciphers'],
      renegotiation: p['ssl.renegotiation'],
      clientAuthNeeded: p['gateway.client.auth.needed'],
      clientAuthWanted: p['gateway.client.auth.wanted'],
      clientAuthExclude: p['gateway.client.auth.exclude'],
      truststorePath: p['gateway.truststore.path'],
      truststoreType: p['gateway.truststore.type'],
      truststorePasswordAlias: p['gateway.truststore.password.alias'],
      trustAllCerts: p['gateway.trust.all.certs'],
    },
    httpclient: {
      maxConnections: p['gateway.httpclient.maxConnections'],
      connectionTimeoutMs: p['gateway.httpclient.connectionTimeout'],
      socketTimeoutMs: p['gateway.httpclient.socketTimeout'],
      truststorePath: p['gateway.httpclient.truststore.path'],
      truststoreType: p['gateway.httpclient.truststore.type'],
      truststorePasswordAlias: p['gateway.httpclient.truststore.password.alias'],
    },
    xforwardedEnabled: p['gateway.xforwarded.enabled'],
    xforwardedContextAppendServices: p['gateway.xforwarded.header.context.append.servicename'],
    frontendUrl: p['gateway.frontend.url'],
    remoteIpHeaderName: p['gateway.remote.ip.header.name'],
    requestHeaderBufferBytes: p['gateway.httpserver.requestHeaderBuffer'],
    requestBufferBytes: p['gateway.httpserver.requestBuffer'],
    responseBufferBytes: p['gateway.httpserver.responseBuffer'],
    responseHeaderBufferBytes: p['gateway.httpserver.responseHeaderBuffer'],
    idleTimeoutMs: p['gateway.idle.timeout'],
    serverHeaderEnabled: p['gateway.server.header.enabled'],
    strictTransport: {
      enabled: p['gateway.strict.transport.enabled'],
      option: p['gateway.strict.transport.option'],
    },
    customFederationHeaderName: p['gateway.custom.federation.header.name'],
    dispatchWhitelist: p['gateway.dispatch.whitelist'],
    dispatchWhitelistServices: p['gateway.dispatch.whitelist.services'],
    globalRulesServices: p['gateway.global.rules.services'],
    strictTopologyValidation: p['gateway.strict.topology.validation'],
    topologyRedeployRequiresChanges: p['gateway.topology.redeploy.requires.changes'],
    readOnlyOverrideTopologies: p['gateway.read.only.override.topologies'],
    autoDeployTopologies: p['gateway.auto.deploy.topologies'],
    defaultTopologyName: p['default.app.topology.name'],
    portMapping: { enabled: p['gateway.port.mapping.enabled'], ports },
    scopeCookiesEnabled: p['gateway.scope.cookies.feature.enabled'],
    adminUsers: p['gateway.knox.admin.users'],
    adminGroups: p['gateway.knox.admin.groups'],
    websocketFeatureEnabled: p['gateway.websocket.feature.enabled'],
    websocket: {
      maxTextMessageSize: p['gateway.websocket.max.text.size'],
      maxBinaryMessageSize: p['gateway.websocket.max.binary.size'],
      maxTextMessageBufferSize: p['gateway.websocket.max.text.buffer.size'],
      maxBinaryMessageBufferSize: p['gateway.websocket.max.binary.buffer.size'],
      inputBufferSize: p['gateway.websocket.input.buffer.size'],
      asyncWriteTimeoutMs: p['gateway.websocket.async.write.timeout'],
      idleTimeoutMs: p['gateway.websocket.idle.timeout'],
      maxWaitBufferCount: p['gateway.websocket.max.wait.buffer.count'],
    },
    plugins: p['postern.plugins'],
    demoBackends: p['postern.demo.backends.enabled'],
    serviceDefinitionDirs: p['postern.services.dirs'],
    raw,
    warnings: sink.items.filter((d) => d.severity === 'warning'),
  };
  return deepFreeze(settings);
}

/** Freezes objects and arrays all the way down; settings are shared by every request and must not drift. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Map)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
