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
  /**
   * `postern.rewrite.body.maxBytes`: the largest piece of a body a rewrite filter holds at once (an attribute
   * value, a JSON string, a buffered element, a line of script). Bodies stream; a piece over it passes unchanged.
   */
  rewriteBodyMaxBytes: number;
  /** `gateway.channels.*`: the CHANNELS pub/sub layer and its cluster (src/services/channels/). */
  channels: ChannelSettings;
  /** `postern.metrics.*`: the Prometheus endpoint (src/observability/metrics.ts). */
  metrics: MetricsSettings;
  /** `postern.tracing.*`: OpenTelemetry tracing (src/observability/tracing.ts); off by default. */
  tracing: TracingSettings;
  /** `postern.health.*`: the liveness and readiness endpoints, outside `/{gateway.path}/`. */
  health: { enabled: boolean; livePath: string; readyPath: string };
  /** `postern.shutdown.grace`: how long requests in flight may take to finish after SIGTERM. */
  shutdownGraceMs: number;
  /** `postern.log.level`: the gateway log's level (`POSTERN_LOG_LEVEL` wins); reloaded by SIGHUP. */
  logLevel?: string;
  /** Every property of the file, name → value as written (SIGHUP compares them to say what changed). */
  properties: ReadonlyMap<string, string>;
  /** Every property not modelled above, as written. */
  raw: ReadonlyMap<string, SiteProperty>;
  /** Warnings found while reading (unknown elements, a property without a value); errors throw instead. */
  warnings: readonly Diagnostic[];
}

/** How CHANNELS nodes share group messages (src/services/channels/README.md). */
export interface ChannelSettings {
  /** `gateway.channels.layer`: `memory` (one node, the default), `backplane` (AWX's node mesh) or `redis`. */
  layer: 'memory' | 'backplane' | 'redis';
  /** `gateway.channels.broadcast.secret`: the backplane's shared secret (required for `backplane`). */
  secret?: string;
  /** `gateway.channels.broadcast.peers`: base URLs of the other nodes (`ws://10.0.0.2:8443`). */
  peers: string[];
  /** `gateway.channels.broadcast.reconnect.min` / `.max`: the exponential backoff's bounds. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** `gateway.channels.broadcast.heartbeat`: ping interval on backplane links; a missed pong ends the link. */
  heartbeatMs: number;
  /** `gateway.channels.broadcast.queue.bytes`: bytes a backplane link may hold unsent before it drops. */
  linkQueueBytes: number;
  /** `gateway.channels.broadcast.mtls`: mutual TLS between nodes (wss peers, verified client certificates). */
  mutualTls: boolean;
  /** `gateway.channels.broadcast.truststore.path`: PEM CAs peer certificates must chain to. */
  truststorePath?: string;
  /** `gateway.channels.redis.url`: the Redis of the `redis` layer (`redis://host:6379/0`, `rediss://`). */
  redisUrl?: string;
  /** `gateway.channels.client.queue.bytes`: bytes a subscriber may hold unsent before it is closed as slow. */
  clientQueueBytes: number;
}

export interface MetricsSettings {
  /** `postern.metrics.enabled` (default false). */
  enabled: boolean;
  /** `postern.metrics.path` (default `/metrics`). */
  path: string;
  /** `postern.metrics.host` / `.port`: the metrics listener (plain HTTP; default 127.0.0.1:9464; port 0 = any). */
  host: string;
  port: number;
  /** `postern.metrics.gateway.listener`: serve the path on the gateway's own listener instead (default false). */
  onGatewayListener: boolean;
}

