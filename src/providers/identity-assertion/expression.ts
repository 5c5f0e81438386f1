/**
 * @module providers/identity-assertion/expression
 * Knox's small Lisp-like language (`org.apache.knox.gateway.plang`), used by `expression.principal.mapping`
 * (an expression giving the new user name) and `group.mapping.{group}` (a predicate adding the user to a group).
 *
 * Syntax, as Knox's parser reads it: `(name arg ...)` is a call, `'text'` a string (no escapes), a number is an
 * integer or decimal, anything else a symbol (`username`, `groups`, `true`, `false`).
 *
 * Functions: `or`, `and` (short-circuit, 1+ arguments), `if` (2 or 3), `not`, `=`, `!=`, `<`, `>`, `<=`, `>=`,
 * `match` (full match of a string, or of any item of a list), `size`, `empty`, `username` (is the user...),
 * `member` (is in group...), `lowercase`, `uppercase`, `concat`, `strlen`, `substr` (start, optional end;
 * clamped to the string), `hash` (key value ... pairs, a lookup table), `regex-template` (input, regex, template,
 * optional hash, optional use-original flag; null when the regex does not match), `request-header` (the
 * request's header, '' when absent).
 *
 * Unlike Knox, everything that can be checked before a request is checked when the topology deploys: unknown
 * functions and symbols, argument counts, literal regexes. Knox's `request-attribute` and `session` read servlet
 * state postern does not have, so they are deployment errors rather than always-empty strings.
 */
import type { IncomingMessage } from 'node:http';
import { compileRegexTemplate } from './template.ts';

export type Value = string | number | boolean | readonly string[] | ReadonlyMap<string, string> | null;

/** A problem found while parsing or checking (deployment) or while evaluating (request). */
export class ExpressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionError';
  }
}

export type Node =
  | { readonly kind: 'str'; readonly value: string }
  | { readonly kind: 'num'; readonly value: number }
  | { readonly kind: 'sym'; readonly name: string }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Node[] };

/** What an expression sees of the request. */
export interface Scope {
  readonly username: string;
  readonly groups: readonly string[];
  readonly req: IncomingMessage;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

class Reader {
  readonly text: string;
  pos = 0;
  constructor(text: string) {
    this.text = text;
  }
  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }
  peek(): string | undefined {
    this.skipSpace();
    return this.pos < this.text.length ? this.text[this.pos] : undefined;
  }
}

function parseNode(r: Reader): Node {
  const c = r.peek();
  if (c === undefined) throw new ExpressionError('missing closing )');
  if (c === ')') throw new ExpressionError('unexpected closing )');
  if (c === '(') {
    r.pos++;
    const items: Node[] = [];
    while (r.peek() !== ')') {
      if (r.peek() === undefined) throw new ExpressionError('missing closing )');
      items.push(parseNode(r));
    }
    r.pos++;
    const head = items[0];
    if (!head) throw new ExpressionError('empty list ()');
    if (head.kind !== 'sym') throw new ExpressionError('a list must start with a function name');
    return { kind: 'call', name: head.name, args: items.slice(1) };
  }
  if (c === "'") {
    const end = r.text.indexOf("'", r.pos + 1);
    if (end < 0) throw new ExpressionError('unterminated string');
    const value = r.text.slice(r.pos + 1, end);
    r.pos = end + 1;
    return { kind: 'str', value };
  }
  const start = r.pos;
  while (r.pos < r.text.length && !/[\s)]/.test(r.text[r.pos])) r.pos++;
  const token = r.text.slice(start, r.pos);
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(token)) return { kind: 'num', value: Number(token) };
  return { kind: 'sym', name: token };
}

/** Parses one expression (the whole text). */
export function parseExpression(text: string): Node {
  const r = new Reader(text);
  if (r.peek() === undefined) throw new ExpressionError('the expression is empty');
  const node = parseNode(r);
  const rest = r.peek();
  if (rest !== undefined) throw new ExpressionError(`unexpected "${rest}" after the expression`);
  return node;
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation

type Args = readonly Node[];
type Eval = (node: Node) => Value;

interface FunctionDef {
  min: number;
  max: number;
  even?: boolean;
  /** Every function gets its arguments unevaluated: `or`, `and` and `if` evaluate only what they need. */
  call(args: Args, ev: Eval, scope: Scope): Value;
}

const SYMBOLS = new Set(['username', 'groups', 'true', 'false']);

function typeName(v: Value): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'hash';
  return typeof v;
}

