/**
 * @module providers/federation/pac4j/session
 * The pac4j provider's session, kept in the browser as Knox's `KnoxSessionStore` keeps it: one cookie per entry,
 * named `pac4j.session.<key>`, its value encrypted by the gateway. Nothing is stored on the gateway, so any node
 * of a cluster sharing the master secret can finish a login another node started.
 *
 * Each value is JSON sealed with AES-256-GCM under a key derived from the master secret for this topology and
 * purpose (HKDF-SHA256, salt = topology name, info `postern:pac4j.session`, the scheme of deploy/secrets.ts
 * `topologyKey`); the cookie name is the additional authenticated data, so a value cannot be moved from one
 * entry (the login in progress) to another (the user profile). Every value carries its own expiry, checked on
 * reading, so a copied cookie stops working even if the browser would still send it. A cookie that does not
 * decrypt, or has expired, reads as absent.
 *
 * Cookies are HttpOnly, Path = the topology's path, SameSite as configured (`Lax` by default: the identity
 * provider's redirect back is a top-level GET that Lax cookies accompany), Secure over TLS. A `crossSite` session
 * (the login in progress of SAML's HTTP-POST binding, which comes back as a cross-site POST that only
 * `SameSite=None` cookies accompany) is `SameSite=None; Secure` when the cookie is Secure (over https, or with
 * `secure`); browsers refuse `SameSite=None` without Secure, so over plain http it keeps the configured SameSite
 * and the IdP's POST arrives without it.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Exchange } from '../../../spi/index.ts';
import { cookieValues } from '../token-common.ts';

export const SESSION_PREFIX = 'pac4j.session.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface CookieOptions {
  /** Path of the cookies: the topology's URL path (`/gateway/knoxsso`). */
  path: string;
  sameSite: 'Strict' | 'Lax' | 'None';
  /** Secure always (else only when the request came over https). */
  secure: boolean;
  /** `pac4j.cookie.domain.suffix`: the Domain attribute when the host ends with it. */
  domainSuffix?: string;
  /** The cookie must come back with a cross-site POST: SameSite=None whenever it is Secure. */
  crossSite?: boolean;
}

export class CookieSession {
  readonly #key: Buffer;
  readonly #options: CookieOptions;

  constructor(masterSecret: Uint8Array, topology: string, options: CookieOptions) {
    this.#key = Buffer.from(
      hkdfSync('sha256', masterSecret, Buffer.from(topology, 'utf8'), 'postern:pac4j.session', 32),
    );
    this.#options = options;
  }

  /** The value stored under `key`, or undefined when absent, tampered with, or expired. */
  read<T>(ex: Exchange, key: string): T | undefined {
    const name = SESSION_PREFIX + key;
    for (const value of cookieValues(ex.req.headers, name)) {
      const opened = this.open<T>(name, value);
      if (opened !== undefined) return opened;
    }
    return undefined;
  }

  /** The `Set-Cookie` line storing `value` under `key` until `ttlMs` from now. */
  write(ex: Exchange, key: string, value: unknown, ttlMs: number): string {
    const name = SESSION_PREFIX + key;
    return `${name}=${this.seal(name, value, ttlMs)}; ${this.#attributes(ex)}`;
  }

  /** The `Set-Cookie` line removing `key`. */
  clear(ex: Exchange, key: string): string {
    return `${SESSION_PREFIX}${key}=; Max-Age=0; ${this.#attributes(ex)}`;
  }

  seal(name: string, value: unknown, ttlMs: number): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(name, 'utf8'));
    const plain = Buffer.from(JSON.stringify({ v: value, exp: Date.now() + ttlMs }), 'utf8');
    const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
  }

  open<T>(name: string, text: string): T | undefined {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
    const bytes = Buffer.from(text, 'base64url');
    if (bytes.length <= IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(name, 'utf8'));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
      const parsed = JSON.parse(plain.toString('utf8')) as { v: T; exp: number };
      return typeof parsed.exp === 'number' && parsed.exp > Date.now() ? parsed.v : undefined;
    } catch {
      return undefined;
    }
  }

  #attributes(ex: Exchange): string {
    const o = this.#options;
    const parts = [`Path=${o.path}`];
    const host = ex.rewriteContext.inbound.host;
    if (o.domainSuffix && host.endsWith(o.domainSuffix.replace(/^\./, ''))) {
      parts.push(`Domain=${o.domainSuffix.startsWith('.') ? o.domainSuffix : `.${o.domainSuffix}`}`);
    }
    parts.push('HttpOnly');
    const secure = this.secureFor(ex);
    if (secure) parts.push('Secure');
    parts.push(`SameSite=${o.crossSite && secure ? 'None' : o.sameSite}`);
    return parts.join('; ');
  }

  /** Whether the cookies written for this request are Secure: over https, or always with `secure`. */
  secureFor(ex: Exchange): boolean {
    return this.#options.secure || ex.rewriteContext.inbound.scheme === 'https';
  }
}
