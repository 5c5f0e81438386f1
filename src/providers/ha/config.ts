/**
 * @module providers/ha/config
 * Knox's HaProvider configuration: one provider param per service role whose value is a
 * `;`-separated list of `key=value` pairs, overridden per service by topology `<service>` params of the same
 * names (`haEnabled` for `enabled`). postern refuses what Knox would silently ignore: an unknown key or a value
 * that does not parse is a deployment error at the `<param>` that holds it.
 *
 * Beyond Knox, the same grammar carries postern's health keys: `failureCooldown` (a URL whose request failed is
 * skipped for that long while another is available) and `healthCheckPath` / `healthCheckInterval` /
 * `healthCheckTimeout` (an active check of each URL).
 */
import type { DiagnosticSink, Position } from '../../config/diagnostics.ts';
import { parseBoolean, parseDurationMs, parseNonNegativeInt, splitList } from '../../config/values.ts';
import type { Param, ProviderConfig, ServiceConfig, Topology } from '../../topology/model.ts';

/** The HA behaviour of one service role, every key resolved (defaults are Knox's). */
export interface HaSettings {
  maxFailoverAttempts: number;
  /** Milliseconds between a failure and the next attempt. */
  failoverSleep: number;
  /** Accepted for Knox compatibility; used by Knox's service-specific dispatches only. */
  maxRetryAttempts: number;
  retrySleep: number;
  enableLoadBalancing: boolean;
  /** Effective only with load balancing, as in Knox. */
  enableStickySession: boolean;
  /** Knox appends `-{ROLE}` to it. */
  stickySessionCookieName: string;
  noFallback: boolean;
  failoverNonIdempotentRequestEnabled: boolean;
  /** A request whose User-Agent contains one of these is not load balanced. */
  disableLoadBalancingForUserAgents: string[];
  /** postern: milliseconds a failed URL is passed over while another is available (0: never). */
  failureCooldown: number;
  /** postern: the path (below each service URL) of the active health check; unset means no active check. */
  healthCheckPath?: string;
  healthCheckInterval: number;
  healthCheckTimeout: number;
}

export const HA_DEFAULTS: Readonly<HaSettings> = Object.freeze({
  maxFailoverAttempts: 3,
  failoverSleep: 1000,
  maxRetryAttempts: 3,
  retrySleep: 1000,
  enableLoadBalancing: false,
  enableStickySession: false,
  stickySessionCookieName: 'KNOX_BACKEND',
  noFallback: false,
  failoverNonIdempotentRequestEnabled: false,
  disableLoadBalancingForUserAgents: ['ClouderaODBCDriverforApacheHive'],
  failureCooldown: 10_000,
  healthCheckInterval: 10_000,
  healthCheckTimeout: 2000,
});

type Kind = 'bool' | 'count' | 'duration' | 'list' | 'cookie' | 'path' | 'enabled' | 'zookeeper';

/** Every key, lower-cased, with its spelling and kind. */
const KEYS = new Map<string, { key: keyof HaSettings | 'enabled' | 'zookeeper'; name: string; kind: Kind }>();
for (const [name, kind] of [
  ['enabled', 'enabled'],
  ['maxFailoverAttempts', 'count'],
  ['failoverSleep', 'duration'],
  ['maxRetryAttempts', 'count'],
  ['retrySleep', 'duration'],
  ['enableLoadBalancing', 'bool'],
  ['enableStickySession', 'bool'],
  ['stickySessionCookieName', 'cookie'],
  ['noFallback', 'bool'],
  ['failoverNonIdempotentRequestEnabled', 'bool'],
  ['disableLoadBalancingForUserAgents', 'list'],
  ['zookeeperEnsemble', 'zookeeper'],
  ['zookeeperNamespace', 'zookeeper'],
  ['failureCooldown', 'duration'],
  ['healthCheckPath', 'path'],
  ['healthCheckInterval', 'duration'],
  ['healthCheckTimeout', 'duration'],
] as const) {
  const key = kind === 'enabled' ? 'enabled' : kind === 'zookeeper' ? 'zookeeper' : name;
  KEYS.set(name.toLowerCase(), { key: key as keyof HaSettings, name, kind });
}

/** RFC 6265 cookie-name: an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

type Enabled = boolean | 'auto';

/** One role's configuration as written: `enabled` and the keys it sets. */
interface Written {
  enabled?: Enabled;
  values: Partial<HaSettings>;
}

/**
 * Reads one `key=value` into `into`; returns an error message, or undefined when the value is accepted. A
 * ZooKeeper key is accepted with a warning (`warn`): postern reads service URLs from the topology only.
 */
