/**
 * @module urltemplate/form-encoding
 * `application/x-www-form-urlencoded` encoding exactly as Java's `URLEncoder.encode(s, "UTF-8")`, which Knox's
 * `Expander` applies to query names and values: `A-Z a-z 0-9 . - * _` are kept, a space becomes `+`, every
 * other character becomes its UTF-8 bytes as upper-case `%XX`. A lone surrogate becomes `%3F` (`?`), as the JDK
 * encodes it. Unlike `encodeURIComponent` this never throws.
 */

const HEX = '0123456789ABCDEF';

/** Characters URLEncoder leaves alone. */
function isUnreserved(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= 48 && c <= 57) || // 0-9
    c === 46 || // .
    c === 45 || // -
    c === 42 || // *
    c === 95 // _
  );
}

function pct(byte: number): string {
  return `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
}

/** Encodes one query name or value. */
export function formEncode(s: string): string {
  const n = s.length;
  let i = 0;
  // Fast path: most names and values need no encoding at all.
  while (i < n && isUnreserved(s.charCodeAt(i))) i++;
  if (i === n) return s;
  let out = s.slice(0, i);
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (isUnreserved(c)) out += s[i];
    else if (c === 32) out += '+';
    else if (c < 0x80) out += pct(c);
    else if (c < 0x800) out += pct(0xc0 | (c >> 6)) + pct(0x80 | (c & 63));
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        out +=
          pct(0xf0 | (cp >> 18)) +
          pct(0x80 | ((cp >> 12) & 63)) +
          pct(0x80 | ((cp >> 6) & 63)) +
          pct(0x80 | (cp & 63));
        i++;
      } else {
        out += '%3F';
      }
    } else if (c >= 0xd800 && c <= 0xdfff) out += '%3F';
    else out += pct(0xe0 | (c >> 12)) + pct(0x80 | ((c >> 6) & 63)) + pct(0x80 | (c & 63));
  }
  return out;
}
