/**
 * @module rewrite/body/media-type
 * Which body filter a `Content-Type` gets, and whether its charset can be rewritten as bytes.
 *
 * The kinds and the types that select them are Knox's stream filters (`UrlRewriteStreamFilterFactory`): HTML
 * (`text/html`, `application/html`, `* /html`), XML (`* /xml`), JSON (`* /json`), JavaScript (`* /javascript`,
 * `* /x-javascript`) and forms (`* /x-www-form-urlencoded`). postern adds CSS (`* /css`: Knox has no CSS filter, so
 * the `* /css` contents of its definitions do nothing there) and the structured-syntax suffixes `+json` and `+xml`
 * (RFC 6839). Any other type has no filter and its body is never touched.
 *
 * Bodies are rewritten as a "byte string" (each byte one UTF-16 unit, latin1), so every charset that keeps ASCII
 * bytes meaning ASCII (UTF-8, the ISO-8859 and Windows code pages, EUC) passes through byte for byte, chunk
 * boundaries in the middle of a character cannot hurt, and a body that mixes encodings comes out as it came in.
 * Charsets where an ASCII byte can be part of another character (UTF-16/32, ISO-2022, Shift_JIS, Big5, GBK) are
 * not rewritten; see {@link isAsciiCompatible}.
 */

export type BodyKind = 'html' | 'xml' | 'json' | 'javascript' | 'css' | 'form';

export interface MediaType {
  /** `type/subtype`, lower case, without parameters. */
  essence: string;
  type: string;
  subtype: string;
  /** The `charset` parameter, lower case and unquoted; absent when not given. */
  charset?: string;
}

/** Parses a `Content-Type` value; `undefined` when it is not `type/subtype`. */
export function parseMediaType(value: string | undefined): MediaType | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(';');
  const essence = parts[0].trim().toLowerCase();
  const slash = essence.indexOf('/');
  if (slash <= 0 || slash === essence.length - 1) return undefined;
  const mt: MediaType = { essence, type: essence.slice(0, slash), subtype: essence.slice(slash + 1) };
  for (let i = 1; i < parts.length; i++) {
    const eq = parts[i].indexOf('=');
    if (eq < 0 || parts[i].slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const raw = parts[i]
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (raw !== '') mt.charset = raw.toLowerCase();
  }
  return mt;
}

const BY_SUBTYPE: Record<string, BodyKind> = {
  html: 'html',
  xml: 'xml',
  json: 'json',
  javascript: 'javascript',
  'x-javascript': 'javascript',
  ecmascript: 'javascript',
  'x-ecmascript': 'javascript',
  css: 'css',
  'x-www-form-urlencoded': 'form',
};

/** The filter a media type gets (see the module comment), or `undefined` for a body that is never rewritten. */
export function bodyKind(mt: Pick<MediaType, 'subtype'>): BodyKind | undefined {
  const byName = BY_SUBTYPE[mt.subtype];
  if (byName) return byName;
  if (mt.subtype.endsWith('+json')) return 'json';
  if (mt.subtype.endsWith('+xml')) return 'xml';
  return undefined;
}

/**
 * Charsets whose bytes below 0x80 are always ASCII characters, so markup, JSON syntax and URLs can be found by
 * looking at bytes. No charset at all is Knox's ISO-8859-1 default, and compatible too.
 */
export function isAsciiCompatible(charset: string | undefined): boolean {
  if (charset === undefined) return true;
  const c = charset.replace(/_/g, '-');
  return (
    c === 'utf-8' ||
    c === 'utf8' ||
    c === 'us-ascii' ||
    c === 'ascii' ||
    c === 'latin1' ||
    c === 'l1' ||
    /^iso-?8859-\d+$/.test(c) ||
    /^(windows|cp)-?125\d$/.test(c) ||
    /^koi8-[ru]$/.test(c) ||
    c === 'euc-jp' ||
    c === 'euc-kr' ||
    c === 'gb2312'
  );
}

/** Whether the body's bytes are UTF-8 (declared so), which decides how a non-ASCII value reaches a rule. */
export function isUtf8(charset: string | undefined): boolean {
  return charset === 'utf-8' || charset === 'utf8';
}