function readKey(
  rawKey: string,
  rawValue: string,
  into: Written,
  warn: (message: string) => void,
): string | undefined {
  const spec = KEYS.get(rawKey.trim().toLowerCase());
  if (!spec) return `unknown HA key "${rawKey.trim()}"`;
  const value = rawValue.trim();
  const bad = (expected: string) => `${spec.name}: expected ${expected}, found "${value}"`;
  switch (spec.kind) {
    case 'enabled': {
      if (value.toLowerCase() === 'auto') into.enabled = 'auto';
      else {
        const b = parseBoolean(value);
        if (b === undefined) return bad('true, false or auto');
        into.enabled = b;
      }
      return undefined;
    }
    case 'bool': {
      const b = parseBoolean(value);
      if (b === undefined) return bad('true or false');
      (into.values as Record<string, unknown>)[spec.key] = b;
      return undefined;
    }
    case 'count': {
      const n = parseNonNegativeInt(value);
      if (n === undefined) return bad('a non-negative integer');
      (into.values as Record<string, unknown>)[spec.key] = n;
      return undefined;
    }
    case 'duration': {
      const ms = parseDurationMs(value);
      if (ms === undefined) return bad('milliseconds (or a duration such as 5s)');
      if ((spec.key === 'healthCheckInterval' || spec.key === 'healthCheckTimeout') && ms === 0) {
        return bad('a duration above 0');
      }
      (into.values as Record<string, unknown>)[spec.key] = ms;
      return undefined;
    }
    case 'list':
      into.values.disableLoadBalancingForUserAgents = splitList(value, /,/);
      return undefined;
    case 'cookie':
      if (!TOKEN.test(value)) return bad("a cookie name (letters, digits and !#$%&'*+-.^_`|~)");
      into.values.stickySessionCookieName = value;
      return undefined;
    case 'path':
      if (!value.startsWith('/') || /[\s#]/.test(value)) return bad('a path starting with /');
      into.values.healthCheckPath = value;
      return undefined;
    case 'zookeeper':
      warn(`${spec.name} is ignored: postern fails over between the service's <url>s`);
      return undefined;
  }
}

/** Parses one provider param value (`enabled=true;maxFailoverAttempts=3`). */
function parseProviderParam(param: Param, sink: DiagnosticSink): Written {
  const written: Written = { values: {} };
  for (const pair of param.value.split(';')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    if (eq < 0) {
      sink.error(param.pos, `HaProvider param ${param.name}: "${pair.trim()}" is not a key=value pair`);
      continue;
    }
    const problem = readKey(pair.slice(0, eq), pair.slice(eq + 1), written, (m) =>
      sink.warn(param.pos, `HaProvider param ${param.name}: ${m}`),
    );
    if (problem) sink.error(param.pos, `HaProvider param ${param.name}: ${problem}`);
  }
  return written;
}

/** The service-level names Knox reads (`haEnabled` stands for `enabled`). */
function serviceLevel(service: ServiceConfig, into: Written, sink: DiagnosticSink): void {
  for (const p of service.params) {
    const lower = p.name.toLowerCase();
    if (lower === 'enabled' || lower === 'replaybuffersize') continue; // not an HA key at service level
    const key = lower === 'haenabled' ? 'enabled' : p.name;
    if (!KEYS.has(key.toLowerCase())) continue; // a dispatch or provider param
    const problem = readKey(key, p.value, into, (m) =>
      sink.warn(p.pos, `service ${service.role} param: ${m}`),
    );
    if (problem) sink.error(p.pos, `service ${service.role} param ${p.name}: ${problem}`);
  }
}

/**
 * The HA settings of every service of the topology that has HA on, by role. HA needs an enabled `ha` provider;
 * a role is on when its provider param or the service's `haEnabled` says `true` (or `auto` and the service lists
 * more than one URL). A provider param for a role the topology has no service of is a warning.
 */
export function resolveHa(
  topology: Topology,
  providers: readonly ProviderConfig[],
  sink: DiagnosticSink,
): Map<string, HaSettings> {
  const out = new Map<string, HaSettings>();
  const provider = providers.find((p) => p.role === 'ha');
  if (!provider) return out;
  const byRole = new Map<string, { written: Written; pos: Position }>();
  for (const param of provider.params) {
    byRole.set(param.name, { written: parseProviderParam(param, sink), pos: param.pos });
    if (!topology.services.some((s) => s.role === param.name)) {
      sink.warn(param.pos, `HaProvider param ${param.name}: the topology has no service of that role`);
    }
  }
  for (const service of topology.services) {
    const fromProvider = byRole.get(service.role)?.written;
    // A role the provider names is on unless it says otherwise (Knox's default `enabled=true`).
    const written: Written = {
      enabled: fromProvider ? (fromProvider.enabled ?? true) : undefined,
      values: { ...fromProvider?.values },
    };
    serviceLevel(service, written, sink);
    const on = written.enabled === 'auto' ? service.urls.length > 1 : written.enabled === true;
    if (!on || service.urls.length === 0) continue;
    out.set(service.role, { ...HA_DEFAULTS, ...written.values });
  }
  return out;
}
