/**
 * @module rewrite/model
 * The content of a `rewrite.xml` (Knox's URL-rewrite rules and filters), as read from the file.
 * src/rewrite compiles it; src/servicedef reads it.
 */
import type { Position } from '../config/diagnostics.ts';

/** A step inside a rule or inside a `match` step, in document order. */
export type RewriteStep =
  | { kind: 'match'; pattern: string; flow?: Flow; steps: RewriteStep[]; pos: Position }
  | { kind: 'rewrite'; template: string; pos: Position }
  | { kind: 'check'; attrs: Record<string, string>; pos: Position }
  | { kind: 'control'; attrs: Record<string, string>; pos: Position }
  | { kind: 'encrypt-query'; attrs: Record<string, string>; pos: Position }
  | { kind: 'decrypt-query'; attrs: Record<string, string>; pos: Position }
  | { kind: 'encrypt'; param?: string; template?: string; attrs: Record<string, string>; pos: Position }
  | { kind: 'decrypt'; param?: string; attrs: Record<string, string>; pos: Position }
  /** `rule/filter` or any other step element postern does not know: kept so deployment can report it. */
  | { kind: 'unknown'; element: string; attrs: Record<string, string>; pos: Position };

export type Flow = 'ALL' | 'AND' | 'OR';

export interface RewriteRule {
  name: string;
  /** Absent means both directions. */
  dir?: 'IN' | 'OUT';
  pattern?: string;
  flow?: Flow;
  scope?: string;
  steps: RewriteStep[];
  pos: Position;
}

/** `filter/content/apply` (and inside `buffer`/`detect`). */
export interface FilterApply {
  path: string;
  rule: string;
  pos: Position;
}

export interface FilterBuffer {
  path: string;
  applies: FilterApply[];
  detects: { path: string; value: string; applies: FilterApply[]; pos: Position }[];
  pos: Position;
}

export interface FilterContent {
  type: string;
  asType?: string;
  applies: FilterApply[];
  buffers: FilterBuffer[];
  pos: Position;
}

export interface RewriteFilter {
  name: string;
  contents: FilterContent[];
  pos: Position;
}

export interface RewriteRules {
  file: string;
  rules: RewriteRule[];
  filters: RewriteFilter[];
}
