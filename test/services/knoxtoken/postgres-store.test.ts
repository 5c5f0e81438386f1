/**
 * Knox's JDBC token state on a real PostgreSQL (test/helpers/postgres.ts), shared by two gateway processes
 * (shared-store.ts): `gateway.service.tokenstate.impl=org.apache.knox.gateway.services.token.impl.JDBCTokenStateService`,
 * `gateway.database.type=postgresql`, host/port/name, the user and password from the aliases
 * `gateway_database_user` / `gateway_database_password`. Knox's tables are there afterwards.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import pg from 'pg';
import {
  PG_DATABASE,
  PG_PASSWORD,
  PG_USER,
  type PostgresFixture,
  startPostgres,
} from '../../helpers/postgres.ts';
import { sharedStoreSuite } from './shared-store.ts';
import { createAlias } from './token-fixture.ts';

let fixture: PostgresFixture | undefined;

sharedStoreSuite('PostgreSQL', 'JDBCTokenStateService', async () => {
  fixture = await startPostgres();
  const f = fixture;
  return {
    site: {
      'gateway.service.tokenstate.impl': 'org.apache.knox.gateway.services.token.impl.JDBCTokenStateService',
      'gateway.database.type': 'postgresql',
      'gateway.database.host': '127.0.0.1',
      'gateway.database.port': f.port,
      'gateway.database.name': PG_DATABASE,
    },
    prepare(home) {
      createAlias(home, 'gateway_database_user', PG_USER);
      createAlias(home, 'gateway_database_password', PG_PASSWORD);
    },
    durable: true,
    stop: () => f.stop(),
    start: () => f.start(),
    close: async () => {},
  };
});

it("keeps Knox's tables KNOX_TOKENS and KNOX_TOKEN_METADATA", async () => {
  const client = new pg.Client(fixture!.url);
  await client.connect();
  const tokens = await client.query('SELECT token_id, issue_time, expiration, max_lifetime FROM KNOX_TOKENS');
  assert.ok(tokens.rowCount! >= 1);
  const md = await client.query("SELECT md_value FROM KNOX_TOKEN_METADATA WHERE md_name = 'userName'");
  assert.ok(md.rows.some((r) => r.md_value === 'sam'));
  const passcodes = await client.query("SELECT md_value FROM KNOX_TOKEN_METADATA WHERE md_name = 'passcode'");
  assert.ok(
    passcodes.rows.every((r) => !/^[0-9a-f-]{36}$/.test(r.md_value)),
    'a hash, not the passcode',
  );
  await client.end();
});

after(() => fixture?.close());
