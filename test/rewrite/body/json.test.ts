import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileJsonApplies, rewriteJson } from '../../../src/rewrite/body/json-filter.ts';
import { parseJsonPath, selectStrings } from '../../../src/rewrite/body/json-path.ts';

const pos = { file: 'r.xml', line: 1, column: 1 };

function collect(doc: unknown, path: string): string[] {
  const seen: string[] = [];
  selectStrings(doc, parseJsonPath(path), (v) => {
    seen.push(v);
    return v;
  });
  return seen;
}

describe('JSONPath subset of Knox filters', () => {
  const doc = {
    Location: 'http://dn:1/x',
    jobs: [{ cluster: { url: 'u1' } }, { cluster: { url: 'u2' } }, { cluster: {} }],
    'user.name': 'bob',
    Region: [{ location: 'r1' }, { location: 'r2' }],
    deep: { a: { nextUri: 'n1', b: [{ nextUri: 'n2' }] } },
    count: 3,
  };

  it('selects members, indexes, wildcards and descendants', () => {
    assert.deepEqual(collect(doc, '$.Location'), ['http://dn:1/x']);
    assert.deepEqual(collect(doc, '$.jobs[*].cluster.url'), ['u1', 'u2']);
    assert.deepEqual(collect(doc, '$.jobs[1].cluster.url'), ['u2']);
    assert.deepEqual(collect(doc, '$[user.name]'), ['bob']);
    assert.deepEqual(collect(doc, "$['user.name']"), ['bob']);
    assert.deepEqual(collect(doc, '$[Region][*][location]'), ['r1', 'r2']);
    assert.deepEqual(collect(doc, '$.**.nextUri'), ['n1', 'n2']);
    assert.deepEqual(collect(doc, '$..nextUri'), ['n1', 'n2']);
    assert.deepEqual(collect(doc, '$.count'), [], 'numbers are not URLs');
    assert.deepEqual(collect(doc, '$.missing.x'), []);
  });

  it('refuses paths outside the subset, with a column', () => {
    assert.throws(() => parseJsonPath('Location'), /column 1: expected "\$"/);
    assert.throws(() => parseJsonPath('$.a[0'), /column 4: unclosed "\["/);
    assert.throws(() => parseJsonPath('$.a?(@.b)'), /unexpected "\?"/);
  });

  it('rewrites the selected strings and reports no change as undefined', () => {
    const applies = compileJsonApplies([{ path: '$.Location', rule: 'loc', pos }]);
    const out = rewriteJson('{"Location":"http://dn:1/x","other":"http://dn:1/y"}', applies, (v, rule) =>
      rule === 'loc' ? v.replace('http://dn:1', 'https://gw/data') : undefined,
    );
    assert.deepEqual(JSON.parse(out!), { Location: 'https://gw/data/x', other: 'http://dn:1/y' });
    assert.equal(
      rewriteJson('{"Location":"keep"}', applies, () => undefined),
      undefined,
    );
    assert.equal(
      rewriteJson('not json', applies, () => 'x'),
      undefined,
    );
  });
});
