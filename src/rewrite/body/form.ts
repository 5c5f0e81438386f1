/**
 * @module rewrite/body/form
 * Knox's form filter (`FormFilterReader` + `FormUrlRewriteFilterReader`) for `application/x-www-form-urlencoded`
 * bodies, streaming one `name=value` pair at a time: the value of a field whose name equals an apply's path
 * (ignoring case) goes to that apply's rule; with no selectors at all every value goes to best match
 * (`UrlRewriteUtil.pickFirstRuleWithEqualsIgnoreCasePathMatch`). Values are form-decoded before the rule sees
 * them and form-encoded after; a pair no rule changed is passed as it was written.
 */
import { formEncode } from '../../urltemplate/index.ts';
import { formDecode } from '../engine.ts';
import type { FilterContent } from '../model.ts';
import type { BodyContext, TextRewriter } from './values.ts';

export interface FormContent {
  /** Field name (lower case) → rule; `''` for a name a selector holds without a rule (left alone). */
  rules: Map<string, string>;
}

export function compileFormContent(content: Pick<FilterContent, 'applies' | 'buffers'>): FormContent {
  const rules = new Map<string, string>();
  for (const a of content.applies)
    if (!rules.has(a.path.toLowerCase())) rules.set(a.path.toLowerCase(), a.rule);
  for (const b of content.buffers) if (!rules.has(b.path.toLowerCase())) rules.set(b.path.toLowerCase(), '');
  return { rules };
}

export class FormRewriter implements TextRewriter {
  readonly #content: FormContent;
  readonly #ctx: BodyContext;
  #pending = '';
  /** A pair longer than the limit is being skipped up to its `&`. */
  #skipping = false;

  constructor(content: FormContent, ctx: BodyContext) {
    this.#content = content;
    this.#ctx = ctx;
  }

  write(text: string): string {
    let out = '';
    let rest = this.#pending + text;
    if (this.#skipping) {
      const amp = text.indexOf('&');
      if (amp < 0) return text;
      out = text.slice(0, amp);
      rest = text.slice(amp);
      this.#skipping = false;
    }
    const last = rest.lastIndexOf('&');
    if (last >= 0) {
      out += this.#pairs(rest.slice(0, last + 1));
      rest = rest.slice(last + 1);
    }
    if (rest.length > this.#ctx.limit) {
      this.#ctx.report(
        'value-over-limit',
        `a form field of more than ${this.#ctx.limit} bytes passes unchanged`,
      );
      out += rest;
      rest = '';
      this.#skipping = true;
    }
    this.#pending = rest;
    return out;
  }

  end(): string {
    const rest = this.#pending;
    this.#pending = '';
    return this.#pairs(rest);
  }

  unsent(): string {
    return this.#pending;
  }

  #pairs(text: string): string {
    const parts = text.split('&');
    for (let i = 0; i < parts.length; i++) {
      const out = this.#pair(parts[i]);
      if (out !== undefined) parts[i] = out;
    }
    return parts.join('&');
  }

  #pair(pair: string): string | undefined {
    const eq = pair.indexOf('=');
    if (eq < 0) return undefined;
    const name = formDecode(pair.slice(0, eq));
    const value = formDecode(pair.slice(eq + 1));
    let rule: string | undefined;
    if (this.#content.rules.size > 0) {
      rule = this.#content.rules.get(name.toLowerCase());
      if (!rule) return undefined;
    } else if (value === '' || !this.#ctx.bestMatchMayApply(value)) {
      return undefined;
    }
    // Form decoding already gave a real string (percent-escapes are UTF-8).
    const out = this.#ctx.rewrite(value, rule);
    return out === undefined || out === value ? undefined : `${pair.slice(0, eq + 1)}${formEncode(out)}`;
  }
}
