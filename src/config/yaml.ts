/**
 * @module config/yaml
 * YAML (and JSON, which `yaml` reads as a subset) with positions: parses with `yaml`'s `LineCounter`, validates with a
 * zod schema and turns every zod issue into a diagnostic at the node it is about. Used by the YAML topology, simple
 * descriptor and shared provider readers.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import type { DiagnosticSink, Position } from './diagnostics.ts';
import { didYouMean } from './suggest.ts';

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
   * Validates the data with `schema`. A key the schema does not have (strict objects) is an error at the key, with
   * the nearest keys it does have ("did you mean "urls"?"): a misspelt key that were dropped would change what
   * the file means without a word. Any other issue is an error at the node concerned.
   * @returns the parsed data, or `undefined` if there were errors
   */
  validate<S extends z.ZodType>(schema: S, sink: DiagnosticSink): z.output<S> | undefined {
    const result = schema.safeParse(this.data, { reportInput: true });
    if (result.success) return result.data;
    const errors = result.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({
            pos: this.locateKey(issue.path, key),
            message: `unknown key "${key}"${didYouMean(key, knownKeysAt(schema, issue.path))}`,
          }))
        : [{ pos: this.locate(issue.path), message: describeIssue(issue) }],
    );
    for (const e of errors.sort(byPosition)) sink.error(e.pos, e.message);
    return undefined;
  }
}

/** The keys the object schema at `path` of `schema` declares (through lists, optionals, defaults, unions). */
function knownKeysAt(schema: z.ZodType, path: Path): string[] {
  const objects = (s: unknown): unknown[] => {
    const def = (s as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
    if (!def) return [];
    switch (def.type) {
      case 'optional':
      case 'default':
      case 'prefault':
      case 'nullable':
        return objects(def.innerType);
      case 'pipe':
        return objects(def.in);
      case 'union':
        return (def.options as unknown[]).flatMap(objects);
      default:
        return [s];
    }
  };
  let current: unknown[] = objects(schema);
  for (const seg of path) {
    current = current.flatMap((s) => {
      const def = (s as { _zod: { def: Record<string, unknown> } })._zod.def;
      if (def.type === 'object') {
        const shape = def.shape as Record<string, unknown>;
        return typeof seg === 'string' && Object.hasOwn(shape, seg) ? objects(shape[seg]) : [];
      }
      if (def.type === 'array') return objects(def.element);
      if (def.type === 'record') return objects(def.valueType);
      return [];
    });
  }
  return [
    ...new Set(
      current.flatMap((s) => {
        const def = (s as { _zod: { def: Record<string, unknown> } })._zod.def;
        return def.type === 'object' ? Object.keys(def.shape as object) : [];
      }),
    ),
  ];
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
