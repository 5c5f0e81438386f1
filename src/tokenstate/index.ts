/**
 * @module tokenstate
 * Makes the gateway's token state service from gateway-site (docs/tokens.md): `gateway.service.tokenstate.impl`
 * chooses the store (Knox's class names map to postern's stores, config/settings-table.ts `TOKEN_STATE_IMPLS`),
 * `gateway.database.*` and the aliases `gateway_database_user` / `gateway_database_password` configure the JDBC
 * one, `postern.token.state.redis.url` (and the alias `postern_token_state_redis_password`) the Redis one. The
 * passcode hash key is the gateway alias `knox.token.hash.key` (Knox's), else a key derived from the master
 * secret: nodes sharing a store must share one of the two.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { hub } from '../cluster/ipc.ts';
import { AliasResolver } from '../config/aliases.ts';
import type { GatewaySettings } from '../config/gateway-site.ts';
import { topologyKey } from '../deploy/secrets.ts';
import { HubTokenStore } from './hub.ts';
import { MemoryTokenStore } from './memory.ts';
import { PostgresTokenStore } from './postgres.ts';
import { RedisTokenStore } from './redis.ts';
import { GatewayTokenState } from './service.ts';
import { SqliteTokenStore } from './sqlite.ts';
import type { TokenStore } from './store.ts';

export { GatewayTokenState } from './service.ts';

/** The SQLite store's file below the home. */
export const TOKEN_STATE_FILE = join('data', 'token-state.db');

const BACKENDS = {
  sqlite: 'DerbyDBTokenStateService',
  memory: 'DefaultTokenStateService',
  jdbc: 'JDBCTokenStateService',
  redis: 'RedisTokenStateService',
} as const;

export function createTokenState(
  settings: GatewaySettings,
  home: string,
  masterSecret: Uint8Array,
  log: Logger,
): GatewayTokenState {
  const ts = settings.tokenState;
  const db = settings.database;
  const aliases = new AliasResolver(home, masterSecret);
  const hashKey = aliases.lookup('knox.token.hash.key');
  const configured = settings.properties.get('gateway.service.tokenstate.impl')?.trim() ?? '';
  const open = (): TokenStore => {
    switch (ts.impl) {
      case 'memory': {
        // With several workers, the primary's: a token is the same on every worker.
        const rpc = hub();
        return rpc ? new HubTokenStore(rpc) : new MemoryTokenStore();
      }
      case 'jdbc':
        return new PostgresTokenStore(
          {
            connectionUrl: db.connectionUrl,
            host: db.host,
            port: db.port,
            database: db.name,
            user: aliases.lookup('gateway_database_user'),
            password: aliases.lookup('gateway_database_password'),
            ssl: db.sslEnabled,
            verifyServerCert: db.sslVerifyServerCert,
            truststoreFile: db.sslTruststoreFile,
          },
          (err) => log.debug({ type: 'token-state', err: err.message }, 'idle database connection failed'),
        );
      case 'redis':
        return new RedisTokenStore(
          ts.redisUrl ?? '',
          aliases.lookup('postern_token_state_redis_password'),
          (err) => log.debug({ type: 'token-state', err: err.message }, 'redis error'),
        );
      default:
        return new SqliteTokenStore(join(home, TOKEN_STATE_FILE));
    }
  };
  return new GatewayTokenState({
    open,
    backend: BACKENDS[ts.impl],
    configured: configured.slice(configured.lastIndexOf('.') + 1),
    serverManagedDefault: ts.serverManaged,
    limitPerUser: ts.limitPerUser,
    usersCanSeeAllTokens: ts.usersCanSeeAllTokens,
    hashAlgorithm: ts.hashAlgorithm,
    hashKey:
      hashKey !== undefined
        ? Buffer.from(hashKey, 'utf8')
        : topologyKey(masterSecret, '__gateway', 'knox.token.hash.key'),
    cacheTtlMs: ts.cacheTtlMs,
    cacheMax: ts.cacheMax,
    evictionIntervalMs: ts.evictionIntervalSeconds * 1000,
    evictionGraceMs: ts.evictionGraceSeconds * 1000,
    log,
  });
}
