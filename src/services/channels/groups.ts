/**
 * @module services/channels/groups
 * Group names and keys. A client names a group `<prefix>-<item>` (AWX: `jobs-status_changed`, `job_events-42`);
 * the Channels layer's rule applies to the whole name: `[A-Za-z0-9._-]`, under 100 characters.
 *
 * Groups belong to a topology: inside a node and on the wire a group is keyed `<topology>/<group>`, so two
 * topologies never see each other's events. Gateway-wide groups (postern's own events) are keyed by their bare
 * name; their prefixes are reserved, and clients can never subscribe to or publish into a reserved prefix.
 */

/** Channels' group-name rule (channels `GROUP_NAME_REGEX`, names under 100 characters). */
const GROUP_NAME = /^[A-Za-z0-9._-]{1,99}$/;

/**
 * Prefixes clients may never use: AWX's backplane group (`broadcast-group_send`) and its internal `metrics`
 * group, and `postern` (the gateway's own events).
 */
export const RESERVED_PREFIXES: ReadonlySet<string> = new Set(['broadcast', 'metrics', 'postern']);

/** The gateway-wide group of postern's own events (topology deployed / undeployed / failed, backend health). */
export const POSTERN_EVENTS_GROUP = 'postern-events';

/** A prefix is what precedes a group name's first `-`: it cannot hold one itself. */
const PREFIX = /^[A-Za-z0-9._]{1,98}$/;

/** A whole group name: a valid prefix, `-`, then an item (publishers name groups whole). */
export function isValidGroupName(name: string): boolean {
  return GROUP_NAME.test(name) && PREFIX.test(prefixOf(name)) && name.includes('-');
}

export function isValidPrefix(prefix: string): boolean {
  return PREFIX.test(prefix);
}

/** The prefix of a group name: what precedes its first `-` (the whole name when there is none). */
export function prefixOf(group: string): string {
  const dash = group.indexOf('-');
  return dash < 0 ? group : group.slice(0, dash);
}

export function isReserved(group: string): boolean {
  return RESERVED_PREFIXES.has(prefixOf(group));
}

/** The node-wide key of a topology's group. */
export function groupKey(topology: string, group: string): string {
  return `${topology}/${group}`;
}

/** The topology a key belongs to ('' for gateway-wide groups). */
export function topologyOfKey(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash);
}

/** Whether a key received from a peer is one this node can hold. */
export function isValidKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  return slash === 0 ? false : isValidGroupName(slash < 0 ? key : key.slice(slash + 1));
}

/**
 * The event text clients receive: the publisher's object with `group_name` set to the group's prefix (the field
 * AWX clients route on), serialised once.
 */
export function eventText(group: string, message: Record<string, unknown>): string {
  return JSON.stringify({ ...message, group_name: prefixOf(group) });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The `group` label of the gateway's channel metrics (observability/metrics.ts): the topology and the prefix,
 * never the item, so that `job_events-<id>` does not make a series per job.
 */
export function metricGroup(key: string): string {
  const slash = key.lastIndexOf('/');
  return `${key.slice(0, slash + 1)}${prefixOf(key.slice(slash + 1))}`;
}
