/**
 * Knox's own service definitions (shared/knox-services, read in place, not copied): every rewrite.xml compiles
 * without errors, and WebHDFS's two-step namenode → datanode flow works at the rule level.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiagnosticSink, formatDiagnostic } from '../../src/config/diagnostics.ts';
import {
  compileRewriteRules,
  defaultRewriteFunctions,
  RewriteDecryptError,
  type RewriteEnvironment,
} from '../../src/rewrite/index.ts';
import { readRewriteXml } from '../../src/servicedef/rewrite-xml.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';
import { ctx } from './fixtures.ts';

const KNOX = KNOX_SERVICES;

const env: RewriteEnvironment = {
  topology: 'sandbox',
  gatewayPath: 'gateway',
  serviceUrls: (role) => (role === 'WEBHDFS' ? ['http://nn:50070/webhdfs'] : undefined),
  secret: new Uint8Array(32).fill(9),
};

function definitions(): string[] {
  const files: string[] = [];
  for (const service of readdirSync(KNOX, { withFileTypes: true })) {
    if (!service.isDirectory()) continue;
    for (const version of readdirSync(join(KNOX, service.name))) {
      const file = join(KNOX, service.name, version, 'rewrite.xml');
      if (existsSync(file)) files.push(file);
    }
  }
  return files;
}

describe('every Knox rewrite.xml', () => {
  it('compiles without errors, one definition at a time and all together', () => {
    const files = definitions();
    assert.equal(files.length, 94);
    const all = [];
    for (const file of files) {
      const sink = new DiagnosticSink();
      const source = readRewriteXml(file, sink);
      compileRewriteRules([source], { functions: defaultRewriteFunctions(), sink, env });
      const errors = sink.items.filter((d) => d.severity === 'error').map(formatDiagnostic);
      assert.deepEqual(errors, [], file);
      all.push(source);
    }
    const sink = new DiagnosticSink();
    const rules = compileRewriteRules(all, { functions: defaultRewriteFunctions(), sink, env });
    assert.equal(sink.hasErrors, false);
    assert.ok(rules.ruleNames.length > 700);
  });

  it('reports the known oddities of Knox definitions as warnings', () => {
    const sink = new DiagnosticSink();
    const hbase = readRewriteXml(join(KNOX, 'hbaseui/2.1.0/rewrite.xml'), sink);
    const pinot = readRewriteXml(join(KNOX, 'pinot/1.3.0/rewrite.xml'), sink);
    compileRewriteRules([hbase, pinot], { functions: defaultRewriteFunctions(), sink, env });
    const warnings = sink.items.filter((d) => d.severity === 'warning').map((d) => d.message);
    assert.ok(warnings.some((m) => m.includes('unknown function $servicScheme')));
    assert.ok(warnings.some((m) => m.includes('unsupported step <filter>')));
  });
});

describe('WebHDFS two-step flow (webhdfs/2.4.0)', () => {
  const load = () => {
    const sink = new DiagnosticSink();
    const source = readRewriteXml(join(KNOX, 'webhdfs/2.4.0/rewrite.xml'), sink);
    return compileRewriteRules([source], { functions: defaultRewriteFunctions(), sink, env });
  };
  const request = ctx('/gateway/sandbox/webhdfs/v1/tmp/f', 'op=CREATE', 'guest');
  const create = 'https://localhost:8443/gateway/sandbox/webhdfs/v1/tmp/f?op=CREATE';
  const redirect = 'http://dn1:50075/webhdfs/v1/tmp/f?op=CREATE&namenoderpcaddress=nn:8020&offset=0';

  it('sends the client request to the namenode', () => {
    const rules = load();
    const named = { rule: 'WEBHDFS/webhdfs/inbound/namenode/file', dir: 'IN' as const, ctx: request };
    assert.equal(rules.rewrite(create, named), 'http://nn:50070/webhdfs/v1/tmp/f?op=CREATE');
    assert.equal(
      rules.rewrite(create, { dir: 'IN', ctx: request, scope: 'WEBHDFS' }),
      'http://nn:50070/webhdfs/v1/tmp/f?op=CREATE',
    );
  });

  it("hides the namenode's 307 datanode Location behind the gateway and brings it back", () => {
    const rules = load();
    const headers = rules.headers('WEBHDFS/webhdfs/outbound/namenode/headers', 'OUT')(
      { Location: redirect, 'Content-Type': 'application/octet-stream' },
      request,
    );
    const location = headers.Location as string;
    // The datanode path keeps the namenode's full path after /webhdfs/data/v1/, exactly as Knox's template does.
    assert.match(
      location,
      /^https:\/\/localhost:8443\/gateway\/sandbox\/webhdfs\/data\/v1\/webhdfs\/v1\/tmp\/f\?_=[\w-]+$/,
    );
    assert.ok(!location.includes('dn1') && !location.includes('8020'), 'nothing of the cluster leaks');
    assert.equal(headers['Content-Type'], 'application/octet-stream');

    const put = ctx(new URL(location).pathname, new URL(location).search.slice(1), 'guest');
    const target = rules.rewrite(location, { rule: 'WEBHDFS/webhdfs/inbound/datanode', dir: 'IN', ctx: put });
    assert.equal(target, 'http://dn1:50075/webhdfs/v1/tmp/f?op=CREATE&namenoderpcaddress=nn%3A8020&offset=0');
  });

  it('refuses a datanode URL whose encrypted query was altered', () => {
    const rules = load();
    const location = rules.rewrite(redirect, {
      rule: 'WEBHDFS/webhdfs/outbound/namenode/headers/location',
      dir: 'OUT',
      ctx: request,
    })!;
    const altered = `${location.slice(0, -3)}${location.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    assert.throws(
      () => rules.rewrite(altered, { rule: 'WEBHDFS/webhdfs/inbound/datanode', dir: 'IN', ctx: request }),
      RewriteDecryptError,
    );
  });

  it("maps ~ to the user's home directory", () => {
    const rules = load();
    assert.equal(
      rules.rewrite('https://localhost:8443/gateway/sandbox/webhdfs/v1/~/docs?op=LISTSTATUS', {
        dir: 'IN',
        ctx: request,
      }),
      'http://nn:50070/webhdfs/v1/user/guest/docs?op=LISTSTATUS',
    );
  });
});

describe('a function in a Knox pattern (hbaseui/2.5.10 log redirects)', () => {
  // {$serviceScheme[HBASEUI]}://{host}:{port}/logs/{dir=**}/?{**}: Knox reads the call as a wildcard parameter;
  // postern expands it to the service's scheme at deployment and matches it literally.
  const load = () => {
    const sink = new DiagnosticSink();
    const source = readRewriteXml(join(KNOX, 'hbaseui/2.5.10/rewrite.xml'), sink);
    const hbaseEnv: RewriteEnvironment = {
      ...env,
      serviceUrls: (role) => (role === 'HBASEUI' ? ['http://hbase.internal:16010'] : undefined),
    };
    const rules = compileRewriteRules([source], {
      functions: defaultRewriteFunctions(),
      sink,
      env: hbaseEnv,
    });
    return { rules, sink };
  };
  const page = ctx('/gateway/sandbox/hbase/webui/logs', 'host=rs1.internal&port=16030');

  it('compiles without a warning about the pattern', () => {
    const { sink } = load();
    assert.deepEqual(sink.items.filter((d) => d.message.includes('pattern')).map(formatDiagnostic), []);
  });

  it("moves a log servlet's Location under the gateway, carrying the region server over", () => {
    const { rules } = load();
    const headers = rules.headers('HBASEUI/hbase/outbound/logs/headers', 'OUT');
    assert.deepEqual(headers({ Location: 'http://rs1.internal:16030/logs/hbase/' }, page), {
      Location: 'https://localhost:8443/gateway/sandbox/hbase/webui/logs/hbase/?host=rs1.internal&port=16030',
    });
    // Another scheme than the service's is not the service's redirect: it passes unchanged.
    assert.deepEqual(headers({ Location: 'https://idp.example.com/logs/x/' }, page), {
      Location: 'https://idp.example.com/logs/x/',
    });
  });

  it('without HBASEUI in the topology the rule is reported and fails instead of matching any scheme', () => {
    const sink = new DiagnosticSink();
    const source = readRewriteXml(join(KNOX, 'hbaseui/2.5.10/rewrite.xml'), sink);
    const rules = compileRewriteRules([source], { functions: defaultRewriteFunctions(), sink, env });
    assert.ok(
      sink.items.some((d) =>
        /headers-redirect": match pattern: \$serviceScheme\[HBASEUI\] has no value/.test(d.message),
      ),
    );
    const outcome = rules.apply('http://rs1.internal:16030/logs/hbase/', {
      rule: 'HBASEUI/hbase/outbound/logs/headers-redirect',
      dir: 'OUT',
      ctx: page,
    });
    assert.equal(outcome.status, 'failed');
  });
});
