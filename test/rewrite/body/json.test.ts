import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileJsonContent, JsonRewriter } from '../../../src/rewrite/body/json.ts';
import { matchesPath, parseJsonPath, selectStrings } from '../../../src/rewrite/body/json-path.ts';
import { BodyLimitError, BodyParseError } from '../../../src/rewrite/body/values.ts';
import { bytes, runChunks, runEverySplit, testContext } from './helpers.ts';

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

  it('selects members, indexes, wildcards and descendants in a parsed document (buffers)', () => {
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

  it('selects the same values while streaming, from the path of keys alone', () => {
    const m = (path: string, keys: (string | number)[]) => matchesPath(parseJsonPath(path), keys);
    assert.ok(m('$.Location', ['Location']));
    assert.ok(!m('$.Location', ['a', 'Location']));
    assert.ok(m('$.jobs[*].cluster.url', ['jobs', 7, 'cluster', 'url']));
    assert.ok(!m('$.jobs[*].cluster.url', ['jobs', 'cluster', 'url']));
    assert.ok(m('$.jobs[1].cluster.url', ['jobs', 1, 'cluster', 'url']));
    assert.ok(!m('$.jobs[1].cluster.url', ['jobs', 2, 'cluster', 'url']));
    assert.ok(m('$[LiveNodes][*][name]', ['LiveNodes', 0, 'name']));
    assert.ok(m('$.**.nextUri', ['nextUri']));
    assert.ok(m('$.**.nextUri', ['deep', 'a', 'b', 0, 'nextUri']));
    assert.ok(!m('$..nextUri', ['deep', 'nextUri', 'x']));
    assert.ok(m('$.*', ['anything']));
  });

  it('refuses paths outside the subset, with a column', () => {
    assert.throws(() => parseJsonPath('Location'), /column 1: expected "\$"/);
    assert.throws(() => parseJsonPath('$.a[0'), /column 4: unclosed "\["/);
    assert.throws(() => parseJsonPath('$.a?(@.b)'), /unexpected "\?"/);
  });
});

describe('JSON filter (streaming)', () => {
  const content = (applies: [string, string][], buffers = []) =>
    compileJsonContent(
      applies.map(([path, rule]) => ({ path, rule })),
      buffers,
    );

  const yarnApps = JSON.stringify({
    apps: {
      app: [
        {
          id: 'application_1_0001',
          trackingUrl: 'http://backend:8080/proxy/application_1_0001/',
          amContainerLogs: 'http://backend:8080/node/containerlogs/container_1/user',
          trackingUI: 'History',
          progress: 100.0,
          tags: ['http://backend:8080/tag'],
        },
      ],
    },
    'http://backend:8080/key': 'the key is not a value',
  });

  it('rewrites the strings an apply selects with its rule, and every other string by best match', () => {
    const ctx = testContext();
    const out = runEverySplit(
      () => new JsonRewriter(content([['$.apps.app[*].trackingUrl', 'TRACK']]), ctx),
      yarnApps,
    );
    assert.deepEqual(JSON.parse(out), {
      apps: {
        app: [
          {
            id: 'application_1_0001',
            trackingUrl: 'https://gw/gateway/t/proxy/application_1_0001/#TRACK',
            amContainerLogs: 'https://gw/gateway/t/node/containerlogs/container_1/user',
            trackingUI: 'History',
            progress: 100.0,
            tags: ['https://gw/gateway/t/tag'],
          },
        ],
      },
      'http://backend:8080/key': 'the key is not a value',
    });
  });

  it('keeps every byte of the document a rule did not change (whitespace, escapes, number forms)', () => {
    const doc =
      '{\n  "a" : "http://backend:8080/x\\/y" ,\t"n": 1.50e+2, "u":"\\u00e9\\n", "b":[ true,false ,null ] }\n';
    const ctx = testContext();
    const out = runEverySplit(() => new JsonRewriter(content([]), ctx), doc);
    assert.equal(out, doc.replace('"http://backend:8080/x\\/y"', '"https://gw/gateway/t/x/y"'));
    const none = testContext({ rewrite: () => undefined });
    assert.equal(
      runEverySplit(() => new JsonRewriter(content([]), none), doc),
      doc,
    );
  });

  it('writes a rewritten value as JSON in UTF-8, whatever the escapes of the original', () => {
    const ctx = testContext();
    const doc = bytes('{"a":"/static/caf\\u00e9/ü","b":"/static/\\"q\\""}');
    const out = runEverySplit(() => new JsonRewriter(content([]), ctx), doc);
    assert.equal(out, bytes('{"a":"/gateway/t/static/café/ü","b":"/gateway/t/static/\\"q\\""}'));
  });

  it('buffers what a <buffer> selects and runs its applies and detects on it (yarn-rm style)', () => {
    const ctx = testContext();
    const buffers = [
      {
        path: '$.apps.app[*]',
        applies: [{ path: '$.amContainerLogs', rule: 'LOGS', pos }],
        detects: [
          {
            path: '$.trackingUI',
            value: 'History',
            applies: [{ path: '$.trackingUrl', rule: 'HISTORY', pos }],
            pos,
          },
          {
            path: '$.trackingUI',
            value: 'ApplicationMaster',
            applies: [{ path: '$.trackingUrl', rule: 'AM', pos }],
            pos,
          },
        ],
        pos,
      },
    ];
    const out = runEverySplit(() => new JsonRewriter(compileJsonContent([], buffers), ctx), yarnApps);
    const app = (JSON.parse(out) as { apps: { app: Record<string, unknown>[] } }).apps.app[0];
    assert.equal(app.trackingUrl, 'https://gw/gateway/t/proxy/application_1_0001/#HISTORY');
    assert.equal(app.amContainerLogs, 'https://gw/gateway/t/node/containerlogs/container_1/user#LOGS');
    // Values of a buffered element no selector names are left alone (Knox's filterBufferedNode).
    assert.deepEqual(app.tags, ['http://backend:8080/tag']);
  });

  it('fails on a body that is not one JSON document, so the driver passes it through', () => {
    for (const bad of [
      '<html>oops</html>',
      '{"a":1,}',
      '{"a" 1}',
      '[1,2',
      '{"a":1}{"b":2}',
      '{"a":"unterminated',
    ]) {
      assert.throws(
        () => runChunks(() => new JsonRewriter(content([]), testContext()), bad, 3),
        BodyParseError,
        bad,
      );
    }
  });

  it('refuses to hold a single token larger than the limit', () => {
    const ctx = testContext({ limit: 2048 });
    const doc = `{"a":"${'x'.repeat(10_000)}"}`;
    assert.throws(() => runChunks(() => new JsonRewriter(content([]), ctx), doc, 512), BodyLimitError);
  });
});
