/**
 * @module rewrite/body/xml-path
 * The XPath subset Knox's XML filters use in `<apply path>`, `<buffer path>` and `<detect path>`: location paths
 * of element names (`/ClusterStatus/LiveNodes/Node`, relative `value`), `*`, the descendant step `//`, and a last
 * step that selects an attribute (`@name`, `@*`) or the element's text (`text()`). Predicates, axes and
 * functions are refused when the filter is compiled. Names compare as written, prefix included.
 */

export interface XmlPathStep {
  /** `//` before the step: any number of levels may come in between. */
  descendant: boolean;
  /** Element name, or `*`. */
  name: string;
}

export interface XmlPath {
  source: string;
  /** Starts at the document (`/…`); a relative path starts at its context (the document, or a buffered element). */
  absolute: boolean;
  steps: XmlPathStep[];
  /** The last step selects this attribute of the element (`*`: any). */
  attribute?: string;
  /** The last step is `text()`. */
  text?: boolean;
}

export class XmlPathError extends Error {
  constructor(path: string, reason: string) {
    super(`XPath "${path}" is outside what postern supports: ${reason}`);
    this.name = 'XmlPathError';
  }
}

const NAME = /^(?:\*|[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)$/;

export function parseXmlPath(source: string): XmlPath {
  const path = source.trim();
  if (path === '') throw new XmlPathError(source, 'empty');
  const absolute = path.startsWith('/');
  const parts = (absolute ? path.slice(1) : path).split('/');
  const steps: XmlPathStep[] = [];
  const out: XmlPath = { source, absolute, steps };
  let descendant = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i].trim();
    const last = i === parts.length - 1;
    if (part === '') {
      if (descendant || last) throw new XmlPathError(source, 'empty step');
      descendant = true;
      continue;
    }
    if (part.startsWith('@')) {
      if (!last) throw new XmlPathError(source, 'an attribute step must be the last');
      const name = part.slice(1);
      if (!NAME.test(name)) throw new XmlPathError(source, `"${part}" is not an attribute name`);
      out.attribute = name;
      if (descendant) steps.push({ descendant: true, name: '*' });
      break;
    }
    if (part === 'text()') {
      if (!last) throw new XmlPathError(source, 'text() must be the last step');
      out.text = true;
      break;
    }
    if (part === '.') continue;
    if (!NAME.test(part)) throw new XmlPathError(source, `"${part}" is not an element name`);
    steps.push({ descendant, name: part });
    descendant = false;
  }
  return out;
}

/**
 * Whether the element at `stack` (names from the context down to the element) is the one the path's element
 * steps select.
 */
export function matchesElement(path: XmlPath, stack: readonly string[]): boolean {
  const steps = path.steps;
  const at = (si: number, ei: number): boolean => {
    if (si === steps.length) return ei === stack.length;
    if (ei === stack.length) return false;
    const step = steps[si];
    if (!step.descendant) {
      return (step.name === '*' || step.name === stack[ei]) && at(si + 1, ei + 1);
    }
    for (let e = ei; e < stack.length; e++) {
      if ((step.name === '*' || step.name === stack[e]) && at(si + 1, e + 1)) return true;
    }
    return false;
  };
  // Fast path for the common case: a fixed-length path from the document only matches at that depth.
  if (!steps.some((s) => s.descendant) && steps.length !== stack.length) return false;
  return at(0, 0);
}

/** Whether an attribute name is the one the path's last step names. */
export function matchesAttribute(path: XmlPath, name: string): boolean {
  return path.attribute !== undefined && (path.attribute === '*' || path.attribute === name);
}
