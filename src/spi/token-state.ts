/**
 * @module spi/token-state
 * Knox's `TokenStateService` as the contract gives it to providers and services (`ctx.gateway?.tokenState`):
 * server-managed state of the tokens the gateway issues (KNOXTOKEN, KNOXSSO), kept in a store that may be
 * shared by several gateway nodes (gateway-site `gateway.service.tokenstate.impl`; the gateway's tokenstate/
 * module implements it). Times are ms since the epoch; an expiration or max lifetime below 0 means none.
 *
 * {@link TokenStateService.check} is the providers' path: it answers from a bounded per-node cache whose entries
 * live at most `postern.token.state.cache.ttl`, so a token revoked on another node stops working within that
 * time; a change made on this node drops its entry at once. Every other call goes to the store.
 */

/** Knox's `TokenMetadata` names (its `KNOWN_MD_NAMES`); any other name is custom metadata (`md_*` params). */
export const TokenMetadataNames = {
  userName: 'userName',
  comment: 'comment',
  enabled: 'enabled',
  passcode: 'passcode',
  createdBy: 'createdBy',
  lastUsedAt: 'lastUsedAt',
  type: 'type',
  thirdPartyApp: 'thirdPartyApp',
} as const;

/** Knox's `TokenMetadataType`. */
export type TokenKind = 'JWT' | 'KNOXSSO_COOKIE' | 'API_KEY' | 'CLIENT_ID';

/** One token's state, as Knox's `KnoxToken` holds it. */
export interface TokenRecord {
  readonly tokenId: string;
  readonly issueTime: number;
  readonly expiration: number;
  /** The latest time a renewal may reach (issue time + max lifetime); below 0: unbounded. */
  readonly maxLifetime: number;
  /** Knox's metadata map (`userName`, `enabled`, `passcode` (a keyed hash, never the passcode), …). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** A token the store does not know: never issued, revoked, or evicted. Knox's `UnknownTokenException`. */
export class UnknownTokenError extends Error {
  readonly tokenId: string;
  constructor(tokenId: string) {
    super(`Unknown token: ${tokenIdDisplay(tokenId)}`);
    this.name = 'UnknownTokenError';
    this.tokenId = tokenId;
  }
}

/** The store could not be reached or failed: token-protected requests are refused with 503 (fail closed). */
export class TokenStateUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenStateUnavailable';
  }
}

/** Knox's `Tokens.getTokenIDDisplayText`: `first-group...last-group` of a UUID, safe to log. */
export function tokenIdDisplay(tokenId: string): string {
  if (tokenId.length === 36 && tokenId.includes('-')) {
    return `${tokenId.slice(0, tokenId.indexOf('-'))}...${tokenId.slice(tokenId.lastIndexOf('-') + 1)}`;
  }
  return 'N/A';
}

export interface TokenStateService {
  /** The implementation in Knox's class names (`JDBCTokenStateService`), for `getTssStatus`. */
  readonly backend: string;
  /** What gateway-site configured (`gateway.service.tokenstate.impl`'s last segment), '' when unset. */
  readonly configured: string;
  /** Knox's `PersistentTokenStateService`: state outlives the process (passcodes are only issued then). */
  readonly persistent: boolean;
  /** Knox's `DefaultTokenStateService.DEFAULT_RENEWAL_INTERVAL` (24 h). */
  readonly defaultRenewInterval: number;
  /** Knox's `DEFAULT_MAX_LIFETIME` (7 days). */
  readonly defaultMaxLifetime: number;
  /** gateway-site `gateway.knox.token.exp.server-managed`: the default of the per-service/provider param. */
  readonly serverManagedDefault: boolean;
  /** gateway-site `gateway.knox.token.limit.per.user` (-1: unlimited). */
  readonly limitPerUser: number;
  /** gateway-site `gateway.knox.token.management.users.can.see.all.tokens`. */
  canSeeAllTokens(user: string): boolean;

  /**
   * Stores a new token. `maxLifetimeDuration` is added to `issueTime` (below 0: unbounded); `passcode`, when
   * given, is stored as a keyed hash (Knox's `TokenMAC`) under the metadata `passcode`.
   */
  addToken(
    token: { tokenId: string; issueTime: number; expiration: number; maxLifetimeDuration: number },
    metadata: Record<string, string>,
    passcode?: string,
  ): Promise<void>;
  /** @throws UnknownTokenError */
  getToken(tokenId: string): Promise<TokenRecord>;
  /** Extends the expiration to now + `renewInterval`, within the max lifetime. @throws UnknownTokenError, RangeError (renewal limit) */
  renewToken(tokenId: string, renewInterval: number): Promise<number>;
  /** Removes the token's state (Knox keeps no revoked tokens). @throws UnknownTokenError */
  revokeToken(tokenId: string): Promise<void>;
  /** Sets metadata entries (others are kept). @throws UnknownTokenError */
  addMetadata(tokenId: string, metadata: Record<string, string>): Promise<void>;
  /** A user's tokens, or those created for others by `createdBy` (Knox's `getDoAsTokens`), by issue time. */
  getTokens(user: string): Promise<TokenRecord[]>;
  getDoAsTokens(createdBy: string): Promise<TokenRecord[]>;
  getAllTokens(): Promise<TokenRecord[]>;

  /**
   * The providers' check: the token's state from the bounded cache or the store; undefined for an unknown
   * (revoked, evicted, never issued) token.
   * @throws TokenStateUnavailable when the store cannot answer and no fresh entry is cached
   */
  check(tokenId: string): Promise<TokenRecord | undefined>;
  /** Whether `passcode` is the one issued with the token (a constant-time comparison of keyed hashes). */
  passcodeMatches(record: TokenRecord, passcode: string): boolean;
}
