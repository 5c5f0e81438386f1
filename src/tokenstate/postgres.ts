/**
 * @module tokenstate/postgres
 * Knox's `JDBCTokenStateService` with `gateway.database.type=postgresql`: Knox's tables and statements
 * (`createKnoxTokenDatabaseTablePostgres.sql`, `createKnoxTokenMetadataDatabaseTablePostgres.sql`, created under
 * Knox's advisory lock 12345 so nodes starting together do not race), through `pg`'s pool. Several gateway nodes
 * share it: each one's revocation is seen by the others (within their cache's TTL, service.ts). A database a Knox
 * gateway already uses can be shared with it.
 *
 * Where: `gateway.database.connection.url` (`jdbc:postgresql://host:5432/db?…`, the `jdbc:` prefix optional), or
 * `gateway.database.host`, `.port` (default 5432) and `.name`; the user and password are the gateway aliases
 * `gateway_database_user` and `gateway_database_password` (Knox's). TLS with `gateway.database.ssl.enabled`,
 * verified unless `gateway.database.ssl.verify.server.cert=false`, against `gateway.database.ssl.truststore.file`
 * (PEM) when given.
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { lazyRequire } from '../lazy-require.ts';
import type { TokenRecord } from '../spi/index.ts';
import { foldRows, type TokenStore } from './store.ts';

/** pg is loaded by a gateway whose token state is in PostgreSQL only. */
const pgModule = lazyRequire<typeof import('pg')>('pg');

const CREATE = [
  'SELECT pg_advisory_lock(12345)',
  `CREATE TABLE IF NOT EXISTS KNOX_TOKENS (
     token_id varchar(128) NOT NULL,
     issue_time bigint NOT NULL,
     expiration bigint NOT NULL,
     max_lifetime bigint NOT NULL,
     PRIMARY KEY (token_id))`,
  `CREATE TABLE IF NOT EXISTS KNOX_TOKEN_METADATA (
     token_id varchar(128) NOT NULL,
     md_name varchar(32) NOT NULL,
     md_value varchar(256) NOT NULL,
     PRIMARY KEY (token_id, md_name),
     CONSTRAINT fk_token_id FOREIGN KEY(token_id) REFERENCES KNOX_TOKENS(token_id) ON DELETE CASCADE)`,
  'SELECT pg_advisory_unlock(12345)',
];

const ALL = `SELECT kt.token_id, kt.issue_time, kt.expiration, kt.max_lifetime, ktm.md_name, ktm.md_value
  FROM KNOX_TOKENS kt LEFT JOIN KNOX_TOKEN_METADATA ktm ON kt.token_id = ktm.token_id`;
const UPSERT_MD = `INSERT INTO KNOX_TOKEN_METADATA (token_id, md_name, md_value) VALUES ($1, $2, $3)
  ON CONFLICT (token_id, md_name) DO UPDATE SET md_value = EXCLUDED.md_value`;

export interface PostgresOptions {
  connectionUrl?: string;
  host?: string;
  port: number;
  database: string;
  user?: string;
  password?: string;
  ssl: boolean;
  verifyServerCert: boolean;
  truststoreFile?: string;
}

export class PostgresTokenStore implements TokenStore {
  readonly backend = 'JDBCTokenStateService';
  readonly persistent = true;
  readonly #pool: pg.Pool;
  #ready?: Promise<void>;

  constructor(options: PostgresOptions, onIdleError: (err: Error) => void) {
    const ssl = options.ssl
      ? {
          rejectUnauthorized: options.verifyServerCert,
          ...(options.truststoreFile ? { ca: readFileSync(options.truststoreFile, 'utf8') } : {}),
        }
      : undefined;
    const common = {
      max: 8,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      query_timeout: 10_000,
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(ssl ? { ssl } : {}),
    };
    this.#pool = options.connectionUrl
      ? new (pgModule().Pool)({ connectionString: options.connectionUrl.replace(/^jdbc:/i, ''), ...common })
      : new (pgModule().Pool)({
          host: options.host,
          port: options.port || 5432,
          database: options.database,
          ...common,
        });
    // A pooled connection the server drops while idle must not take the gateway down; the next query reports.
    this.#pool.on('error', onIdleError);
  }

  /** Creates the tables once per process (retried after a failure: the database may come up later). */
  #tables(): Promise<void> {
    this.#ready ??= (async () => {
      const client = await this.#pool.connect();
      try {
        for (const sql of CREATE) await client.query(sql);
      } finally {
        client.release();
      }
    })().catch((err) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async #query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    await this.#tables();
    return this.#pool.query<R>(sql, values);
  }

  async add(r: TokenRecord): Promise<void> {
    await this.#tables();
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        'INSERT INTO KNOX_TOKENS (token_id, issue_time, expiration, max_lifetime) VALUES ($1, $2, $3, $4)',
        [r.tokenId, r.issueTime, r.expiration, r.maxLifetime],
      );
      for (const [name, value] of Object.entries(r.metadata)) {
        await client.query(UPSERT_MD, [r.tokenId, name, value]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async get(tokenId: string): Promise<TokenRecord | undefined> {
    const res = await this.#query(`${ALL} WHERE kt.token_id = $1`, [tokenId]);
    return foldRows(res.rows as never)[0];
  }

  async setExpiration(tokenId: string, expiration: number): Promise<boolean> {
    const res = await this.#query('UPDATE KNOX_TOKENS SET expiration = $1 WHERE token_id = $2', [
      expiration,
      tokenId,
    ]);
    return (res.rowCount ?? 0) > 0;
  }

  async setMetadata(tokenId: string, entries: Readonly<Record<string, string>>): Promise<boolean> {
    const exists = await this.#query('SELECT 1 FROM KNOX_TOKENS WHERE token_id = $1', [tokenId]);
    if ((exists.rowCount ?? 0) === 0) return false;
    for (const [name, value] of Object.entries(entries)) {
      try {
        await this.#query(UPSERT_MD, [tokenId, name, value]);
      } catch (err) {
        // Revoked meanwhile (the foreign key refuses the row): the token is unknown now.
        if ((err as { code?: string }).code === '23503') return false;
        throw err;
      }
    }
    return true;
  }

  async remove(tokenId: string): Promise<boolean> {
    const res = await this.#query('DELETE FROM KNOX_TOKENS WHERE token_id = $1', [tokenId]);
    return (res.rowCount ?? 0) > 0;
  }

  async list(filter?: { name: string; value: string }): Promise<TokenRecord[]> {
    const res = filter
      ? await this.#query(
          `${ALL} WHERE kt.token_id IN (SELECT token_id FROM KNOX_TOKEN_METADATA WHERE md_name = $1 AND md_value = $2)`,
          [filter.name, filter.value],
        )
      : await this.#query(ALL);
    return foldRows(res.rows as never);
  }

  async removeExpired(before: number): Promise<string[]> {
    const res = await this.#query<{ token_id: string }>(
      'DELETE FROM KNOX_TOKENS WHERE expiration < $1 AND expiration > 0 RETURNING token_id',
      [before],
    );
    return res.rows.map((r) => r.token_id);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
