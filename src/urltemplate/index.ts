/**
 * @module urltemplate
 * postern's URL-template engine: Apache Knox's URL-template language (grammar, matching, expansion),
 * re-implemented. Parse rule patterns with {@link parseTemplate}, request URLs with {@link parseLiteral}, find
 * the best rule with a {@link TemplateMatcher}, build the new URL with {@link expandTemplate} (the rewrite engine,
 * src/rewrite, does all three; rewrite/template-rewriter for one rule).
 *
 * Nothing is percent-decoded when matching; query names and values taken from parameters are form-encoded on
 * expansion (Java `URLEncoder` rules), everything else is inserted verbatim. See docs in each module.
 */
export {
  type Diagnosis,
  diagnoseMatch,
  matchesAlone,
  showSegment,
  specificity,
  whyLost,
  witnessInputs,
} from './diagnose.ts';
export { type Evaluate, expandTemplate, type ParamValues, type Resolve } from './expander.ts';
export { formEncode } from './form-encoding.ts';
export { type FunctionCall, parseFunctionCall } from './function-call.ts';
export { joinLiteral } from './join.ts';
export { type MatchOptions, type MatchParams, type TemplateMatch, TemplateMatcher } from './matcher.ts';
export { type ParseTemplateOptions, parseLiteral, parseTemplate, UrlTemplateSyntaxError } from './parser.ts';
export {
  type Component,
  GLOB,
  Segment,
  type SegmentValue,
  STAR,
  VALUE_RANK,
  type ValueType,
} from './segment.ts';
export { Template } from './template.ts';
