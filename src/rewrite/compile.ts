/**
 * @module rewrite/compile
 * Deployment-time half of the rewrite engine: turns the `rewrite.xml` contents of every service a topology uses
 * into {@link CompiledRewriteRules}. Every pattern and template is parsed here, once; every problem is reported to
 * the sink with its position; nothing is parsed per request except the URL being rewritten.
 *
 * What a problem does to a rule:
 * - a template or pattern that does not parse: error; the rule is dropped (a route that names it is then the
 *   deployer's error to report, see {@link CompiledRewriteRules.hasRule});
 * - a call to a function the registry lacks (`$servicScheme`, a typo in Knox's own HBASEUI definition), a step
 *   postern does not implement (`<filter>` inside a rule), an `encrypt` step without `param`/`template`:
 *   warning; the rule stays (so best-match still selects it) but applying it always fails, which leaves the URL
 *   alone. Knox would instead print the raw `{$servicScheme[HBASEUI]}` into the URL.
 * - a function in a pattern that cannot be expanded at deployment (it reads the request, like `$frontend` without
 *   `gateway.frontend.url` or `$username`; it is unknown; its role is not in the topology): warning; the rule
 *   stays, applying it always fails, and a rule `pattern` that cannot be expanded is left out of best match.
 *   Functions of the topology alone (`$serviceUrl[ROLE]` ...) are expanded into the pattern, see
 *   rewrite/pattern. Knox instead reads such a call as a wildcard parameter.
 * - a second rule with a name already used: warning; both take part in best-match, but the first one is the one
 *   applied by name (Knox's `UrlRewriteProcessor` keeps the first holder per name).
 */
import type { DiagnosticSink, Position } from '../config/diagnostics.ts';
import { parseTemplate, type Template, TemplateMatcher } from '../urltemplate/index.ts';
import { createTokenCipher, MIN_SECRET_BYTES, type TokenCipher } from './crypto.ts';
import { type CompiledRule, type FlowNode, groupSteps, queryBinding, type Step } from './engine.ts';
import type { RewriteFilter, RewriteRule, RewriteRules, RewriteStep } from './model.ts';
import { expandPattern } from './pattern.ts';
import { addShape, CompiledRewriteRules, type ScopedMatchers, type ScopedShapes } from './rules.ts';
import type { RewriteEnvironment, RewriteFunctionRegistry } from './types.ts';

/** Knox's `gateway.global.rules.services` default. */
export const DEFAULT_GLOBAL_RULES_SERVICES: readonly string[] = [
  'NAMENODE',
  'JOBTRACKER',
  'WEBHDFS',
  'WEBHCAT',
  'OOZIE',
  'WEBHBASE',
  'HIVE',
  'RESOURCEMANAGER',
];

/** The scope whose rules match whatever the caller's scope is (Knox's `ScopedMatcher.GLOBAL_SCOPE`). */
export const GLOBAL_SCOPE = 'GLOBAL';

export interface CompileOptions {
  functions: RewriteFunctionRegistry;
  sink: DiagnosticSink;
  /** The topology the rules are compiled for: crypto keys and global-rule scoping come from it. */
  env: RewriteEnvironment;
}

