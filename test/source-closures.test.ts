/**
 * No function literal is assigned straight to a property in src/ (`x.p = () => …`, `this.p = () => …`, `x.p ||= …`,
 * `x[k] = function …`): this V8 allocates such a function in the old generation (by the look of it, its parser's
 * guess that it is a method, which lives long) in every tier below TurboFan (the interpreter, Sparkplug, Maglev:
 * where a function runs until TurboFan has compiled it, and again after each deoptimization), and whatever the
 * function's context holds lives there with it until the next mark-compact. On the request path that was the whole
 * exchange: `ProxyHandler`'s `ex.onClientClose = () => this.#clientClosed()` made every request's objects (node's
 * request and response, undici's, the route match) outlive two scavenges and be promoted, ~5.7 KB per small GET and
 * ~8 KB per 1 MiB download, against the bare floor's ~0.3 KB (docs/performance.md, "Closures assigned to
 * properties"). A variable in between (`const f = () => …; x.p =
 * f;`) keeps the function young. Which forms V8 tenures varied in small experiments (the plain `=` of an arrow to a
 * dotted property every time), so the check takes every assignment form, dotted or bracketed, arrow or function
 * expression.
 *
 * The first test shows the allocation itself, in a child process of this Node (where each function is born); the
 * others find the pattern in the source with TypeScript's parser. Node's own streams have the pattern
 * (`WritableState`'s `onwrite`) and so do undici's streamed request bodies: websocket/frame-relay and
 * dispatch/detachable-handler limit what those keep (test/dispatch/request-retention.test.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { DEFAULT_NODE_FLAGS } from '../src/cli/node-flags.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * How many of 3,000 fresh arrow functions, each assigned to a new object as `how` says, are in the old generation
 * right after the assignment (V8's `%InYoungGeneration`, looked at before any collection could move them there),
 * with TurboFan off: the function that makes them runs in the interpreter, then in Maglev once it has compiled
 * it. TurboFan's code allocates either form young (0 of 3,000 on a quiet machine with the function compiled by
 * `%OptimizeFunctionOnNextCall` first, 1 under load), so with TurboFan on the count depended on when its background
 * compile landed: 3,000 on a quiet machine, 2,788 once under the full suite's load. The old generation's growth
 * showed the same (~165 KiB for the property form, ~1 KiB through a variable), but under load the property form
 * once read 0.3 KiB.
 */
function oldAtBirth(how: 'property' | 'variable'): number {
  const assign = how === 'property' ? 'o.cb = () => o;' : 'const f = () => o; o.cb = f;';
  const script = `(() => {
    const make = (o) => { ${assign} return o; };
    for (let i = 0; i < 50000; i++) make({ i });
    let old = 0;
    for (let i = 0; i < 3000; i++) if (!%InYoungGeneration(make({ i }).cb)) old++;
    process.stdout.write(String(old));
  })();`;
  // With the V8 flags `postern start` runs with (the pretenuring of allocation sites off, among them).
  const flags = [...DEFAULT_NODE_FLAGS, '--allow-natives-syntax', '--no-turbofan'];
  const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout);
}

const ASSIGNMENTS = new Set([
  ts.SyntaxKind.EqualsToken,
  ts.SyntaxKind.BarBarEqualsToken,
  ts.SyntaxKind.AmpersandAmpersandEqualsToken,
  ts.SyntaxKind.QuestionQuestionEqualsToken,
]);

/** The lines (1-based) of `text` where an arrow function or function expression is assigned straight to a property. */
function propertyAssignedFunctions(file: string, text: string): number[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lines: number[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isBinaryExpression(node) &&
      ASSIGNMENTS.has(node.operatorToken.kind) &&
      (ts.isPropertyAccessExpression(node.left) || ts.isElementAccessExpression(node.left)) &&
      (ts.isArrowFunction(node.right) || ts.isFunctionExpression(node.right))
    ) {
      lines.push(source.getLineAndCharacterOfPosition(node.getStart()).line + 1);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return lines;
}

describe('arrow functions assigned to properties', () => {
  it('are allocated in the old generation by this V8 below TurboFan, unless a variable comes between', () => {
    const property = oldAtBirth('property');
    const variable = oldAtBirth('variable');
    assert.equal(property, 3000, `${property} of 3,000 property-assigned arrows were old at birth`);
    assert.equal(variable, 0, `${variable} of 3,000 arrows assigned through a variable were old at birth`);
  });

  it('src/ assigns none (nor a function expression)', () => {
    const found: string[] = [];
    for (const entry of readdirSync(join(REPO, 'src'), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const file = join(entry.parentPath, entry.name);
      for (const line of propertyAssignedFunctions(file, readFileSync(file, 'utf8')))
        found.push(`${relative(REPO, file)}:${line}`);
    }
    assert.deepEqual(found, []);
  });

  it('the check finds each form of the pattern and leaves the variable form alone', () => {
    const text = [
      'x.cb = () => 1;',
      'this.#cb = () => 2;',
      "x['cb'] = () => 3;",
      'x.cb ||= () => 4;',
      'x.cb = function () { return 5; };',
      'const f = () => 5;',
      'x.cb = f;',
      'const o = { cb: () => 6 };',
    ].join('\n');
    assert.deepEqual(propertyAssignedFunctions('check.ts', text), [1, 2, 3, 4, 5]);
  });
});
