/**
 * @module servicedef/rewrite-xml
 * Reads a service definition's `rewrite.xml` (Knox URL-rewrite rules and content filters) into {@link RewriteRules},
 * keeping document order and every position. It only reports what the file says: whether a template parses or a
 * rule named by a filter exists is for src/rewrite to decide when it compiles the rules.
 */
import { readFileSync } from 'node:fs';
import type { DiagnosticSink } from '../config/diagnostics.ts';
import { parseXml, warnUnknownChildren, type XmlElement } from '../config/xml.ts';
import type {
  FilterApply,
  FilterBuffer,
  FilterContent,
  Flow,
  RewriteFilter,
  RewriteRule,
  RewriteRules,
  RewriteStep,
} from '../rewrite/model.ts';

/** Rules with no steps and no filters: what a definition without a rewrite.xml has. */
export function emptyRewriteRules(file: string): RewriteRules {
  return { file, rules: [], filters: [] };
}

/** An attribute that must be present (it may be empty: `<rewrite template=""/>` is legal if useless). */
function requiredAttr(el: XmlElement, attr: string, sink: DiagnosticSink): string | undefined {
  const value = el.attrs[attr];
  if (value === undefined) sink.error(el.pos, `<${el.name}> without the ${attr} attribute`);
  return value;
}

const FLOWS: readonly Flow[] = ['ALL', 'AND', 'OR'];

function readFlow(el: XmlElement, sink: DiagnosticSink): Flow | undefined {
  const raw = el.attrs.flow;
  if (raw === undefined) return undefined;
  const flow = FLOWS.find((f) => f === raw.trim().toUpperCase());
  if (!flow) sink.error(el.attrPos.flow ?? el.pos, `flow must be ALL, AND or OR, found "${raw}"`);
  return flow;
}

/**
 * `dir` as Knox's rule descriptor reads it: a comma-separated, case-insensitive list of in/inbound/request and
 * out/outbound/response. Both directions (or none) mean the rule applies either way.
 */
function readDirection(el: XmlElement, sink: DiagnosticSink): 'IN' | 'OUT' | undefined {
  const raw = el.attrs.dir;
  if (raw === undefined) return undefined;
  const dirs = new Set<'IN' | 'OUT'>();
  for (const word of raw.split(',').map((w) => w.trim().toLowerCase())) {
    if (['in', 'inbound', 'request'].includes(word)) dirs.add('IN');
    else if (['out', 'outbound', 'response'].includes(word)) dirs.add('OUT');
    else sink.error(el.attrPos.dir ?? el.pos, `dir must be IN or OUT, found "${raw}"`);
  }
  return dirs.size === 1 ? [...dirs][0] : undefined;
}

function readSteps(parent: XmlElement, ruleName: string, sink: DiagnosticSink): RewriteStep[] {
  const steps: RewriteStep[] = [];
  for (const el of parent.children) {
    const attrs = { ...el.attrs };
    switch (el.name) {
      case 'match': {
        const pattern = requiredAttr(el, 'pattern', sink) ?? '';
        const flow = readFlow(el, sink);
        const step: RewriteStep = {
          kind: 'match',
          pattern,
          steps: readSteps(el, ruleName, sink),
          pos: el.pos,
        };
        if (flow) step.flow = flow;
        steps.push(step);
        break;
      }
      case 'rewrite':
        steps.push({ kind: 'rewrite', template: requiredAttr(el, 'template', sink) ?? '', pos: el.pos });
        break;
      case 'check':
      case 'control':
      case 'encrypt-query':
      case 'decrypt-query':
        steps.push({ kind: el.name, attrs, pos: el.pos });
        break;
      case 'encrypt': {
        const step: RewriteStep = { kind: 'encrypt', attrs, pos: el.pos };
        if (el.attrs.param !== undefined) step.param = el.attrs.param;
        if (el.attrs.template !== undefined) step.template = el.attrs.template;
        steps.push(step);
        break;
      }
      case 'decrypt': {
        const step: RewriteStep = { kind: 'decrypt', attrs, pos: el.pos };
        if (el.attrs.param !== undefined) step.param = el.attrs.param;
        steps.push(step);
        break;
      }
      default:
        // Kept rather than dropped so deployment can decide; Knox itself has no step by these names.
        sink.warn(el.pos, `unknown rewrite step <${el.name}> in rule "${ruleName}"`);
        steps.push({ kind: 'unknown', element: el.name, attrs, pos: el.pos });
    }
  }
  return steps;
}

