/**
 * @module config/xml
 * A small XML DOM with positions, built on `saxes`, for every XML file postern reads (gateway-site.xml, topologies,
 * service.xml, rewrite.xml). fast-xml-parser is faster but forgets where things are; a config reader that cannot
 * say `file:line:column` makes users hunt, so every element and attribute here keeps the position of its first
 * character (the `<` of a start tag, the first letter of an attribute name).
 */
import { SaxesParser } from 'saxes';
import { ConfigError, type DiagnosticSink, type Position } from './diagnostics.ts';
import { didYouMean } from './suggest.ts';

/** A value read either from a child element's text or from an attribute, with where it was written. */
export interface Located {
  value: string;
  pos: Position;
}

/** One element: name, attributes (with positions), child elements in document order and its trimmed text. */
export class XmlElement {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly attrPos: Record<string, Position>;
  readonly children: XmlElement[] = [];
  /** Concatenated text and CDATA directly inside this element, trimmed. */
  text = '';
  readonly pos: Position;

  constructor(name: string, attrs: Record<string, string>, attrPos: Record<string, Position>, pos: Position) {
    this.name = name;
    this.attrs = attrs;
    this.attrPos = attrPos;
    this.pos = pos;
  }

  /** The first child element called `name`. */
  child(name: string): XmlElement | undefined {
    return this.children.find((c) => c.name === name);
  }

  /** Every child element called `name`, in document order. */
  childrenNamed(name: string): XmlElement[] {
    return this.children.filter((c) => c.name === name);
  }

  /** The text of the first child element called `name`. */
  childText(name: string): string | undefined {
    return this.child(name)?.text;
  }

  /**
   * A field Knox lets authors write either way: `<role>x</role>` or `role="x"`. The child element wins when both are
   * given, as Knox's digester applies element rules after attribute rules.
   */
  field(name: string): Located | undefined {
    const el = this.child(name);
    if (el) return { value: el.text, pos: el.pos };
    const value = this.attrs[name];
    if (value !== undefined) return { value, pos: this.attrPos[name] ?? this.pos };
    return undefined;
  }
}

/**
 * Warns about each child element whose name is not in `known`: a typo (`<parm>`) must not vanish silently, but an
 * element postern does not use is not a reason to refuse a file Knox accepts.
 */
export function warnUnknownChildren(el: XmlElement, known: readonly string[], sink: DiagnosticSink): void {
  for (const c of el.children) {
    if (!known.includes(c.name)) sink.warn(c.pos, `unknown element <${c.name}> in <${el.name}>`);
  }
}

/**
 * What an element may hold: the attributes a reader takes from it and its child elements, each with its own shape.
 * An element without `children` holds text only; `any` accepts whatever is inside (free-form descriptions).
 */
export interface XmlShape {
  readonly attributes?: readonly string[];
  readonly children?: { readonly [name: string]: XmlShape };
  readonly any?: boolean;
}

/** Text only: no attribute, no child element. */
export const TEXT: XmlShape = {};

/** Namespace declarations and schema hints are part of XML, not of any format read here. */
const isXmlAttribute = (name: string) =>
  name === 'xmlns' || name.startsWith('xmlns:') || name.startsWith('xsi:');

/**
 * Checks `el` and everything below it against `shape`: each element or attribute the format does not have is an
 * error at its position, with the nearest names the format does have ("did you mean <provider>?"). A misspelt
 * `<provder>` that were only ignored would deploy a topology without its authentication provider.
 */
