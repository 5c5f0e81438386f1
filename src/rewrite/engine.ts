/**
 * @module rewrite/engine
 * Compiled rules and how they run: the per-request half of Knox's `UrlRewriteStepProcessorHolder` and the step
 * processors (`match`, `rewrite`, `encrypt-query`, `decrypt-query`, `encrypt`, `decrypt`, `check`, `control`).
 *
 * A rule, and each `match` step, is a flow node: its own pattern is a condition (it must match the current URL,
 * binding parameters), then its children run according to the flow. Children come in groups, as in Knox: a run of
 * conditions (`match`, `check`, `control`) followed by a run of actions (everything else).
 * - AND (default): every condition of a group must succeed, then its actions run; any failure fails the node.
 * - OR: the conditions of a group are tried in order until one succeeds (its nested steps run), the others are
 *   skipped; then the group's actions run. Knox's code runs the actions, and reports success, even when no
 *   condition succeeded (its own comment says that should not happen); postern fails the node instead, so a rule
 *   whose alternatives all miss does not hand back the input URL as if it had been rewritten.
 * - ALL: every condition and action runs; failures are ignored; the node succeeds.
 */
import {
  expandTemplate,
  type ParamValues,
  type Template,
  type TemplateMatcher,
} from '../urltemplate/index.ts';
import type { RuleRun } from './context.ts';
import type { TokenCipher } from './crypto.ts';
import { RewriteDecryptError } from './errors.ts';
import type { Flow } from './model.ts';

/** The name of the one query parameter `encrypt-query` leaves (Knox's `SecureQuery...Processor`). */
export const ENCRYPTED_QUERY_PARAM = '_';

export type CompiledStep =
  | { kind: 'match'; node: FlowNode }
  | { kind: 'rewrite'; template: Template }
  | { kind: 'check' | 'control' }
  | { kind: 'encrypt-query'; cipher: TokenCipher }
  | { kind: 'decrypt-query'; cipher: TokenCipher }
  | { kind: 'encrypt'; param: string; template: Template; cipher: TokenCipher };

/** Decrypt needs no template: it reads the parameter, decrypts it and binds it again. */
export type DecryptStep = { kind: 'decrypt'; param: string; cipher: TokenCipher };

export type Step = CompiledStep | DecryptStep;

export interface StepGroup {
  conditions: Step[];
  actions: Step[];
}

export interface FlowNode {
  /** The node's own pattern (rule `pattern`, `match` step `pattern`), absent for a rule without one. */
  matcher?: TemplateMatcher<true>;
  /** Which parameters the pattern takes from the query (they are form-decoded when bound). */
  query?: QueryBinding;
  flow: Flow;
  groups: StepGroup[];
}

/** A rule ready to run. */
export interface CompiledRule {
  name: string;
  /** Absent: both directions. Only best-match selection looks at it; a rule named explicitly runs in any direction. */
  dir?: 'IN' | 'OUT';
  scope?: string;
  /** The parsed rule pattern; registered in the best-match matchers. */
  pattern?: Template;
  node: FlowNode;
  /** Set when the rule cannot work (unknown function, unsupported step): applying it always fails with this. */
  broken?: string;
  /** Where the rule was written, `file:line:column`, for messages. */
  where: string;
}

export function isCondition(step: Step): boolean {
  return step.kind === 'match' || step.kind === 'check' || step.kind === 'control';
}

/** Splits children into Knox's condition/action groups, once, at compile time. */
export function groupSteps(steps: Step[]): StepGroup[] {
  const groups: StepGroup[] = [];
  let current: StepGroup | undefined;
  for (const step of steps) {
    if (isCondition(step)) {
      if (current === undefined || current.actions.length > 0) {
        current = { conditions: [], actions: [] };
        groups.push(current);
      }
      current.conditions.push(step);
    } else {
      if (current === undefined) {
        current = { conditions: [], actions: [] };
        groups.push(current);
      }
      current.actions.push(step);
    }
  }
  return groups;
}

