/**
 * @module tokenstate/sqlite
 * The embedded default (Knox's `DerbyDBTokenStateService`, which Knox uses when nothing is configured): Knox's two
 * tables in an SQLite file of the gateway home, `data/token-state.db` (mode 0600), through Node's built-in
 * `node:sqlite`. No extra process; the state survives a restart; one node only (two nodes need `jdbc` or
 * `redis`). WAL journal, so a reader never waits for the writer.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { TokenRecord } from '../spi/index.ts';
import { foldRows, type TokenStore } from './store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS KNOX_TOKENS (
  token_id varchar(128) NOT NULL PRIMARY KEY,
  issue_time bigint NOT NULL,
  expiration bigint NOT NULL,
  max_lifetime bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS KNOX_TOKEN_METADATA (
  token_id varchar(128) NOT NULL,
  md_name varchar(32) NOT NULL,
  md_value varchar(256) NOT NULL,
  PRIMARY KEY (token_id, md_name),
  FOREIGN KEY (token_id) REFERENCES KNOX_TOKENS(token_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS KNOX_TOKEN_METADATA_VALUE ON KNOX_TOKEN_METADATA (md_name, md_value);
`;

const ALL = `SELECT kt.token_id, kt.issue_time, kt.expiration, kt.max_lifetime, ktm.md_name, ktm.md_value
  FROM KNOX_TOKENS kt LEFT JOIN KNOX_TOKEN_METADATA ktm ON kt.token_id = ktm.token_id`;

type Row = Parameters<typeof foldRows>[0] extends Iterable<infer R> ? R : never;

export class SqliteTokenStore implements TokenStore {
  readonly backend = 'DerbyDBTokenStateService';
  readonly persistent = true;
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #q: Record<string, StatementSync>;

  constructor(file: string) {
    this.file = file;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(file, { timeout: 5000 });
    chmodSync(file, 0o600);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;');
    this.#db.exec(SCHEMA);
    const db = this.#db;
    this.#q = {
      add: db.prepare(
        'INSERT INTO KNOX_TOKENS (token_id, issue_time, expiration, max_lifetime) VALUES (?, ?, ?, ?)',
      ),
      upsertMd: db.prepare(
        `INSERT INTO KNOX_TOKEN_METADATA (token_id, md_name, md_value) VALUES (?, ?, ?)
         ON CONFLICT (token_id, md_name) DO UPDATE SET md_value = excluded.md_value`,
      ),
      get: db.prepare(`${ALL} WHERE kt.token_id = ?`),
      exists: db.prepare('SELECT 1 AS one FROM KNOX_TOKENS WHERE token_id = ?'),
      setExp: db.prepare('UPDATE KNOX_TOKENS SET expiration = ? WHERE token_id = ?'),
      remove: db.prepare('DELETE FROM KNOX_TOKENS WHERE token_id = ?'),
      all: db.prepare(ALL),
      byMd: db.prepare(
        `${ALL} WHERE kt.token_id IN (SELECT token_id FROM KNOX_TOKEN_METADATA WHERE md_name = ? AND md_value = ?)`,
      ),
      expired: db.prepare('SELECT token_id FROM KNOX_TOKENS WHERE expiration < ? AND expiration > 0'),
      removeExpired: db.prepare('DELETE FROM KNOX_TOKENS WHERE expiration < ? AND expiration > 0'),
    };
  }

  #transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  async add(r: TokenRecord): Promise<void> {
    this.#transaction(() => {
      this.#q.add.run(r.tokenId, r.issueTime, r.expiration, r.maxLifetime);
      for (const [name, value] of Object.entries(r.metadata)) this.#q.upsertMd.run(r.tokenId, name, value);
    });
  }

  async get(tokenId: string): Promise<TokenRecord | undefined> {
    return foldRows(this.#q.get.all(tokenId) as Row[])[0];
  }

  async setExpiration(tokenId: string, expiration: number): Promise<boolean> {
    return Number(this.#q.setExp.run(expiration, tokenId).changes) > 0;
  }

  async setMetadata(tokenId: string, entries: Readonly<Record<string, string>>): Promise<boolean> {
    return this.#transaction(() => {
      if (this.#q.exists.get(tokenId) === undefined) return false;
      for (const [name, value] of Object.entries(entries)) this.#q.upsertMd.run(tokenId, name, value);
      return true;
    });
  }

  async remove(tokenId: string): Promise<boolean> {
    return Number(this.#q.remove.run(tokenId).changes) > 0;
  }

  async list(filter?: { name: string; value: string }): Promise<TokenRecord[]> {
    const rows = filter ? this.#q.byMd.all(filter.name, filter.value) : this.#q.all.all();
    return foldRows(rows as Row[]);
  }

  async removeExpired(before: number): Promise<string[]> {
    return this.#transaction(() => {
      const ids = (this.#q.expired.all(before) as { token_id: string }[]).map((r) => r.token_id);
      if (ids.length > 0) this.#q.removeExpired.run(before);
      return ids;
    });
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}
