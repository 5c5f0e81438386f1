/**
 * @module providers/common/param-reader
 * Reading params at deployment, for providers and dispatches alike: typed values (booleans, integers, durations,
 * lists) are checked, and a problem is reported at the line of the `<param>` that holds it, or at its owner when
 * the param is a default. A value Knox would fail on is an error; where Knox ignores a bad value and uses its
 * default, the reader does too but says so (a warning), instead of falling back silently.
 *
 * Knox looks several providers' params up by lower-cased name (`WebAppSecContributor`,
 * `AclsAuthorizationFilter`), so a provider's names compare case-insensitively; a dispatch's params are filter
 * init params Knox reads by their exact name. A provider's param is found in the topology provider, a chain's
 * provider-ref or a service's chain-ref; a dispatch's in the service's `<dispatch>`, its definition's dispatch or
 * the service's params (dispatch/params.ts).
 */
import type { DiagnosticSink, Position } from '../../config/diagnostics.ts';
import { TrackedParams } from '../../config/tracked-params.ts';
import { parseBoolean, parseDurationMs } from '../../config/values.ts';
import type { ProviderContext } from '../../spi/index.ts';

/** Where a reader's params come from and where their problems go. */
export interface ParamSource {
  readonly params: ReadonlyMap<string, string>;
  readonly sink: DiagnosticSink;
  /** Names the params' owner in messages: `ShiroProvider` gives `ShiroProvider param main.x: …`. */
  readonly label: string;
  /** Names compare case-insensitively (Knox's providers) rather than exactly (its dispatches). */
  readonly ignoreCase: boolean;
  /** Where the param of this name (as written) is defined, else where its owner is. */
  position(name: string): Position;
}

/** What a bad value is: an `error` (Knox fails) or a `warning` and the fallback (Knox ignores it). */
export type OnBad = 'error' | 'warn';

export class ParamReader {
  readonly #source: ParamSource;
  /** Name as looked up (lower-cased when names ignore case) → [name as written, value]. */
  readonly #byName = new Map<string, [string, string]>();
  #failed = false;

  /** A provider's params (from its context), or params of any other source. */
  constructor(from: ProviderContext | ParamSource) {
    this.#source = 'position' in from ? from : providerSource(from);
    const params = this.#source.params;
    const all = params instanceof TrackedParams ? params.untracked() : params;
    for (const [name, value] of all) this.#byName.set(this.#norm(name), [name, value]);
  }

  #norm(name: string): string {
    return this.#source.ignoreCase ? name.toLowerCase() : name;
  }

  /** The lookup key of a name; the lookup counts as a read of the param (deploy/compile's unread-param warning). */
  #key(name: string): string {
    const params = this.#source.params;
    if (params instanceof TrackedParams) params.mark(name);
    return this.#norm(name);
  }

  /** True once any value was reported as an error. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Every param, with its name as written. */
  entries(): [string, string][] {
    const params = this.#source.params;
    if (params instanceof TrackedParams) params.markAll();
    return [...this.#byName.values()];
  }

  has(name: string): boolean {
    return this.#byName.has(this.#key(name));
  }

  /** The value as written (untrimmed), or undefined. */
  raw(name: string): string | undefined {
    return this.#byName.get(this.#key(name))?.[1];
  }

  /** The trimmed value, or `fallback` when the param is absent. */
  text(name: string, fallback: string): string;
  text(name: string): string | undefined;
  text(name: string, fallback?: string): string | undefined {
    return this.raw(name)?.trim() ?? fallback;
  }

  bool(name: string, fallback: boolean, onBad: OnBad = 'error'): boolean {
    return this.parsed(name, fallback, parseBoolean, 'true or false', onBad);
  }

  /** An integer no smaller than `min` (nor larger than `max`). */
  int(
    name: string,
    fallback: number,
    min: number,
    options: { max?: number; onBad?: OnBad; expected?: string } = {},
  ): number {
    const max = options.max ?? Number.MAX_SAFE_INTEGER;
    const expected =
      options.expected ??
      (options.max === undefined ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`);
    const parse = (text: string) => {
      const t = text.trim();
      const n = /^-?\d+$/.test(t) ? Number(t) : Number.NaN;
      return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
    };
    return this.parsed(name, fallback, parse, expected, options.onBad);
  }

  /** Milliseconds, or minutes/seconds/milliseconds parts (`20s`, `1m30s`), as gateway-site's durations. */
  duration(name: string, fallbackMs: number, onBad: OnBad = 'error'): number {
    return this.parsed(
      name,
      fallbackMs,
      parseDurationMs,
      'a duration (milliseconds, or with an m/s suffix such as 20s)',
      onBad,
    );
  }

  /**
   * The value `parse` makes of the param, or `fallback` when it is absent. Text `parse` refuses (returns
   * undefined for) is reported as not being `expected`, and gives `fallback`.
   */
  parsed<T>(
    name: string,
    fallback: T,
    parse: (text: string) => T | undefined,
    expected: string,
    onBad: OnBad = 'error',
  ): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = parse(value);
    if (parsed !== undefined) return parsed;
    if (onBad === 'error') this.error(name, `expected ${expected}, found "${value}"`);
    else this.warn(name, `expected ${expected}, found "${value}"; using ${String(fallback)}`);
    return fallback;
  }

  /** A list split on `separators`, entries trimmed, blanks dropped. */
  list(name: string, fallback: string, separators: RegExp = /,/): string[] {
    return (this.raw(name) ?? fallback)
      .split(separators)
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  /** Where the param is written (the last definition, the one that wins), else its owner. */
  pos(name: string): Position {
    return this.#source.position(this.#byName.get(this.#key(name))?.[0] ?? name);
  }

  error(name: string, message: string): void {
    this.#failed = true;
    this.#source.sink.error(
      this.pos(name),
      `${this.#source.label} param ${this.#displayName(name)}: ${message}`,
    );
  }

  warn(name: string, message: string): void {
    this.#source.sink.warn(
      this.pos(name),
      `${this.#source.label} param ${this.#displayName(name)}: ${message}`,
    );
  }

  #displayName(name: string): string {
    return this.#byName.get(this.#key(name))?.[0] ?? name;
  }
}

/** A provider's params: looked up case-insensitively, found where the topology or a chain writes them. */
function providerSource(ctx: ProviderContext): ParamSource {
  return {
    params: ctx.params,
    sink: ctx.sink,
    label: ctx.name,
    ignoreCase: true,
    position(wanted) {
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
    },
  };
}