function readRule(el: XmlElement, sink: DiagnosticSink): RewriteRule | undefined {
  const name = requiredAttr(el, 'name', sink);
  if (name === undefined) return undefined;
  const rule: RewriteRule = { name, steps: readSteps(el, name, sink), pos: el.pos };
  const dir = readDirection(el, sink);
  if (dir) rule.dir = dir;
  if (el.attrs.pattern !== undefined) rule.pattern = el.attrs.pattern;
  const flow = readFlow(el, sink);
  if (flow) rule.flow = flow;
  if (el.attrs.scope !== undefined) rule.scope = el.attrs.scope;
  return rule;
}

function readApplies(el: XmlElement, sink: DiagnosticSink): FilterApply[] {
  const applies: FilterApply[] = [];
  for (const a of el.childrenNamed('apply')) {
    const path = requiredAttr(a, 'path', sink);
    const rule = requiredAttr(a, 'rule', sink);
    if (path !== undefined && rule !== undefined) applies.push({ path, rule, pos: a.pos });
  }
  return applies;
}

function readBuffer(el: XmlElement, sink: DiagnosticSink): FilterBuffer {
  warnUnknownChildren(el, ['apply', 'detect'], sink);
  const detects: FilterBuffer['detects'] = [];
  for (const d of el.childrenNamed('detect')) {
    warnUnknownChildren(d, ['apply'], sink);
    const path = requiredAttr(d, 'path', sink) ?? '';
    const value = requiredAttr(d, 'value', sink) ?? '';
    detects.push({ path, value, applies: readApplies(d, sink), pos: d.pos });
  }
  return { path: requiredAttr(el, 'path', sink) ?? '', applies: readApplies(el, sink), detects, pos: el.pos };
}

function readContent(el: XmlElement, sink: DiagnosticSink): FilterContent {
  warnUnknownChildren(el, ['apply', 'buffer'], sink);
  const content: FilterContent = {
    type: requiredAttr(el, 'type', sink) ?? '',
    applies: readApplies(el, sink),
    buffers: el.childrenNamed('buffer').map((b) => readBuffer(b, sink)),
    pos: el.pos,
  };
  if (el.attrs.asType !== undefined) content.asType = el.attrs.asType;
  return content;
}

function readFilter(el: XmlElement, sink: DiagnosticSink): RewriteFilter | undefined {
  warnUnknownChildren(el, ['content'], sink);
  const name = requiredAttr(el, 'name', sink);
  const contents = el.childrenNamed('content').map((c) => readContent(c, sink));
  return name === undefined ? undefined : { name, contents, pos: el.pos };
}

/**
 * Reads rewrite.xml text.
 * @throws ConfigError only for XML that is not well-formed; everything else goes to `sink`
 */
export function parseRewriteXml(source: string, file: string, sink: DiagnosticSink): RewriteRules {
  const rules = emptyRewriteRules(file);
  const root = parseXml(source, file);
  if (root.name !== 'rules') {
    sink.error(root.pos, `root element must be <rules>, found <${root.name}>`);
    return rules;
  }
  warnUnknownChildren(root, ['rule', 'filter'], sink);
  for (const el of root.children) {
    if (el.name === 'rule') {
      const rule = readRule(el, sink);
      if (rule) rules.rules.push(rule);
    } else if (el.name === 'filter') {
      const filter = readFilter(el, sink);
      if (filter) rules.filters.push(filter);
    }
  }
  return rules;
}

/**
 * Reads a rewrite.xml file; a file that does not exist gives empty rules (a definition may have none), one that
 * cannot be read gives empty rules and an error.
 * @throws ConfigError for XML that is not well-formed
 */
export function readRewriteXml(file: string, sink: DiagnosticSink): RewriteRules {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyRewriteRules(file);
    sink.error({ file, line: 1, column: 1 }, `cannot read file: ${(err as Error).message}`);
    return emptyRewriteRules(file);
  }
  return parseRewriteXml(source, file, sink);
}
