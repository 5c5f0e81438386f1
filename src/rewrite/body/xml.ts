/**
 * @module rewrite/body/xml
 * Knox's XML filter (`XmlFilterReader` + `XmlUrlRewriteFilterReader`), streaming, on saxes (a conformant
 * parser: a body that is not well-formed XML fails, and the driver passes it through):
 * - with no selectors (no content for the type, or an empty one), every attribute value and every text that can
 *   be a URL goes to best match;
 * - otherwise an attribute goes to the rule of the first `<apply>` whose path selects it
 *   (`/ClusterStatus/LiveNodes/Node/@name`), an element's text to the rule of the first apply that selects the
 *   element (`/apps/app/trackingUrl`, or `…/text()`), and nothing else is touched;
 * - a `<buffer path>` holds each element it selects (within the limit), then runs its applies and, when a
 *   `<detect path value>` finds its regular expression in the element it selects, the detect's applies; paths
 *   inside a buffer are relative to the buffered element (`value`, `name`, `@location`), as in Knox.
 *
 * The document is written again from the parser's events, as Knox does: the same elements, attributes, text,
 * comments and declarations, with attributes in double quotes and only the characters XML needs escaped.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import type { FilterApply, FilterBuffer } from '../model.ts';
import { compileRegexApply, type RegexApply } from './regex.ts';
import {
  type BodyContext,
  BodyLimitError,
  BodyParseError,
  rewriteBodyValue,
  type TextRewriter,
} from './values.ts';
import { matchesAttribute, matchesElement, parseXmlPath, type XmlPath } from './xml-path.ts';

export interface XmlApply {
  path: XmlPath;
  rule: string;
}

export interface XmlBuffer {
  path: XmlPath;
  applies: XmlApply[];
  detects: { path: XmlPath; value: RegexApply; applies: XmlApply[] }[];
}

export interface XmlContent {
  applies: XmlApply[];
  buffers: XmlBuffer[];
}

/** Compiles an XML content's paths; throws XmlPathError or RegexApplyError. */
export function compileXmlContent(
  applies: readonly Pick<FilterApply, 'path' | 'rule'>[],
  buffers: readonly FilterBuffer[],
): XmlContent {
  const apply = (a: Pick<FilterApply, 'path' | 'rule'>): XmlApply => ({
    path: parseXmlPath(a.path),
    rule: a.rule,
  });
  return {
    applies: applies.map(apply),
    buffers: buffers.map((b) => ({
      path: parseXmlPath(b.path),
      applies: b.applies.map(apply),
      detects: b.detects.map((d) => ({
        path: parseXmlPath(d.path),
        value: compileRegexApply({ path: d.value, rule: '' }),
        applies: d.applies.map(apply),
      })),
    })),
  };
}

/** A buffered element: enough of a DOM to evaluate paths on and write back. */
interface Elem {
  name: string;
  attrs: [string, string][];
  children: Node[];
  selfClosing: boolean;
}
type Node = Elem | { text: string; cdata: boolean } | { raw: string };

const isElem = (n: Node): n is Elem => 'name' in n;