/**
 * Which parameters of a pattern come from the query string. The matcher hands values over exactly as they are
 * in the URL (still percent-encoded) and the expander form-encodes query values, so binding them undecoded
 * would encode them twice (`nn%3A8020` → `nn%253A8020`); Knox hides that by decoding the whole target query
 * string once more before dispatch (`UrlRewriteRequest.getQueryString`), which also unescapes `%26` into a
 * parameter separator. postern decodes exactly the query-derived values instead, once, when they are bound.
 */
export interface QueryBinding {
  /** Names bound by scheme, authority, path and fragment segments: never decoded. */
  pathNames: ReadonlySet<string>;
  /** Names bound by named query entries (`?op={op}`, `?{host}`). */
  queryNames: ReadonlySet<string>;
  /** A named extra slot (`?{**}`, `?{*}`) binds every other query parameter under its own (encoded) name. */
  extra: boolean;
}

export function queryBinding(t: Template): QueryBinding | undefined {
  const queryNames = new Set<string>();
  for (const segment of t.query.values()) if (segment.paramName !== '') queryNames.add(segment.paramName);
  const extra = t.extra !== null && t.extra.paramName !== '';
  if (queryNames.size === 0 && !extra) return undefined;
  const pathNames = new Set<string>();
  for (const s of [t.scheme, t.username, t.password, t.host, t.port, ...t.path, t.fragment]) {
    if (s && s.paramName !== '') pathNames.add(s.paramName);
  }
  return { pathNames, queryNames, extra };
}

/** `application/x-www-form-urlencoded` decoding; text that is not valid encoding is kept as it is. */
export function formDecode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}

function bindMatch(
  run: RuleRun,
  params: ReadonlyMap<string, ParamValues>,
  query: QueryBinding | undefined,
): void {
  if (query === undefined) {
    run.bind(params);
    return;
  }
  const decoded = new Map<string, ParamValues>();
  for (const [name, values] of params) {
    if (query.queryNames.has(name)) {
      decoded.set(
        name,
        values.map((v) => (v === null ? null : formDecode(v))),
      );
    } else if (query.extra && !query.pathNames.has(name)) {
      decoded.set(
        formDecode(name),
        values.map((v) => (v === null ? null : formDecode(v))),
      );
    } else {
      decoded.set(name, values);
    }
  }
  run.bind(decoded);
}

/** Why the last step failed, for {@link RuleRun} callers that report it. */
export interface RunFailure {
  reason: string;
}

/**
 * Runs a node. `preMatched` carries the parameters of the node's own pattern when the caller already matched it
 * (best-match selection), so the URL is not matched twice.
 * @returns `undefined` on success, or why it failed.
 * @throws {RewriteDecryptError} when an encrypted value does not decrypt.
 */
export function runNode(
  node: FlowNode,
  run: RuleRun,
  preMatched?: ReadonlyMap<string, ParamValues>,
): RunFailure | undefined {
  if (preMatched) {
    bindMatch(run, preMatched, node.query);
  } else if (node.matcher) {
    const match = node.matcher.match(run.literal(), run.matchOptions());
    if (match === undefined) return { reason: 'the URL does not match the pattern' };
    bindMatch(run, match.params, node.query);
  }
  switch (node.flow) {
    case 'OR':
      return runOr(node.groups, run);
    case 'ALL':
      for (const group of node.groups) {
        for (const step of group.conditions) runStep(step, run);
        for (const step of group.actions) runStep(step, run);
      }
      return undefined;
    default:
      return runAnd(node.groups, run);
  }
}

function runAnd(groups: StepGroup[], run: RuleRun): RunFailure | undefined {
  for (const group of groups) {
    for (const step of group.conditions) {
      const failure = runStep(step, run);
      if (failure) return failure;
    }
    for (const step of group.actions) {
      const failure = runStep(step, run);
      if (failure) return failure;
    }
  }
  return undefined;
}

function runOr(groups: StepGroup[], run: RuleRun): RunFailure | undefined {
  for (const group of groups) {
    if (group.conditions.length > 0) {
      let last: RunFailure | undefined;
      let matched = false;
      for (const step of group.conditions) {
        last = runStep(step, run);
        if (last === undefined) {
          matched = true;
          break;
        }
      }
      if (!matched) return last ?? { reason: 'no alternative matched' };
    }
    for (const step of group.actions) {
      const failure = runStep(step, run);
      if (failure) return failure;
    }
  }
  return undefined;
}

