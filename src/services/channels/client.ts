/**
 * @module services/channels/client
 * One subscriber's WebSocket, speaking AWX's client protocol with AWX's defects fixed.
 *
 * - On open: `{"accept": true, "user": <principal>}`, and no subscription.
 * - A text frame `{"xrftoken": ..., "groups": {"<prefix>": [<item>, ...]}, "since": {...}}` replaces every
 *   earlier subscription: each item names the group `<prefix>-<item>` (ints and numeric strings alike). Errors
 *   come first, one frame per refused item (`{"error": "access denied to channel <prefix> for resource id
 *   <item>"}`), then `{"groups_current", "groups_left", "groups_joined"}`. `{}` leaves everything; a message
 *   without `groups` changes nothing and is not answered. Groups kept by both sets stay joined throughout.
 * - When the connection was authenticated by a cookie (a session or SSO cookie), `xrftoken` must equal the
 *   CSRF cookie the handshake carried (`csrftoken` unless configured), compared in constant time; otherwise
 *   `{"error": "access denied to channel"}` and nothing changes. Header credentials (Basic, bearer token) are
 *   not ambient, so they need no xrftoken (AWX asks it of everyone, so its header-only clients can never
 *   subscribe).
 * - Unlike AWX: a malformed message (not JSON, binary, not an object, a `groups` value that is not an object
 *   of arrays) is answered with an error frame and changes nothing (AWX crashes with 1011 or leaks the old
 *   subscriptions); an invalid group name gets an error frame (AWX: 1011); reserved prefixes (`broadcast`,
 *   `metrics`, `postern`) and prefixes the topology's ACLs refuse are denied like AWX's per-object denials.
 * - Events are sent as their publisher's JSON text, unwrapped. A client whose unsent bytes pass the topology's
 *   bound is closed with 4008 `slow consumer` (counted, logged); nothing is dropped silently.
 * - Groups with history also carry `_offset` and `_epoch`; a client that reconnects asks for what it missed
 *   with `"since": {"<group>": {"offset": n, "epoch": "..."}}` (or just `n`), receives it right after the
 *   reply, or is told `{"error": "cannot recover <group> since offset n", "group", "epoch", "offset"}` (the
 *   current position) when the history no longer holds it.
 */
import { timingSafeEqual } from 'node:crypto';
import type { WebSocket } from 'ws';
import { CloseCodes } from '../../errors.ts';
import { type ChannelEvent, channelEvents } from '../../observability/events.ts';
import type { AclSubject } from '../../providers/authorization/acl.ts';
import {
  groupKey,
  isPlainObject,
  isReserved,
  isValidGroupName,
  isValidPrefix,
  metricGroup,
  prefixOf,
} from './groups.ts';
import type { ChannelNode, ClientConnection, HistoryOptions, Since } from './node.ts';

/** The close code of a subscriber that does not keep up (private-use range). */
export const SLOW_CONSUMER_CODE = CloseCodes.slowConsumer;
/** How long a slow subscriber has to read its backlog and the close frame before it is cut. */
const SLOW_CLOSE_GRACE_MS = 10_000;

/** What a topology's CHANNELS service decides for its clients (dispatch.ts). */
export interface ClientPolicy {
  readonly topology: string;
  readonly queueBytes: number;
  readonly maxGroups: number;
  readonly pingMs: number;
  maySubscribe(prefix: string, item: string, subject: AclSubject): boolean;
  history(prefix: string): HistoryOptions | undefined;
}

export interface ClientIdentity {
  subject: AclSubject;
  /** The CSRF cookie's value when the connection was authenticated by a cookie; null: required but absent. */
  xrf: string | null | undefined;
  expiresAt: number | undefined;
}

const DENIED = JSON.stringify({ error: 'access denied to channel' });

export class ChannelClient implements ClientConnection {
  readonly topology: string;
  readonly #ws: WebSocket;
  readonly #node: ChannelNode;
  readonly #policy: ClientPolicy;
  readonly #id: ClientIdentity;
  readonly #groups = new Set<string>();
  #closed = false;
  #alive = true;
  #expiry?: NodeJS.Timeout;

