/**
 * postern's Redis token state (`gateway.service.tokenstate.impl=redis`, `postern.token.state.redis.url`) on a
 * real redis-server, shared by two gateway processes (shared-store.ts).
 */
import { type RedisFixture, startRedis } from '../../helpers/redis.ts';
import { sharedStoreSuite } from './shared-store.ts';

let fixture: RedisFixture | undefined;

sharedStoreSuite('Redis', 'RedisTokenStateService', async () => {
  fixture = await startRedis();
  const f = fixture;
  return {
    site: { 'gateway.service.tokenstate.impl': 'redis', 'postern.token.state.redis.url': f.url },
    durable: false,
    stop: () => f.stop(),
    start: () => f.start(),
    close: () => f.close(),
  };
});
