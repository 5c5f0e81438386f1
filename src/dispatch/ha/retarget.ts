/**
 * @module dispatch/ha/retarget
 * Moving a rewritten backend URL from one of a service's URLs to another. The rewrite rules build the target from
 * the service's first `<url>` (`$serviceUrl[ROLE]`); when HA picks another URL, the scheme, host and port of the
 * target are replaced, and so is the URL's base path when the target lies under it (as Knox's HA dispatch
 * does). A target on another origin (a datanode the rewrite decrypted from a query) is not the service's and is
 * left alone.
 */
import { splitTarget } from '../target-url.ts';

export interface UrlBase {
  /** `http://host:port`, as written. */
  origin: string;
  /** The path of the service URL without a trailing `/` (`''` for none). */
  base: string;
}

export function urlBase(url: string): UrlBase | undefined {
  const target = splitTarget(url);
  if (!target) return undefined;
  let base = target.path.split('?', 1)[0];
  while (base.endsWith('/')) base = base.slice(0, -1);
  return { origin: target.origin, base };
}

/** Whether `path` is `base` or lies below it. */
function under(path: string, base: string): boolean {
  if (!path.startsWith(base)) return false;
  const next = path.charCodeAt(base.length);
  return Number.isNaN(next) || next === 0x2f || next === 0x3f || next === 0x23;
}

/**
 * `url` with `from`'s origin (and base path, when `url` is under it) replaced by `to`'s; undefined when `url` is
 * not on `from`'s origin. Origins compare without regard to case.
 */
export function retarget(url: string, from: UrlBase, to: UrlBase): string | undefined {
  const o = from.origin.length;
  if (url.length < o || url.slice(0, o).toLowerCase() !== from.origin.toLowerCase()) return undefined;
  const next = url.charCodeAt(o);
  if (!(Number.isNaN(next) || next === 0x2f || next === 0x3f || next === 0x23)) return undefined;
  let rest = url.slice(o);
  if (from.base !== '' && under(rest, from.base)) rest = to.base + rest.slice(from.base.length);
  else if (from.base === '' && to.base !== '') rest = to.base + rest;
  if (rest.charCodeAt(0) !== 0x2f) rest = `/${rest}`;
  return to.origin + rest;
}