  constructor(ws: WebSocket, node: ChannelNode, policy: ClientPolicy, id: ClientIdentity) {
    this.topology = policy.topology;
    this.#ws = ws;
    this.#node = node;
    this.#policy = policy;
    this.#id = id;
    node.addClient(this);
    ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    ws.on('pong', () => {
      this.#alive = true;
    });
    ws.on('error', () => {});
    ws.on('close', () => this.#shutdown());
    if (id.expiresAt !== undefined) {
      const ms = Math.min(Math.max(0, id.expiresAt - Date.now()), 2 ** 31 - 1);
      this.#expiry = setTimeout(() => this.close(CloseCodes.policyViolation, 'credential expired'), ms);
      this.#expiry.unref();
    }
    ws.send(JSON.stringify({ accept: true, user: id.subject.user }));
  }

  get groups(): ReadonlySet<string> {
    return this.#groups;
  }

  deliver(text: string, key: string): boolean {
    if (this.#closed) return false;
    const queued = this.#ws.bufferedAmount;
    if (queued + text.length > this.#policy.queueBytes) {
      this.#slow(queued, key);
      return false;
    }
    this.#ws.send(text);
    return true;
  }

  /** Called every `pingMs`: a client that did not answer the last ping (nor sent anything) is cut. */
  heartbeat(): void {
    if (this.#closed) return;
    if (!this.#alive) {
      this.#ws.terminate();
      return;
    }
    this.#alive = false;
    this.#ws.ping();
  }

  close(code: number, reason: string): void {
    this.#shutdown();
    this.#ws.close(code, reason);
    setTimeout(() => this.#ws.terminate(), SLOW_CLOSE_GRACE_MS).unref();
  }

  #slow(queued: number, key: string): void {
    const limit = this.#policy.queueBytes;
    this.#node.slowConsumer(this.topology);
    this.#node.log?.warn(
      { topology: this.topology, user: this.#id.subject.user, queuedBytes: queued, limit },
      'channels: slow consumer closed',
    );
    if (channelEvents.hasSubscribers)
      channelEvents.publish({ event: 'dropped', group: metricGroup(key), count: 1 } satisfies ChannelEvent);
    this.close(SLOW_CONSUMER_CODE, `slow consumer: more than ${limit} bytes unsent`);
  }

  /** Leaves every group and the node's books; idempotent, and all a closed connection leaves behind. */
  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#expiry) clearTimeout(this.#expiry);
    for (const g of this.#groups) this.#node.unsubscribe(groupKey(this.topology, g), this);
    this.#groups.clear();
    this.#node.removeClient(this);
  }

  #send(frame: unknown): void {
    if (!this.#closed) this.#ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    this.#alive = true;
    if (this.#closed) return;
    if (isBinary) {
      this.#send({ error: 'binary frames are not accepted' });
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      this.#send({ error: 'message is not JSON' });
      return;
    }
    if (!isPlainObject(msg)) {
      this.#send({ error: 'message is not a JSON object' });
      return;
    }
    if (this.#id.xrf !== undefined && !xrfMatches(msg.xrftoken, this.#id.xrf)) {
      this.#send(DENIED);
      return;
    }
    if (!('groups' in msg)) return;
    const requested = msg.groups;
    if (!isPlainObject(requested) || !Object.values(requested).every(Array.isArray)) {
      this.#send(DENIED);
      return;
    }
    const since = isPlainObject(msg.since) ? msg.since : undefined;

    const errors: unknown[] = [];
    const next = new Set<string>();
    for (const [prefix, items] of Object.entries(requested as Record<string, unknown[]>)) {
      for (const raw of items) {
        const item =
          typeof raw === 'string'
            ? raw
            : typeof raw === 'number' && Number.isInteger(raw)
              ? String(raw)
              : undefined;
        const name = `${prefix}-${item}`;
        if (item === undefined || !isValidPrefix(prefix) || !isValidGroupName(name)) {
          errors.push({ error: `invalid channel ${clip(prefix)} for resource id ${clip(String(raw))}` });
          continue;
        }
        if (isReserved(name) || !this.#policy.maySubscribe(prefix, item, this.#id.subject)) {
          errors.push({ error: `access denied to channel ${prefix} for resource id ${item}` });
          continue;
        }
        next.add(name);
      }
    }
    if (next.size > this.#policy.maxGroups) {
      this.#send({ error: `too many channels: at most ${this.#policy.maxGroups}` });
      return;
    }
    for (const e of errors) this.#send(e);

    const left = [...this.#groups].filter((g) => !next.has(g));
    const joined = [...next].filter((g) => !this.#groups.has(g));
    const topology = this.topology;
    for (const g of joined) {
      this.#node.subscribe(groupKey(topology, g), this, this.#policy.history(prefixOf(g)));
      this.#groups.add(g);
    }
    for (const g of left) {
      this.#node.unsubscribe(groupKey(topology, g), this);
      this.#groups.delete(g);
    }
    // What a reconnecting client missed, from the groups it joins now (a group it kept gets nothing twice).
    const replay: string[] = [];
    if (since) {
      for (const g of joined) {
        if (!(g in since)) continue;
        const asked = parseSince(since[g]);
        const recovery = asked ? this.#node.recover(groupKey(topology, g), asked) : undefined;
        if (recovery?.ok) replay.push(...recovery.texts);
        else
          this.#send({
            error: `cannot recover ${g} since offset ${clip(String(asked?.offset ?? since[g]))}`,
            group: g,
            epoch: recovery?.epoch ?? null,
            offset: recovery?.offset ?? null,
          });
      }
    }
    this.#send({ groups_current: [...next], groups_left: left, groups_joined: joined });
    for (const text of replay) this.#send(text);
  }
}

function parseSince(value: unknown): Since | undefined {
  if (typeof value === 'number') return { offset: value };
  if (isPlainObject(value) && typeof value.offset === 'number') {
    return { offset: value.offset, epoch: typeof value.epoch === 'string' ? value.epoch : undefined };
  }
  return undefined;
}

function xrfMatches(given: unknown, expected: string | null): boolean {
  if (expected === null || typeof given !== 'string' || given === '') return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
