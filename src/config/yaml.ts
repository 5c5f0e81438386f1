/**
 * @module config/yaml
 * YAML (and JSON, which `yaml` reads as a subset) with positions: parses with `yaml`'s `LineCounter`, validates with a
 * zod schema and turns every zod issue into a diagnostic at the node it is about. Used by the YAML topology, simple
 * descriptor and shared provider readers.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import type { DiagnosticSink, Position } from './diagnostics.ts';

type Path = readonly PropertyKey[];

/** A parsed YAML document: its plain data plus a way back from a path in that data to the text. */
export class YamlSource {
  readonly data: unknown;
  readonly #doc: ReturnType<typeof parseDocument>;
  readonly #lines: LineCounter;
  readonly #file: string;

  constructor(doc: ReturnType<typeof parseDocument>, lines: LineCounter, file: string) {
    this.#doc = doc;
    this.#lines = lines;
    this.#file = file;
    this.data = doc.toJS({ maxAliasCount: 100 });
  }

  #at(offset: number): Position {
    const { line, col } = this.#lines.linePos(offset);
    return { file: this.#file, line, column: col };
  }

  /**
   * Where the value at `path` starts; when the path leads nowhere (a missing key), where its nearest existing
   * ancestor starts, which is the object a missing key should have been written in.
   */
  locate(path: Path): Position {
    let node: unknown = this.#doc.contents;
    let offset = (node as Node | null)?.range?.[0] ?? 0;
    for (const seg of path) {
      const next = child(node, seg);
      if (next === undefined) break;
      node = next.value;
      offset = (next.value as Node | null)?.range?.[0] ?? next.keyOffset ?? offset;
    }
    return this.#at(offset);
  }

  /** Where the key `key` of the mapping at `path` is written (falls back to the mapping). */
  locateKey(path: Path, key: string): Position {
    const map = path.reduce<unknown>((n, seg) => child(n, seg)?.value, this.#doc.contents);
    if (isMap(map)) {
      const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
      const offset = (pair?.key as Node | undefined)?.range?.[0];
      if (offset !== undefined) return this.#at(offset);
    }
    return this.locate(path);
  }

  /**
   * Validates the data with `schema`. Unknown keys (strict objects) become warnings and are dropped; any other
   * issue is an error at the node concerned.
   * @returns the parsed data, or `undefined` if there were errors
   */
  validate<S extends z.ZodType>(schema: S, sink: DiagnosticSink): z.output<S> | undefined {
    let data = this.data;
    // Each round drops the unknown keys zod reported; a second round can only fail for other reasons.
    for (let round = 0; round < 2; round++) {
      const result = schema.safeParse(data, { reportInput: true });
      if (result.success) return result.data;
      const unknownKeys = result.error.issues.filter((i) => i.code === 'unrecognized_keys');
      const others = result.error.issues.filter((i) => i.code !== 'unrecognized_keys');
      if (round === 0) {
        const warnings = unknownKeys.flatMap((issue) =>
          issue.keys.map((key) => ({
            pos: this.locateKey(issue.path, key),
            message: `unknown key "${key}"`,
          })),
        );
        for (const w of warnings.sort(byPosition)) sink.warn(w.pos, w.message);
      }
      if (others.length > 0) {
        const errors = others.map((issue) => ({
          pos: this.locate(issue.path),
          message: describeIssue(issue),
        }));
        for (const e of errors.sort(byPosition)) sink.error(e.pos, e.message);
        return undefined;
      }
      data = withoutKeys(data, unknownKeys);
    }
    return undefined;
  }
}

/** Document order: zod reports nested issues before their siblings' parents. */
function byPosition(a: { pos: Position }, b: { pos: Position }): number {
  return a.pos.line - b.pos.line || a.pos.column - b.pos.column;
}

/** The child of a YAML map or sequence node, by key or index. */
function child(node: unknown, seg: PropertyKey): { value: unknown; keyOffset?: number } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
    if (!pair) return undefined;
    return { value: pair.value, keyOffset: (pair.key as Node).range?.[0] };
  }
  if (isSeq(node) && typeof seg === 'number') {
    return seg < node.items.length ? { value: node.items[seg] } : undefined;
  }
  return undefined;
}

function withoutKeys(data: unknown, issues: z.core.$ZodIssue[]): unknown {
  const copy = structuredClone(data);
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const target = issue.path.reduce<unknown>(
      (o, seg) => (o as Record<PropertyKey, unknown>)?.[seg as string],
      copy,
    ) as Record<string, unknown> | undefined;
    for (const key of issue.keys) if (target) delete target[key];
  }
  return copy;
}

function describeValue(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  return JSON.stringify(input);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.at(-1);
  const label = typeof key === 'string' ? `"${key}"` : 'value';
  if (issue.input === undefined && typeof key === 'string') return `missing key "${key}"`;
  if (issue.code === 'invalid_type') {
    const expected =
      issue.expected === 'array'
        ? 'a list'
        : issue.expected === 'object'
          ? 'a mapping'
          : `a ${issue.expected}`;
    return `${label} must be ${expected}, found ${describeValue(issue.input)}`;
  }
  if (issue.code === 'custom') return issue.message;
  return `${label}: ${issue.message}`;
}

/**
 * Parses YAML or JSON text.
 * @returns the document, or `undefined` when it has syntax errors (each reported to `sink` with its position)
 */
export function parseYaml(source: string, file: string, sink: DiagnosticSink): YamlSource | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): Position => {
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col };
  };
  for (const w of doc.warnings) sink.warn(at(w.pos[0]), w.message);
  if (doc.errors.length > 0) {
    for (const e of doc.errors) sink.error(at(e.pos[0]), `malformed YAML: ${e.message}`);
    return undefined;
  }
  return new YamlSource(doc, lines, file);
}