function runStep(step: Step, run: RuleRun): RunFailure | undefined {
  switch (step.kind) {
    case 'match':
      return runNode(step.node, run);
    case 'rewrite': {
      const out = expand(step.template, run);
      if (typeof out !== 'string') return out;
      run.url = out;
      return undefined;
    }
    case 'check':
    case 'control':
      // Knox's UrlRewriteCheckProcessorExt / UrlRewriteControlProcessorExt always answer FAILURE.
      return { reason: `a ${step.kind} step never succeeds` };
    case 'encrypt-query':
      run.url = encryptQuery(run.url, step.cipher);
      return undefined;
    case 'decrypt-query':
      run.url = decryptQuery(run.url, step.cipher, run.ruleName);
      return undefined;
    case 'encrypt': {
      const value = expand(step.template, run);
      if (typeof value !== 'string') return value;
      if (value === '') return { reason: 'the encrypt template expanded to nothing' };
      run.bind(new Map([[step.param, [step.cipher.encrypt(value)]]]));
      return undefined;
    }
    case 'decrypt': {
      const token = run.resolve(step.param)?.[0];
      const clear = token === undefined ? undefined : step.cipher.decrypt(token);
      if (clear === undefined) throw new RewriteDecryptError(run.ruleName);
      run.bind(new Map([[step.param, [clear]]]));
      return undefined;
    }
  }
}

/** Expands a template with the run's parameters; a function that cannot answer fails the step. */
function expand(template: Template, run: RuleRun): string | RunFailure {
  run.functionFailure = undefined;
  const out = expandTemplate(template, run.params, run.evaluate, run.variable);
  if (run.functionFailure !== undefined) return { reason: run.functionFailure };
  return out;
}

/** Splits `base?query#fragment`; the fragment never travels in the encrypted part. */
function splitUrl(url: string): { base: string; query: string | undefined; fragment: string } {
  const hash = url.indexOf('#');
  const fragment = hash >= 0 ? url.slice(hash) : '';
  const beforeHash = hash >= 0 ? url.slice(0, hash) : url;
  const q = beforeHash.indexOf('?');
  if (q < 0) return { base: beforeHash, query: undefined, fragment };
  return { base: beforeHash.slice(0, q), query: beforeHash.slice(q + 1), fragment };
}

/**
 * Replaces the whole query by one parameter `_` holding it encrypted (as printed, still percent-encoded), so the
 * client sees neither the backend host nor anything else the query carried. No query: nothing to do.
 */
export function encryptQuery(url: string, cipher: TokenCipher): string {
  const { base, query, fragment } = splitUrl(url);
  if (query === undefined || query === '') return url;
  return `${base}?${ENCRYPTED_QUERY_PARAM}=${cipher.encrypt(query)}${fragment}`;
}

/**
 * Undoes {@link encryptQuery}: the parameters inside `_` come back after the clear ones, and a clear parameter
 * with the name of an encrypted one is dropped, so a client cannot override what the gateway sealed (Knox does
 * the same).
 * @throws {RewriteDecryptError} when `_` is missing or does not decrypt.
 */
export function decryptQuery(url: string, cipher: TokenCipher, ruleName: string): string {
  const { base, query, fragment } = splitUrl(url);
  const parts = query === undefined ? [] : query.split('&').filter((p) => p !== '');
  let token: string | undefined;
  const clear: string[] = [];
  for (const part of parts) {
    const name = queryName(part);
    if (name === ENCRYPTED_QUERY_PARAM) token ??= part.slice(name.length + 1);
    else clear.push(part);
  }
  const plain = token === undefined ? undefined : cipher.decrypt(token);
  if (plain === undefined) throw new RewriteDecryptError(ruleName);
  const sealed = plain.split('&').filter((p) => p !== '');
  const sealedNames = new Set(sealed.map(queryName));
  const all = [...clear.filter((p) => !sealedNames.has(queryName(p))), ...sealed];
  return all.length > 0 ? `${base}?${all.join('&')}${fragment}` : `${base}${fragment}`;
}

function queryName(part: string): string {
  const eq = part.indexOf('=');
  return eq < 0 ? part : part.slice(0, eq);
}
