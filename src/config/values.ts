/**
 * @module config/values
 * Parsers for the scalar value syntaxes Knox configuration uses (booleans, durations, lists), shared by the
 * gateway-site, topology and service-definition readers so that one spelling means the same thing everywhere.
 * Each returns `undefined` for text it does not accept, leaving the wording of the diagnostic to the caller.
 */

/**
 * `true` / `false`, any case, surrounding blanks ignored. Knox uses `Boolean.parseBoolean`, which turns every other
 * word into `false`; postern refuses them instead, because `enabled=yes` silently meaning "disabled" is a trap.
 */
export function parseBoolean(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'true') return true;
  if (t === 'false') return false;
  return undefined;
}

/** A non-negative decimal integer that fits in a JS safe integer. */
export function parseNonNegativeInt(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

const DURATION = /^(?:(\d+)\s*(?:min|m))?\s*(?:(\d+)\s*(?:sec|s))?\s*(?:(\d+)\s*(?:ms)?)?$/;

/**
 * A duration in milliseconds, as Knox's `parseNetworkTimeout` reads `httpclient.*Timeout`: plain milliseconds
 * (`20000`), or minutes/seconds/milliseconds parts in that order (`5m`, `20s`, `1m30s`, `2s500`).
 */
export function parseDurationMs(text: string): number | undefined {
  const t = text.trim();
  const m = DURATION.exec(t);
  if (!m || t === '') return undefined;
  const [, min, sec, ms] = m;
  return Number(min ?? 0) * 60_000 + Number(sec ?? 0) * 1000 + Number(ms ?? 0);
}

/** A list separated by commas (or pipes, which Knox accepts for TLS protocol lists); blanks dropped. */
export function splitList(text: string, separators: RegExp = /[,|]/): string[] {
  return text
    .split(separators)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** An absolute URL whose scheme is one of `schemes` (without the colon). */
export function isAbsoluteUrl(text: string, schemes: readonly string[]): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return schemes.includes(url.protocol.slice(0, -1)) && url.host !== '';
}
