/**
 * @module test/rewrite/fixtures
 * A made-up topology (`sandbox`) and request, and a one-call compile of rewrite.xml text, for the rewrite tests.
 */
import { DiagnosticSink } from '../../src/config/diagnostics.ts';
import {
  type CompiledRewriteRules,
  compileRewriteRules,
  defaultRewriteFunctions,
  type RewriteContext,
  type RewriteEnvironment,
  type RewriteFunctionRegistry,
} from '../../src/rewrite/index.ts';
import { parseRewriteXml } from '../../src/servicedef/rewrite-xml.ts';

export const SERVICES: Record<string, string[]> = {
  WEBHDFS: ['http://nn.internal:50070/webhdfs'],
  NAMENODE: ['hdfs://nn.internal:8020'],
  OOZIE: ['https://oozie.internal/oozie'],
  HBASEUI: ['http://hbase.internal:16010'],
};

export function env(overrides: Partial<RewriteEnvironment> = {}): RewriteEnvironment {
  return {
    topology: 'sandbox',
    gatewayPath: 'gateway',
    serviceUrls: (role) => SERVICES[role],
    hostmap: {
      toInternal: (host) => ({ 'nn.example.com': 'nn.internal', 'dn1.example.com': 'dn1.internal' })[host],
      toExternal: (host) => ({ 'nn.internal': 'nn.example.com', 'dn1.internal': 'dn1.example.com' })[host],
    },
    secret: new Uint8Array(32).fill(42),
    ...overrides,
  };
}

/** A request to `path?query` through https://localhost:8443/gateway/sandbox. */
export function ctx(path = '/gateway/sandbox/webhdfs/v1/tmp', query = '', username?: string): RewriteContext {
  const url = `https://localhost:8443${path}${query ? `?${query}` : ''}`;
  return {
    gatewayUrl: 'https://localhost:8443/gateway/sandbox',
    inbound: {
      scheme: 'https',
      authority: 'localhost:8443',
      host: 'localhost',
      port: '8443',
      path,
      query,
      url,
    },
    username,
  };
}

/** Wraps rule and filter elements in `<rules>` and compiles them. */
export function compile(
  body: string,
  options: { env?: RewriteEnvironment; functions?: RewriteFunctionRegistry; file?: string } = {},
): { rules: CompiledRewriteRules; sink: DiagnosticSink } {
  const sink = new DiagnosticSink();
  const source = parseRewriteXml(`<rules>${body}</rules>`, options.file ?? 'test/rewrite.xml', sink);
  const rules = compileRewriteRules([source], {
    functions: options.functions ?? defaultRewriteFunctions(),
    sink,
    env: options.env ?? env(),
  });
  return { rules, sink };
}

export function messages(sink: DiagnosticSink, severity: 'error' | 'warning'): string[] {
  return sink.items.filter((d) => d.severity === severity).map((d) => d.message);
}
