/**
 * @module config/setting
 * The building blocks of the settings table (config/settings-table.ts): a gateway-site property declared once as
 * its key, default, parser, accepted syntax and meaning. From a table of them come the typed settings object
 * (`SettingsOf`), the validation (config/gateway-site.ts) and the settings reference (config/settings-doc.ts),
 * so the three cannot disagree.
 */
import { type IpMatcher, ipListProblems, parseIpList } from './ip-list.ts';
import { parseBoolean, parseDurationMs, parseNonNegativeInt, splitList } from './values.ts';

/** One gateway-site property. */
export interface Setting<T> {
  readonly kind: 'setting';
  /** The property name in gateway-site.xml (Knox's, for the properties Knox has). */
  readonly key: string;
  readonly default: T;
  /** The value of the text written, or undefined when the text is not accepted. */
  readonly parse: (text: string) => T | undefined;
  /** What `parse` accepts, for errors ("expected …") and the reference. */
  readonly expected: string;
  /** What the property does, for the reference. */
  readonly doc: string;
  /** The default as the reference shows it, when the value alone would not say it (a derived default). */
  readonly shownDefault?: string;
  /**
   * Set for a Knox property postern accepts (its value is still checked) but does not act on: what postern does
   * instead. gateway-site warns when a site file sets it, and docs/knox-settings.md says so.
   */
  readonly ignored?: string;
}

/** A family of properties sharing a prefix (`gateway.port.mapping.{topology}`), read into a map by suffix. */
export interface Family<T> {
  readonly kind: 'family';
  readonly prefix: string;
  /** How the reference names the suffix (`{topology}`). */
  readonly suffix: string;
  readonly parse: (text: string) => T | undefined;
  readonly expected: string;
  readonly doc: string;
}

/** A table: settings and families, grouped in nested objects the way the settings object nests them. */
export interface SettingsTable {
  readonly [field: string]: Setting<unknown> | Family<unknown> | SettingsTable;
}

type ValueOf<S> =
  S extends Setting<infer V>
    ? V
    : S extends Family<infer V>
      ? ReadonlyMap<string, V>
      : S extends SettingsTable
        ? SettingsOf<S>
        : never;

/** Fields whose value may be absent (a setting without a default) are optional in the settings object. */
type OptionalFields<T> = { [K in keyof T]: undefined extends ValueOf<T[K]> ? K : never }[keyof T];

type Flatten<T> = { [K in keyof T]: T[K] };

/** The typed settings object a table gives. */
export type SettingsOf<T> = Flatten<
  { [K in Exclude<keyof T, OptionalFields<T>>]: ValueOf<T[K]> } & {
    [K in OptionalFields<T>]?: Exclude<ValueOf<T[K]>, undefined>;
  }
>;

/** Every setting and family of a table, depth first, with the field path it lands on. */
export function* walkTable(
  table: SettingsTable,
  path: readonly string[] = [],
): Generator<{ path: string[]; entry: Setting<unknown> | Family<unknown> }> {
  for (const [field, entry] of Object.entries(table)) {
    if (entry.kind === 'setting' || entry.kind === 'family') {
      yield { path: [...path, field], entry: entry as Setting<unknown> | Family<unknown> };
    } else yield* walkTable(entry as SettingsTable, [...path, field]);
  }
}

// Kinds of setting. Each takes the key, its parameters, then the meaning; a parser that refuses text makes the
// property an error at its `<value>` (Knox's Hadoop Configuration fails on a number it cannot read, and postern
// refuses words Knox would read as `false`, see config/values.ts).

export function setting<T>(
  key: string,
  fallback: T,
  parse: (text: string) => T | undefined,
  expected: string,
  doc: string,
  shownDefault?: string,
): Setting<T> {
  return { kind: 'setting', key, default: fallback, parse, expected, doc, shownDefault };
}

/** `setting`, accepted but not acted on: see {@link Setting.ignored}. */
export const ignored = <T>(setting: Setting<T>, instead: string): Setting<T> => ({
  ...setting,
  ignored: instead,
});

