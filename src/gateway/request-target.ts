/**
 * @module gateway/request-target
 * Splits a request target into gateway path, topology and the path below it, and refuses paths that could
 * climb out of a service's prefix. A dot segment (`.` or `..`), raw or percent-encoded (`%2e%2E`), or hidden
 * behind an encoded slash or backslash (`..%2f`, `..%5c`) is refused with 400 instead of being normalized:
 * backends decode differently, so the only safe normal form is one that has none.
 */

export interface RequestTarget {
  topology: string;
  /** Below the topology, starting with `/` (`/` when empty). */
  path: string;
  /** Without the `?`; '' when absent. */
  query: string;
}

export type TargetResult =
  | { ok: true; target: RequestTarget }
  | { ok: false; reason: 'not-gateway' | 'bad-path' | 'no-topology' };

const HAS_SUSPECT = /[.%\\]/;

/** True when some segment of the path is a dot segment once decoded, or a NUL/control character is encoded. */
export function hasDotSegment(path: string): boolean {
  if (!HAS_SUSPECT.test(path)) return false;
  let decoded = path;
  // Decode repeatedly: a backend or a second proxy may decode twice (`%252e`).
  for (let i = 0; i < 3 && decoded.includes('%'); i++) {
    const next = safeDecode(decoded);
    // Malformed escapes in the request itself are refused; after one decoding a `%` is just a character.
    if (next === undefined) {
      if (i === 0) return true;
      break;
    }
    if (next === decoded) break;
    decoded = next;
  }
  if (/[\u0000-\u001f]/.test(decoded)) return true;
  for (const segment of decoded.split(/[\\/]/)) {
    if (segment === '.' || segment === '..') return true;
  }
  return false;
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * @param url the raw request target (`req.url`)
 * @param prefix `/{gateway.path}/`
 */
export function parseRequestTarget(url: string, prefix: string): TargetResult {
  if (!url.startsWith(prefix)) return { ok: false, reason: 'not-gateway' };
  const q = url.indexOf('?');
  const pathPart = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  if (hasDotSegment(pathPart)) return { ok: false, reason: 'bad-path' };
  const rest = pathPart.slice(prefix.length);
  const slash = rest.indexOf('/');
  const topology = slash < 0 ? rest : rest.slice(0, slash);
  if (topology.length === 0) return { ok: false, reason: 'no-topology' };
  const path = slash < 0 ? '/' : rest.slice(slash);
  return { ok: true, target: { topology, path, query } };
}
