/**
 * No function literal is assigned straight to a property in src/ (`x.p = () => …`, `this.p = () => …`, `x.p ||= …`,
 * `x[k] = function …`): this V8 allocates such a function in the old generation (by the look of it, its parser's
 * guess that it is a method, which lives long), and whatever the function's context holds lives there with it until
 * the next mark-compact. On the request path that was the whole exchange: `ProxyHandler`'s `ex.onClientClose = () =>
 * this.#clientClosed()` made every request's objects (node's request and response, undici's, the route match)
 * outlive two scavenges and be promoted, ~5.7 KB per small GET and ~8 KB per 1 MiB download, against the bare floor's
 * ~0.3 KB (docs/performance.md, "Closures assigned to properties"). A variable in between (`const f = () => …; x.p =
 * f;`) keeps the function young. Which forms V8 tenures varied in small experiments (the plain `=` of an arrow to a
 * dotted property every time), so the check takes every assignment form, dotted or bracketed, arrow or function
 * expression.
 *
 * The first test shows the allocation itself, in a child process of this Node, by the old generation's growth; the
 * others find the pattern in the source with TypeScript's parser.
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

/** KiB the old generation grows by while 3,000 objects each get a fresh arrow function, assigned as `how` says. */
function oldGrowthKiB(how: 'property' | 'variable'): number {
  const assign = how === 'property' ? 'o.cb = () => o;' : 'const f = () => o; o.cb = f;';
  const script = `(() => {
    const v8 = require('node:v8');
    const old = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_used_size;
    const make = (o) => { ${assign} return o; };
    const keep = [];
    for (let i = 0; i < 50000; i++) make({ i });
    globalThis.gc();
    const before = old();
    for (let i = 0; i < 3000; i++) keep.push(make({ i }));
    const grown = (old() - before) / 1024; // before process.stdout, whose first use loads modules into old space
    process.stdout.write(String(grown));
  })();`;
  // With the V8 flags `postern start` runs with (the pretenuring of allocation sites off, among them).
  const r = spawnSync(process.execPath, [...DEFAULT_NODE_FLAGS, '--expose-gc', '-e', script], {
    encoding: 'utf8',
  });
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
  it('are allocated in the old generation by this V8, unless a variable comes between', () => {
    const property = oldGrowthKiB('property');
    const variable = oldGrowthKiB('variable');
    // ~56 bytes a function when assigned to the property (3,000 of them: ~165 KiB), nothing through a variable.
    assert.ok(property > 100, `old generation grew ${property} KiB for 3,000 property-assigned arrows`);
    assert.ok(variable < 30, `old generation grew ${variable} KiB for 3,000 arrows through a variable`);
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
