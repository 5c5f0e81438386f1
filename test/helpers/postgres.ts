/**
 * A real PostgreSQL for tests: Debian's `postgresql` (15; installed by scripts/test.ts), a private cluster made by
 * `initdb` in a temporary directory and served on a free loopback port (TCP on 127.0.0.1, its socket in the
 * directory), with one password-authenticated (scram-sha-256) superuser {@link PG_USER} and a database
 * {@link PG_DATABASE}. PostgreSQL refuses to run as root: when the tests run as root it runs as the `postgres`
 * user (setpriv), the directory handed over to it.
 *
 * ```ts
 * const pg = await startPostgres();   // pg.port, pg.url = postgresql://knox:…@127.0.0.1:<port>/knox
 * after(() => pg.close());            // stops it and removes the directory
 * await pg.stop(); await pg.start();  // the same cluster and port: for "the database is down" tests
 * ```
 *
 * postgres runs under a guard (guarded-process.ts; SIGQUIT, PostgreSQL's immediate shutdown), so no server
 * outlives its test.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, GuardedProcess, waitUntilUp } from './guarded-process.ts';

export const PG_BIN = process.env.POSTGRES_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
export const PG_USER = 'knox';
export const PG_PASSWORD = 'knox-db-secret';
export const PG_DATABASE = 'knox';

export interface PostgresFixture {
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  readonly running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** Runs a command as `postgres` when we are root (PostgreSQL refuses root), else as ourselves. */
function asOwner(cmd: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [cmd, args];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', cmd, ...args]];
}

async function connects(port: number, database: string): Promise<boolean> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: PG_USER,
    password: PG_PASSWORD,
    database,
    connectionTimeoutMillis: 1000,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

class Postgres implements PostgresFixture {
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  readonly #server = new GuardedProcess('postgres', 'QUIT');
  #created = false;

  constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.url = `postgresql://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/${PG_DATABASE}`;
  }

  get running(): boolean {
    return this.#server.running;
  }

  init(): void {
    const pwfile = join(this.dir, 'pwfile');
    writeFileSync(pwfile, `${PG_PASSWORD}\n`);
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      chownSync(this.dir, uid, gid);
      chownSync(pwfile, uid, gid);
    }
    const [cmd, args] = asOwner(join(PG_BIN, 'initdb'), [
      '-D',
      join(this.dir, 'data'),
      '-U',
      PG_USER,
      '--pwfile',
      pwfile,
      '--auth=scram-sha-256',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    execFileSync(cmd, args, { stdio: 'pipe' });
  }

  async start(): Promise<void> {
    if (this.#server.running) return;
    const [cmd, args] = asOwner(join(PG_BIN, 'postgres'), [
      '-D',
      join(this.dir, 'data'),
      '-p',
      String(this.port),
      '-h',
      '127.0.0.1',
      '-k',
      this.dir,
      '-c',
      'fsync=off',
      '-c',
      `log_directory=${this.dir}`,
      '-c',
      'logging_collector=off',
    ]);
    const log = join(this.dir, 'postgres.log');
    await this.#server.start([cmd, ...args], { log });
    await waitUntilUp(this.#server, () => connects(this.port, 'postgres'), {
      timeoutMs: 30_000,
      intervalMs: 100,
      log,
      what: `postgres on port ${this.port}`,
    });
    if (!this.#created) {
      const client = new pg.Client({
        host: '127.0.0.1',
        port: this.port,
        user: PG_USER,
        password: PG_PASSWORD,
        database: 'postgres',
      });
      await client.connect();
      await client.query(`CREATE DATABASE ${PG_DATABASE}`);
      await client.end();
      this.#created = true;
    }
  }

  async stop(): Promise<void> {
    if (!this.#server.running) return;
    await this.#server.stop();
    while (await connects(this.port, 'postgres')) await new Promise((r) => setTimeout(r, 50));
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startPostgres(): Promise<PostgresFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-pg-'));
  const fixture = new Postgres(dir, await freePort());
  try {
    fixture.init();
    await fixture.start();
  } catch (err) {
    await fixture.close();
    throw err;
  }
  return fixture;
}
