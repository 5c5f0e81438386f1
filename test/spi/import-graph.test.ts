/**
 * The layering rules of DEVELOPERS.md, checked on the source: no import cycle anywhere in src/ (type imports
 * included), the plugin contract (src/spi) reaches nothing of the runtime: only itself and the configuration
 * and definition models it describes, and the core imports no service (src/services) by name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cycles, importGraph, reachable } from './import-graph.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** What the contract may import: itself, and models (data shapes and their diagnostics), never the runtime. */
const CONTRACT_MAY_REACH = [
  /^spi\//,
  /^config\//,
  /^topology\/model\.ts$/,
  /^servicedef\/model\.ts$/,
  /^rewrite\/model\.ts$/,
  /^rewrite\/types\.ts$/,
];

describe('import graph of src/', () => {
  const graph = importGraph(SRC);

  it('reads the whole tree, type imports and re-exports included', () => {
    assert.ok(graph.size > 150, `only ${graph.size} modules found`);
    assert.ok(graph.get('spi/index.ts')?.includes('spi/factories.ts'), 'export * from is an edge');
    assert.ok(graph.get('spi/factories.ts')?.includes('topology/model.ts'), 'import type is an edge');
  });

  it('finds a cycle when there is one (the detector itself)', () => {
    const sample = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts', 'd.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
    ]);
    assert.deepEqual(cycles(sample), [['a.ts', 'b.ts', 'c.ts'], ['e.ts']]);
  });

  it('has no import cycle', () => {
    const found = cycles(graph);
    assert.deepEqual(
      found.map((c) => c.join(' → ')),
      [],
      'modules that import each other, directly or around a loop',
    );
  });

  it('keeps the plugin contract a leaf: src/spi reaches no runtime module', () => {
    const reached = [...reachable(graph, 'spi/index.ts')];
    const runtime = reached.filter((m) => !CONTRACT_MAY_REACH.some((allowed) => allowed.test(m)));
    assert.deepEqual(runtime, [], 'runtime modules the contract imports (directly or through others)');
  });

  it('keeps the core free of any one service: gateway/, deploy/ and the server reach services only through the registry', () => {
    const core = [...graph.keys()].filter((m) => /^(gateway|deploy|registry|observability)\//.test(m));
    assert.ok(core.includes('gateway/server.ts') && core.includes('deploy/compile.ts'));
    const named = core.flatMap((m) =>
      (graph.get(m) ?? []).filter((to) => /^services\//.test(to)).map((to) => `${m} → ${to}`),
    );
    assert.deepEqual(named, [], 'core modules that import a service by name');
    // Nor a contributor's implementation: compile.ts consults the registry's contributors.
    const compile = graph.get('deploy/compile.ts') ?? [];
    assert.deepEqual(
      compile.filter((to) => /^(providers\/(ha|hostmap)|dispatch\/ha)\//.test(to)),
      [],
    );
  });

  it('has every module of the contract imported through spi/index.ts', () => {
    const spi = [...graph.keys()].filter((m) => m.startsWith('spi/'));
    const reached = reachable(graph, 'spi/index.ts');
    assert.deepEqual(
      spi.filter((m) => !reached.has(m)),
      [],
    );
  });
});
