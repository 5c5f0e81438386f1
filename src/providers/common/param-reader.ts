/**
 * @module providers/common/param-reader
 * Reading a provider's params at deployment: Knox looks several providers' params up by lower-cased name
 * (`WebAppSecContributor`, `AclsAuthorizationFilter`), so names compare case-insensitively here; typed values
 * (booleans, integers, lists) are checked, and a problem is reported at the line of the `<param>` that holds it
 * (the topology provider, a chain's provider-ref or a service's chain-ref), or at the provider when the param is
 * a default.
 */
import type { Position } from '../../config/diagnostics.ts';
import { parseBoolean } from '../../config/values.ts';
import type { ProviderContext } from '../../spi/index.ts';

export class ParamReader {
  readonly #ctx: ProviderContext;
  /** Lower-cased name → [name as written, value]. */
  readonly #byName = new Map<string, [string, string]>();
  #failed = false;

  constructor(ctx: ProviderContext) {
    this.#ctx = ctx;
    for (const [name, value] of ctx.params) this.#byName.set(name.toLowerCase(), [name, value]);
  }

  /** True once any value was reported as an error. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Every param, with its name as written. */
  entries(): [string, string][] {
    return [...this.#byName.values()];
  }

  has(name: string): boolean {
    return this.#byName.has(name.toLowerCase());
  }

  /** The value as written (untrimmed), or undefined. */
  raw(name: string): string | undefined {
    return this.#byName.get(name.toLowerCase())?.[1];
  }

  /** The trimmed value, or `fallback` when the param is absent. */
  text(name: string, fallback: string): string;
  text(name: string): string | undefined;
  text(name: string, fallback?: string): string | undefined {
    return this.raw(name)?.trim() ?? fallback;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = parseBoolean(value);
    if (parsed === undefined) {
      this.error(name, `expected true or false, found "${value}"`);
      return fallback;
    }
    return parsed;
  }

  /** An integer no smaller than `min`. */
  int(name: string, fallback: number, min: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const t = value.trim();
    const n = /^-?\d+$/.test(t) ? Number(t) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      this.error(name, `expected an integer of at least ${min}, found "${value}"`);
      return fallback;
    }
    return n;
  }

  /** A list split on `separators`, entries trimmed, blanks dropped. */
  list(name: string, fallback: string, separators: RegExp = /,/): string[] {
    return (this.raw(name) ?? fallback)
      .split(separators)
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  /** Where the param is written (the last definition that wins), else the provider. */
  pos(name: string): Position {
    const ctx = this.#ctx;
    const wanted = this.#byName.get(name.toLowerCase())?.[0] ?? name;
    const role = ctx.role;
    const fromRef = ctx.service.chainRef?.params.find((p) => p.role === role && p.name === wanted);
    if (fromRef) return fromRef.pos;
    const chain =
      ctx.service.chainRef && ctx.topology.chains.find((c) => c.name === ctx.service.chainRef!.name);
    for (const ref of chain?.providers ?? []) {
      if (ref.role !== role) continue;
      const p = ref.params.find((x) => x.name === wanted);
      if (p) return p.pos;
    }
    for (const provider of ctx.topology.providers) {
      if (provider.role !== role || provider.name.toLowerCase() !== ctx.name.toLowerCase()) continue;
      const p = provider.params.find((x) => x.name === wanted);
      if (p) return p.pos;
    }
    return ctx.pos;
  }

  error(name: string, message: string): void {
    this.#failed = true;
    this.#ctx.sink.error(this.pos(name), `${this.#ctx.name} param ${this.#displayName(name)}: ${message}`);
  }

  warn(name: string, message: string): void {
    this.#ctx.sink.warn(this.pos(name), `${this.#ctx.name} param ${this.#displayName(name)}: ${message}`);
  }

  #displayName(name: string): string {
    return this.#byName.get(name.toLowerCase())?.[0] ?? name;
  }
}
