/**
 * @module providers/webappsec/rate-limit
 * WebAppSec's rate limiting (`rate.limiting.*`; Knox configures Jetty's `DoSFilter`).
 *
 * Each client address has a token bucket holding `rate.limiting.maxRequestsPerSec` tokens (default 25) that
 * refills at that many per second: a client may send a burst of that size and then that rate. A request that
 * finds the bucket empty is answered at once with **429** and `Retry-After` (whole seconds until a token is
 * back). Addresses in `rate.limiting.ipWhitelist` (comma list of addresses, `*` prefix wildcards or CIDR subnets,
 * as Jetty accepts) are never limited. `rate.limiting.remotePort=true` keys the bucket by address and port (one
 * bucket per connection), as Jetty does. The address is the client's (Exchange.clientAddress): the socket's, or
 * behind one of `postern.trusted.proxies` the address it forwarded for, never an X-Forwarded-For anyone else
 * wrote (gateway/client-address.ts). The buckets are shared by every route of the topology's deployment that has the same settings, and a
 * bucket idle for `rate.limiting.maxIdleTrackerMs` (default 30000) is forgotten; at most 100,000 are kept (the
 * least recently used go first), so a flood of addresses cannot grow memory without bound.
 *
 * Deviation from Knox/Jetty, on purpose: Jetty first delays excess requests (`delayMs`, default 100 ms), then
 * throttles them through a queue (`throttledRequests`, `maxWaitMs`, `throttleMs`) and answers 429/503 only after
 * that. Holding requests costs sockets and memory in the gateway exactly when it is under load, and a delayed
 * client cannot tell it is being limited; postern refuses at once and says when to retry. `delayMs`, `maxWaitMs`,
 * `throttledRequests`, `throttleMs` and `maxRequestMs` are accepted and checked as numbers but change nothing;
 * `trackSessions` is accepted and ignored (postern has no servlet sessions, so tracking is always by address).
 * `rate.limiting.insertHeaders` (default true) adds `X-RateLimit-Limit` and `X-RateLimit-Remaining` to every
 * response (Jetty inserts a `DoSFilter` header on delayed requests instead).
 *
 * With `postern.state.redis.url` the buckets are in Redis (cluster/redis-state.ts), so a client's rate is counted
 * over every node; Redis unreachable makes the request a 503 (fail closed).
 */

import { hub } from '../../cluster/ipc.ts';
import { digest, sharedState } from '../../cluster/redis-state.ts';
import { ipListProblems, parseIpList } from '../../config/ip-list.ts';
import { Errors } from '../../errors.ts';
import type { Exchange, ProviderContext } from '../../spi/index.ts';
import type { ParamReader } from '../common/param-reader.ts';
import { TokenBuckets } from '../common/token-buckets.ts';
import type { Feature, Verdict } from './feature.ts';

const MAX_TRACKED = 100_000;

const IGNORED_NUMBERS: [string, number, number][] = [
  ['rate.limiting.delayMs', 100, -1],
  ['rate.limiting.maxWaitMs', 50, 0],
  ['rate.limiting.throttledRequests', 5, 0],
  ['rate.limiting.throttleMs', 30000, 0],
  ['rate.limiting.maxRequestMs', 30000, 0],
];

export function buildRateLimit(params: ParamReader, ctx: ProviderContext): Feature {
  const rate = params.int('rate.limiting.maxRequestsPerSec', 25, 1);
  const idleMs = params.int('rate.limiting.maxIdleTrackerMs', 30000, 0);
  const byPort = params.bool('rate.limiting.remotePort', false);
  const insertHeaders = params.bool('rate.limiting.insertHeaders', true);
  params.bool('rate.limiting.trackSessions', true);
  for (const [name, fallback, min] of IGNORED_NUMBERS) params.int(name, fallback, min);
  const whitelistText = params.text('rate.limiting.ipWhitelist', '');
  const bad = ipListProblems(whitelistText);
  if (bad.length > 0) {
    params.error('rate.limiting.ipWhitelist', `not an address, prefix wildcard or subnet: ${bad.join(', ')}`);
  }
  const whitelist = whitelistText ? parseIpList(whitelistText) : undefined;

  const namespace = `webappsec/rate-limit/${rate}/${idleMs}/${byPort}`;
  // Several workers: the buckets are the primary's (cluster/hub.ts), so a client's rate is counted over all of
  // them; a hub that does not answer makes the request a 503 (fail closed).
  // Several nodes (postern.state.redis.url): the buckets are in Redis, taken atomically by every node and worker.
  const redis = sharedState(ctx.settings);
  const rpc = redis ? undefined : hub();
  const buckets =
    rpc || redis ? undefined : ctx.shared(namespace, () => new TokenBuckets(rate, idleMs, MAX_TRACKED));
  const limit = String(rate);
  const shared = `${ctx.topology.name}/${namespace}`;

  const verdict = (ex: Exchange, left: number): Verdict => {
    if (insertHeaders) {
      ex.res.setHeader('X-RateLimit-Limit', limit);
      ex.res.setHeader('X-RateLimit-Remaining', String(Math.max(left, 0)));
    }
    if (left >= 0) return undefined;
    const seconds = Math.max(1, Math.ceil(-left / 1000));
    return {
      error: Errors.tooManyRequests(`Too many requests from this client; retry in ${seconds} s`, {
        headers: { 'retry-after': String(seconds) },
      }),
      reason: 'rate limit',
    };
  };

  return {
    name: 'rate-limit',
    run(ex): Verdict | Promise<Verdict> {
      const address = ex.clientAddress ?? '';
      if (whitelist?.matches(address)) return undefined;
      const key = byPort ? `${address}|${ex.req.socket?.remotePort}` : address;
      if (buckets) return verdict(ex, buckets.take(key, performance.now()));
      if (redis) return redis.take(shared, digest(key), rate, idleMs).then((left) => verdict(ex, left));
      return rpc!.request<number>('bucket.take', { ns: shared, rate, idleMs, key }).then(
        (left) => verdict(ex, left),
        (err: unknown) => {
          throw Errors.unavailable('The rate limiter is unavailable; retry shortly', { cause: err });
        },
      );
    },
  };
}
