/**
 * @module test/services/bundled-definitions
 * Static checks of postern's bundled service definitions (`services/{name}/{version}`): each pair of files is
 * well-formed, declares the expected role, and is internally consistent: every binding names a rule or filter of
 * the right direction, every route agrees with the rule that rewrites it, every `$serviceUrl` names the service's
 * own role, Location rules accept only URLs under the service's own URL, and the WebHDFS datanode round trip
 * encrypts on the way out and decrypts before matching on the way in. These checks need no rewrite engine;
 * bundled-rewrite.test.ts and the engine's own tests exercise the rules' behaviour.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { SaxesParser } from 'saxes';

const servicesDir = join(import.meta.dirname, '..', '..', 'services');

const arrays = new Set([
  'route',
  'rewrite',
  'rule',
  'filter',
  'content',
  'apply',
  'match',
  'param',
  'sample',
]);
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  isArray: (name) => arrays.has(name),
});
const orderedParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  preserveOrder: true,
});

// biome-ignore lint/suspicious/noExplicitAny: parsed XML is untyped.
type Node = Record<string, any>;

interface Definition {
  dir: string;
  name: string;
  version: string;
  serviceText: string;
  rewriteText: string;
  service: Node;
  rules: Node[];
  filters: Node[];
}

function load(): Definition[] {
  const defs: Definition[] = [];
  for (const name of readdirSync(servicesDir)) {
    const nameDir = join(servicesDir, name);
    if (name.endsWith('.md')) continue;
    for (const version of readdirSync(nameDir)) {
      const dir = join(nameDir, version);
      const serviceText = readFileSync(join(dir, 'service.xml'), 'utf8');
      const rewriteText = readFileSync(join(dir, 'rewrite.xml'), 'utf8');
      const rewrite = parser.parse(rewriteText).rules as Node;
      defs.push({
        dir: `${name}/${version}`,
        name,
        version,
        serviceText,
        rewriteText,
        service: parser.parse(serviceText).service as Node,
        rules: rewrite.rule ?? [],
        filters: rewrite.filter ?? [],
      });
    }
  }
  return defs;
}

const defs = load();
const byDir = new Map(defs.map((d) => [d.dir, d]));

const EXPECTED: Record<string, string> = {
  'http/1.0.0': 'HTTP',
  'webhdfs/3.0.0': 'WEBHDFS',
  'yarn-rm/3.0.0': 'RESOURCEMANAGER',
  'livy/0.8.0': 'LIVYSERVER',
  'zeppelinui/0.11.0': 'ZEPPELINUI',
  'zeppelinws/0.11.0': 'ZEPPELINWS',
  'jupyter/7.0.0': 'JUPYTER',
  'jupyterws/7.0.0': 'JUPYTERWS',
  'echo-ws/1.0.0': 'ECHOWS',
  'knoxsso/1.0.0': 'KNOXSSO',
  'knoxtoken/1.0.0': 'KNOXTOKEN',
  'channels/1.0.0': 'CHANNELS',
  'admin/1.0.0': 'ADMIN',
  'knox/1.0.0': 'KNOX',
  'knox-session/1.0.0': 'KNOX-SESSION',
  'knoxssout/1.0.0': 'KNOXSSOUT',
  'knox-metadata/1.0.0': 'KNOX-METADATA',
};

/** Dispatches the gateway answers itself: their routes reach no backend, so they rewrite no URL. */
const ANSWERED_BY_THE_GATEWAY = new Set([
  'KnoxSSO',
  'KnoxToken',
  'KnoxJWKS',
  'Channels',
  'Admin',
  'KnoxAdmin',
  'KnoxSession',
  'KnoxSSOut',
  'KnoxMetadata',
]);

/**
 * Location rules whose URLs name other hosts by design: WebHDFS datanodes (the redirect is encrypted into the
 * gateway URL) and the namenode's `hdfs://` URL.
 */
const BY_DESIGN_ELSEWHERE = new Set([
  'WEBHDFS/postern/out/datanode-redirect',
  'WEBHDFS/postern/out/hdfs-url',
]);

const TARGETS = new Set([
  'request.url',
  'request.headers',
  'request.body',
  'response.headers',
  'response.body',
]);

function routes(def: Definition): Node[] {
  return def.service.routes?.route ?? [];
}

function routePaths(def: Definition): string[] {
  return routes(def).map((r) => r['@path']);
}

/** The path segments of a URL template, without scheme/authority and query. */
function pathSegments(template: string): string[] {
  let t = template.split('?')[0];
  t = t.replace(/^\*:\/\/\*:\*/, '');
  return t.split('/').filter((s) => s !== '');
}

