/**
 * @module urltemplate/function-call
 * The statement inside a template's braces, read the way Knox's `Function` reads it:
 *
 * | statement        | meaning                                                        |
 * |------------------|----------------------------------------------------------------|
 * | `name`           | the value(s) of parameter `name`                               |
 * | `$fn`            | `fn` applied to no arguments                                   |
 * | `$fn(var)`       | `fn` applied to the value(s) of parameter `var`                |
 * | `$fn[a,b]`       | `fn` applied to the literal list `a`, `b`                      |
 * | `(var)`/`[a,b]`  | the same without a function                                    |
 *
 * Whitespace around each piece is trimmed; literal lists split on `,` (empty trailing items dropped, as Java's
 * `String.split` does). Parsed statements are cached: templates are parsed once, expanded many times.
 */
import { boundedMemo } from './memo.ts';

export interface FunctionCall {
  /** Function name (`serviceUrl` for `$serviceUrl[WEBHDFS]`), or null when the statement is a plain name. */
  readonly fn: string | null;
  /** The parameter whose values are the input (`host` for `$hostmap(host)`, `path` for `path`). */
  readonly variable: string | null;
  /** The literal arguments (`["WEBHDFS"]` for `$serviceUrl[WEBHDFS]`). */
  readonly literals: readonly string[] | null;
}

// Statements come from configured templates, so the cache stays small; the cap only guards against a caller that
// feeds arbitrary text through expandTemplate.
const statements = boundedMemo<FunctionCall>(4096);

/** Reads a brace statement (the segment's parameter name). */
export function parseFunctionCall(statement: string): FunctionCall {
  return statements(statement, readStatement);
}

type State = 'start' | 'function' | 'variable' | 'literal';

function readStatement(statement: string): FunctionCall {
  let fn: string | null = null;
  let state: State = 'start';
  for (const raw of tokenize(statement)) {
    const token = raw.trim();
    if (token === '') continue;
    const delimiter = token.length === 1 && '$()[]'.includes(token);
    switch (state) {
      case 'start':
        if (token === '$') state = 'function';
        else if (token === '(') state = 'variable';
        else if (token === '[') state = 'literal';
        else return { fn, variable: token, literals: null };
        break;
      case 'function':
        if (token === '(') state = 'variable';
        else if (token === '[') state = 'literal';
        else if (!delimiter) {
          fn = token;
          state = 'start';
        }
        break;
      case 'variable':
        if (!delimiter) return { fn, variable: token, literals: null };
        // Knox falls through to the literal case here and gives up on the statement.
        return { fn, variable: null, literals: null };
      case 'literal':
        if (delimiter) return { fn, variable: null, literals: null };
        return { fn, variable: null, literals: splitLikeJava(token) };
    }
  }
  return { fn, variable: null, literals: null };
}

/** Splits on the delimiters `$()[]`, returning them as tokens too (like `StringTokenizer(s, "$()[]", true)`). */
function tokenize(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '$' || c === '(' || c === ')' || c === '[' || c === ']') {
      if (i > start) out.push(s.slice(start, i));
      out.push(c);
      start = i + 1;
    }
  }
  if (start < s.length) out.push(s.slice(start));
  return out;
}

/** `String.split(",")`: trailing empty strings are removed. */
function splitLikeJava(s: string): string[] {
  const parts = s.split(',');
  let n = parts.length;
  while (n > 0 && parts[n - 1] === '') n--;
  return parts.slice(0, n);
}
