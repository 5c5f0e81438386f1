/**
 * @module tokenstate/store
 * What a token state store does, below the service (service.ts adds the cache, the passcode hash, the renewal
 * rules, eviction's schedule and the outage log): Knox's `TokenStateDatabase` operations on its two tables,
 * `KNOX_TOKENS (token_id, issue_time, expiration, max_lifetime)` and `KNOX_TOKEN_METADATA (token_id, md_name,
 * md_value)`, whichever way a store keeps them. Any failure to reach the store is thrown as is; the service turns
 * it into `TokenStateUnavailable`.
 */
import type { TokenRecord } from '../spi/index.ts';

export interface TokenStore {
  /** Knox's class name of what this store stands for (`JDBCTokenStateService`), for `getTssStatus`. */
  readonly backend: string;
  /** The state outlives the process. */
  readonly persistent: boolean;
  add(record: TokenRecord): Promise<void>;
  get(tokenId: string): Promise<TokenRecord | undefined>;
  /** False when the token is unknown. */
  setExpiration(tokenId: string, expiration: number): Promise<boolean>;
  /** Inserts or replaces the given entries; false when the token is unknown. */
  setMetadata(tokenId: string, entries: Readonly<Record<string, string>>): Promise<boolean>;
  /** False when the token is unknown. */
  remove(tokenId: string): Promise<boolean>;
  /** Every token, or those whose metadata `name` is `value`, ordered by issue time then id (Knox's order). */
  list(filter?: { name: string; value: string }): Promise<TokenRecord[]>;
  /** Removes the tokens with 0 < expiration < `before`; returns their ids. */
  removeExpired(before: number): Promise<string[]>;
  close(): Promise<void>;
}

/** Knox's `KnoxToken` order: issue time, then id. */
export function byIssueTime(a: TokenRecord, b: TokenRecord): number {
  return a.issueTime - b.issueTime || (a.tokenId < b.tokenId ? -1 : a.tokenId > b.tokenId ? 1 : 0);
}

/** Rows of `token_id, issue_time, expiration, max_lifetime, md_name, md_value` folded into records. */
export function foldRows(
  rows: Iterable<{
    token_id: string;
    issue_time: number | string | bigint;
    expiration: number | string | bigint;
    max_lifetime: number | string | bigint;
    md_name: string | null;
    md_value: string | null;
  }>,
): TokenRecord[] {
  const byId = new Map<string, { record: TokenRecord; metadata: Record<string, string> }>();
  for (const row of rows) {
    let entry = byId.get(row.token_id);
    if (!entry) {
      const metadata: Record<string, string> = {};
      entry = {
        metadata,
        record: {
          tokenId: row.token_id,
          issueTime: Number(row.issue_time),
          expiration: Number(row.expiration),
          maxLifetime: Number(row.max_lifetime),
          metadata,
        },
      };
      byId.set(row.token_id, entry);
    }
    if (row.md_name !== null && row.md_value !== null) entry.metadata[row.md_name] = row.md_value;
  }
  return [...byId.values()].map((e) => e.record).sort(byIssueTime);
}