/** True when a route-path segment and a rule-pattern segment describe the same thing. */
function segmentAgrees(route: string, pattern: string): boolean {
  if (route === '*') return pattern === '*' || /^\{[\w-]+(=\*)?\}$/.test(pattern);
  return route === pattern;
}

function isGlob(segment: string): boolean {
  return segment === '**' || /^\{[\w-]+=\*\*\}$/.test(segment) || segment === '{**}';
}

/**
 * Whether a route path (`/http/**?**`) is covered by an IN rule pattern (`*://*:*\/**\/http/{path=**}?{**}`):
 * after the pattern's leading `**` (the gateway path and topology), the segments agree one by one, and a glob
 * in the route is answered by a glob in the pattern; a trailing glob in the pattern covers the rest of the route.
 */
function routeAgreesWithPattern(routePath: string, pattern: string): boolean {
  const r = pathSegments(routePath);
  const p = pathSegments(pattern);
  if (p[0] !== '**') return false;
  p.shift();
  for (let i = 0; i < r.length; i++) {
    // A trailing glob in the pattern takes whatever the route has left (`/zeppelin/api/**` under `{path=**}`).
    if (i === p.length - 1 && isGlob(p[i])) return true;
    if (isGlob(r[i])) return i < p.length && isGlob(p[i]) && i === p.length - 1;
    if (i >= p.length || !segmentAgrees(r[i], p[i])) return false;
  }
  return r.length === p.length;
}

/** Parses with a strict XML parser (fast-xml-parser tolerates, for example, `--` inside a comment); throws on error. */
function assertWellFormed(text: string, file: string): void {
  const sax = new SaxesParser();
  sax.on('error', (err) => {
    throw new Error(`${file}: ${err.message}`);
  });
  sax.write(text).close();
}

function braceBalanced(text: string): boolean {
  let depth = 0;
  for (const ch of text) {
    if (ch === '{') depth++;
    if (ch === '}' && --depth < 0) return false;
  }
  return depth === 0;
}

/** Every pattern and template in a rewrite.xml, with where it came from. */
function templates(def: Definition): { where: string; text: string }[] {
  const out: { where: string; text: string }[] = [];
  const walk = (node: Node, where: string) => {
    if (node['@pattern'] !== undefined) out.push({ where: `${where} pattern`, text: node['@pattern'] });
    if (node['@template'] !== undefined) out.push({ where: `${where} template`, text: node['@template'] });
    for (const m of node.match ?? []) walk(m, `${where}/match`);
    for (const r of node.rewrite ?? []) walk(r, `${where}/rewrite`);
  };
  for (const rule of def.rules) walk(rule, rule['@name']);
  return out;
}

