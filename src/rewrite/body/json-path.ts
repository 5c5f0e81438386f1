/**
 * @module rewrite/body/json-path
 * The JSONPath subset Knox's `application/json` filters use (`<apply path="$.Location" …/>`): member access
 * (`$.a.b`, `$[a]`, `$['a b']`), array indexes (`[0]`), wildcards (`[*]`, `.*`) and descent (`$..x`, and Knox's
 * `$.**.x`). Compiled once at deployment; {@link selectStrings} then visits every string value a path names.
 */

export type JsonPathStep =
  | { kind: 'child'; name: string }
  | { kind: 'any' }
  /** `..name` / `.**.name`: `name` at any depth below. */
  | { kind: 'descend'; name: string | undefined };

export class JsonPathError extends Error {
  constructor(path: string, column: number, message: string) {
    super(`JSONPath "${path}" at column ${column}: ${message}`);
    this.name = 'JsonPathError';
  }
}

const NAME = /^(\*|[^.[\]?()@'"\s*]+)/;

export function parseJsonPath(path: string): JsonPathStep[] {
  if (!path.startsWith('$')) throw new JsonPathError(path, 1, 'expected "$"');
  const steps: JsonPathStep[] = [];
  let i = 1;
  while (i < path.length) {
    const rest = path.slice(i);
    if (rest.startsWith('..') || rest.startsWith('.**.')) {
      i += rest.startsWith('..') ? 2 : 4;
      const tail = path.slice(i);
      if (tail.startsWith('[')) {
        steps.push({ kind: 'descend', name: undefined });
        continue;
      }
      const m = NAME.exec(tail);
      if (!m) throw new JsonPathError(path, i + 1, 'expected a member name after ".."');
      steps.push({ kind: 'descend', name: m[0] === '*' ? undefined : m[0] });
      i += m[0].length;
    } else if (rest.startsWith('.')) {
      i += 1;
      const m = NAME.exec(path.slice(i));
      if (!m) throw new JsonPathError(path, i + 1, 'expected a member name after "."');
      steps.push(m[0] === '*' ? { kind: 'any' } : { kind: 'child', name: m[0] });
      i += m[0].length;
    } else if (rest.startsWith('[')) {
      const close = path.indexOf(']', i);
      if (close < 0) throw new JsonPathError(path, i + 1, 'unclosed "["');
      let inner = path.slice(i + 1, close).trim();
      if (inner === '*') steps.push({ kind: 'any' });
      else {
        if (
          (inner.startsWith("'") && inner.endsWith("'")) ||
          (inner.startsWith('"') && inner.endsWith('"'))
        ) {
          inner = inner.slice(1, -1);
        }
        if (inner.length === 0) throw new JsonPathError(path, i + 1, 'empty "[]"');
        steps.push({ kind: 'child', name: inner });
      }
      i = close + 1;
    } else {
      throw new JsonPathError(path, i + 1, `unexpected "${path[i]}"`);
    }
  }
  return steps;
}

type Container = Record<string, unknown> | unknown[];

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null;
}

function entries(c: Container): [string | number, unknown][] {
  return Array.isArray(c) ? c.map((v, i) => [i, v]) : Object.entries(c);
}

/**
 * Calls `replace` for every string value the path selects and stores what it returns. Values that are not
 * strings are left alone: a rule rewrites URLs, and a URL is a string.
 */
export function selectStrings(
  root: unknown,
  steps: readonly JsonPathStep[],
  replace: (value: string) => string,
): void {
  const visit = (parent: Container, key: string | number, depth: number): void => {
    const value = (parent as Record<string | number, unknown>)[key];
    if (depth === steps.length) {
      if (typeof value === 'string') (parent as Record<string | number, unknown>)[key] = replace(value);
      return;
    }
    if (isContainer(value)) walk(value, depth);
  };
  const walk = (node: Container, depth: number): void => {
    const step = steps[depth];
    if (step.kind === 'child') {
      const key = Array.isArray(node) && /^\d+$/.test(step.name) ? Number(step.name) : step.name;
      if (Object.hasOwn(node, key)) visit(node, key, depth + 1);
    } else if (step.kind === 'any') {
      for (const [key] of entries(node)) visit(node, key, depth + 1);
    } else {
      for (const [key, value] of entries(node)) {
        if (step.name === undefined || key === step.name) visit(node, key, depth + 1);
        if (isContainer(value)) walk(value, depth);
      }
    }
  };
  if (steps.length === 0) return;
  if (isContainer(root)) walk(root, 0);
}

/** One step of the path from the document's root to a value while streaming: a member name or an array index. */
export type PathKey = string | number;

/**
 * Whether a JSONPath selects the value at `path` (the keys from the root down to it), for streaming filters that
 * never hold the document. Descent (`..x`, `.**.x`) may skip any number of levels.
 */
export function matchesPath(steps: readonly JsonPathStep[], path: readonly PathKey[]): boolean {
  const at = (si: number, pi: number): boolean => {
    if (si === steps.length) return pi === path.length;
    if (pi === path.length) return false;
    const step = steps[si];
    const key = path[pi];
    switch (step.kind) {
      case 'child':
        return String(key) === step.name && at(si + 1, pi + 1);
      case 'any':
        return at(si + 1, pi + 1);
      default:
        for (let p = pi; p < path.length; p++) {
          if ((step.name === undefined || String(path[p]) === step.name) && at(si + 1, p + 1)) return true;
        }
        return false;
    }
  };
  return at(0, 0);
}
