/**
 * @module explain/format
 * An {@link Explanation} as text for a terminal (`postern explain` without `--json`). Every position is printed
 * as `file:line:column`, relative to the home when the file is inside it.
 */
import { isAbsolute, relative, sep } from 'node:path';
import type { Explanation } from './explain.ts';

export interface FormatOptions {
  /** Print files inside this directory relative to it. */
  relativeTo?: string;
}

export function formatExplanation(e: Explanation, options: FormatOptions = {}): string {
  const base = options.relativeTo;
  const file = (p: string) => {
    if (!base || !isAbsolute(p)) return p;
    const r = relative(base, p);
    return r.startsWith(`..${sep}`) || r === '..' || isAbsolute(r) ? p : r;
  };
  const lines: string[] = [];
  const push = (s = '') => lines.push(s);

  const who = e.request.user !== undefined ? ` as ${e.request.user}` : '';
  const groups = e.request.groups ? ` (groups ${e.request.groups.join(', ')})` : '';
  push(`${e.request.method} ${e.request.url}${who}${groups}`);
  switch (e.outcome) {
    case 'proxied':
      push(`→ proxied to ${e.backend?.url}`);
      break;
    case 'answered':
      push(`→ answered by the gateway: ${e.reason}`);
      break;
    default:
      push(`→ ${e.status} ${e.code}: ${e.reason}`);
      if (e.challenge !== undefined) push(`  credentials needed: WWW-Authenticate: ${e.challenge}`);
  }

  if (e.candidates?.topologies) {
    push();
    push(e.candidates.topologies.length > 0 ? 'topologies:' : 'no topology is deployed');
    for (const t of e.candidates.topologies) push(`  ${t}`);
  }
  if (e.topology) {
    push();
    push(`topology  ${e.topology.name}  ${file(e.topology.file)}`);
    push(`path      ${e.topology.path}`);
  }
  if (e.candidates?.routes) {
    push();
    push('nearest routes:');
    const width = Math.max(0, ...e.candidates.routes.map((r) => r.pattern.length));
    const service = Math.max(0, ...e.candidates.routes.map((r) => r.service.length));
    for (const r of e.candidates.routes) {
      push(`  ${r.pattern.padEnd(width)}  ${r.service.padEnd(service)}  ${r.reason}`);
      push(`  ${' '.repeat(width)}  ${file(r.at)}`);
    }
  }
  if (e.route) {
    const params = Object.entries(e.route.params)
      .map(([k, v]) => `${k}=${v.map((x) => x ?? '').join('/')}`)
      .join('  ');
    push(`route     ${e.route.pattern}  of ${e.route.service} (${e.route.definition})  ${file(e.route.at)}`);
    if (params) push(`          ${params}`);
  }
  if (e.losers.length > 0) {
    push();
    push('not chosen:');
    const width = Math.max(0, ...e.losers.map((r) => r.pattern.length));
    const service = Math.max(0, ...e.losers.map((r) => r.service.length));
    for (const r of e.losers) {
      push(`  ${r.pattern.padEnd(width)}  ${r.service.padEnd(service)}  ${r.reason}`);
    }
    if (e.omittedLosers > 0) push(`  … and ${e.omittedLosers} more that do not match`);
  }

  if (e.chain.length > 0) {
    push();
    push('chain:');
    const width = Math.max(0, ...e.chain.map((s) => `${s.role}/${s.name}`.length));
    e.chain.forEach((s, i) => {
      const name = `${s.role}/${s.name}`.padEnd(width);
      push(`  ${String(i + 1).padStart(2)}. ${name}  ${s.effect.padEnd(11)}${s.note ?? ''}`.trimEnd());
      const indent = ' '.repeat(6 + width + 2);
      for (const [k, v] of Object.entries(s.params)) push(`${indent}${k} = ${v}`);
    });
  }

  if (e.rewrites.length > 0) {
    push();
    push('rewrites:');
    for (const r of e.rewrites) {
      const rule = r.rule ? `  ${r.rule}` : '';
      const chosen = r.chosen ? ` (${r.chosen})` : '';
      const by = r.by !== 'rewrite/url-rewrite' && r.by !== 'rewrite' ? `  by ${r.by}` : '';
      push(`  ${r.step}${rule}${chosen}${by}${r.at ? `  ${file(r.at)}` : ''}`);
      if (r.before !== undefined) push(`      before  ${r.before}`);
      if (r.after !== undefined) push(`      after   ${r.after}`);
      if (r.note) push(`      ${r.note}`);
    }
  }

  if (e.backend) {
    push();
    push('backend request:');
    push(`  ${e.backend.method} ${e.backend.url}`);
    for (const [k, v] of Object.entries(e.backend.headers)) push(`  ${k}: ${v}`);
    for (const h of e.backend.notForwarded) push(`  (not sent: ${h.name}: ${h.reason})`);
  }

  if (e.assumptions.length > 0) {
    push();
    push('assumed:');
    for (const a of e.assumptions) push(`  - ${a}`);
  }
  if (e.response) {
    const r = e.response;
    const show = (h: Record<string, string | string[]>) =>
      Object.entries(h).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `    ${k}: ${x}`));
    push();
    push('backend response headers:');
    push(...show(r.backend));
    push('  after the outbound rules:');
    push(...show(r.afterRules));
    if (r.leaks.length === 0) push('  leak guard: no backend address left');
    for (const l of r.leaks) {
      const fix =
        l.rewrite !== undefined
          ? `rewrite mode makes it ${l.rewrite} (${l.by})`
          : 'rewrite mode cannot map it';
      push(`  leak guard: ${l.where} holds ${l.origin} (${l.service}): ${fix}`);
    }
    push(`  the client gets (postern.rewrite.leak.guard=${r.mode}):`);
    push(...show(r.client));
  }

  if (e.notes.length > 0) {
    push();
    push('notes:');
    for (const n of e.notes) push(`  - ${n}`);
  }
  return `${lines.join('\n')}\n`;
}
