/**
 * @module services/channels/secret
 * The backplane's `secret` header in AWX's exact wire format, so that a postern node and an
 * AWX node could authenticate each other:
 *
 * `secret: HMAC-SHA256 <nonce>:<hex>` where `nonce` is the Unix time in whole seconds (decimal) and `hex` the
 * lowercase hex HMAC-SHA256, keyed with the UTF-8 bytes of the shared secret, of the UTF-8 bytes of
 * `{"secret": "<secret>", "nonce": "<nonce>"}` exactly as Python's default `json.dumps` writes it (`", "` and
 * `": "` separators, `ensure_ascii`: every non-ASCII UTF-16 code unit as a lowercase `\uXXXX` escape).
 *
 * Verification follows AWX's order (parse; recompute the HMAC over the received nonce text; only then check
 * freshness: `|now − nonce| ≤ 300` s, exactly 300 passes) with AWX's defect fixed: the digest is compared in
 * constant time. The value must split on exactly one space and exactly one colon; any other shape, an
 * upper-case or base64 digest, or a nonce that is not an integer is refused. Unlike AWX, a header is accepted
 * once: {@link ReplayCache} remembers the accepted ones for their window, so a captured header cannot open a second
 * link (AWX lets it be reused for 300 s). A node therefore signs each link with a nonce of its own
 * ({@link linkNonce}), still one AWX accepts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** AWX's freshness window, seconds either way. */
export const NONCE_WINDOW_SECONDS = 300;
const PREFIX = 'HMAC-SHA256';
const HEX64 = /^[0-9a-f]{64}$/;
const INTEGER = /^[+-]?\d+$/;

/** Python's `json.dumps(str)` with `ensure_ascii=True` (the default). */
export function pythonJsonString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    // Control characters and everything past 0x7E but DEL (which Python writes as is) become \uXXXX.
    else if (c < 0x20 || c > 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += text[i];
  }
  return `${out}"`;
}

/** The text AWX signs: `json.dumps({"secret": secret, "nonce": nonce})`. */
export function signedMessage(secret: string, nonce: string): string {
  return `{"secret": ${pythonJsonString(secret)}, "nonce": ${pythonJsonString(nonce)}}`;
}

/** The lowercase hex HMAC for one nonce. */
export function secretDigest(secret: string, nonce: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(Buffer.from(signedMessage(secret, nonce), 'utf8'))
    .digest('hex');
}

/** The header value a node sends; `nowSeconds` defaults to the clock. Built once per connection attempt. */
export function secretHeader(secret: string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const nonce = String(nowSeconds);
  return `${PREFIX} ${nonce}:${secretDigest(secret, nonce)}`;
}

export type SecretCheck =
  | { ok: true; nonce: number }
  | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' | 'stale' };

/** Checks a received `secret` header value. */
export function verifySecretHeader(
  value: string | undefined,
  secret: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): SecretCheck {
  if (value === undefined || value === '') return { ok: false, reason: 'missing' };
  const words = value.split(' ');
  if (words.length !== 2 || words[0] !== PREFIX) return { ok: false, reason: 'malformed' };
  const halves = words[1].split(':');
  if (halves.length !== 2) return { ok: false, reason: 'malformed' };
  const [nonceText, given] = halves;
  if (!HEX64.test(given)) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(secretDigest(secret, nonceText), 'latin1');
  if (!timingSafeEqual(expected, Buffer.from(given, 'latin1'))) return { ok: false, reason: 'mismatch' };
  if (!INTEGER.test(nonceText)) return { ok: false, reason: 'malformed' };
  const nonce = Number(nonceText);
  if (!Number.isSafeInteger(nonce) || Math.abs(nowSeconds - nonce) > NONCE_WINDOW_SECONDS) {
    return { ok: false, reason: 'stale' };
  }
  return { ok: true, nonce };
}

/**
 * The nonce for one outgoing link: the clock, less a random few seconds, so that nodes (or one node's quick
 * reconnects) rarely sign two links with the same header, which the peer's replay cache would refuse once. Still
 * well inside AWX's window.
 */
export function linkNonce(nowSeconds = Math.floor(Date.now() / 1000)): number {
  return nowSeconds - Math.floor(Math.random() * 30);
}

/** The `secret` headers accepted within their window, by header and the address it came from. */
export class ReplayCache {
  readonly #seen = new Map<string, number>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  /**
   * Records an accepted header; false when it was already accepted from that address within its window (a replay).
   * Only headers whose HMAC verified get here, so only holders of the secret can fill it; it is bounded anyway.
   */
  admit(header: string, address: string, nonce: number, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
    const key = `${address} ${header}`;
    const until = this.#seen.get(key);
    if (until !== undefined && until >= nowSeconds) return false;
    if (this.#seen.size >= this.#max) {
      for (const [k, u] of this.#seen) if (u < nowSeconds) this.#seen.delete(k);
      if (this.#seen.size >= this.#max) this.#seen.delete(this.#seen.keys().next().value!);
    }
    this.#seen.set(key, nonce + NONCE_WINDOW_SECONDS);
    return true;
  }
}
