/**
 * Every body filter of Knox's own definitions (knox-services, read in place) compiles for the filter of its
 * content type, with no path or expression left out; and the filters of a definition that cannot be deployed as
 * a whole (Knox's HBASEUI definitions bind request.url rules no rewrite.xml defines) run at the rule level.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiagnosticSink, formatDiagnostic } from '../../../src/config/diagnostics.ts';
import { bodyKind, parseMediaType } from '../../../src/rewrite/body/media-type.ts';
import { compileBodyPlan } from '../../../src/rewrite/body/plan.ts';
import type { TextRewriter } from '../../../src/rewrite/body/values.ts';
import { compileRewriteRules, defaultRewriteFunctions } from '../../../src/rewrite/index.ts';
import type { RewriteRules } from '../../../src/rewrite/model.ts';
import { readRewriteXml } from '../../../src/servicedef/rewrite-xml.ts';
import { KNOX_SERVICES } from '../../helpers/knox.ts';
import { ctx, env } from '../fixtures.ts';
import { runEverySplit } from './helpers.ts';

function definitions(): string[] {
  const files: string[] = [];
  for (const service of readdirSync(KNOX_SERVICES, { withFileTypes: true })) {
    if (!service.isDirectory()) continue;
    for (const version of readdirSync(join(KNOX_SERVICES, service.name))) {
      const file = join(KNOX_SERVICES, service.name, version, 'rewrite.xml');
      if (existsSync(file)) files.push(file);
    }
  }
  return files;
}

const open = {
  rewrite: () => undefined,
  bestMatchMayApply: () => true,
  limit: 1 << 20,
  report: () => {},
};

describe("Knox's body filters", () => {
  it('all compile, every content for its filter, with nothing ignored', () => {
    let filters = 0;
    const opened = new Map<string, number>();
    const left: string[] = [];
    for (const file of definitions()) {
      const sink = new DiagnosticSink();
      const source: RewriteRules = readRewriteXml(file, sink);
      const rules = compileRewriteRules([source], { functions: defaultRewriteFunctions(), sink, env: env() });
      const before = sink.items.length;
      for (const filter of source.filters) {
        filters++;
        for (const dir of ['IN', 'OUT'] as const) {
          const plan = compileBodyPlan({ rules, filter, dir, scope: 'X', sink });
          if (dir === 'IN') continue;
          for (const content of filter.contents) {
            if (content.type === 'application/x-http-headers') continue;
            // A body of the content's own type (wildcards filled in) opens the filter that reads it.
            const type = content.type.replaceAll('*', 'x');
            if (content.applies.length + content.buffers.length === 0) continue;
            const rw = plan.rewriter(type, open);
            const kind = bodyKind(parseMediaType(content.asType ?? type) ?? { subtype: '' });
            if (rw) opened.set(kind ?? '?', (opened.get(kind ?? '?') ?? 0) + 1);
            else left.push(`${filter.name} ${content.type}`);
          }
        }
      }
      assert.deepEqual(sink.items.slice(before).map(formatDiagnostic), [], file);
    }
    assert.equal(filters, 127);
    // Contents with selectors that no filter reads: Presto's `* / *` as text/plain, and text/plain contents
    // without an asType (their bodies are not rewritten by Knox either).
    for (const l of left) assert.match(l, /text\/plain|\*\/\*/, l);
    // Contents with selectors, by the filter that reads them.
    assert.deepEqual(Object.fromEntries([...opened].sort()), {
      css: 2,
      html: 30,
      javascript: 61,
      json: 24,
      xml: 15,
    });
    assert.ok(left.length <= 8, left.join('\n'));
  });
});

describe("HBASEUI's filters (hbaseui/2.5.10) at the rule level", () => {
  const load = () => {
    const sink = new DiagnosticSink();
    const source = readRewriteXml(join(KNOX_SERVICES, 'hbaseui/2.5.10/rewrite.xml'), sink);
    const rules = compileRewriteRules([source], {
      functions: defaultRewriteFunctions(),
      sink,
      env: env({
        serviceUrls: (role) => (role === 'HBASEUI' ? ['http://hbase-master.internal:16010'] : undefined),
      }),
    });
    return { rules, source, sink };
  };
  const request = ctx('/gateway/sandbox/hbase/webui/master', 'host=hbase-master.internal&port=16010');

  const rewriterFor = (filterName: string, type: string): (() => TextRewriter) => {
    const { rules, source, sink } = load();
    const plan = compileBodyPlan({
      rules,
      filter: source.filters.find((f) => f.name === filterName),
      dir: 'OUT',
      scope: 'HBASEUI',
      sink,
    });
    return () =>
      plan.rewriter(type, {
        rewrite: (value, rule) =>
          rules.rewrite(value, { rule: rule ?? '*', dir: 'OUT', ctx: request, scope: 'HBASEUI' }),
        bestMatchMayApply: rules.bestMatchFilter('OUT', 'HBASEUI'),
        limit: 1 << 20,
        report: () => {},
      })!;
  };

  it('points the master page script at the gateway (*/javascript)', () => {
    const js = "$.ajax({url: '/userSnapshots.jsp', dataType: 'html'});\n";
    const out = runEverySplit(rewriterFor('HBASEUI/hbase/outbound/javascript/filter', 'text/javascript'), js);
    assert.match(out, /url: '[^']*\/hbase\/webui\/userSnapshots\.jsp[^']*'/);
    assert.ok(!out.includes("url: '/userSnapshots.jsp'"), out);
  });

  it('points the live servers call of the master page at the gateway (*/html)', () => {
    const html =
      '<script>fetch("/api/v1/admin/cluster_metrics/live_servers").then(render)</script>' +
      '<a href="/api/v1/admin/cluster_metrics/live_servers">live servers</a>';
    const out = runEverySplit(rewriterFor('HBASEUI/hbase/outbound/live_servers', 'text/html'), html);
    assert.equal(
      out,
      '<script>fetch("/hbase/webui/api/v1/admin/cluster_metrics/live_servers").then(render)</script>' +
        '<a href="/hbase/webui/api/v1/admin/cluster_metrics/live_servers">live servers</a>',
    );
  });
});
