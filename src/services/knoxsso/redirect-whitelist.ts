/**
 * @module services/knoxsso/redirect-whitelist
 * Where KNOXSSO may send a browser after login (`originalUrl`), so it is never an open redirect (KNOX-3416).
 *
 * As Knox's `RegExUtils.checkBaseUrlAgainstWhitelist`, the whitelist (`;`-separated regexes, each matching the
 * whole text, as Java's `matches()`) is applied to the *base* of the URL, `scheme://host:port`, never to the
 * whole URL: `https://evil.com/?x=https://localhost:1/` cannot pass by carrying an allowed URL in its path or
 * query. Before that, postern refuses what Knox would parse differently from a browser:
 * - anything but an absolute `http:` / `https:` URL with `//` right after the scheme (`//evil.com`,
 *   `/\evil.com`, `https:evil.com`, `https:///evil.com`, `javascript:`);
 * - control characters, spaces and backslashes anywhere (browsers drop tabs and newlines and read `\` as `/`);
 * - user info (`https://localhost:8443@evil.com`, `https://evil.com@localhost:8443`).
 * The host is the one the WHATWG URL parser (the browser's) finds, lower-cased and with IPv4 shorthands
 * expanded; the port is always written, the scheme's default when absent (`https://host/` has base
 * `https://host:443`, which Knox's regexes, requiring a port, then match). The redirect goes to that parsed URL.
 *
 * The whitelist is, in order: the KNOXSSO param `knoxsso.redirect.whitelist.regex`; gateway-site's
 * `gateway.dispatch.whitelist` (unless `DEFAULT`); derived from the gateway host's domain as Knox does
 * (`gateway.example.com` allows `https?://*.example.com:port`; only when the host has at least three labels:
 * Knox derives `.com` from `example.com`, which would allow every .com host); else loopback only
 * ({@link DEFAULT_REDIRECT_WHITELIST}).
 */

/** Knox's localhost whitelist (`WhitelistUtils`), plus the bracketed IPv6 loopback a URL parser yields. */
export const DEFAULT_REDIRECT_WHITELIST =
  '^https?:\\/\\/(localhost|127\\.0\\.0\\.1|0:0:0:0:0:0:0:1|::1|\\[::1\\]):[0-9]+\\/?.*$';

/** `;`-separated regexes, each anchored to match the whole base URL. @throws SyntaxError naming the bad one */
export function compileWhitelist(text: string): RegExp[] {
  const out: RegExp[] = [];
  for (const part of text.split(';')) {
    const source = part.trim();
    if (source === '') continue;
    try {
      out.push(new RegExp(`^(?:${source})$`));
    } catch (err) {
      throw new SyntaxError(`"${source}" is not a valid regular expression: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Knox's derived default for a gateway host name, or undefined (IP address, loopback, fewer than three labels). */
export function derivedWhitelist(hostname: string): string | undefined {
  const host = hostname.toLowerCase();
  if (host.startsWith('[') || /^\d+(\.\d+){3}$/.test(host)) return undefined;
  const labels = host.split('.');
  if (labels.length < 3 || labels.some((l) => !/^[a-z0-9-]+$/.test(l))) return undefined;
  const domain = labels.slice(1).join('\\.');
  return `^https?:\\/\\/(.+\\.${domain}):[0-9]+\\/?.*$`;
}

export type RedirectCheck = { ok: true; url: string } | { ok: false; reason: string };

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** Whether `original` may be redirected to; when it may, the URL to put in `Location`. */
export function checkRedirect(original: string, whitelist: readonly RegExp[]): RedirectCheck {
  if (original.length > 8192) return { ok: false, reason: 'original URL too long' };
  if (/[\u0000-\u0020\u007f-\u009f\\]/.test(original)) {
    return { ok: false, reason: 'original URL holds a control character, a space or a backslash' };
  }
  const m = /^(https?):\/\/([^/?#])/i.exec(original);
  if (!m) return { ok: false, reason: 'original URL is not an absolute http(s) URL' };
  let url: URL;
  try {
    url = new URL(original);
  } catch {
    return { ok: false, reason: 'original URL is malformed' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: 'original URL is not an absolute http(s) URL' };
  }
  if (url.username !== '' || url.password !== '' || url.host.includes('@')) {
    return { ok: false, reason: 'original URL holds user info' };
  }
  const base = `${url.protocol}//${url.hostname}:${url.port || DEFAULT_PORT[url.protocol]}`;
  if (!whitelist.some((re) => re.test(base))) {
    return { ok: false, reason: 'original URL does not match the redirect whitelist' };
  }
  return { ok: true, url: url.href };
}
