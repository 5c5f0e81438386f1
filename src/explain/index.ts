/**
 * @module explain
 * "Why did my URL go there?" (`postern explain`, the admin API's explain) and the extra warnings of
 * `postern check`. See explain/explain for the engine and its JSON shape, explain/lint for the warnings.
 */
export {
  type ChainStepExplained,
  displayParams,
  type ExplainOptions,
  type ExplainSource,
  type Explanation,
  explain,
  type GatewayLike,
  type RewriteExplained,
  type RouteRef,
  type Undeployed,
} from './explain.ts';
export { type FormatOptions, formatExplanation } from './format.ts';
export { deadRewriteRules, unreachableRoutes } from './lint.ts';
