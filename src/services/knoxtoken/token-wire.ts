/**
 * @module services/knoxtoken/token-wire
 * What KNOXTOKEN's answers look like on the wire, as Knox writes them: its `ErrorCode` numbers, its bodies
 * (two-space indented JSON and a final newline), a `KnoxToken` as `getUserTokens` lists it (Jackson's view of
 * Knox's `KnoxToken` and `TokenMetadata` getters), the token id of a JWT body (`knox.id`, else `jti`), and
 * Java's `Duration.parse` for `lifespan`.
 */
import { decodeJwt } from 'jose';
import type { TokenRecord } from '../../spi/index.ts';

/** Knox's `TokenResource.ErrorCode`. */
export const ErrorCode = {
  UNKNOWN: 0,
  CONFIGURATION_ERROR: 10,
  UNAUTHORIZED: 20,
  INTERNAL_ERROR: 30,
  INVALID_TOKEN: 40,
  UNKNOWN_TOKEN: 50,
  ALREADY_DISABLED: 60,
  ALREADY_ENABLED: 70,
  DISABLED_KNOXSSO_COOKIE: 80,
  TOKEN_EXPIRED: 90,
} as const;

export function knoxBody(body: Record<string, unknown>): string {
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** The id of a token given as a JWT, and its `exp` in ms; an error message when it is no JWT. */
export function tokenIdOf(
  token: string,
  _verify: false,
): { tokenId: string; expires?: number } | { error: string } {
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(token);
  } catch {
    return { error: 'Invalid JWT: the token could not be parsed' };
  }
  const id = claims['knox.id'] ?? claims.jti;
  if (typeof id !== 'string' || id === '') return { error: 'Invalid JWT: the token has no id (knox.id)' };
  return { tokenId: id, ...(typeof claims.exp === 'number' ? { expires: claims.exp * 1000 } : {}) };
}

/**
 * Java's `Duration.parse`: `PnDTnHnMn.nS` (days, hours, minutes, seconds, each optional, each may be negative).
 * Returns ms, or undefined when the text is not such a duration.
 */
export function parseIsoDuration(text: string): number | undefined {
  const m =
    /^([-+]?)P(?:([-+]?\d+)D)?(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+)(?:[.,](\d{0,9}))?S)?)?$/i.exec(
      text.trim(),
    );
  if (!m || (m[2] === undefined && m[3] === undefined && m[4] === undefined && m[5] === undefined))
    return undefined;
  if (/T$/i.test(text.trim())) return undefined;
  const n = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  const seconds = n(m[5]);
  const fraction = m[6] ? Number(`0.${m[6]}`) * (m[5]?.startsWith('-') ? -1 : 1) : 0;
  const ms = ((n(m[2]) * 24 + n(m[3])) * 60 + n(m[4])) * 60_000 + Math.round((seconds + fraction) * 1000);
  return m[1] === '-' ? -ms : ms;
}

/** Knox's `KnoxToken.DATE_FORMAT` (`yyyy-MM-dd'T'HH:mm:ss.SSSZ`), in UTC. */
function knoxDate(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

const KNOWN_MD = new Set([
  'userName',
  'comment',
  'enabled',
  'passcode',
  'createdBy',
  'lastUsedAt',
  'type',
  'thirdPartyApp',
]);

/** A token as Knox's `getUserTokens` lists it; the passcode hash never appears. */
export function tokenJson(t: TokenRecord): Record<string, unknown> {
  const md = t.metadata;
  const custom: Record<string, string> = {};
  for (const [k, v] of Object.entries(md)) if (!KNOWN_MD.has(k)) custom[k] = v;
  const metadata: Record<string, unknown> = { customMetadataMap: custom };
  if (md.userName !== undefined) metadata.userName = md.userName;
  if (md.comment !== undefined) metadata.comment = md.comment;
  metadata.enabled = md.enabled === 'true';
  if (md.createdBy !== undefined) metadata.createdBy = md.createdBy;
  if (md.lastUsedAt !== undefined) metadata.lastUsedAt = md.lastUsedAt;
  if (md.type !== undefined) metadata.type = md.type;
  metadata.thirdPartyApp = md.thirdPartyApp === undefined || md.thirdPartyApp === 'true';
  return {
    tokenId: t.tokenId,
    issueTime: knoxDate(t.issueTime),
    issueTimeLong: t.issueTime,
    expiration: t.expiration < 0 ? 'Never' : knoxDate(t.expiration),
    expirationLong: t.expiration,
    maxLifetime: t.maxLifetime < 0 ? 'Unbounded' : knoxDate(t.maxLifetime),
    maxLifetimeLong: t.maxLifetime,
    metadata,
  };
}
