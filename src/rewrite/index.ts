/**
 * @module rewrite
 * postern's URL-rewrite engine, compatible with Apache Knox's `rewrite.xml`: compile the rules of a topology
 * once ({@link compileRewriteRules}), then rewrite request URLs, response headers and URLs found in bodies per
 * request ({@link CompiledRewriteRules}). Functions of the topology in patterns (`{$serviceUrl[ROLE]}/{path=**}`)
 * are expanded at compile time and matched literally (see rewrite/pattern).
 *
 * @example
 * const rules = compileRewriteRules([webhdfsRewriteXml], { functions: defaultRewriteFunctions(), sink, env });
 * rules.rewrite('https://gw:8443/gateway/sandbox/webhdfs/v1/tmp?op=LISTSTATUS',
 *   { rule: 'WEBHDFS/webhdfs/inbound/namenode/file', dir: 'IN', ctx });
 */

export type { RewriteOptions, RewriteOutcome, RewriteRules } from '../spi/rewrite.ts';
export {
  type CompileOptions,
  compileRewriteRules,
  DEFAULT_GLOBAL_RULES_SERVICES,
  GLOBAL_SCOPE,
} from './compile.ts';
export { MIN_SECRET_BYTES } from './crypto.ts';
export { ENCRYPTED_QUERY_PARAM } from './engine.ts';
export { RewriteDecryptError } from './errors.ts';
export { defaultRewriteFunctions } from './functions/index.ts';
export {
  type HeaderRewriter,
  type Headers,
  type HeaderValue,
  NON_URL_HEADERS,
  scopeSetCookiePath,
} from './headers.ts';
export type * from './model.ts';
export { CompiledRewriteRules } from './rules.ts';
export type {
  Direction,
  FunctionCall,
  RewriteContext,
  RewriteEnvironment,
  RewriteFunction,
  RewriteFunctionRegistry,
} from './types.ts';