function as<T extends Value>(v: Value, type: 'string' | 'number' | 'boolean', fn: string): T {
  if (typeof v !== type) throw new ExpressionError(`${fn}: expected a ${type}, got ${typeName(v)}`);
  return v as T;
}

function asList(v: Value, fn: string): readonly string[] {
  if (!Array.isArray(v)) throw new ExpressionError(`${fn}: expected a list, got ${typeName(v)}`);
  return v as readonly string[];
}

function equal(a: Value, b: Value): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

const regexCache = new Map<string, RegExp>();

/** Java's `Pattern.matches`: the whole string must match. */
function fullMatch(pattern: string, text: string): boolean {
  let re = regexCache.get(pattern);
  if (!re) {
    try {
      re = new RegExp(`^(?:${pattern})$`);
    } catch (err) {
      throw new ExpressionError(`"${pattern}" is not a valid regular expression: ${(err as Error).message}`);
    }
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re.test(text);
}

const compare =
  (name: string, test: (a: number, b: number) => boolean): FunctionDef['call'] =>
  (args, ev) =>
    test(as<number>(ev(args[0]), 'number', name), as<number>(ev(args[1]), 'number', name));

const FUNCTIONS: Record<string, FunctionDef> = {
  or: {
    min: 1,
    max: Infinity,
    call: (args, ev) => args.some((a) => as<boolean>(ev(a), 'boolean', 'or')),
  },
  and: {
    min: 1,
    max: Infinity,
    call: (args, ev) => args.every((a) => as<boolean>(ev(a), 'boolean', 'and')),
  },
  if: {
    min: 2,
    max: 3,
    call: (args, ev) =>
      as<boolean>(ev(args[0]), 'boolean', 'if') ? ev(args[1]) : args[2] ? ev(args[2]) : null,
  },
  not: { min: 1, max: 1, call: (args, ev) => !as<boolean>(ev(args[0]), 'boolean', 'not') },
  '=': { min: 2, max: 2, call: (args, ev) => equal(ev(args[0]), ev(args[1])) },
  '!=': { min: 2, max: 2, call: (args, ev) => !equal(ev(args[0]), ev(args[1])) },
  '<': { min: 2, max: 2, call: compare('<', (a, b) => a < b) },
  '>': { min: 2, max: 2, call: compare('>', (a, b) => a > b) },
  '<=': { min: 2, max: 2, call: compare('<=', (a, b) => a <= b) },
  '>=': { min: 2, max: 2, call: compare('>=', (a, b) => a >= b) },
  match: {
    min: 2,
    max: 2,
    call(args, ev) {
      const subject = ev(args[0]);
      const pattern = as<string>(ev(args[1]), 'string', 'match');
      if (typeof subject === 'string') return fullMatch(pattern, subject);
      return asList(subject, 'match').some((item) => fullMatch(pattern, item));
    },
  },
  size: { min: 1, max: 1, call: (args, ev) => asList(ev(args[0]), 'size').length },
  empty: { min: 1, max: 1, call: (args, ev) => asList(ev(args[0]), 'empty').length === 0 },
  username: {
    min: 1,
    max: 1,
    call: (args, ev, scope) => as<string>(ev(args[0]), 'string', 'username') === scope.username,
  },
  member: {
    min: 1,
    max: 1,
    call: (args, ev, scope) => scope.groups.includes(as<string>(ev(args[0]), 'string', 'member')),
  },
  lowercase: {
    min: 1,
    max: 1,
    call: (args, ev) => as<string>(ev(args[0]), 'string', 'lowercase').toLowerCase(),
  },
  uppercase: {
    min: 1,
    max: 1,
    call: (args, ev) => as<string>(ev(args[0]), 'string', 'uppercase').toUpperCase(),
  },
  concat: {
    min: 1,
    max: Infinity,
    call: (args, ev) =>
      args
        .map((a) => {
          const v = ev(a);
          if (typeof v !== 'string' && typeof v !== 'number') {
            throw new ExpressionError(`concat: expected strings, got ${typeName(v)}`);
          }
          return String(v);
        })
        .join(''),
  },
  strlen: { min: 1, max: 1, call: (args, ev) => as<string>(ev(args[0]), 'string', 'strlen').length },
  substr: {
    min: 2,
    max: 3,
    call(args, ev) {
      const s = as<string>(ev(args[0]), 'string', 'substr');
      const start = as<number>(ev(args[1]), 'number', 'substr');
      const end = args[2] ? as<number>(ev(args[2]), 'number', 'substr') : s.length;
      const clamp = (n: number) => Math.min(Math.max(0, Math.trunc(n)), s.length);
      return s.slice(clamp(start), Math.max(clamp(start), clamp(end)));
    },
  },
  hash: {
    min: 0,
    max: Infinity,
    even: true,
    call(args, ev) {
      const table = new Map<string, string>();
      for (let i = 0; i < args.length; i += 2) {
        table.set(
          as<string>(ev(args[i]), 'string', 'hash').toLowerCase(),
          as<string>(ev(args[i + 1]), 'string', 'hash'),
        );
      }
      return table;
    },
  },
  'regex-template': {
    min: 3,
    max: 5,
    call(args, ev) {
      const input = as<string>(ev(args[0]), 'string', 'regex-template');
      const regex = as<string>(ev(args[1]), 'string', 'regex-template');
      const template = as<string>(ev(args[2]), 'string', 'regex-template');
      let lookup: ReadonlyMap<string, string> = new Map();
      if (args[3]) {
        const v = ev(args[3]);
        if (!(v instanceof Map))
          throw new ExpressionError(`regex-template: expected a hash, got ${typeName(v)}`);
        lookup = v;
      }
      const useOriginal = args[4] ? as<boolean>(ev(args[4]), 'boolean', 'regex-template') : false;
      try {
        return compileRegexTemplate(regex, template, lookup, useOriginal).apply(input) ?? null;
      } catch (err) {
        throw new ExpressionError(`regex-template: ${(err as Error).message}`);
      }
    },
  },
  'request-header': {
    min: 1,
    max: 1,
    call(args, ev, scope) {
      const value = scope.req.headers[as<string>(ev(args[0]), 'string', 'request-header').toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : (value ?? '');
    },
  },
};

/** Knox functions that read servlet state postern does not have. */
const UNSUPPORTED: Record<string, string> = {
  'request-attribute': 'postern has no servlet request attributes',
  session: 'postern has no servlet sessions',
};

/**
 * Checks what can be checked before any request: known functions and symbols, argument counts, and the regexes
 * given as literal strings.
 */
function check(node: Node): void {
  if (node.kind === 'sym') {
    if (!SYMBOLS.has(node.name)) throw new ExpressionError(`unknown symbol "${node.name}"`);
    return;
  }
  if (node.kind !== 'call') return;
  const def = FUNCTIONS[node.name];
  if (!def) {
    const why = UNSUPPORTED[node.name];
    throw new ExpressionError(
      why ? `function "${node.name}" is not supported: ${why}` : `unknown function "${node.name}"`,
    );
  }
  const n = node.args.length;
  if (n < def.min || n > def.max || (def.even && n % 2 !== 0)) {
    const expected = def.even
      ? 'an even number of'
      : def.min === def.max
        ? `${def.min}`
        : def.max === Infinity
          ? `at least ${def.min}`
          : `${def.min} to ${def.max}`;
    throw new ExpressionError(`"${node.name}" takes ${expected} argument(s), got ${n}`);
  }
  for (const arg of node.args) check(arg);
  const literal = (i: number) => {
    const a = node.args[i];
    return a?.kind === 'str' ? a.value : undefined;
  };
  if (node.name === 'match') {
    const pattern = literal(1);
    if (pattern !== undefined) fullMatch(pattern, '');
  }
  if (node.name === 'regex-template') {
    const regex = literal(1);
    const template = literal(2);
    if (regex !== undefined && template !== undefined) {
      try {
        compileRegexTemplate(regex, template, new Map(), false);
      } catch (err) {
        throw new ExpressionError(`regex-template: ${(err as Error).message}`);
      }
    }
  }
}

export interface Expression {
  readonly text: string;
  evaluate(scope: Scope): Value;
}

/**
 * Parses and checks an expression.
 * @throws ExpressionError describing the first problem.
 */
export function compileExpression(text: string): Expression {
  const root = parseExpression(text);
  check(root);
  return {
    text,
    evaluate(scope) {
      const ev: Eval = (node) => {
        switch (node.kind) {
          case 'str':
          case 'num':
            return node.value;
          case 'sym':
            if (node.name === 'username') return scope.username;
            if (node.name === 'groups') return scope.groups;
            return node.name === 'true';
          case 'call': {
            const def = FUNCTIONS[node.name];
            return def.call(node.args, ev, scope);
          }
        }
      };
      return ev(root);
    },
  };
}