function escapeText(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

function escapeAttr(s: string): string {
  return s.replace(/[&<"\t\n\r]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '"' ? '&quot;' : `&#${c.charCodeAt(0)};`,
  );
}

function cdata(s: string): string {
  return `<![CDATA[${s.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

function startTag(name: string, attrs: readonly [string, string][], selfClosing: boolean): string {
  let s = `<${name}`;
  for (const [n, v] of attrs) s += ` ${n}="${escapeAttr(v)}"`;
  return `${s}${selfClosing ? '/>' : '>'}`;
}

function serialize(n: Node): string {
  if (!isElem(n)) {
    if ('raw' in n) return n.raw;
    return n.cdata ? cdata(n.text) : escapeText(n.text);
  }
  if (n.selfClosing && n.children.length === 0) return startTag(n.name, n.attrs, true);
  return `${startTag(n.name, n.attrs, false)}${n.children.map(serialize).join('')}</${n.name}>`;
}

function textContent(n: Elem): string {
  let s = '';
  for (const c of n.children) s += isElem(c) ? textContent(c) : 'text' in c ? c.text : '';
  return s;
}

const BOM = '\xef\xbb\xbf';

/** Deeper nesting than this is not a document a service writes: the body passes unchanged (memory stays bounded). */
export const MAX_DEPTH = 4096;

export class XmlRewriter implements TextRewriter {
  readonly #content: XmlContent;
  readonly #ctx: BodyContext;
  readonly #parser: SaxesParser<{ xmlns: false; position: true }>;
  /** No selectors: best match for every attribute and text. */
  readonly #everything: boolean;
  #raw = '';
  #rawStart = 0;
  /** Input up to here is stood for by output already produced. */
  #done = 0;
  /** Where the parser's positions start in the body (after a byte order mark). */
  #base = 0;
  #out: string[] = [];
  #stack: string[] = [];
  #buffer: { config: XmlBuffer; depth: number; open: Elem[]; ancestors: string[] } | undefined;
  /** The start of the body while it may still be a byte order mark. */
  #first: string | undefined = '';

  constructor(content: XmlContent, ctx: BodyContext) {
    this.#content = content;
    this.#ctx = ctx;
    this.#everything = content.applies.length === 0 && content.buffers.length === 0;
    const p = new SaxesParser({ xmlns: false, position: true });
    this.#parser = p;
    p.on('error', (err) => {
      throw new BodyParseError(`not XML: ${err.message}`, { cause: err });
    });
    p.on('xmldecl', (d) => {
      let s = `<?xml version="${d.version ?? '1.0'}"`;
      if (d.encoding !== undefined) s += ` encoding="${d.encoding}"`;
      if (d.standalone !== undefined) s += ` standalone="${d.standalone}"`;
      this.#emit(`${s}?>`, p.position);
    });
    p.on('doctype', (d) => this.#emit(`<!DOCTYPE${d}>`, p.position));
    p.on('processinginstruction', (pi) =>
      this.#node({ raw: `<?${pi.target}${pi.body === '' ? '' : ` ${pi.body}`}?>` }, p.position),
    );
    p.on('comment', (c) => this.#node({ raw: `<!--${c}-->` }, p.position));
    p.on('text', (t) => this.#text(t, false, p.position - 1));
    p.on('cdata', (t) => this.#text(t, true, p.position));
    p.on('opentag', (tag) => this.#open(tag, p.position));
    p.on('closetag', (tag) => this.#close(tag, p.position));
  }

  write(text: string): string {
    let input = text;
    if (this.#first !== undefined) {
      // saxes reads characters, not bytes: a UTF-8 byte order mark (possibly split over chunks) is kept out of
      // its way and written as it came.
      input = this.#first + input;
      if (input.length < BOM.length && BOM.startsWith(input)) {
        this.#first = input;
        return '';
      }
      this.#first = undefined;
      if (input.startsWith(BOM)) {
        this.#out.push(BOM);
        input = input.slice(BOM.length);
        this.#base = BOM.length;
        this.#rawStart = BOM.length;
        this.#done = BOM.length;
      }
    }
    this.#raw += input;
    this.#parser.write(input);
    this.#release();
    return this.#take();
  }

  end(): string {
    if (this.#first) this.#raw += this.#first;
    if (this.#first) this.#parser.write(this.#first);
    this.#parser.close();
    this.#release();
    return this.#take();
  }

  unsent(): string {
    // The output produced so far stands for the input up to `#done`; the rest goes as it came.
    return this.#take() + (this.#first ?? '') + this.#raw.slice(Math.max(0, this.#done - this.#rawStart));
  }

  #take(): string {
    const out = this.#out.length === 1 ? this.#out[0] : this.#out.join('');
    this.#out = [];
    return out;
  }

  /** Drops the input the output stands for; refuses to hold more than the limit. */
  #release(): void {
    const n = this.#done - this.#rawStart;
    if (n > 0) {
      this.#raw = this.#raw.slice(n);
      this.#rawStart = this.#done;
    }
    if (this.#raw.length > this.#ctx.limit) {
      throw new BodyLimitError(
        `an XML element or text held for its filter is larger than ${this.#ctx.limit} bytes`,
      );
    }
  }

  /** Output that stands for the input up to `pos` (unless inside a buffer, which is written when it closes). */
  #emit(s: string, pos: number): void {
    this.#out.push(s);
    this.#done = this.#base + pos;
  }

  #node(n: Node, pos: number): void {
    if (this.#buffer) this.#buffer.open[this.#buffer.open.length - 1].children.push(n);
    else this.#emit('raw' in n ? n.raw : serialize(n), pos);
  }

  #rewrite(value: string, rule: string | undefined): string | undefined {
    if (value === '' || (rule === undefined && !this.#ctx.bestMatchMayApply(value))) return undefined;
    return rewriteBodyValue(value, rule, this.#ctx);
  }

  /** A text (or CDATA) can be a URL: one word; rewrites the word and keeps the blanks around it. */
  #rewriteText(text: string, rule: string | undefined): string | undefined {
    const m = /^(\s*)(\S+)(\s*)$/.exec(text);
    if (!m) return undefined;
    const out = this.#rewrite(m[2], rule);
    return out === undefined ? undefined : `${m[1]}${out}${m[3]}`;
  }

  #text(text: string, isCdata: boolean, pos: number): void {
    if (this.#buffer) {
      this.#node({ text, cdata: isCdata }, pos);
      return;
    }
    let out: string | undefined;
    if (this.#stack.length > 0) {
      if (this.#everything) {
        out = this.#rewriteText(text, undefined);
      } else {
        const apply = this.#content.applies.find(
          (a) => a.path.attribute === undefined && matchesElement(a.path, this.#stack),
        );
        if (apply) out = this.#rewriteText(text, apply.rule);
      }
    }
    this.#emit(isCdata ? cdata(out ?? text) : escapeText(out ?? text), pos);
  }

  #open(tag: SaxesTagPlain, pos: number): void {
    if (this.#stack.length >= MAX_DEPTH)
      throw new BodyLimitError(`XML nested deeper than ${MAX_DEPTH} elements`);
    const attrs = Object.entries(tag.attributes);
    const b = this.#buffer;
    if (b) {
      const el: Elem = { name: tag.name, attrs, children: [], selfClosing: tag.isSelfClosing };
      b.open[b.open.length - 1].children.push(el);
      b.open.push(el);
      this.#stack.push(tag.name);
      return;
    }
    this.#stack.push(tag.name);
    const config = this.#content.buffers.find((c) => matchesElement(c.path, this.#stack));
    if (config) {
      const el: Elem = { name: tag.name, attrs, children: [], selfClosing: tag.isSelfClosing };
      this.#buffer = { config, depth: this.#stack.length, open: [el], ancestors: this.#stack.slice(0, -1) };
      return;
    }
    for (const a of attrs) {
      let rule: string | undefined;
      if (!this.#everything) {
        const apply = this.#content.applies.find(
          (x) => matchesAttribute(x.path, a[0]) && matchesElement(x.path, this.#stack),
        );
        if (!apply) continue;
        rule = apply.rule;
      }
      const out = this.#rewrite(a[1], rule);
      if (out !== undefined) a[1] = out;
    }
    this.#emit(startTag(tag.name, attrs, tag.isSelfClosing), pos);
  }

  #close(tag: SaxesTagPlain, pos: number): void {
    const b = this.#buffer;
    this.#stack.pop();
    if (b) {
      const el = b.open.pop()!;
      if (this.#stack.length === b.depth - 1) {
        this.#buffer = undefined;
        this.#runBuffer(b.config, el, b.ancestors);
        this.#emit(serialize(el), pos);
      }
      return;
    }
    if (!tag.isSelfClosing) this.#emit(`</${tag.name}>`, pos);
  }

  /** The first element, attribute or text a path selects in a buffered element (Knox evaluates to one node). */
  #select(path: XmlPath, root: Elem, ancestors: readonly string[]) {
    const find = (el: Elem, names: string[]): Elem | undefined => {
      const stack = path.absolute ? [...ancestors, ...names] : names.slice(1);
      if (
        matchesElement(path, stack) &&
        (path.attribute === undefined || el.attrs.some((a) => matchesAttribute(path, a[0])))
      ) {
        return el;
      }
      for (const c of el.children) {
        if (!isElem(c)) continue;
        const found = find(c, [...names, c.name]);
        if (found) return found;
      }
      return undefined;
    };
    return find(root, [root.name]);
  }

  #runBuffer(config: XmlBuffer, root: Elem, ancestors: readonly string[]): void {
    const run = (applies: readonly XmlApply[]) => {
      for (const a of applies) {
        const el = this.#select(a.path, root, ancestors);
        if (!el) continue;
        if (a.path.attribute !== undefined) {
          const attr = el.attrs.find((x) => matchesAttribute(a.path, x[0]))!;
          const out = this.#rewrite(attr[1], a.rule);
          if (out !== undefined) attr[1] = out;
        } else {
          const out = this.#rewriteText(textContent(el), a.rule);
          if (out !== undefined) el.children = [{ text: out, cdata: false }];
        }
      }
    };
    run(config.applies);
    for (const d of config.detects) {
      const el = this.#select(d.path, root, ancestors);
      if (!el) continue;
      const value =
        d.path.attribute !== undefined
          ? (el.attrs.find((x) => matchesAttribute(d.path, x[0]))?.[1] ?? '')
          : textContent(el);
      if (d.value.whole.test(value)) run(d.applies);
    }
  }
}
