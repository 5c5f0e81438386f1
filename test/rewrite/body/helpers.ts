/**
 * @module test/rewrite/body/helpers
 * Drives the body filters directly: a {@link BodyContext} whose rewrite is a small, visible mapping (so a test
 * can tell which rule ran), and runners that feed a body in chunks of every size, to show the result does not
 * depend on where the network cut it.
 */
import type { BodyContext, TextRewriter } from '../../../src/rewrite/body/values.ts';

/**
 * The test backend's URLs become gateway URLs: `http://backend:8080/x` → `https://gw/gateway/t/x`, a
 * root-relative `/static/x` → `/gateway/t/static/x`; a named rule is appended as `#rule` so tests see which one
 * ran (best match appends nothing). Anything else: no rule applies (`ANY` rewrites anything).
 */
export function mapValue(value: string, rule: string | undefined): string | undefined {
  const tag = rule === undefined ? '' : `#${rule}`;
  if (value.startsWith('http://backend:8080')) return `https://gw/gateway/t${value.slice(19)}${tag}`;
  if (value.startsWith('/static/')) return `/gateway/t${value}${tag}`;
  return rule === 'ANY' ? `rewritten:${value}` : undefined;
}

/** A context rewriting with {@link mapValue}, recording every value it was asked about (in `seen`). */
export function testContext(
  overrides: Partial<BodyContext> = {},
): BodyContext & { reports: string[]; seen: string[] } {
  const reports: string[] = [];
  const seen: string[] = [];
  return {
    rewrite: (value, rule) => {
      seen.push(value);
      return mapValue(value, rule);
    },
    bestMatchMayApply: () => true,
    limit: 1024 * 1024,
    report: (what) => reports.push(what),
    charset: undefined,
    reports,
    seen,
    ...overrides,
  };
}

/** Feeds `input` (a byte string) in chunks of `size` characters and returns the whole output. */
export function runChunks(make: () => TextRewriter, input: string, size: number): string {
  const rw = make();
  let out = '';
  for (let i = 0; i < input.length; i += size) {
    const piece = input.slice(i, i + size);
    out += rw.write(piece, Buffer.from(piece, 'latin1'));
  }
  return out + rw.end();
}

/** Runs `input` whole, then in chunks of 1, 2, 3, 5, 7, 13 and 64 characters; all results must agree. */
export function runEverySplit(make: () => TextRewriter, input: string): string {
  const whole = runChunks(make, input, Math.max(1, input.length));
  for (const size of [1, 2, 3, 5, 7, 13, 64]) {
    const out = runChunks(make, input, size);
    if (out !== whole) {
      throw new Error(`chunks of ${size} give a different result:\n${out}\nwhole:\n${whole}`);
    }
  }
  return whole;
}

/** A UTF-8 text as the byte string the filters see. */
export const bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
