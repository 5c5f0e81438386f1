/**
 * @module topology/compare
 * What a topology *says*, without where it says it: the basis for "did this topology really change?"
 * (`gateway.topology.redeploy.requires.changes`) and for checking that two formats describe the same thing.
 */
import type { Topology } from './model.ts';

/** Keys that record where or how a topology was written, not what it configures. */
const LOCATION_KEYS = new Set(['pos', 'file']);

/**
 * A canonical JSON text of a topology's content: positions and the file path left out, absent optional fields
 * and present-but-undefined ones treated alike, object keys sorted. Order inside lists is kept (it matters).
 */
export function topologyContent(t: Topology): string {
  return JSON.stringify(t, (key, value) => {
    if (LOCATION_KEYS.has(key)) return undefined;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return value;
  });
}

/** Whether two topologies configure the same thing (see {@link topologyContent}). */
export function sameTopologyContent(a: Topology, b: Topology): boolean {
  return topologyContent(a) === topologyContent(b);
}
