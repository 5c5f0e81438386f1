/**
 * @module providers/authentication/shiro/standalone
 * A topology's ShiroProvider realms opened outside a deployment, for knoxcli's `user-auth-test` and
 * `system-user-auth-test` (cli/knox-cli-auth.ts): the same configuration reader and realms a deployment builds,
 * with the home's settings, files and aliases, so a test from the command line says what a login would meet.
 */
import { DiagnosticSink } from '../../../config/diagnostics.ts';
import type { GatewaySettings } from '../../../config/gateway-site.ts';
import { silentAuditLog } from '../../../observability/audit.ts';
import { compileTopologyRewrite } from '../../../rewrite/topology.ts';
import type { ProviderContext } from '../../../spi/index.ts';
import type { Topology } from '../../../topology/model.ts';
import { readShiroConfig, type ShiroConfig } from './config.ts';

export interface StandaloneShiro {
  /** The realms, or undefined when the configuration has errors (see {@link diagnostics}). */
  readonly config?: ShiroConfig;
  readonly diagnostics: DiagnosticSink;
  /** Closes the realms' connections. */
  close(): Promise<void>;
}

/**
 * Opens the realms of `topology`'s enabled ShiroProvider; undefined when it has none (knoxcli: "This tool
 * currently only works with Shiro as the authentication provider").
 */
export function openShiroRealms(
  topology: Topology,
  runtime: {
    settings: GatewaySettings;
    home: string;
    masterSecret: Uint8Array;
    secret(value: string): string;
  },
): StandaloneShiro | undefined {
  const provider = topology.providers.find(
    (p) => p.enabled && p.role === 'authentication' && p.name.toLowerCase() === 'shiroprovider',
  );
  if (!provider) return undefined;
  const sink = new DiagnosticSink();
  const closers: (() => void | Promise<void>)[] = [];
  const shared = new Map<string, unknown>();
  const ctx: ProviderContext = {
    topology,
    // The realms read none of these; they describe "no particular route".
    service: { role: 'KNOXCLI', urls: [], params: [], pos: provider.pos },
    definition: {
      role: 'KNOXCLI',
      name: 'knoxcli',
      version: '0.0.0',
      routes: [],
      rewrite: { file: '', rules: [], filters: [] },
      dir: '',
      source: 'other',
      pos: provider.pos,
    },
    route: { path: '/', rewrites: [], pos: provider.pos },
    settings: runtime.settings,
    sink,
    shared: <T>(key: string, create: () => T) => {
      if (!shared.has(key)) shared.set(key, create());
      return shared.get(key) as T;
    },
    sharedAcrossDeployments: <T>(_key: string, create: () => T) => create(),
    onRetire: (fn) => {
      closers.push(() => fn('shutdown'));
    },
    audit: silentAuditLog,
    home: runtime.home,
    masterSecret: runtime.masterSecret,
    secret: runtime.secret,
    role: 'authentication',
    name: provider.name,
    params: new Map(provider.params.map((p) => [p.name, p.value])),
    pos: provider.pos,
    // No rule of any definition: the realms never rewrite.
    rewrite: compileTopologyRewrite({
      definitions: [],
      sink,
      environment: {
        topology: topology.name,
        gatewayPath: runtime.settings.path,
        serviceUrls: () => undefined,
        hostmap: undefined,
        frontendUrl: runtime.settings.frontendUrl,
        secret: runtime.masterSecret,
      },
    }),
  };
  const config = readShiroConfig(ctx);
  return {
    config,
    diagnostics: sink,
    async close() {
      for (const realm of config?.realms ?? []) realm.close();
      for (const fn of closers) await fn();
    },
  };
}
