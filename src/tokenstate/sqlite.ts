/**
 * @module tokenstate/sqlite
 * The embedded default (Knox's `DerbyDBTokenStateService`, which Knox uses when nothing is configured): Knox's two
 * tables in an SQLite file of the gateway home, `data/token-state.db` (mode 0600), through Node's built-in
 * `node:sqlite`. No extra process; the state survives a restart; one node only (two nodes need `jdbc` or
 * `redis`). WAL journal, so a reader never waits for the writer.
 *
 * With `postern.workers` > 1 every worker opens the file, and a write waits while another worker's holds the lock.
 * `node:sqlite` is synchronous: SQLite's own busy timeout would wait inside the call, stopping the worker's event
 * loop (every request it serves) for as long as the other holds on. So the busy timeout is SQLite's only while the
 * file is opened (the schema, at start); afterwards a statement that finds the file locked fails at once and is
 * tried again after a pause on a timer (SQLite's own steps, 1 ms to 100 ms), the event loop free meanwhile, until
 * `busyTimeoutMs` (5 s) have passed: then the operation fails, which the token state service reports as unavailable
 * (503), as any store outage.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** How long a locked file is waited for, in all, before an operation fails. */
const BUSY_TIMEOUT_MS = 5000;
/** The pauses between tries on a locked file: SQLite's own busy handler's (sqliteDefaultBusyCallback), then 100 ms. */
const BUSY_STEPS_MS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/** SQLITE_BUSY or SQLITE_LOCKED (their extended codes too): another connection holds the lock. */
function isLocked(err: unknown): boolean {
  const code = (err as { errcode?: unknown } | undefined)?.errcode;
  return typeof code === 'number' && ((code & 0xff) === 5 || (code & 0xff) === 6);
}

export class SqliteTokenStore implements TokenStore {
  readonly backend = 'DerbyDBTokenStateService';
  readonly persistent = true;
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #q: Record<string, StatementSync>;
  readonly #busyTimeoutMs: number;

  constructor(file: string, options: { busyTimeoutMs?: number } = {}) {
    this.file = file;
    this.#busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // At start (workers opening the file together), SQLite's own wait: nothing is served yet.
    this.#db = new DatabaseSync(file, { timeout: this.#busyTimeoutMs });
    chmodSync(file, 0o600);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;');
    this.#db.exec(SCHEMA);
    // From now on a locked file fails at once, and #run waits on a timer instead.
    this.#db.exec('PRAGMA busy_timeout = 0;');
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

  /**
   * Runs `op` (synchronous statements), again after a pause while another connection holds the file's lock, until
   * the busy timeout has passed; then fails naming the file.
   */
  async #run<T>(op: () => T): Promise<T> {
    const deadline = performance.now() + this.#busyTimeoutMs;
    for (let step = 0; ; step++) {
      try {
        return op();
      } catch (err) {
        if (!isLocked(err)) throw err;
        const pause = BUSY_STEPS_MS[Math.min(step, BUSY_STEPS_MS.length - 1)];
        if (performance.now() + pause > deadline) {
          throw new Error(`${this.file} stayed locked by another connection for ${this.#busyTimeoutMs} ms`, {
            cause: err,
          });
        }
        await sleep(pause);
      }
    }
  }

  /** `fn` in one write transaction (taken at once: BEGIN IMMEDIATE), retried whole while the file is locked. */
  #transaction<T>(fn: () => T): Promise<T> {
    return this.#run(() => {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = fn();
        this.#db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async add(r: TokenRecord): Promise<void> {
    await this.#transaction(() => {
      this.#q.add.run(r.tokenId, r.issueTime, r.expiration, r.maxLifetime);
      for (const [name, value] of Object.entries(r.metadata)) this.#q.upsertMd.run(r.tokenId, name, value);
    });
  }

  get(tokenId: string): Promise<TokenRecord | undefined> {
    return this.#run(() => foldRows(this.#q.get.all(tokenId) as Row[])[0]);
  }

  setExpiration(tokenId: string, expiration: number): Promise<boolean> {
    return this.#run(() => Number(this.#q.setExp.run(expiration, tokenId).changes) > 0);
  }

  setMetadata(tokenId: string, entries: Readonly<Record<string, string>>): Promise<boolean> {
    return this.#transaction(() => {
      if (this.#q.exists.get(tokenId) === undefined) return false;
      for (const [name, value] of Object.entries(entries)) this.#q.upsertMd.run(tokenId, name, value);
      return true;
    });
  }

  remove(tokenId: string): Promise<boolean> {
    return this.#run(() => Number(this.#q.remove.run(tokenId).changes) > 0);
  }

  list(filter?: { name: string; value: string }): Promise<TokenRecord[]> {
    return this.#run(() => {
      const rows = filter ? this.#q.byMd.all(filter.name, filter.value) : this.#q.all.all();
      return foldRows(rows as Row[]);
    });
  }

  removeExpired(before: number): Promise<string[]> {
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
