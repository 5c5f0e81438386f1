/**
 * @module config/gateway-site
 * Reads `conf/gateway-site.xml` (Hadoop configuration format: `configuration/property/{name,value,description}`)
 * into one typed, frozen settings object. What each property means, its default and its syntax are declared once,
 * in the settings table (config/settings-table.ts); this module applies the table to a file, reporting a value
 * the table refuses at its `<value>`, and checks what no one property can say alone. Properties the table does
 * not model stay available in `raw`, because Knox has hundreds and a site file written for Knox must load
 * unchanged.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, type Diagnostic, DiagnosticSink, type Position } from './diagnostics.ts';
import { KNOX_PROPERTIES, notImplemented, readElsewhere } from './knox-properties.ts';
import { type SettingsOf, walkTable } from './setting.ts';
import { SETTINGS } from './settings-table.ts';
import { didYouMean, nearest } from './suggest.ts';
import { tlsPolicy } from './tls-policy.ts';
import { parseXml, warnUnknownChildren } from './xml.ts';

/** One property as written in the file; `pos` is the `<value>` element (or the property, when it has none). */
export interface SiteProperty {
  value: string;
  pos: Position;
}

/**
 * The gateway's settings: one field per row of the settings table (config/settings-table.ts, where each one's
 * property name, default and meaning are written), plus what the file itself says.
 */
export interface GatewaySettings extends SettingsOf<typeof SETTINGS> {
  /** The file read, absent when every value is a default. */
  file?: string;
  /** Every property of the file, name → value as written (SIGHUP compares them to say what changed). */
  properties: ReadonlyMap<string, string>;
  /** Every property the table does not model, as written. */
  raw: ReadonlyMap<string, SiteProperty>;
  /** Warnings found while reading (unknown elements, a property without a value); errors throw instead. */
  warnings: readonly Diagnostic[];
}

/** How CHANNELS nodes share group messages (src/channels/README.md). */
export type ChannelSettings = GatewaySettings['channels'];
/** The Prometheus endpoint (src/observability/metrics.ts). */
export type MetricsSettings = GatewaySettings['metrics'];
/** What a client may hold or cause without doing anything useful (docs/security.md "Security model › Limits"). */
export type ResourceLimits = GatewaySettings['limits'];
/** OpenTelemetry tracing (src/observability/tracing.ts). */
export type TracingSettings = GatewaySettings['tracing'];

/** The table's entries; the property names it declares; its families (property-name prefixes). */
const ENTRIES = [...walkTable(SETTINGS)];
const KNOWN = new Set(ENTRIES.flatMap(({ entry }) => (entry.kind === 'setting' ? [entry.key] : [])));
const FAMILIES = ENTRIES.flatMap(({ entry }) => (entry.kind === 'family' ? [entry] : []));

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
  const at = (name: string) => props.get(name)?.pos ?? { file: file ?? '<defaults>', line: 1, column: 1 };
  const properties = new Map<string, string>();
  for (const [name, prop] of props) properties.set(name, prop.value);
  const raw = new Map<string, SiteProperty>();
  // Family members first, in file order, then the table's settings in table order.
  const families = FAMILIES.map(() => new Map<string, unknown>());
  for (const [name, prop] of props) {
    if (KNOWN.has(name)) continue;
    const i = FAMILIES.findIndex((f) => name.startsWith(f.prefix));
    if (i < 0) {
      raw.set(name, prop);
      continue;
    }
    const family = FAMILIES[i];
    const value = family.parse(prop.value);
    if (value === undefined)
      sink.error(prop.pos, `${name}: expected ${family.expected}, found "${prop.value}"`);
    else families[i].set(name.slice(family.prefix.length), value);
  }
  unusedProperties(props, raw, sink);
  const tree: Record<string, unknown> = {};
  for (const { path, entry } of ENTRIES) {
    let value: unknown;
    if (entry.kind === 'family') value = families[FAMILIES.indexOf(entry)];
    else {
      const prop = props.get(entry.key);
      value = prop === undefined ? entry.default : entry.parse(prop.value);
      if (value === undefined && prop !== undefined) {
        sink.error(prop.pos, `${entry.key}: expected ${entry.expected}, found "${prop.value}"`);
      }
    }
    place(tree, path, value);
  }
  const p = tree as unknown as SettingsOf<typeof SETTINGS>;
  if (sink.hasErrors) return undefined;
  crossChecks(p, at, sink);
  if (sink.hasErrors) return undefined;
  // The backoff's ceiling is never below its floor.
  p.channels.reconnectMaxMs = Math.max(p.channels.reconnectMaxMs, p.channels.reconnectMinMs);
  const settings: GatewaySettings = {
    ...(file !== undefined && { file }),
    ...p,
    properties,
    raw,
    warnings: sink.items.filter((d) => d.severity === 'warning'),
  };
  return deepFreeze(settings);
}

/**
 * No property is ignored without a word: a Knox property postern does not implement (config/knox-properties.ts),
 * one it accepts but does not act on (`ignored` in the table), and a name neither Knox nor postern has (a typo,
 * with the nearest known name) each get a warning at the property.
 */