describe('bundled service definitions', () => {
  it('are exactly the expected set, each with service.xml and rewrite.xml', () => {
    assert.deepEqual(defs.map((d) => d.dir).sort(), Object.keys(EXPECTED).sort());
    assert.ok(existsSync(join(servicesDir, 'README.md')));
  });

  for (const def of defs) {
    describe(def.dir, () => {
      it('is well-formed XML', () => {
        assertWellFormed(def.serviceText, `${def.dir}/service.xml`);
        assertWellFormed(def.rewriteText, `${def.dir}/rewrite.xml`);
      });

      it('declares the expected role, its directory version, and a name', () => {
        assert.equal(def.service['@role'], EXPECTED[def.dir]);
        assert.equal(def.service['@version'], def.version);
        assert.ok(def.service['@name']);
        assert.ok(def.service.metadata?.context, 'metadata/context');
        assert.ok(def.service.metadata?.shortDesc, 'metadata/shortDesc');
      });

      it("says in its header that it is postern's own", () => {
        for (const text of [def.serviceText, def.rewriteText]) {
          assert.match(
            text,
            /^<\?xml[^>]*\?>\s*<!--[\s\S]*?postern bundled[\s\S]*?Apache License, Version 2\.0/,
          );
          assert.doesNotMatch(text, /Licensed to the Apache Software Foundation/);
        }
      });

      it('has unique rule names and filter names, and every rule says its direction', () => {
        const ruleNames = def.rules.map((r) => r['@name']);
        assert.equal(new Set(ruleNames).size, ruleNames.length, `duplicate rule in ${ruleNames}`);
        const filterNames = def.filters.map((f) => f['@name']);
        assert.equal(new Set(filterNames).size, filterNames.length);
        for (const rule of def.rules) {
          assert.ok(rule['@dir'] === 'IN' || rule['@dir'] === 'OUT', `${rule['@name']} dir`);
          assert.ok(rule['@name'].startsWith(`${def.service['@role']}/postern/`), rule['@name']);
        }
      });

      it('binds only existing rules and filters, in the right direction', () => {
        const rules = new Map(def.rules.map((r) => [r['@name'], r]));
        const filters = new Map(def.filters.map((f) => [f['@name'], f]));
        for (const route of routes(def)) {
          const bindings: Node[] = route.rewrite ?? [];
          const dispatch = (route.dispatch ?? def.service.dispatch)?.['@contributor-name'];
          assert.ok(
            ANSWERED_BY_THE_GATEWAY.has(dispatch) || bindings.some((b) => b['@to'] === 'request.url'),
            `${route['@path']} rewrites its URL explicitly`,
          );
          for (const b of bindings) {
            assert.ok(TARGETS.has(b['@to']), `${route['@path']}: to=${b['@to']}`);
            if (b['@to'] === 'request.url') {
              assert.equal(
                rules.get(b['@apply'])?.['@dir'],
                'IN',
                `${route['@path']}: ${b['@apply']} is an IN rule`,
              );
            } else {
              assert.ok(filters.has(b['@apply']), `${route['@path']}: ${b['@apply']} is a filter`);
            }
          }
        }
        for (const filter of def.filters) {
          for (const content of filter.content ?? []) {
            assert.ok(content['@type'], `${filter['@name']} content type`);
            for (const apply of content.apply ?? []) {
              assert.equal(
                rules.get(apply['@rule'])?.['@dir'],
                'OUT',
                `${filter['@name']}: ${apply['@rule']}`,
              );
              assert.ok(apply['@path'], `${filter['@name']}: apply path`);
            }
          }
        }
      });

      it('routes agree with the IN rule that rewrites them', () => {
        const rules = new Map(def.rules.map((r) => [r['@name'], r]));
        for (const route of routes(def)) {
          for (const b of route.rewrite ?? []) {
            if (b['@to'] !== 'request.url') continue;
            const rule = rules.get(b['@apply'])!;
            const pattern: string | undefined = rule['@pattern'] ?? rule.match?.[0]?.['@pattern'];
            assert.ok(pattern, `${rule['@name']} has a pattern`);
            assert.ok(
              routeAgreesWithPattern(route['@path'], pattern),
              `route ${route['@path']} vs ${rule['@name']} pattern ${pattern}`,
            );
          }
        }
      });

      it('route paths all start with the service context', () => {
        const first = `/${pathSegments(def.service.metadata.context)[0]}`;
        // ADMIN has two roots on purpose: its JSON API (/api/v1, as Knox's admin API) and its console (/console).
        const roots = def.service['@role'] === 'ADMIN' ? ['/api', '/console'] : [first];
        for (const path of routePaths(def)) {
          assert.ok(
            roots.some((r) => path === r || path.startsWith(`${r}/`)),
            path,
          );
        }
      });

      it('patterns and templates are brace-balanced and $serviceUrl names this role', () => {
        for (const { where, text } of templates(def)) {
          assert.ok(braceBalanced(text), `${where}: ${text}`);
          for (const m of text.matchAll(/\$serviceUrl\[([^\]]*)\]/g)) {
            assert.equal(m[1], def.service['@role'], `${where}: ${text}`);
          }
        }
      });

      it("Location rules accept only URLs under the service's own URL", () => {
        const role = def.service['@role'];
        const rules = new Map(def.rules.map((r) => [r['@name'], r]));
        const patterns = (node: Node): string[] => [
          ...(node['@pattern'] !== undefined ? [node['@pattern'] as string] : []),
          ...(node.match ?? []).flatMap(patterns),
        ];
        for (const filter of def.filters) {
          for (const content of filter.content ?? []) {
            if (content['@type'] !== 'application/x-http-headers') continue;
            for (const apply of content.apply ?? []) {
              if (!/^(content-)?location$/i.test(apply['@path'])) continue;
              if (BY_DESIGN_ELSEWHERE.has(apply['@rule'])) continue;
              const found = patterns(rules.get(apply['@rule'])!);
              assert.ok(found.length > 0, `${apply['@rule']} has a pattern`);
              for (const pattern of found) {
                assert.ok(
                  pattern.startsWith(`{$serviceUrl[${role}]}/`) ||
                    pattern.startsWith(`{$servicePath[${role}]}/`),
                  `${apply['@rule']}: ${pattern}`,
                );
              }
            }
          }
        }
      });

      it('IN rule patterns accept any gateway path and topology', () => {
        for (const rule of def.rules.filter((r) => r['@dir'] === 'IN')) {
          const pattern: string = rule['@pattern'] ?? rule.match?.[0]?.['@pattern'];
          assert.match(pattern, /^\*:\/\/\*:\*\/\*\*\//, rule['@name']);
        }
      });
    });
  }

  it('HTTP has the root and glob routes, with and without a query, and rewrites Location and Content-Location', () => {
    const http = byDir.get('http/1.0.0')!;
    assert.deepEqual(routePaths(http).sort(), ['/http', '/http/**', '/http/**?**', '/http/?**']);
    assert.equal(
      http.service.dispatch['@classname'],
      'org.apache.knox.gateway.dispatch.ConfigurableDispatch',
    );
    const headers = http.filters.find((f) => f['@name'] === 'HTTP/postern/out/headers')!;
    const content = headers.content.find((c: Node) => c['@type'] === 'application/x-http-headers');
    assert.deepEqual(
      content.apply.map((a: Node) => a['@path']),
      ['Location', 'Content-Location'],
    );
    const out = http.rules.find((r) => r['@name'] === 'HTTP/postern/out/backend-url')!;
    assert.deepEqual(
      out.match.map((m: Node) => m['@pattern']),
      ['{$serviceUrl[HTTP]}/{path=**}?{**}', '{$serviceUrl[HTTP]}/?{**}'],
    );
    const inPath = http.rules.find((r) => r['@name'] === 'HTTP/postern/in/path')!;
    assert.equal(inPath['@pattern'], '*://*:*/**/http/{path=**}?{**}');
    assert.equal(inPath.rewrite[0]['@template'], '{$serviceUrl[HTTP]}/{path=**}?{**}');
  });

  it('WEBHDFS encrypts the datanode redirect query and decrypts it before matching on the way back', () => {
    const webhdfs = byDir.get('webhdfs/3.0.0')!;
    const rules = orderedParser.parse(webhdfs.rewriteText).find((n: Node) => n.rules).rules as Node[];
    const rule = (name: string) => rules.find((n) => n.rule && n[':@']?.['@name'] === name)!;
    const steps = (name: string) => rule(name).rule.map((s: Node) => Object.keys(s)[0]);

    assert.deepEqual(steps('WEBHDFS/postern/out/datanode-redirect'), ['match', 'rewrite', 'encrypt-query']);
    assert.deepEqual(steps('WEBHDFS/postern/in/datanode'), ['decrypt-query', 'match', 'rewrite']);

    const out = rule('WEBHDFS/postern/out/datanode-redirect').rule;
    const outTemplate: string = out.find((s: Node) => s.rewrite)[':@']['@template'];
    assert.match(outTemplate, /^\{\$frontend\[url\]\}\/webhdfs\/data\/v1\/\{path=\*\*\}\?/);
    for (const p of ['{scheme}', 'host={$hostmap(host)}', '{port}', '{**}'])
      assert.ok(outTemplate.includes(p), p);

    const back = rule('WEBHDFS/postern/in/datanode').rule;
    const inPattern: string = back.find((s: Node) => s.match)[':@']['@pattern'];
    assert.match(inPattern, /\/webhdfs\/data\/v1\/\{path=\*\*\}\?\{scheme\}\?\{host\}\?\{port\}\?\{\*\*\}$/);
    assert.equal(
      back.find((s: Node) => s.rewrite)[':@']['@template'],
      '{scheme}://{host}:{port}/{path=**}?{**}',
    );

    const dataRoute = routes(webhdfs).find((r) => r['@path'] === '/webhdfs/data/v1/**?**')!;
    assert.equal(dataRoute.rewrite[0]['@apply'], 'WEBHDFS/postern/in/datanode');
    assert.ok(dataRoute.dispatch, 'the datanode route has its own dispatch');
    for (const path of ['/webhdfs/v1/**?**', '/webhdfs/v1/~/**?**']) {
      const route = routes(webhdfs).find((r) => r['@path'] === path)!;
      assert.ok(
        route.rewrite.some(
          (b: Node) =>
            b['@to'] === 'response.headers' && b['@apply'] === 'WEBHDFS/postern/out/namenode/headers',
        ),
        path,
      );
    }
  });

  it('the WebSocket roles route exactly their WebSocket endpoints', () => {
    assert.deepEqual(routePaths(byDir.get('zeppelinws/0.11.0')!), ['/zeppelin/ws']);
    assert.deepEqual(routePaths(byDir.get('echo-ws/1.0.0')!), ['/echo/ws', '/echo/ws/**']);
    const jupyterWs = routePaths(byDir.get('jupyterws/7.0.0')!);
    assert.ok(jupyterWs.includes('/jupyter/api/kernels/*/channels'));
    for (const path of jupyterWs)
      assert.doesNotMatch(path, /\*\*/, 'no glob that would swallow plain HTTP calls');
  });

  it('RESOURCEMANAGER routes the cluster API', () => {
    const paths = routePaths(byDir.get('yarn-rm/3.0.0')!);
    assert.ok(paths.includes('/resourcemanager/v1/cluster/**?**'));
    assert.ok(paths.includes('/resourcemanager/v1/cluster/apps?**'));
  });
});