/** `{$name` anywhere in a template: the functions it calls. */
const FUNCTION_CALL = /\{\s*\$\s*([^\s[(\]){}]+)/g;

function where(pos: Position): string {
  return `${pos.file}:${pos.line}:${pos.column}`;
}

/** Per-compile state: the sink, the registry, lazily built ciphers. */
class Compiler {
  readonly #opts: CompileOptions;
  #ciphers: Map<string, TokenCipher | null> = new Map();
  #secretReported = false;

  constructor(opts: CompileOptions) {
    this.#opts = opts;
  }

  get sink(): DiagnosticSink {
    return this.#opts.sink;
  }

  /** The cipher of a purpose, or `null` (reported once) when the environment has no usable secret. */
  cipher(purpose: 'encrypt-query' | 'encrypt', pos: Position): TokenCipher | null {
    let cipher = this.#ciphers.get(purpose);
    if (cipher === undefined) {
      const { secret, topology } = this.#opts.env;
      cipher = secret.byteLength >= MIN_SECRET_BYTES ? createTokenCipher(secret, topology, purpose) : null;
      this.#ciphers.set(purpose, cipher);
    }
    if (cipher === null && !this.#secretReported) {
      this.#secretReported = true;
      this.sink.error(
        pos,
        `<${purpose}> needs a rewrite secret of at least ${MIN_SECRET_BYTES} bytes for topology "${this.#opts.env.topology}"`,
      );
    }
    return cipher;
  }

  /** Parses a template; on failure reports it and returns undefined. */
  template(text: string, pos: Position, rule: string, what: string): Template | undefined {
    try {
      return parseTemplate(text);
    } catch (err) {
      this.sink.error(pos, `rule "${rule}": ${what} ${(err as Error).message}; the rule is not deployed`);
      return undefined;
    }
  }

  /**
   * Parses a rule or match pattern and expands the topology functions it calls (see rewrite/pattern). A syntax
   * error drops the rule; a call that cannot be expanded breaks it (warning). Either way: undefined.
   */
  pattern(
    text: string,
    pos: Position,
    rule: RewriteRule,
    what: string,
    problems: RuleProblems,
  ): Template | undefined {
    const template = this.template(text, pos, rule.name, what);
    if (!template) {
      problems.dropped = true;
      return undefined;
    }
    const { env, functions } = this.#opts;
    const expanded = expandPattern(template, { env, functions, dirs: rule.dir ? [rule.dir] : ['IN', 'OUT'] });
    if ('problem' in expanded) {
      markBroken(this, problems, pos, rule.name, `${what}: ${expanded.problem}`);
      return undefined;
    }
    return expanded.template;
  }

  /** Names of the functions a template calls that the registry lacks. */
  unknownFunctions(text: string): string[] {
    const missing: string[] = [];
    for (const m of text.matchAll(FUNCTION_CALL)) {
      if (!this.#opts.functions.has(m[1]) && !missing.includes(m[1])) missing.push(m[1]);
    }
    return missing;
  }

  scope(rule: RewriteRule): string | undefined {
    if (rule.scope !== undefined && rule.scope !== '') return rule.scope;
    const slash = rule.name.indexOf('/');
    if (slash <= 0) return undefined;
    const scope = rule.name.slice(0, slash);
    const globals = this.#opts.env.globalRulesServices ?? DEFAULT_GLOBAL_RULES_SERVICES;
    return globals.includes(scope) ? GLOBAL_SCOPE : scope;
  }
}

/** Why a rule cannot work (first reason), gathered while compiling its steps. */
interface RuleProblems {
  broken?: string;
  dropped: boolean;
}

function compileSteps(steps: RewriteStep[], c: Compiler, rule: RewriteRule, problems: RuleProblems): Step[] {
  const out: Step[] = [];
  for (const step of steps) {
    const compiled = compileStep(step, c, rule, problems);
    if (compiled) out.push(compiled);
  }
  return out;
}

function markBroken(c: Compiler, problems: RuleProblems, pos: Position, rule: string, reason: string): void {
  problems.broken ??= reason;
  c.sink.warn(pos, `rule "${rule}": ${reason}; applying the rule will fail`);
}

function checkFunctions(
  text: string,
  c: Compiler,
  rule: RewriteRule,
  problems: RuleProblems,
  pos: Position,
): void {
  for (const fn of c.unknownFunctions(text))
    markBroken(c, problems, pos, rule.name, `unknown function $${fn}`);
}

function compileStep(
  step: RewriteStep,
  c: Compiler,
  rule: RewriteRule,
  problems: RuleProblems,
): Step | undefined {
  switch (step.kind) {
    case 'match': {
      const template = c.pattern(step.pattern, step.pos, rule, 'match pattern', problems);
      if (!template) {
        // Dropped or broken, and reported. A broken rule never runs, so the step goes; its nested steps are
        // still compiled for what they have to report.
        if (!problems.dropped) compileSteps(step.steps, c, rule, problems);
        return undefined;
      }
      const matcher = new TemplateMatcher<true>();
      matcher.add(template, true);
      const children = compileSteps(step.steps, c, rule, problems);
      return {
        kind: 'match',
        node: {
          matcher,
          query: queryBinding(template),
          flow: step.flow ?? 'AND',
          groups: groupSteps(children),
        },
      };
    }
    case 'rewrite': {
      const template = c.template(step.template, step.pos, rule.name, 'rewrite template');
      if (!template) {
        problems.dropped = true;
        return undefined;
      }
      checkFunctions(step.template, c, rule, problems, step.pos);
      return { kind: 'rewrite', template };
    }
    case 'check':
    case 'control':
      c.sink.warn(step.pos, `rule "${rule.name}": a <${step.kind}> step never succeeds (as in Knox)`);
      return { kind: step.kind };
    case 'encrypt-query':
    case 'decrypt-query': {
      const cipher = c.cipher('encrypt-query', step.pos);
      if (!cipher) {
        problems.dropped = true;
        return undefined;
      }
      return { kind: step.kind, cipher };
    }
    case 'encrypt': {
      if (!step.param || !step.template) {
        markBroken(c, problems, step.pos, rule.name, '<encrypt> needs both param and template');
        return undefined;
      }
      const template = c.template(step.template, step.pos, rule.name, 'encrypt template');
      const cipher = c.cipher('encrypt', step.pos);
      if (!template || !cipher) {
        problems.dropped = true;
        return undefined;
      }
      checkFunctions(step.template, c, rule, problems, step.pos);
      return { kind: 'encrypt', param: step.param, template, cipher };
    }
    case 'decrypt': {
      if (!step.param) {
        markBroken(c, problems, step.pos, rule.name, '<decrypt> needs a param');
        return undefined;
      }
      const cipher = c.cipher('encrypt', step.pos);
      if (!cipher) {
        problems.dropped = true;
        return undefined;
      }
      return { kind: 'decrypt', param: step.param, cipher };
    }
    case 'unknown':
      markBroken(c, problems, step.pos, rule.name, `unsupported step <${step.element}>`);
      return undefined;
  }
}

function compileRule(rule: RewriteRule, c: Compiler): CompiledRule | undefined {
  const problems: RuleProblems = { dropped: false };
  let pattern: Template | undefined;
  let matcher: TemplateMatcher<true> | undefined;
  if (rule.pattern !== undefined) {
    // A pattern whose functions cannot be expanded leaves the rule broken and out of best-match selection.
    pattern = c.pattern(rule.pattern, rule.pos, rule, 'pattern', problems);
    if (pattern) {
      matcher = new TemplateMatcher<true>();
      matcher.add(pattern, true);
    }
  }
  const children = compileSteps(rule.steps, c, rule, problems);
  if (problems.dropped) return undefined;
  const node: FlowNode = {
    matcher,
    query: pattern ? queryBinding(pattern) : undefined,
    flow: rule.flow ?? 'AND',
    groups: groupSteps(children),
  };
  return {
    name: rule.name,
    dir: rule.dir,
    scope: c.scope(rule),
    pattern,
    node,
    broken: problems.broken,
    where: where(rule.pos),
  };
}

/**
 * Compiles the rules and filters of every service definition a topology uses, in the topology's service order
 * (which decides which of two same-named rules wins).
 */
export function compileRewriteRules(
  sources: readonly RewriteRules[],
  options: CompileOptions,
): CompiledRewriteRules {
  const c = new Compiler(options);
  const byName = new Map<string, CompiledRule>();
  const inbound: ScopedMatchers = new Map();
  const outbound: ScopedMatchers = new Map();
  const filters = new Map<string, RewriteFilter>();
  const declared = new Set<string>();

  const relative = { IN: false, OUT: false };
  const shapes = { IN: new Map() as ScopedShapes, OUT: new Map() as ScopedShapes };
  const register = (matchers: ScopedMatchers, rule: CompiledRule, pattern: Template) => {
    if (pattern.scheme === null) relative[matchers === inbound ? 'IN' : 'OUT'] = true;
    const key = rule.scope ?? null;
    addShape(shapes[matchers === inbound ? 'IN' : 'OUT'], key, pattern);
    let matcher = matchers.get(key);
    if (!matcher) {
      matcher = new TemplateMatcher<CompiledRule>();
      matchers.set(key, matcher);
    }
    matcher.add(pattern, rule);
  };

  for (const source of sources) {
    for (const rule of source.rules) {
      declared.add(rule.name);
      const compiled = compileRule(rule, c);
      if (!compiled) continue;
      const first = byName.get(rule.name);
      if (first) {
        c.sink.warn(
          rule.pos,
          `rule "${rule.name}" is already defined at ${first.where}; applied by name, the first definition wins`,
        );
      } else {
        byName.set(rule.name, compiled);
      }
      if (compiled.pattern) {
        if (compiled.dir !== 'OUT') register(inbound, compiled, compiled.pattern);
        if (compiled.dir !== 'IN') register(outbound, compiled, compiled.pattern);
      }
    }
    for (const filter of source.filters) {
      const previous = filters.get(filter.name);
      if (previous) {
        c.sink.warn(
          filter.pos,
          `filter "${filter.name}" is already defined at ${where(previous.pos)}; the last definition wins`,
        );
      }
      filters.set(filter.name, filter);
    }
  }

  // Filters may name rules of any source, so check them once everything is known.
  for (const filter of filters.values()) {
    for (const content of filter.contents) {
      const applies = [
        ...content.applies,
        ...content.buffers.flatMap((b) => [...b.applies, ...b.detects.flatMap((d) => d.applies)]),
      ];
      for (const apply of applies) {
        if (!byName.has(apply.rule)) {
          const why = declared.has(apply.rule) ? 'was not deployed (see its error)' : 'is not defined';
          c.sink.warn(apply.pos, `filter "${filter.name}" applies rule "${apply.rule}", which ${why}`);
        }
      }
    }
  }

  return new CompiledRewriteRules({
    env: options.env,
    functions: options.functions,
    byName,
    inbound,
    outbound,
    filters,
    relative,
    shapes,
  });
}
