/**
 * @module dispatch/url-encoding
 * The two places where Knox's dispatches take percent-encoding off the backend URL, and what postern must put back
 * so the result can still be sent.
 *
 * - ConfigurableDispatch's `removeUrlEncoding` (always on in PassAllHeadersNoEncodingDispatch): the query is
 *   decoded once with `URLDecoder` (so `+` is a space), then Knox's `encodeUnwiseCharacters` re-encodes
 *   space, `"`, `<`, `>` and `|`. The path is left as the rewrite wrote it.
 * - URLDecodingDispatch (and the deprecated HBaseDispatch): the URL without its query is decoded once; the query
 *   is left as it is.
 *
 * Knox hands the decoded text to `URI.create`, which throws on a character a URI cannot hold (a decoded space in
 * a path: the request fails with a 500). postern instead re-encodes exactly the characters a request target cannot
 * carry raw ({@link sendable}): controls, space, non-ASCII, `"#<>\^`{|}`, and a `%` that starts no escape. A `+`
 * in a path is left a `+` (URLDecoder would make it a space, which Knox then cannot send). A malformed escape
 * leaves the part unchanged, as Knox's fallback does for URLDecodingDispatch; so does a decoded path that would
 * hold a `.` or `..` segment (an encoded traversal is never turned into a real one).
 */

const HEX = /^[0-9A-Fa-f]{2}$/;
/** Printable ASCII a request target may not hold raw (RFC 3986 §2, and `#`, which would end it). */
const UNSENDABLE = new Set(['"', '#', '<', '>', '\\', '^', '`', '{', '|', '}']);

/** A `.` or `..` path segment. */
const DOT_SEGMENT = /\/\.\.?(\/|$)/;

/** Percent-decodes once; `undefined` when an escape is malformed or the bytes are not UTF-8. */
function decodeOnce(text: string, plusIsSpace: boolean): string | undefined {
  const plain = plusIsSpace && text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!plain.includes('%')) return plain;
  try {
    return decodeURIComponent(plain);
  } catch {
    return undefined;
  }
}

/** Encodes what cannot travel raw in a request target; everything else (decoded `/`, `:`, `&`, `=`) stays. */
export function sendable(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const code = ch.charCodeAt(0);
    if (ch === '%' && HEX.test(text.slice(i + 1, i + 3))) out += ch;
    else if (ch === '%' || code <= 0x20 || code === 0x7f || UNSENDABLE.has(ch)) {
      out += `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
    } else if (code > 0x7f) {
      // A whole code point (a surrogate pair counts once) as its UTF-8 bytes.
      const cp = text.codePointAt(i)!;
      const char = String.fromCodePoint(cp);
      out += encodeURIComponent(char);
      i += char.length - 1;
    } else out += ch;
  }
  return out;
}

/** Splits an absolute URL into the part before the query, the query (without `?`, or undefined) and a fragment. */
function splitQuery(url: string): { base: string; query: string | undefined; fragment: string } {
  const hash = url.indexOf('#');
  const fragment = hash < 0 ? '' : url.slice(hash);
  const noHash = hash < 0 ? url : url.slice(0, hash);
  const q = noHash.indexOf('?');
  return q < 0
    ? { base: noHash, query: undefined, fragment }
    : { base: noHash.slice(0, q), query: noHash.slice(q + 1), fragment };
}

/** Knox's `removeUrlEncoding`: the query decoded once (`+` is a space), what cannot be sent re-encoded. */
export function decodeQueryOnce(url: string): string {
  const { base, query, fragment } = splitQuery(url);
  if (query === undefined || query === '') return url;
  const decoded = decodeOnce(query, true);
  return decoded === undefined ? url : `${base}?${sendable(decoded)}${fragment}`;
}

/** URLDecodingDispatch: the URL without its query decoded once, what cannot be sent re-encoded. */
export function decodePathOnce(url: string): string {
  const { base, query, fragment } = splitQuery(url);
  const decoded = decodeOnce(base, false);
  // An encoded dot segment would become a real one the backend resolves: the URL is then sent as it was.
  if (decoded === undefined || DOT_SEGMENT.test(decoded)) return url;
  return `${sendable(decoded)}${query === undefined ? '' : `?${query}`}${fragment}`;
}
