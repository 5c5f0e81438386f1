/**
 * @module gateway/site-reload
 * What SIGHUP can change of a running gateway's gateway-site, and what needs a restart. A running gateway
 * rereads the file, compares it property by property with the settings it runs on, and applies what it safely
 * can: everything a deployment is compiled from (dispatch clients, X-Forwarded-*, WebSocket limits, rewrite's
 * frontend URL, provider-facing settings…) takes effect by redeploying every topology — atomically, as a topology
 * file change does — and a few settings the server reads per request apply at once. What is bound when the
 * process starts (listener, TLS identity, plugins, the metrics listener, the tracer, the channels layer) keeps
 * its running value until a restart; the log says which.
 */
import type { GatewaySettings } from '../config/gateway-site.ts';

/** Properties bound at start-up. */
const RESTART_EXACT = new Set([
  'gateway.host',
  'gateway.port',
  'gateway.path',
  'gateway.httpserver.requestHeaderBuffer',
  'gateway.topology.redeploy.requires.changes',
  'postern.plugins',
  'postern.demo.backends.enabled',
  'postern.services.dirs',
  'postern.workers',
  // Read into the `ssl` settings, which the listener was made with.
  'gateway.trust.all.certs',
  'postern.tls.ticket.key.rotation',
  'postern.tls.ticket.key.shared',
]);

const RESTART_PREFIXES = [
  'ssl.',
  'gateway.tls.',
  'gateway.truststore.',
  'gateway.client.auth.',
  'gateway.port.mapping.',
  'gateway.channels.',
  'postern.metrics.',
  'postern.tracing.',
  'postern.health.',
  'postern.ready.',
];

/** Properties read while running (no redeploy needed). */
const RUNTIME_ONLY = new Set(['postern.log.level', 'postern.shutdown.grace', 'gateway.idle.timeout']);

export function needsRestart(property: string): boolean {
  return RESTART_EXACT.has(property) || RESTART_PREFIXES.some((p) => property.startsWith(p));
}

/** The settings fields those properties feed: they keep their running values. */
export const RESTART_FIELDS = [
  'host',
  'port',
  'path',
  'ssl',
  'requestHeaderBufferBytes',
  'topologyRedeployRequiresChanges',
  'plugins',
  'demoBackends',
  'serviceDefinitionDirs',
  'portMapping',
  'metrics',
  'tracing',
  'health',
  'channels',
  'workers',
] as const satisfies readonly (keyof GatewaySettings)[];

export interface SiteChanges {
  /** Properties added, removed or changed that take effect now. */
  reloaded: string[];
  /** Properties added, removed or changed that keep their running value until a restart. */
  restartNeeded: string[];
  /** Whether the topologies must be redeployed for `reloaded` to take effect. */
  redeploy: boolean;
  /** The settings to run on: the new ones, with every restart-only field as it was. */
  settings: GatewaySettings;
}

/** Compares the running settings with freshly read ones. */
export function compareSettings(running: GatewaySettings, next: GatewaySettings): SiteChanges {
  const names = new Set([...running.properties.keys(), ...next.properties.keys()]);
  const reloaded: string[] = [];
  const restartNeeded: string[] = [];
  for (const name of [...names].sort()) {
    if (running.properties.get(name) === next.properties.get(name)) continue;
    (needsRestart(name) ? restartNeeded : reloaded).push(name);
  }
  const properties = new Map(next.properties);
  for (const name of restartNeeded) {
    const was = running.properties.get(name);
    if (was === undefined) properties.delete(name);
    else properties.set(name, was);
  }
  const kept: Partial<Record<keyof GatewaySettings, unknown>> = {};
  for (const field of RESTART_FIELDS) kept[field] = running[field];
  const settings = Object.freeze({ ...next, ...kept, properties }) as GatewaySettings;
  return {
    reloaded,
    restartNeeded,
    redeploy: reloaded.some((n) => !RUNTIME_ONLY.has(n)),
    settings,
  };
}