export function checkShape(el: XmlElement, shape: XmlShape, sink: DiagnosticSink): void {
  if (shape.any) return;
  const attributes = shape.attributes ?? [];
  for (const name of Object.keys(el.attrs)) {
    if (attributes.includes(name) || isXmlAttribute(name)) continue;
    sink.error(
      el.attrPos[name] ?? el.pos,
      `unknown attribute ${name} on <${el.name}>${didYouMean(name, attributes)}`,
    );
  }
  const children = shape.children ?? {};
  const names = Object.keys(children);
  for (const c of el.children) {
    const child = Object.hasOwn(children, c.name) ? children[c.name] : undefined;
    if (child) checkShape(c, child, sink);
    else if (names.length === 0)
      sink.error(c.pos, `unknown element <${c.name}> in <${el.name}>, which holds text only`);
    else
      sink.error(
        c.pos,
        `unknown element <${c.name}> in <${el.name}>${didYouMean(c.name, names, (k) => `<${k}>`)}`,
      );
  }
}

/** Maps string offsets to 1-based line/column; a line ends at `\n`, `\r\n` or a lone `\r`, as XML defines. */
class LineIndex {
  readonly #starts: number[] = [0];
  readonly #file: string;
  constructor(text: string, file: string) {
    this.#file = file;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) this.#starts.push(i + 1);
    }
  }
  at(offset: number): Position {
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.#file, line: lo + 1, column: offset - this.#starts[lo] + 1 };
  }
}

/** Attribute names and their offsets inside a raw start tag; the tag is already well-formed (saxes checked it). */
const ATTRIBUTE = /([^\s=/>]+)\s*=\s*(?:"[^"]*"|'[^']*')/g;

/**
 * Parses a whole XML document.
 * @param text the document (a leading byte-order mark is ignored)
 * @param file the path used in positions and error messages
 * @returns the root element
 * @throws ConfigError at the first well-formedness error, e.g. `site.xml:4:12: malformed XML: unexpected close tag.`
 */
export function parseXml(text: string, file: string): XmlElement {
  // Editors do not count a byte-order mark as a column, so neither do we.
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = new LineIndex(source, file);
  const parser = new SaxesParser({ position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let failure: ConfigError | undefined;
  let tagStart = 0;
  const texts = new Map<XmlElement, string[]>();

  parser.on('error', (err) => {
    if (failure) return; // later errors are usually echoes of the first one
    // saxes' column is 0-based and names the next character, i.e. the 1-based column of the offending one.
    const message = err.message.replace(/^\d+:\d+: /, '');
    failure = ConfigError.at(
      { file, line: parser.line, column: Math.max(parser.column, 1) },
      `malformed XML: ${message}`,
    );
  });
  parser.on('opentagstart', (tag) => {
    // saxes fires this after reading the name and one more character; find the `<` that began it.
    tagStart = source.lastIndexOf(`<${tag.name}`, parser.position - 1);
  });
  parser.on('opentag', (tag) => {
    const raw = source.slice(tagStart, parser.position);
    const attrPos: Record<string, Position> = {};
    for (const m of raw.matchAll(ATTRIBUTE)) attrPos[m[1]] = lines.at(tagStart + (m.index ?? 0));
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(tag.attributes)) attrs[k] = String(v);
    const el = new XmlElement(tag.name, attrs, attrPos, lines.at(tagStart));
    const parent = stack.at(-1);
    if (parent) parent.children.push(el);
    else root ??= el;
    if (!tag.isSelfClosing) stack.push(el);
  });
  parser.on('closetag', (tag) => {
    const el = stack.at(-1);
    // saxes also reports self-closing tags here; those were never pushed.
    if (el && !tag.isSelfClosing) {
      stack.pop();
      el.text = (texts.get(el) ?? []).join('').trim();
      texts.delete(el);
    }
  });
  const addText = (t: string) => {
    const el = stack.at(-1);
    if (!el) return;
    const parts = texts.get(el);
    if (parts) parts.push(t);
    else texts.set(el, [t]);
  };
  parser.on('text', addText);
  parser.on('cdata', addText);

  parser.write(source).close();
  if (failure) throw failure;
  if (!root)
    throw ConfigError.at(
      { file, line: 1, column: 1 },
      'malformed XML: document must contain a root element.',
    );
  return root;
}
