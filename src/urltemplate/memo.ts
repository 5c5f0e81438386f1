/**
 * @module urltemplate/memo
 * The caches of parsed templates and statements: keyed by text that comes from configuration (so few in
 * practice), emptied whole when `limit` entries are reached — the cap only bounds a caller that feeds them text
 * from requests.
 */

/** `make(key)`, computed once per key until the memo fills up and starts over. */
export function boundedMemo<T>(limit: number): (key: string, make: (key: string) => T) => T {
  const cache = new Map<string, T>();
  return (key, make) => {
    let v = cache.get(key);
    if (v === undefined) {
      v = make(key);
      if (cache.size >= limit) cache.clear();
      cache.set(key, v);
    }
    return v;
  };
}
