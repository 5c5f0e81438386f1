/**
 * @module registry
 * The one registry through which everything plugs in: providers (by role and name), dispatches (by name, plus
 * Knox class-name aliases), services the gateway answers itself (registered as dispatches too, plus their
 * endpoints and life cycle), and topology-level contributors (by provider role). Built-ins register through
 * {@link loadPlugin} exactly as an outside npm package named in gateway-site's `postern.plugins` does: a module
 * whose `register(registry)` export is called once.
 *
 * Role names are checked at registration:
 * - a provider (or contributor) role is one Knox knows ({@link KNOX_PROVIDER_ROLES}), or a plugin's own role
 *   written the same way: lower-case letters and digits in `-`-separated words, starting with a letter, at most
 *   64 characters (`audit-trail`). Topologies name roles case-insensitively, as Knox's do.
 * - a service role is Knox's spelling: upper-case letters, digits, `-` and `_`, starting with a letter, at most
 *   64 characters (`KNOXSSO`, `KNOX-METADATA`).
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type {
  DispatchFactory,
  ProviderFactory,
  ServiceEndpoint,
  ServiceFactory,
  TopologyContributor,
} from '../spi/index.ts';

/** The provider roles of Knox's topologies. */
export const KNOX_PROVIDER_ROLES: ReadonlySet<string> = new Set([
  'authentication',
  'federation',
  'identity-assertion',
  'authorization',
  'rewrite',
  'webappsec',
  'ha',
  'hostmap',
]);

const PROVIDER_ROLE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/i;
const SERVICE_ROLE = /^[A-Z][A-Z0-9_-]*$/;

/** @throws TypeError saying what a provider role may be. */
export function checkProviderRole(role: unknown, what: string): void {
  if (typeof role !== 'string' || role === '') throw new TypeError(`${what} needs a role`);
  if (KNOX_PROVIDER_ROLES.has(role.toLowerCase())) return;
  if (role.length > 64 || !PROVIDER_ROLE.test(role)) {
    throw new TypeError(
      `${what}: role "${role}" is not a role name (Knox's roles, or lower-case words of letters and digits joined by "-", at most 64 characters)`,
    );
  }
}

/** @throws TypeError saying what a service role may be. */
export function checkServiceRole(role: unknown, what: string): void {
  if (typeof role !== 'string' || role.length > 64 || !SERVICE_ROLE.test(role)) {
    throw new TypeError(
      `${what}: service role "${String(role)}" is not a role name (upper-case letters, digits, "-" and "_", starting with a letter, at most 64 characters)`,
    );
  }
}

/** What a plugin module exports. */
export interface PosternPlugin {
  register(registry: Registry): void;
}

export class Registry {
  readonly #providers = new Map<string, ProviderFactory>();
  readonly #dispatches = new Map<string, DispatchFactory>();
  readonly #dispatchByClass = new Map<string, DispatchFactory>();
  readonly #services: ServiceFactory[] = [];
  readonly #endpoints = new Map<string, ServiceEndpoint>();
  readonly #contributors = new Map<string, TopologyContributor>();

  /** Registers a provider; a second registration of the same (role, name) is a programming error. */
  provider(factory: ProviderFactory): void {
    if (!factory.role || !factory.name || typeof factory.create !== 'function') {
      throw new TypeError('a provider needs a role, a name and a create(ctx) function');
    }
    checkProviderRole(factory.role, `provider "${factory.name}"`);
    const key = providerKey(factory.role, factory.name);
    if (this.#providers.has(key)) {
      throw new TypeError(`provider role "${factory.role}" name "${factory.name}" is already registered`);
    }
    this.#providers.set(key, factory);
  }

  dispatch(factory: DispatchFactory): void {
    if (!factory.name || typeof factory.create !== 'function') {
      throw new TypeError('a dispatch needs a name and a create(ctx) function');
    }
    if (this.#dispatches.has(factory.name)) {
      throw new TypeError(`dispatch "${factory.name}" is already registered`);
    }
    this.#dispatches.set(factory.name, factory);
    for (const cls of factory.classNames ?? []) this.#dispatchByClass.set(cls, factory);
  }