export const text = (key: string, fallback: string, doc: string) =>
  setting(key, fallback, (t) => t.trim(), 'text', doc);

/** Text without a default: unset (and empty) means absent. */
export const optionalText = (key: string, doc: string, shownDefault?: string) =>
  setting<string | undefined>(key, undefined, (t) => t.trim() || undefined, 'text', doc, shownDefault);

export const bool = (key: string, fallback: boolean, doc: string) =>
  setting(key, fallback, parseBoolean, 'true or false', doc);

/** Comma-separated (or also `|`-separated, as Knox's TLS lists, when `separators` says so). */
export const list = (key: string, fallback: string[], doc: string, separators: RegExp = /,/) =>
  setting(
    key,
    fallback,
    (t) => splitList(t, separators),
    separators.test('|') ? 'a comma- or pipe-separated list' : 'a comma-separated list',
    doc,
  );

export const duration = (key: string, fallbackMs: number, doc: string) =>
  setting(
    key,
    fallbackMs,
    parseDurationMs,
    'a duration (milliseconds, or with an m/s suffix such as 20s)',
    doc,
    showDuration(fallbackMs),
  );

/** A duration above zero, or unset: the reader of the setting says what unset means. */
export const optionalDuration = (key: string, doc: string, shownDefault: string) =>
  setting<number | undefined>(
    key,
    undefined,
    (t) => {
      const ms = parseDurationMs(t);
      return ms !== undefined && ms > 0 ? ms : undefined;
    },
    'a duration above 0 (milliseconds, or with an m/s suffix such as 20s)',
    doc,
    shownDefault,
  );

export const int = (key: string, fallback: number, min: number, max: number, doc: string) =>
  setting(key, fallback, intIn(min, max), `an integer from ${min} to ${max}`, doc);

export const oneOf = <const L extends readonly string[]>(
  key: string,
  values: L,
  fallback: L[number],
  doc: string,
) =>
  setting<L[number]>(
    key,
    fallback,
    (t) => values.find((v) => v === t.trim().toLowerCase()),
    `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`,
    doc,
  );

/** `oneOf` without a default. */
export const optionalOneOf = <const L extends readonly string[]>(
  key: string,
  values: L,
  doc: string,
  shownDefault: string,
) =>
  setting<L[number] | undefined>(
    key,
    undefined,
    (t) => values.find((v) => v === t.trim().toLowerCase()),
    values.join(', '),
    doc,
    shownDefault,
  );

export function family<T>(
  prefix: string,
  suffix: string,
  parse: (text: string) => T | undefined,
  expected: string,
  doc: string,
): Family<T> {
  return { kind: 'family', prefix, suffix, parse, expected, doc };
}

export function intIn(min: number, max: number): (text: string) => number | undefined {
  return (t) => {
    const n = parseNonNegativeInt(t);
    return n !== undefined && n >= min && n <= max ? n : undefined;
  };
}

/** `20000` → `20s`, `300000` → `5m`: a spelling gateway-site accepts, for the reference. */
function showDuration(ms: number): string {
  if (ms !== 0 && ms % 60_000 === 0) return `\`${ms / 60_000}m\``;
  if (ms !== 0 && ms % 1000 === 0) return `\`${ms / 1000}s\``;
  return `\`${ms}\``;
}

/**
 * An IP list (addresses, prefix wildcards such as `10.0.*`, subnets such as `10.0.0.0/8`; config/ip-list.ts),
 * parsed once into its matcher; unset or empty matches no address.
 */
export const ipList = (key: string, doc: string) =>
  setting<IpMatcher>(
    key,
    parseIpList(''),
    (t) => (ipListProblems(t).length === 0 ? parseIpList(t) : undefined),
    'a comma-separated list of addresses, prefix wildcards (10.0.*) or subnets (10.0.0.0/8)',
    doc,
    'none',
  );
