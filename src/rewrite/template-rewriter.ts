/**
 * @module rewrite/template-rewriter
 * One-rule URL rewriting, as Knox's `Rewriter.rewrite(uri, inputPattern, outputTemplate, resolver, evaluator)`:
 * parse the URL literally, match it against the input pattern, expand the output template with the captured
 * parameters. Names the match did not bind fall back to `resolve` (e.g. `gateway.url`); only names the match
 * bound can be emitted by an output `{**}`.
 *
 * Parsed patterns and templates are cached by text, since rules are a small fixed set used on every request.
 */
import { type Evaluate, expandTemplate, type Resolve } from '../urltemplate/expander.ts';
import { TemplateMatcher } from '../urltemplate/matcher.ts';
import { boundedMemo } from '../urltemplate/memo.ts';
import { parseLiteral, parseTemplate } from '../urltemplate/parser.ts';
import type { Template } from '../urltemplate/template.ts';

export interface RewriteOptions {
  /** Values for names the match does not bind. */
  resolve?: Resolve;
  /** Function results (`{$serviceUrl[WEBHDFS]}`); see expandTemplate for what `undefined` does. */
  evaluate?: Evaluate;
}

// Rules are few; the cap only protects against callers that build patterns from request data.
const templates = boundedMemo<Template>(1024);
const matchers = boundedMemo<TemplateMatcher<true>>(1024);

/**
 * Rewrites `input` when it matches `inputPattern`; `undefined` when it does not.
 * @throws {import('../urltemplate/parser.ts').UrlTemplateSyntaxError} when the pattern or template is malformed.
 * @example rewriteUrl('/webhdfs/v1/tmp?op=LS', '/webhdfs/v1/{path=**}?{**}', 'http://nn:50070/webhdfs/v1/{path=**}?{**}')
 *   // 'http://nn:50070/webhdfs/v1/tmp?op=LS'
 */
export function rewriteUrl(
  input: string,
  inputPattern: string,
  outputTemplate: string,
  options?: RewriteOptions,
): string | undefined {
  const matcher = matchers(inputPattern, () => {
    const m = new TemplateMatcher<true>();
    m.add(parseTemplate(inputPattern), true);
    return m;
  });
  const output = templates(outputTemplate, parseTemplate);
  const match = matcher.match(parseLiteral(input));
  if (!match) return undefined;
  return expandTemplate(output, match.params, options?.evaluate, options?.resolve);
}
