/**
 * @module tokenstate/hub
 * The `memory` token state (Knox's `DefaultTokenStateService`) of a gateway with several workers: one
 * {@link MemoryTokenStore} in the primary (cluster/hub.ts, `token.*`), which every worker's store reaches over the
 * IPC channel, so a token issued, renewed, disabled or revoked through one worker is the same token on every
 * other (each worker's cache, tokenstate/service.ts, answers for at most `postern.token.state.cache.ttl`, as with
 * a store shared by nodes). The state lives as long as the primary: a worker's restart loses nothing, the
 * gateway's does, as with a single process. A primary that does not answer is an outage of the store (503).
 */
import type { Rpc } from '../cluster/rpc.ts';
import type { TokenRecord } from '../spi/index.ts';
import type { TokenStore } from './store.ts';

/** The store operations the primary answers (`token.<name>`), each with the store method's arguments. */
export const TOKEN_STORE_OPS = [
  'add',
  'get',
  'setExpiration',
  'setMetadata',
  'remove',
  'list',
  'removeExpired',
] as const satisfies readonly (keyof TokenStore)[];

export type TokenStoreOp = (typeof TOKEN_STORE_OPS)[number];

export class HubTokenStore implements TokenStore {
  readonly backend = 'DefaultTokenStateService';
  readonly persistent = false;
  readonly #rpc: Rpc;

  constructor(rpc: Rpc) {
    this.#rpc = rpc;
  }

  #ask<T>(op: TokenStoreOp, args: unknown[]): Promise<T> {
    return this.#rpc.request<T>(`token.${op}`, args);
  }

  async add(record: TokenRecord): Promise<void> {
    await this.#ask('add', [record]);
  }

  async get(tokenId: string): Promise<TokenRecord | undefined> {
    return (await this.#ask<TokenRecord | null>('get', [tokenId])) ?? undefined;
  }

  setExpiration(tokenId: string, expiration: number): Promise<boolean> {
    return this.#ask('setExpiration', [tokenId, expiration]);
  }

  setMetadata(tokenId: string, entries: Readonly<Record<string, string>>): Promise<boolean> {
    return this.#ask('setMetadata', [tokenId, entries]);
  }

  remove(tokenId: string): Promise<boolean> {
    return this.#ask('remove', [tokenId]);
  }

  list(filter?: { name: string; value: string }): Promise<TokenRecord[]> {
    return this.#ask('list', filter ? [filter] : []);
  }

  removeExpired(before: number): Promise<string[]> {
    return this.#ask('removeExpired', [before]);
  }

  /** The state is the primary's: a worker that stops leaves it to the others. */
  async close(): Promise<void> {}
}
