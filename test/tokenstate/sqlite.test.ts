/**
 * The SQLite token store while another connection holds the file's write lock, as another worker's does with
 * `postern.workers` > 1: the store waits without holding its event loop, writes once the lock is let go, reads
 * meanwhile (WAL), and after its busy timeout fails naming the file, having changed nothing. The other connection
 * is this process's own, so that it can only let go from a timer: a store that waited inside its call (SQLite's own
 * busy timeout) would hold that timer back until it gave up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import type { TokenRecord } from '../../src/spi/index.ts';
import { SqliteTokenStore } from '../../src/tokenstate/sqlite.ts';

const EXPIRATION = 2_000_000_000_000;
const record = (tokenId: string): TokenRecord => ({
  tokenId,
  issueTime: 1,
  expiration: EXPIRATION,
  maxLifetime: -1,
  metadata: { userName: 'sam', enabled: 'true' },
});

describe('the SQLite token store while another connection holds the write lock', () => {
  let dir: string;
  let file: string;
  let store: SqliteTokenStore;
  let other: DatabaseSync;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'postern-sqlite-'));
    file = join(dir, 'data', 'token-state.db');
    store = new SqliteTokenStore(file, { busyTimeoutMs: 5000 });
    other = new DatabaseSync(file);
  });

  after(async () => {
    await store?.close();
    if (other?.isOpen) other.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('waits with its event loop free, and writes once the lock is let go', async () => {
    other.exec('BEGIN IMMEDIATE');
    const order: string[] = [];
    const added = store.add(record('a')).then(() => order.push('added'));
    setImmediate(() => order.push('immediate'));
    setTimeout(() => {
      order.push('released');
      other.exec('COMMIT');
    }, 50);
    await added;
    assert.deepEqual(order, ['immediate', 'released', 'added']);
    const got = await store.get('a');
    assert.equal(got?.metadata.userName, 'sam');
    assert.equal(got?.expiration, EXPIRATION);
  });

  it('reads while the lock is held (WAL: a reader never waits for the writer)', async () => {
    other.exec('BEGIN IMMEDIATE');
    try {
      assert.equal((await store.get('a'))?.tokenId, 'a');
      assert.deepEqual(
        (await store.list()).map((r) => r.tokenId),
        ['a'],
      );
    } finally {
      other.exec('COMMIT');
    }
  });

  it('retries a metadata update whole, and applies all of it once free', async () => {
    other.exec('BEGIN IMMEDIATE');
    const updated = store.setMetadata('a', { enabled: 'false', comment: 'held' });
    setTimeout(() => other.exec('COMMIT'), 30);
    assert.equal(await updated, true);
    assert.deepEqual((await store.get('a'))?.metadata, {
      userName: 'sam',
      enabled: 'false',
      comment: 'held',
    });
  });

  it('fails after its busy timeout, naming the file, and changes nothing', async () => {
    const short = new SqliteTokenStore(file, { busyTimeoutMs: 150 });
    other.exec('BEGIN IMMEDIATE');
    try {
      await assert.rejects(short.add(record('b')), (err: Error) => {
        assert.equal(err.message, `${file} stayed locked by another connection for 150 ms`);
        assert.equal((err.cause as { errcode?: number }).errcode, 5);
        return true;
      });
      await assert.rejects(short.remove('a'), /stayed locked/);
      await assert.rejects(short.setExpiration('a', 5), /stayed locked/);
      await assert.rejects(short.removeExpired(EXPIRATION + 1), /stayed locked/);
    } finally {
      other.exec('COMMIT');
    }
    assert.equal(await store.get('b'), undefined);
    assert.equal((await store.get('a'))?.expiration, EXPIRATION);
    // Free again: the same store writes.
    await short.add(record('b'));
    assert.equal((await store.get('b'))?.tokenId, 'b');
    await short.close();
  });

  it('fails at once on an error that is not a lock', async () => {
    let failed: unknown;
    store.add(record('a')).catch((err: unknown) => {
      failed = err;
    });
    await turn();
    assert.match(String(failed), /UNIQUE constraint failed/);
    // And the failed transaction was rolled back: the connection writes on.
    await store.add(record('c'));
    assert.equal((await store.get('c'))?.tokenId, 'c');
  });
});
