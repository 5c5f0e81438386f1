/**
 * A plugin for test/cluster/workers.test.ts: the `authorization` provider `CrashTest` makes the worker
 * that serves a request whose path ends in `/crash` fail with an uncaught exception (from a timer, as a bug in a
 * callback would), after letting the request go on.
 */
import type { ProviderFactory } from '../../src/spi/index.ts';

const crashProvider: ProviderFactory = {
  role: 'authorization',
  name: 'CrashTest',
  create: () => (ex, next) => {
    if (ex.path.endsWith('/crash')) {
      setTimeout(() => {
        throw new Error('the crash test provider failed on purpose');
      }, 50);
    }
    return next();
  },
};

export function register(registry: { provider(f: ProviderFactory): void }): void {
  registry.provider(crashProvider);
}
