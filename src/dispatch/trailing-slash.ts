/**
 * @module dispatch/trailing-slash
 * A trailing `/` of the client's path kept on the backend URL. Knox's templates drop it (`{path=**}` expands the
 * segments, not the slash after the last), which Knox's HBase UI and NiFi dispatches repair with
 * `fixTrailingSlash` (HBaseRequestUtil, NiFiRequestUtil); postern's `keepTrailingSlash` dispatch param does the
 * same for any HTTP dispatch, and the bundled generic HTTP service sets it, since Django-style backends redirect
 * `/api/me` to `/api/me/` and would otherwise redirect forever.
 */
import type { Exchange } from '../spi/index.ts';

/**
 * When the client's path ends with `/`, a target edit that puts the slash back (before the query) on a rewritten
 * URL that lost it; undefined otherwise.
 */
export function keepTrailingSlash(ex: Exchange): ((url: string) => string) | undefined {
  if (!ex.path.endsWith('/')) return undefined;
  return (url) => {
    const q = url.search(/[?#]/);
    const base = q < 0 ? url : url.slice(0, q);
    if (base.endsWith('/')) return url;
    return q < 0 ? `${base}/` : `${base}/${url.slice(q)}`;
  };
}
