/**
 * @module rewrite/body/plan
 * Body rewriting for one binding (`response.body` or `request.body` of a route), prepared at deployment:
 * {@link compileBodyPlan} compiles every content of the bound filter (paths, expressions) and reports what cannot
 * be used at its line; {@link BodyPlan.rewriter} then picks, per body, the filter for its Content-Type the way
 * Knox does (`UrlRewriteResponse.streamResponse`, `UrlRewriteRequest.getInputStream`):
 *
 * - the filter's content for the media type (exact type, `type/*`, `* /subtype`, `* / *`), its `asType` choosing
 *   which filter reads the body;
 * - no content (no binding, a binding that names a rule rather than a filter, or no content for this type):
 *   Knox still runs the filter of the body's type with no selectors, so HTML, XML, JSON and form values go to
 *   best match; JavaScript and CSS without applies are left alone.
 *
 * A body is only opened when something could change: applies to run, or best-match rules in the direction and
 * scope (a topology without any leaves every body alone at no cost).
 */
import type { DiagnosticSink } from '../../config/diagnostics.ts';
import type { RewriteRules } from '../../spi/rewrite.ts';
import type { FilterContent, RewriteFilter } from '../model.ts';
import { compileFormContent, type FormContent, FormRewriter } from './form.ts';
import { HtmlRewriter } from './html.ts';
import { compileJsonContent, type JsonContent, JsonRewriter } from './json.ts';
import { JsonPathError } from './json-path.ts';
import { type BodyKind, bodyKind, isAsciiCompatible, type MediaType, parseMediaType } from './media-type.ts';
import { compileRegexApply, type RegexApply, RegexApplyError, RegexTextRewriter } from './regex.ts';
import type { BodyContext, TextRewriter } from './values.ts';
import { compileXmlContent, type XmlContent, XmlRewriter } from './xml.ts';
import { XmlPathError } from './xml-path.ts';

const HEADERS_TYPE = 'application/x-http-headers';

/** One content of the filter, compiled for the filter that reads it. */
type Compiled =
  | { kind: 'html' | 'javascript' | 'css'; applies: RegexApply[] }
  | { kind: 'json'; content: JsonContent }
  | { kind: 'xml'; content: XmlContent }
  | { kind: 'form'; content: FormContent };

const EMPTY: Record<BodyKind, Compiled> = {
  html: { kind: 'html', applies: [] },
  javascript: { kind: 'javascript', applies: [] },
  css: { kind: 'css', applies: [] },
  json: { kind: 'json', content: { applies: [], buffers: [] } },
  xml: { kind: 'xml', content: { applies: [], buffers: [] } },
  form: { kind: 'form', content: { rules: new Map() } },
};

function isEmpty(c: Compiled): boolean {
  switch (c.kind) {
    case 'json':
    case 'xml':
      return c.content.applies.length === 0 && c.content.buffers.length === 0;
    case 'form':
      return c.content.rules.size === 0;
    default:
      return c.applies.length === 0;
  }
}

/** What the per-body half needs from the exchange. */
export interface OpenOptions extends Omit<BodyContext, 'charset'> {}

export interface BodyPlan {
  /** The filter name bound (for messages), if any. */
  readonly filter: string | undefined;
  /** Whether any body could be rewritten at all (selectors to run, or best-match rules); if not, skip bodies. */
  readonly active: boolean;
  /**
   * The rewriter for a body with this Content-Type, or `undefined` when it passes unchanged (no filter for its
   * type, nothing that could change it, or a charset that cannot be rewritten, which is reported).
   */
  rewriter(contentType: string | undefined, options: OpenOptions): TextRewriter | undefined;
}

