/**
 * @module topology/topology-xml-writer
 * Writes a {@link Topology} as Knox topology XML, the file Knox generates from a simple descriptor
 * (`conf/topologies/{name}.xml` with `<generated>true</generated>`). Reading the output back with the XML reader
 * gives the same content (see topology/compare).
 */
import type { ChainRef, DispatchOverride, Param, Topology } from './model.ts';

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;',
  );
}

/** Accumulates indented lines; Knox's generated files use four spaces. */
class Lines {
  readonly out: string[] = [];
  #depth = 0;
  open(tag: string): void {
    this.out.push(`${'    '.repeat(this.#depth++)}<${tag}>`);
  }
  close(tag: string): void {
    this.out.push(`${'    '.repeat(--this.#depth)}</${tag}>`);
  }
  leaf(tag: string, value: string | boolean | undefined): void {
    if (value === undefined) return;
    this.out.push(`${'    '.repeat(this.#depth)}<${tag}>${escapeXml(String(value))}</${tag}>`);
  }
}

function writeParams(w: Lines, params: readonly Param[]): void {
  for (const p of params) {
    w.open('param');
    w.leaf('name', p.name);
    w.leaf('value', p.value);
    w.close('param');
  }
}

function writeDispatch(w: Lines, d: DispatchOverride): void {
  w.open('dispatch');
  w.leaf('contributor-name', d.contributorName);
  w.leaf('ha-contributor-name', d.haContributorName);
  w.leaf('classname', d.className);
  w.leaf('ha-classname', d.haClassName);
  w.leaf('http-client-factory', d.httpClientFactory);
  w.leaf('use-two-way-ssl', d.useTwoWaySsl);
  writeParams(w, d.params);
  w.close('dispatch');
}

function writeChainRef(w: Lines, ref: ChainRef): void {
  w.open('chain-ref');
  w.leaf('name', ref.name);
  for (const p of ref.params) {
    w.open('param');
    w.leaf('role', p.role);
    w.leaf('name', p.name);
    w.leaf('value', p.value);
    w.close('param');
  }
  w.close('chain-ref');
}

/** Knox-compatible topology XML for `t` (positions and the source file are not written). */
export function toTopologyXml(t: Topology): string {
  const w = new Lines();
  w.open('topology');
  if (t.generated) w.leaf('generated', true);
  w.leaf('path', t.defaultPath);
  w.open('gateway');
  for (const p of t.providers) {
    w.open('provider');
    w.leaf('role', p.role);
    w.leaf('name', p.name);
    w.leaf('enabled', p.enabled);
    writeParams(w, p.params);
    w.close('provider');
  }
  for (const c of t.chains) {
    w.open('chain');
    w.leaf('name', c.name);
    for (const ref of c.providers) {
      w.open('provider-ref');
      w.leaf('role', ref.role);
      w.leaf('name', ref.name);
      writeParams(w, ref.params);
      w.close('provider-ref');
    }
    w.close('chain');
  }
  w.close('gateway');
  for (const s of t.services) {
    w.open('service');
    w.leaf('role', s.role);
    w.leaf('name', s.name);
    w.leaf('version', s.version);
    for (const u of s.urls) w.leaf('url', u.url);
    writeParams(w, s.params);
    if (s.dispatch) writeDispatch(w, s.dispatch);
    if (s.chainRef) writeChainRef(w, s.chainRef);
    w.close('service');
  }
  for (const a of t.applications) {
    w.open('application');
    w.leaf('name', a.name);
    w.leaf('role', a.role);
    w.leaf('version', a.version);
    for (const u of a.urls) w.leaf('url', u.url);
    writeParams(w, a.params);
    w.close('application');
  }
  w.close('topology');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${w.out.join('\n')}\n`;
}