export interface TracingSettings {
  /** `postern.tracing.enabled` (default false). */
  enabled: boolean;
  /** `postern.tracing.otlp.endpoint`: OTLP/HTTP traces URL (default `http://127.0.0.1:4318/v1/traces`). */
  endpoint: string;
  /** `postern.tracing.otlp.headers`: `name=value` pairs, comma-separated, sent with each export (never logged). */
  headers: ReadonlyMap<string, string>;
  /** `postern.tracing.sample.ratio`: share of new traces recorded, 0 to 1 (default 1); a caller's decision wins. */
  sampleRatio: number;
  /** `postern.tracing.service.name` (default `postern`). */
  serviceName: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

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
const ratio = (fallback: number) =>
  setting(
    (t) => {
      const n = Number(t.trim());
      return t.trim() !== '' && n >= 0 && n <= 1 ? n : undefined;
    },
    fallback,
    'a number from 0 to 1',
  );
const absolutePath = (fallback: string) =>
  setting((t) => (/^\/[^?#\s]*$/.test(t.trim()) ? t.trim() : undefined), fallback, 'a path starting with /');
const headerPairs = () =>
  setting(
    (t) => {
      const map = new Map<string, string>();
      for (const pair of splitList(t, /,/)) {
        const eq = pair.indexOf('=');
        if (eq <= 0) return undefined;
        map.set(pair.slice(0, eq).trim().toLowerCase(), pair.slice(eq + 1).trim());
      }
      return map as ReadonlyMap<string, string>;
    },
    new Map<string, string>() as ReadonlyMap<string, string>,
    'name=value pairs separated by commas',
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
  'postern.rewrite.body.maxBytes': int(1024 * 1024, 1024, INT_MAX),
  'postern.metrics.enabled': bool(false),
  'postern.metrics.path': absolutePath('/metrics'),
  'postern.metrics.host': text('127.0.0.1'),
  'postern.metrics.port': int(9464, 0, 65535),
  'postern.metrics.gateway.listener': bool(false),
  'postern.tracing.enabled': bool(false),
  'postern.tracing.otlp.endpoint': setting(
    (t) => (/^https?:\/\//i.test(t.trim()) && URL.canParse(t.trim()) ? t.trim() : undefined),
    'http://127.0.0.1:4318/v1/traces',
    'an http:// or https:// URL',
  ),
  'postern.tracing.otlp.headers': headerPairs(),
  'postern.tracing.sample.ratio': ratio(1),
  'postern.tracing.service.name': text('postern'),
  'postern.health.enabled': bool(true),
  'postern.health.path': absolutePath('/healthz'),
  'postern.ready.path': absolutePath('/readyz'),
  'postern.shutdown.grace': duration(30_000),
  'postern.log.level': setting<string | undefined>(
    (t) => LOG_LEVELS.find((l) => l === t.trim().toLowerCase()),
    undefined,
    LOG_LEVELS.join(', '),
  ),
  'gateway.channels.layer': setting(
    (t) => (['memory', 'backplane', 'redis'] as const).find((l) => l === t.trim().toLowerCase()),
    'memory' as ChannelSettings['layer'],
    'memory, backplane or redis',
  ),
  'gateway.channels.broadcast.secret': optionalText(),
  'gateway.channels.broadcast.peers': setting(
    (t) => {
      const urls = splitList(t, /,/).map((u) => u.replace(/\/+$/, ''));
      return urls.every((u) => /^(ws|wss|http|https):\/\/[^/?#]+$/i.test(u) && URL.canParse(u))
        ? urls
        : undefined;
    },
    [] as string[],
    'comma-separated base URLs such as ws://10.0.0.2:8443',
  ),
  'gateway.channels.broadcast.reconnect.min': duration(250),
  'gateway.channels.broadcast.reconnect.max': duration(30_000),
  'gateway.channels.broadcast.heartbeat': duration(20_000),
  'gateway.channels.broadcast.queue.bytes': int(64 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
  'gateway.channels.broadcast.mtls': bool(false),
  'gateway.channels.broadcast.truststore.path': optionalText(),
  'gateway.channels.redis.url': setting<string | undefined>(
    (t) => (/^rediss?:\/\//i.test(t.trim()) && URL.canParse(t.trim()) ? t.trim() : undefined),
    undefined,
    'a redis:// or rediss:// URL',
  ),
  'gateway.channels.client.queue.bytes': int(4 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
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
  const properties = new Map<string, string>();
  for (const [name, prop] of props) properties.set(name, prop.value);
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
  const at = (name: string) => props.get(name)?.pos ?? { file: file ?? '<defaults>', line: 1, column: 1 };
  if (p['gateway.channels.layer'] === 'backplane' && !p['gateway.channels.broadcast.secret']) {
    sink.error(
      at('gateway.channels.layer'),
      'gateway.channels.layer is backplane but gateway.channels.broadcast.secret is empty: the backplane refuses to run without a shared secret',
    );
  }
  if (p['gateway.channels.layer'] === 'redis' && !p['gateway.channels.redis.url']) {
    sink.error(
      at('gateway.channels.layer'),
      'gateway.channels.layer is redis but gateway.channels.redis.url is not set',
    );
  }
  if (
    p['gateway.channels.broadcast.mtls'] &&
    (!p['ssl.enabled'] || !(p['gateway.client.auth.wanted'] || p['gateway.client.auth.needed']))
  ) {
    sink.error(
      at('gateway.channels.broadcast.mtls'),
      'gateway.channels.broadcast.mtls needs ssl.enabled=true and gateway.client.auth.wanted (or .needed), so that peers are asked for their certificates',
    );
  }
  // The operational endpoints answer outside the gateway's path, where no topology can shadow them.
  const gatewayPrefix = `/${p['gateway.path']}/`;
  for (const name of ['postern.metrics.path', 'postern.health.path', 'postern.ready.path'] as const) {
    const value = p[name];
    if (`${value}/`.startsWith(gatewayPrefix) || value === '/') {
      sink.error(at(name), `${name}: ${value} must be outside the gateway path ${gatewayPrefix}`);
    }
  }
  if (sink.hasErrors) return undefined;
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
    rewriteBodyMaxBytes: p['postern.rewrite.body.maxBytes'],
    channels: {
      layer: p['gateway.channels.layer'],
      secret: p['gateway.channels.broadcast.secret'],
      peers: p['gateway.channels.broadcast.peers'],
      reconnectMinMs: p['gateway.channels.broadcast.reconnect.min'],
      reconnectMaxMs: Math.max(
        p['gateway.channels.broadcast.reconnect.max'],
        p['gateway.channels.broadcast.reconnect.min'],
      ),
      heartbeatMs: p['gateway.channels.broadcast.heartbeat'],
      linkQueueBytes: p['gateway.channels.broadcast.queue.bytes'],
      mutualTls: p['gateway.channels.broadcast.mtls'],
      truststorePath: p['gateway.channels.broadcast.truststore.path'],
      redisUrl: p['gateway.channels.redis.url'],
      clientQueueBytes: p['gateway.channels.client.queue.bytes'],
    },
    metrics: {
      enabled: p['postern.metrics.enabled'],
      path: p['postern.metrics.path'],
      host: p['postern.metrics.host'],
      port: p['postern.metrics.port'],
      onGatewayListener: p['postern.metrics.gateway.listener'],
    },
    tracing: {
      enabled: p['postern.tracing.enabled'],
      endpoint: p['postern.tracing.otlp.endpoint'],
      headers: p['postern.tracing.otlp.headers'],
      sampleRatio: p['postern.tracing.sample.ratio'],
      serviceName: p['postern.tracing.service.name'],
    },
    health: {
      enabled: p['postern.health.enabled'],
      livePath: p['postern.health.path'],
      readyPath: p['postern.ready.path'],
    },
    shutdownGraceMs: p['postern.shutdown.grace'],
    logLevel: p['postern.log.level'],
    properties,
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
