/**
 * @module deploy/chain
 * Turns a route's ordered filters and its dispatch into one function, once, at deployment (undici's
 * `Dispatcher.compose`, hono's `compose`): the request path then only calls it. A filter that calls `next()`
 * twice is a bug in that provider; the second call is refused rather than dispatching the request twice.
 */
import type { Exchange, Filter, Handler } from '../spi/index.ts';

export interface NamedFilter {
  name: string;
  filter: Filter;
}

export function compose(filters: readonly NamedFilter[], handler: Handler): Handler {
  let run: Handler = handler;
  for (let i = filters.length - 1; i >= 0; i--) {
    const { name, filter } = filters[i];
    const next = run;
    run = (ex: Exchange) => {
      let called = false;
      return filter(ex, () => {
        if (called) return Promise.reject(new Error(`provider ${name} called next() more than once`));
        called = true;
        return next(ex);
      });
    };
  }
  return run;
}
