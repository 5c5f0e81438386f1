/**
 * @module rewrite/topology
 * Compiles the rewrite rules of the service definitions one topology uses, against that topology's
 * environment (its service URLs, host map, frontend URL and derived secret).
 */
import type { DiagnosticSink } from '../config/diagnostics.ts';
import type { ServiceDefinition } from '../servicedef/model.ts';
import {
  type CompiledRewriteRules,
  compileRewriteRules,
  defaultRewriteFunctions,
  type RewriteEnvironment,
} from './index.ts';

const FUNCTIONS = defaultRewriteFunctions();

export function compileTopologyRewrite(input: {
  definitions: readonly ServiceDefinition[];
  environment: RewriteEnvironment;
  sink: DiagnosticSink;
}): CompiledRewriteRules {
  const seen = new Set<string>();
  const sources = [];
  for (const d of input.definitions) {
    if (seen.has(d.dir)) continue;
    seen.add(d.dir);
    sources.push(d.rewrite);
  }
  return compileRewriteRules(sources, { functions: FUNCTIONS, sink: input.sink, env: input.environment });
}
