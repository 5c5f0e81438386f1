/**
 * @module providers/common/credentials
 * Reading credentials from a request without trusting them: `Authorization: Basic` and `Bearer`, and cookies.
 * Malformed input gives `undefined` (the provider then answers 401), never an exception.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface BasicCredentials {
  username: string;
  password: string;
}

/** The user and password of `Authorization: Basic`, or undefined when absent or malformed. */
export function basicCredentials(headers: IncomingHttpHeaders): BasicCredentials | undefined {
  const value = headers.authorization;
  if (typeof value !== 'string' || value.length < 7) return undefined;
  if (value.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const encoded = value.slice(6).trim();
  if (encoded.length === 0 || encoded.length > 8192 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded))
    return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  const username = decoded.slice(0, colon);
  // Control characters have no place in a user name (they would also forge log lines or LDAP filters).
  if (/[\u0000-\u001f\u007f]/.test(username)) return undefined;
  return { username, password: decoded.slice(colon + 1) };
}

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const value = headers.authorization;
  if (typeof value !== 'string' || value.length < 8) return undefined;
  if (value.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = value.slice(7).trim();
  return token.length > 0 ? token : undefined;
}

/** The value of one cookie of the request (the first of that name), or undefined. */
export function cookieValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const header = headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

/** The cookie header without the named cookies (so a gateway credential is not forwarded to the backend). */
export function withoutCookies(header: string, names: ReadonlySet<string>): string | undefined {
  const kept = header
    .split(';')
    .filter((part) => {
      const eq = part.indexOf('=');
      const name = (eq < 0 ? part : part.slice(0, eq)).trim();
      return name !== '' && !names.has(name);
    })
    .map((p) => p.trim());
  return kept.length > 0 ? kept.join('; ') : undefined;
}
