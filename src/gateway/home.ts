/**
 * @module gateway/home
 * A gateway home (Knox's GATEWAY_HOME): where its files are, and everything read from it before anything is
 * served — gateway-site, the registry with the built-ins and the plugins gateway-site names, and the catalog of
 * service definitions (postern's bundled set, extra directories, the home's own). Shared by `start` and `check`.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '../config/diagnostics.ts';
import { type GatewaySettings, loadGatewaySite } from '../config/gateway-site.ts';
import { loadPlugin, Registry } from '../registry/index.ts';
import {
  loadServiceDefinitions,
  type ServiceCatalog,
  type ServiceDefinitionDir,
} from '../servicedef/catalog.ts';

/** The repository's root: postern's bundled service definitions live in `services/`, and it is the default home. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILTINS = new URL('../builtins.ts', import.meta.url).href;

export { DESCRIPTOR_EXTENSIONS } from '../topology/descriptor.ts';
export { TOPOLOGY_EXTENSIONS } from '../topology/load.ts';

export interface HomeLayout {
  home: string;
  siteFile: string;
  topologies: string;
  descriptors: string;
  sharedProviders: string;
  services: string;
  /** The home's applications (Knox's `gateway.applications.dir` default, `{data}/applications`). */
  applications: string;
  security: string;
  logs: string;
}

export function homeLayout(home: string): HomeLayout {
  const h = resolve(home);
  return {
    home: h,
    siteFile: join(h, 'conf', 'gateway-site.xml'),
    topologies: join(h, 'conf', 'topologies'),
    descriptors: join(h, 'conf', 'descriptors'),
    sharedProviders: join(h, 'conf', 'shared-providers'),
    services: join(h, 'data', 'services'),
    applications: join(h, 'data', 'applications'),
    security: join(h, 'data', 'security'),
    logs: join(h, 'logs'),
  };
}

/** Everything needed to deploy, read from a home: shared by `start` and `check`. */
export interface LoadedHome {
  layout: HomeLayout;
  settings: GatewaySettings;
  registry: Registry;
  catalog: ServiceCatalog;
  diagnostics: Diagnostic[];
}

/** The service-definition directories of a home, bundled first, the home's own last (it wins). */
export function definitionDirs(layout: HomeLayout, settings: GatewaySettings): ServiceDefinitionDir[] {
  return [
    { dir: join(REPO_ROOT, 'services'), source: 'bundled' },
    ...settings.serviceDefinitionDirs.map((d) => ({
      dir: resolve(layout.home, d),
      source: 'other' as const,
    })),
    { dir: layout.services, source: 'home' },
  ];
}

/** Where a topology's `<application>`s are looked for: the home's own first, then postern's bundled ones. */
export function applicationDirs(layout: HomeLayout): string[] {
  return [layout.applications, join(REPO_ROOT, 'applications')];
}

export async function loadHome(home: string, overrides?: Partial<GatewaySettings>): Promise<LoadedHome> {
  const layout = homeLayout(home);
  const settings = {
    ...loadGatewaySite(existsSync(layout.siteFile) ? layout.siteFile : undefined),
    ...overrides,
  };
  const registry = new Registry();
  await loadPlugin(registry, BUILTINS, layout.home);
  for (const plugin of settings.plugins) await loadPlugin(registry, plugin, layout.home);
  const { catalog, diagnostics } = loadServiceDefinitions(definitionDirs(layout, settings));
  return { layout, settings, registry, catalog, diagnostics };
}
