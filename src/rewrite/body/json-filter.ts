/**
 * @module rewrite/body/json-filter
 * Knox's `application/json` content filter: each `<apply path rule>` rewrites the string values its JSONPath
 * selects with a rule (WebHDFS's `$.Location` for `noredirect=true` answers, YARN's tracking URLs, …).
 * The body is parsed whole, so the caller buffers it within a bound; a body that is not JSON is passed unchanged.
 */
import type { FilterApply } from '../model.ts';
import { type JsonPathStep, parseJsonPath, selectStrings } from './json-path.ts';

export interface CompiledJsonApply {
  path: string;
  steps: JsonPathStep[];
  rule: string;
}

/** Compiles the applies of one content element; throws JsonPathError for a path outside the subset. */
export function compileJsonApplies(applies: readonly FilterApply[]): CompiledJsonApply[] {
  return applies.map((a) => ({ path: a.path, steps: parseJsonPath(a.path), rule: a.rule }));
}

/**
 * Rewrites a JSON text. Returns undefined when nothing changed or the text is not JSON, so the caller can send
 * the original bytes.
 */
export function rewriteJson(
  text: string,
  applies: readonly CompiledJsonApply[],
  rewrite: (value: string, rule: string) => string | undefined,
): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  let changed = false;
  for (const apply of applies) {
    selectStrings(doc, apply.steps, (value) => {
      const out = rewrite(value, apply.rule);
      if (out === undefined || out === value) return value;
      changed = true;
      return out;
    });
  }
  return changed ? JSON.stringify(doc) : undefined;
}
