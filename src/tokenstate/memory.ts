/**
 * @module tokenstate/memory
 * Knox's `DefaultTokenStateService`: token state in this process's memory, lost at restart and seen by this node
 * alone. For tests and single-node trials; passcodes are not issued with it (Knox issues them only with a
 * persistent store).
 */
import type { TokenRecord } from '../spi/index.ts';
import { byIssueTime, type TokenStore } from './store.ts';

export class MemoryTokenStore implements TokenStore {
  readonly backend = 'DefaultTokenStateService';
  readonly persistent = false;
  readonly #tokens = new Map<string, TokenRecord>();

  async add(record: TokenRecord): Promise<void> {
    this.#tokens.set(record.tokenId, { ...record, metadata: { ...record.metadata } });
  }

  async get(tokenId: string): Promise<TokenRecord | undefined> {
    const r = this.#tokens.get(tokenId);
    return r && { ...r, metadata: { ...r.metadata } };
  }

  async setExpiration(tokenId: string, expiration: number): Promise<boolean> {
    const r = this.#tokens.get(tokenId);
    if (!r) return false;
    this.#tokens.set(tokenId, { ...r, expiration });
    return true;
  }

  async setMetadata(tokenId: string, entries: Readonly<Record<string, string>>): Promise<boolean> {
    const r = this.#tokens.get(tokenId);
    if (!r) return false;
    this.#tokens.set(tokenId, { ...r, metadata: { ...r.metadata, ...entries } });
    return true;
  }

  async remove(tokenId: string): Promise<boolean> {
    return this.#tokens.delete(tokenId);
  }

  async list(filter?: { name: string; value: string }): Promise<TokenRecord[]> {
    const all = [...this.#tokens.values()].filter((r) => !filter || r.metadata[filter.name] === filter.value);
    return all.map((r) => ({ ...r, metadata: { ...r.metadata } })).sort(byIssueTime);
  }

  async removeExpired(before: number): Promise<string[]> {
    const gone: string[] = [];
    for (const [id, r] of this.#tokens) {
      if (r.expiration > 0 && r.expiration < before) {
        this.#tokens.delete(id);
        gone.push(id);
      }
    }
    return gone;
  }

  async close(): Promise<void> {}
}
