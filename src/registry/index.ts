/**
 * @module registry
 * The one registry through which every provider and dispatch plugs in, keyed by (role, name) for providers and
 * by name (plus Knox class-name aliases) for dispatches. Built-ins register through {@link loadPlugin} exactly
 * as an outside npm package named in gateway-site's `postern.plugins` does: a module whose `register(registry)`
 * export is called once.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DispatchFactory, ProviderFactory } from '../spi/index.ts';

/** What a plugin module exports. */
export interface PosternPlugin {
  register(registry: Registry): void;
}

export class Registry {
  readonly #providers = new Map<string, ProviderFactory>();
  readonly #dispatches = new Map<string, DispatchFactory>();
  readonly #dispatchByClass = new Map<string, DispatchFactory>();

  /** Registers a provider; a second registration of the same (role, name) is a programming error. */
  provider(factory: ProviderFactory): void {
    if (!factory.role || !factory.name || typeof factory.create !== 'function') {
      throw new TypeError('a provider needs a role, a name and a create(ctx) function');
    }
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
