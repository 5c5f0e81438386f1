/**
 * @module test/services/bundled-rewrite
 * The bundled definitions' Location rules run through the rewrite engine: a URL under the service's own URL
 * (with or without a path of its own) becomes a gateway URL; a redirect anywhere else passes unchanged.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiagnosticSink, formatDiagnostic } from '../../src/config/diagnostics.ts';
import {
  type CompiledRewriteRules,
  compileRewriteRules,
  defaultRewriteFunctions,
} from '../../src/rewrite/index.ts';
import { readRewriteXml } from '../../src/servicedef/rewrite-xml.ts';
import { ctx, env } from '../rewrite/fixtures.ts';

const servicesDir = join(import.meta.dirname, '..', '..', 'services');
const GW = 'https://localhost:8443/gateway/sandbox';
const OFF_SITE = [
  'https://idp.example.com/login?next=%2Fitems',
  'http://evil.example.com:8080/items/1',
  '//idp.example.com/login',
];

/** Compiles one bundled definition for a topology where `role` is at `urls`; no diagnostics allowed. */
function load(dir: string, role: string, urls: string[]): CompiledRewriteRules {
  const sink = new DiagnosticSink();
  const source = readRewriteXml(join(servicesDir, dir, 'rewrite.xml'), sink);
  const rules = compileRewriteRules([source], {
    functions: defaultRewriteFunctions(),
    sink,
    env: env({ serviceUrls: (r) => (r === role ? urls : undefined) }),
  });
  assert.deepEqual(sink.items.map(formatDiagnostic), []);
  return rules;
}

/** The value a response header gets through the definition's headers filter. */
function header(rules: CompiledRewriteRules, filter: string, name: string, value: string): unknown {
  return rules.headers(filter, 'OUT')({ [name]: value }, ctx('/gateway/sandbox/x'))[name];
}

describe('HTTP Location and Content-Location', () => {
  const FILTER = 'HTTP/postern/out/headers';

  it('a service URL without path: the backend URL moves under the gateway, with its query', () => {
    const rules = load('http/1.0.0', 'HTTP', ['http://127.0.0.1:18080']);
    for (const name of ['Location', 'Content-Location']) {
      assert.equal(
        header(rules, FILTER, name, 'http://127.0.0.1:18080/items/42?x=1'),
        `${GW}/http/items/42?x=1`,
      );
      assert.equal(header(rules, FILTER, name, 'http://127.0.0.1:18080/'), `${GW}/http/`);
      assert.equal(header(rules, FILTER, name, 'http://127.0.0.1:18080'), `${GW}/http/`);
    }
  });

  it('a service URL with a path: only what follows it is kept', () => {
    const rules = load('http/1.0.0', 'HTTP', ['http://host:8080/api']);
    assert.equal(header(rules, FILTER, 'Location', 'http://host:8080/api/items/1'), `${GW}/http/items/1`);
    assert.equal(header(rules, FILTER, 'Location', 'http://host:8080/api?page=2'), `${GW}/http/?page=2`);
    assert.equal(header(rules, FILTER, 'Location', 'http://host:8080/other/1'), 'http://host:8080/other/1');
  });

  it('a redirect to another site, host, port or scheme passes unchanged', () => {
    const rules = load('http/1.0.0', 'HTTP', ['http://127.0.0.1:18080']);
    for (const url of [
      ...OFF_SITE,
      'http://127.0.0.1:18081/items/1',
      'https://127.0.0.1:18080/items/1',
      'http://localhost:18080/items/1',
    ]) {
      assert.equal(header(rules, FILTER, 'Location', url), url);
      assert.equal(header(rules, FILTER, 'Content-Location', url), url);
    }
  });
});

for (const [dir, role, context] of [
  ['livy/0.8.0', 'LIVYSERVER', 'livy'],
  ['zeppelinui/0.11.0', 'ZEPPELINUI', 'zeppelin'],
] as const) {
  describe(`${role} Location`, () => {
    const FILTER = `${role}/postern/out/headers`;

    it('absolute and root-relative URLs of the service become gateway URLs', () => {
      const rules = load(dir, role, ['http://backend.internal:8998']);
      assert.equal(
        header(rules, FILTER, 'Location', 'http://backend.internal:8998/sessions/0?x=1'),
        `${GW}/${context}/sessions/0?x=1`,
      );
      assert.equal(header(rules, FILTER, 'Location', '/ui'), `/gateway/sandbox/${context}/ui`);
    });

    it('with a service path, only URLs under it move', () => {
      const rules = load(dir, role, ['http://backend.internal:8998/base']);
      assert.equal(
        header(rules, FILTER, 'Location', 'http://backend.internal:8998/base/sessions/0'),
        `${GW}/${context}/sessions/0`,
      );
      assert.equal(header(rules, FILTER, 'Location', '/base/ui'), `/gateway/sandbox/${context}/ui`);
      assert.equal(header(rules, FILTER, 'Location', '/elsewhere/ui'), '/elsewhere/ui');
      assert.equal(
        header(rules, FILTER, 'Location', 'http://backend.internal:8998/elsewhere'),
        'http://backend.internal:8998/elsewhere',
      );
    });

    it('a redirect to another site passes unchanged', () => {
      const rules = load(dir, role, ['http://backend.internal:8998']);
      for (const url of OFF_SITE) assert.equal(header(rules, FILTER, 'Location', url), url);
    });
  });
}

describe('JUPYTER Location', () => {
  const FILTER = 'JUPYTER/postern/out/headers';
  const url = 'http://jupyter.internal:8888/gateway/sandbox/jupyter';

  it("an absolute URL under the base URL gets the gateway's origin; other URLs pass unchanged", () => {
    const rules = load('jupyter/7.0.0', 'JUPYTER', [url]);
    assert.equal(header(rules, FILTER, 'Location', `${url}/tree?x=1`), `${GW}/jupyter/tree?x=1`);
    assert.equal(
      header(rules, FILTER, 'Location', '/gateway/sandbox/jupyter/tree'),
      '/gateway/sandbox/jupyter/tree',
    );
    for (const other of [...OFF_SITE, 'https://idp.example.com/x/jupyter/tree']) {
      assert.equal(header(rules, FILTER, 'Location', other), other);
    }
  });
});
