/**
 * @module lazy-require
 * Loads a CommonJS dependency at its first use, synchronously, for the packages only some gateways need (ioredis
 * without Redis configured, jks-js without a JKS keystore, pino-pretty without a terminal): each costs tens to
 * hundreds of milliseconds to load, in every process of `postern start`, for nothing when unused.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The package's exports, loaded (and cached by Node) at the first call. */
export function lazyRequire<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(name) as T;
    return loaded;
  };
}