  /**
   * Registers a service the gateway answers itself: its dispatch (named by its definitions), its endpoints
   * outside the gateway path and its life cycle with the gateway.
   */
  service(factory: ServiceFactory): void {
    if (!factory.name || typeof factory.create !== 'function') {
      throw new TypeError('a service needs a name and a create(ctx) function');
    }
    if (!Array.isArray(factory.roles) || factory.roles.length === 0) {
      throw new TypeError(`service "${factory.name}" needs the service roles it answers (roles: ['…'])`);
    }
    for (const role of factory.roles) checkServiceRole(role, `service "${factory.name}"`);
    const endpoints = factory.endpoints ?? [];
    for (const e of endpoints) {
      if (typeof e.path !== 'string' || !/^\/[^?#\s]*$/.test(e.path) || typeof e.upgrade !== 'function') {
        throw new TypeError(
          `service "${factory.name}": an endpoint needs a path starting with "/" and an upgrade() function`,
        );
      }
      if (this.#endpoints.has(e.path)) {
        throw new TypeError(`service "${factory.name}": endpoint ${e.path} is already registered`);
      }
    }
    const { name, classNames, create, createUpgrade } = factory;
    this.dispatch({
      name,
      classNames,
      answersItself: true,
      create: (ctx) => create.call(factory, ctx),
      ...(createUpgrade && { createUpgrade: (ctx) => createUpgrade.call(factory, ctx) }),
    });
    for (const e of endpoints) this.#endpoints.set(e.path, e);
    this.#services.push(factory);
  }

  /** Registers a topology-level contributor (one per provider role). */
  contributor(contributor: TopologyContributor): void {
    if (!contributor.key || typeof contributor.contribute !== 'function') {
      throw new TypeError('a contributor needs a role, a key and a contribute(ctx) function');
    }
    checkProviderRole(contributor.role, `contributor "${contributor.key}"`);
    const role = contributor.role.toLowerCase();
    if (this.#contributors.has(role)) {
      throw new TypeError(`a contributor for provider role "${contributor.role}" is already registered`);
    }
    for (const c of this.#contributors.values()) {
      if (c.key === contributor.key) {
        throw new TypeError(`contribution key "${contributor.key}" is already registered`);
      }
    }
    this.#contributors.set(role, contributor);
  }

  /** Provider names compare case-insensitively, as Knox's do (`anonymous` = `Anonymous`). */
  findProvider(role: string, name: string): ProviderFactory | undefined {
    return this.#providers.get(providerKey(role, name));
  }

  hasRole(role: string): boolean {
    const prefix = `${role.toLowerCase()}\u0000`;
    for (const key of this.#providers.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  /** A dispatch by postern name or by Knox class name. */
  findDispatch(nameOrClass: string): DispatchFactory | undefined {
    return this.#dispatches.get(nameOrClass) ?? this.#dispatchByClass.get(nameOrClass);
  }

  providers(): ProviderFactory[] {
    return [...this.#providers.values()];
  }

  dispatches(): DispatchFactory[] {
    return [...this.#dispatches.values()];
  }

  /** The services the gateway answers itself, in registration order. */
  services(): readonly ServiceFactory[] {
    return this.#services;
  }

  /** Services' endpoints outside the gateway path, by path. */
  endpoints(): ReadonlyMap<string, ServiceEndpoint> {
    return this.#endpoints;
  }

  /** The contributor of a provider role (compared case-insensitively), if one is registered. */
  findContributor(role: string): TopologyContributor | undefined {
    return this.#contributors.get(role.toLowerCase());
  }

  contributors(): TopologyContributor[] {
    return [...this.#contributors.values()];
  }
}

function providerKey(role: string, name: string): string {
  return `${role.toLowerCase()}\u0000${name.toLowerCase()}`;
}

/**
 * Loads a plugin by npm package name or path (relative paths resolve against `baseDir`) and registers it.
 * @throws Error naming the plugin when it cannot be imported or has no `register` function.
 */
export async function loadPlugin(registry: Registry, specifier: string, baseDir: string): Promise<void> {
  const target =
    specifier.startsWith('.') || isAbsolute(specifier)
      ? pathToFileURL(resolve(baseDir, specifier)).href
      : specifier;
  let mod: Partial<PosternPlugin> & { default?: Partial<PosternPlugin> };
  try {
    mod = await import(target);
  } catch (err) {
    throw new Error(`plugin "${specifier}" could not be loaded: ${(err as Error).message}`, { cause: err });
  }
  const register = mod.register ?? mod.default?.register;
  if (typeof register !== 'function') {
    throw new Error(`plugin "${specifier}" exports no register(registry) function`);
  }
  register(registry);
}