/** Reads the content's selectors for the filter of `kind`; a path the filter cannot use is a warning, and skipped. */
function compileContent(
  kind: BodyKind,
  content: FilterContent,
  filterName: string,
  sink: DiagnosticSink,
): Compiled {
  const usable = <T extends { pos: FilterContent['pos'] }>(
    items: readonly T[],
    test: (item: T) => void,
  ): T[] =>
    items.filter((item) => {
      try {
        test(item);
        return true;
      } catch (err) {
        if (
          !(err instanceof JsonPathError || err instanceof XmlPathError || err instanceof RegexApplyError)
        ) {
          throw err;
        }
        sink.warn(item.pos, `filter "${filterName}" (${content.type}): ${err.message}; this path is ignored`);
        return false;
      }
    });
  switch (kind) {
    case 'html':
    case 'javascript':
    case 'css':
      return {
        kind,
        applies: usable(content.applies, (a) => compileRegexApply(a)).map((a) => compileRegexApply(a)),
      };
    case 'json': {
      const applies = usable(content.applies, (a) => compileJsonContent([a], []));
      const buffers = usable(content.buffers, (b) => compileJsonContent([], [b]));
      return { kind, content: compileJsonContent(applies, buffers) };
    }
    case 'xml': {
      const applies = usable(content.applies, (a) => compileXmlContent([a], []));
      const buffers = usable(content.buffers, (b) => compileXmlContent([], [b]));
      return { kind, content: compileXmlContent(applies, buffers) };
    }
    case 'form':
      return { kind, content: compileFormContent(content) };
  }
}

/** The filter a content is read with: its `asType`, else the body's own type. */
function kindFor(content: FilterContent | undefined, mt: MediaType): BodyKind | undefined {
  if (content?.asType !== undefined && content.asType.trim() !== '') {
    const as = parseMediaType(content.asType);
    return as ? bodyKind(as) : undefined;
  }
  return bodyKind(mt);
}

/**
 * Prepares the body rewriting of one binding (or of none: Knox's defaults). Warnings go to `sink` at the line of
 * the path that cannot be used.
 */
export function compileBodyPlan(options: {
  rules: RewriteRules;
  /** The bound filter; `undefined` when the binding names none (or there is no binding). */
  filter: RewriteFilter | undefined;
  dir: 'IN' | 'OUT';
  /** The route's service role (best match prefers its rules). */
  scope: string;
  sink: DiagnosticSink;
}): BodyPlan {
  const { rules, filter, dir, scope, sink } = options;
  const compiled = new Map<FilterContent, Compiled>();
  for (const content of filter?.contents ?? []) {
    if (content.type.trim().toLowerCase() === HEADERS_TYPE) continue;
    const declared = parseMediaType(content.type);
    const kind = content.asType
      ? kindFor(content, declared ?? { essence: '', type: '', subtype: '' })
      : declared && bodyKind(declared);
    if (kind === undefined) continue; // e.g. Presto's `* / *` as `text/plain`: that body is left alone
    compiled.set(content, compileContent(kind, content, filter!.name, sink));
  }
  const bestMatch = rules.hasBestMatchRules(dir, scope);
  const filterName = filter?.name;

  const active = bestMatch || [...compiled.values()].some((c) => !isEmpty(c));

  return {
    filter: filterName,
    active,
    rewriter(contentType, open) {
      const mt = parseMediaType(contentType);
      if (!mt) return undefined;
      let content = filterName ? rules.filterContent(filterName, mt.essence) : undefined;
      if (content === undefined && filterName) {
        // `application/vnd.x+json` reads as JSON, so a `* /json` content applies to it too.
        const suffix = /\+(json|xml)$/.exec(mt.subtype)?.[1];
        if (suffix) content = rules.filterContent(filterName, `${mt.type}/${suffix}`);
      }
      if (content !== undefined && content.type.trim().toLowerCase() === HEADERS_TYPE) content = undefined;
      const kind = kindFor(content, mt);
      if (kind === undefined) return undefined;
      const plan = (content && compiled.get(content)) ?? EMPTY[kind];
      if (isEmpty(plan) && (!bestMatch || plan.kind === 'javascript' || plan.kind === 'css'))
        return undefined;
      if (!isAsciiCompatible(mt.charset)) {
        open.report('charset', `a ${mt.essence} body in ${mt.charset} is not rewritten`);
        return undefined;
      }
      const ctx: BodyContext = { ...open, charset: mt.charset };
      switch (plan.kind) {
        case 'html':
          return new HtmlRewriter(plan.applies, ctx);
        case 'javascript':
        case 'css':
          return new RegexTextRewriter(plan.applies, ctx);
        case 'json':
          return new JsonRewriter(plan.content, ctx);
        case 'xml':
          return new XmlRewriter(plan.content, ctx);
        case 'form':
          return new FormRewriter(plan.content, ctx);
      }
    },
  };
}