function unusedProperties(
  props: Map<string, SiteProperty>,
  raw: Map<string, SiteProperty>,
  sink: DiagnosticSink,
): void {
  for (const { entry } of ENTRIES) {
    const prop = entry.kind === 'setting' && entry.ignored ? props.get(entry.key) : undefined;
    if (prop && entry.kind === 'setting') {
      sink.warn(prop.pos, `${entry.key} is accepted but postern does not act on it: ${entry.ignored}`);
    }
  }
  for (const [name, prop] of raw) {
    if (readElsewhere(name)) continue;
    const instead = notImplemented(name);
    if (instead) {
      sink.warn(prop.pos, `${name} is Knox's and postern does not implement it: ${instead}`);
      continue;
    }
    const near = nearest(name, ALL_NAMES);
    sink.warn(prop.pos, `unknown property ${name}, ignored${near.length > 0 ? didYouMean(name, near) : ''}`);
  }
}

/** Every property name postern or Knox has, for suggestions. */
const ALL_NAMES = [...new Set([...KNOWN, ...KNOX_PROPERTIES.filter((k) => !k.endsWith('.'))])];

/** Sets `value` at `path` in `tree`, making the nested objects on the way. */
function place(tree: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = tree;
  for (const field of path.slice(0, -1)) {
    node[field] ??= {};
    node = node[field] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}

/** What no one property can say alone: settings that need one another. */
function crossChecks(
  p: SettingsOf<typeof SETTINGS>,
  at: (name: string) => Position,
  sink: DiagnosticSink,
): void {
  const { channels, tokenState, database } = p;
  if (tokenState.impl === 'jdbc') {
    if (database.type !== 'postgresql') {
      sink.error(
        at(database.type === 'none' ? 'gateway.service.tokenstate.impl' : 'gateway.database.type'),
        `the JDBC token state needs gateway.database.type=postgresql (postern speaks PostgreSQL only), found "${database.type}"`,
      );
    } else if (!database.connectionUrl && !database.host) {
      sink.error(
        at('gateway.database.type'),
        'the JDBC token state needs gateway.database.connection.url or gateway.database.host',
      );
    } else if (database.connectionUrl && !/^(jdbc:)?postgres(ql)?:\/\//i.test(database.connectionUrl)) {
      sink.error(
        at('gateway.database.connection.url'),
        'gateway.database.connection.url must be a jdbc:postgresql:// URL',
      );
    }
  }
  if (tokenState.impl === 'redis' && !tokenState.redisUrl) {
    sink.error(
      at('gateway.service.tokenstate.impl'),
      'the redis token state needs postern.token.state.redis.url',
    );
  }
  if (channels.layer === 'backplane' && !channels.secret) {
    sink.error(
      at('gateway.channels.layer'),
      'gateway.channels.layer is backplane but gateway.channels.broadcast.secret is empty: the backplane refuses to run without a shared secret',
    );
  }
  if (channels.layer === 'redis' && !channels.redisUrl) {
    sink.error(
      at('gateway.channels.layer'),
      'gateway.channels.layer is redis but gateway.channels.redis.url is not set',
    );
  }
  if (channels.mutualTls && (!p.ssl.enabled || !(p.ssl.clientAuthWanted || p.ssl.clientAuthNeeded))) {
    sink.error(
      at('gateway.channels.broadcast.mtls'),
      'gateway.channels.broadcast.mtls needs ssl.enabled=true and gateway.client.auth.wanted (or .needed), so that peers are asked for their certificates',
    );
  }
  if (p.ssl.ticketKeyShared && !p.stateRedisUrl) {
    sink.error(
      at('postern.tls.ticket.key.shared'),
      'postern.tls.ticket.key.shared needs postern.state.redis.url: the nodes share the key through that Redis',
    );
  } else if (p.ssl.ticketKeyShared && p.ssl.ticketKeyRotationMs === 0) {
    sink.error(
      at('postern.tls.ticket.key.shared'),
      'postern.tls.ticket.key.shared needs postern.tls.ticket.key.rotation above 0: a shared key that never changed would stay in Redis for good',
    );
  }
  // Knox's TLS lists with Jetty's semantics (config/tls-policy.ts): an unknown protocol, a pattern that does not
  // compile or lists that leave nothing to offer stop the gateway here, not at its first handshake.
  const policy = tlsPolicy(p.ssl);
  if ('problem' in policy) sink.error(at(policy.key), `${policy.key}: ${policy.problem}`);
  const whitelist = p.dispatchWhitelist?.trim();
  if (whitelist && !['DEFAULT', 'HTTPS_ONLY'].includes(whitelist.toUpperCase())) {
    for (const part of whitelist.split(';')) {
      try {
        new RegExp(part);
      } catch (err) {
        sink.error(
          at('gateway.dispatch.whitelist'),
          `gateway.dispatch.whitelist: "${part}" is not a valid regular expression: ${(err as Error).message}`,
        );
      }
    }
  }
  for (const [topology, port] of p.portMapping.ports) {
    if (p.portMapping.enabled && port === p.port) {
      sink.error(
        at(`gateway.port.mapping.${topology}`),
        `gateway.port.mapping.${topology}: ${port} is gateway.port; a mapped topology needs a port of its own`,
      );
    }
  }
  // The operational endpoints answer outside the gateway's path, where no topology can shadow them.
  const gatewayPrefix = `/${p.path}/`;
  const endpoints = [
    [SETTINGS.metrics.path, p.metrics.path],
    [SETTINGS.health.livePath, p.health.livePath],
    [SETTINGS.health.readyPath, p.health.readyPath],
  ] as const;
  for (const [{ key }, value] of endpoints) {
    if (`${value}/`.startsWith(gatewayPrefix) || value === '/') {
      sink.error(at(key), `${key}: ${value} must be outside the gateway path ${gatewayPrefix}`);
    }
  }
}

/** Freezes objects and arrays all the way down; settings are shared by every request and must not drift. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Map)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
