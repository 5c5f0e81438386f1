/**
 * @module cluster/hub
 * The state every worker of one gateway shares, kept in the primary and reached over the IPC channel
 * (cluster/rpc.ts), so the gateway behaves as one whichever worker a connection lands on:
 *
 * - **sessions** (ShiroProvider's `KNOXSESSIONID`): one {@link SessionStore} per namespace (topology and provider
 *   configuration). A namespace lives while a worker has a deployment using it: each worker opens it when it
 *   deploys and closes it when that deployment retires, and it is dropped (its sessions with it) when no worker
 *   holds it any more — a worker that dies lets go of its holds.
 * - **rate limits** (WebAppSec's `rate.limiting.*`): one {@link TokenBuckets} per namespace, taken at the
 *   primary's clock.
 * - **WebSocket connections per topology**: each worker reports its opens and closes; the count is the sum over
 *   live workers (a dead worker's connections are gone with it).
 * - **channels**: which worker has subscribers of which group; a message published on one worker is relayed to
 *   the others that have subscribers of its group (never back to its publisher).
 * - **login throttle** (providers/common/login-throttle.ts): one {@link LoginThrottle} per set of limits (a
 *   reload may change them), so failed logins and password checks count over all workers; an attempt is admitted
 *   and counted in one step (`login.reserve`), so concurrent attempts on several workers cannot exceed the limit.
 * - **token state** with `gateway.service.tokenstate.impl=memory` (tokenstate/hub.ts): one {@link MemoryTokenStore}
 *   for every worker (`token.*`), so a token issued or revoked through one worker is the same on the others.
 * - **HA backend health**: a URL one worker's request found failed (or back) is relayed to every other worker
 *   (`ha.mark`), which applies the same mark (cluster/worker-shared.ts).
 * - **the admin API's views** of per-process state (recent errors, connections, traffic…): `admin.all` asks every
 *   worker for its part and hands back the answers, each with its worker (services/admin/gateway-wide.ts).
 * - **metrics** and **readiness**: asked of every worker and combined (prom-client's AggregatorRegistry).
 */
import { AggregatorRegistry } from 'prom-client';
import { SessionStore } from '../providers/authentication/shiro/sessions.ts';
import {
  type Attempt,
  LoginThrottle,
  type ThrottleLimits,
  throttleLimits,
} from '../providers/common/login-throttle.ts';
import { TokenBuckets } from '../providers/common/token-buckets.ts';
import type { Principal } from '../spi/index.ts';
import { TOKEN_STORE_OPS, type TokenStoreOp } from '../tokenstate/hub.ts';
import { MemoryTokenStore } from '../tokenstate/memory.ts';
import type { Rpc } from './rpc.ts';

/** How many buckets one rate-limit namespace keeps (as WebAppSec's own). */
const MAX_BUCKETS = 100_000;
/** Login throttles kept at once (one per set of limits; a reload that changes them makes another). */
const MAX_THROTTLES = 8;
/** How long the hub waits for each worker when it asks them all (metrics, readiness). */
const ASK_ALL_MS = 3000;

export interface WorkerReadiness {
  ready: boolean;
  body: Record<string, unknown> & { status: string };
}

/** The whole gateway's readiness: the worker bodies' verdict and how many workers are ready. */
export interface GatewayReadiness extends WorkerReadiness {
  workers: { ready: number; answered: number; of: number };
}

interface SessionNamespace {
  store: SessionStore;
  holds: Map<number, number>;
}

export class Hub {
  readonly #workers = new Map<number, Rpc>();
  readonly #sessions = new Map<string, SessionNamespace>();
  readonly #buckets = new Map<string, TokenBuckets>();
  /** topology → worker → open WebSockets. */
  readonly #websockets = new Map<string, Map<number, number>>();
  /** limits (JSON) → the gateway's login throttle. */
  readonly #throttles = new Map<string, LoginThrottle>();
  /** The `memory` token state of every worker (tokenstate/hub.ts), made at first use. */
  #tokens?: MemoryTokenStore;
  /** channel group key → workers with subscribers of it. */
  readonly #groups = new Map<string, Set<number>>();
  readonly #sweeper: NodeJS.Timeout;

  constructor() {
    this.#sweeper = setInterval(() => {
      for (const ns of this.#sessions.values()) ns.store.sweep();
    }, 60_000);
    this.#sweeper.unref();
  }

  /** Serves a worker's requests on its channel. */
  attach(worker: number, rpc: Rpc): void {
    this.#workers.set(worker, rpc);
    rpc.on('session.open', ({ ns, timeoutMs }: { ns: string; timeoutMs: number }) => {
      this.#hold(ns, worker, +1, timeoutMs);
    });
    rpc.on('session.close', ({ ns }: { ns: string }) => {
      this.#hold(ns, worker, -1);
    });
    rpc.on('session.create', (a: { ns: string; timeoutMs: number; user: Principal }) => {
      const ns = this.#namespace(a.ns, a.timeoutMs);
      const { id, session } = ns.store.create({ name: a.user.name, groups: [...a.user.groups] });
      return { id, expiresAt: session.expiresAt };
    });
    rpc.on('session.touch', (a: { ns: string; id: string }) => {
      const session = this.#sessions.get(a.ns)?.store.touch(a.id);
      return session ? { user: session.user, expiresAt: session.expiresAt } : null;
    });
    rpc.on('session.end', (a: { ns: string; id: string }) => {
      this.#sessions.get(a.ns)?.store.end(a.id);
    });
    rpc.on('session.dropUsers', (a: { ns: string; names: string[] }) => {
      this.#sessions.get(a.ns)?.store.dropUsers(new Set(a.names));
    });
    rpc.on('bucket.take', (a: { ns: string; rate: number; idleMs: number; key: string }) => {
      let buckets = this.#buckets.get(a.ns);
      if (!buckets) {
        buckets = new TokenBuckets(a.rate, a.idleMs, MAX_BUCKETS);
        this.#buckets.set(a.ns, buckets);
      }
      return buckets.take(a.key, performance.now());
    });
    // Each answered at once, without an await: one worker's check and count cannot interleave with another's.
    type Login = { limits: ThrottleLimits; address: string; username: string };
    rpc.on('login.admit', (a: Login) => this.#throttle(a.limits).admit(a.address, a.username) ?? null);
    rpc.on('login.reserve', (a: Login) => this.#throttle(a.limits).reserve(a.address, a.username));
    rpc.on('login.release', (a: { limits: ThrottleLimits; attempt: Attempt }) => {
      this.#throttle(a.limits).release(a.attempt);
      return true;
    });
    rpc.on('login.spend', (a: Login) => this.#throttle(a.limits).spend(a.address) ?? null);
    for (const op of TOKEN_STORE_OPS) {
      rpc.on(`token.${op}`, async (args: unknown[]) => {
        this.#tokens ??= new MemoryTokenStore();
        const store = this.#tokens as unknown as Record<TokenStoreOp, (...a: unknown[]) => Promise<unknown>>;
        return (await store[op](...args)) ?? null;
      });
    }
    rpc.on('ws.count', ({ topology }: { topology: string }) => this.websockets(topology));
    rpc.on('ws.open', ({ topology }: { topology: string }) => this.#countWebSocket(topology, worker, +1));
    rpc.on('ws.close', ({ topology }: { topology: string }) => this.#countWebSocket(topology, worker, -1));
    rpc.on('ch.added', ({ key }: { key: string }) => {
      let set = this.#groups.get(key);
      if (!set) {
        set = new Set();
        this.#groups.set(key, set);
      }
      set.add(worker);
    });
    rpc.on('ch.removed', ({ key }: { key: string }) => {
      const set = this.#groups.get(key);
      set?.delete(worker);
      if (set?.size === 0) this.#groups.delete(key);
    });
    rpc.on('ch.forward', ({ key, text }: { key: string; text: string }) => {
      for (const other of this.#groups.get(key) ?? []) {
        if (other !== worker) this.#workers.get(other)?.notify('ch.deliver', { key, text });
      }
    });
    rpc.on('ha.mark', (mark: object) => {
      for (const [other, channel] of this.#workers) {
        if (other !== worker) channel.notify('ha.mark', { mark, worker });
      }
    });
    rpc.on('admin.all', async (a: { view: string; args?: object }) => ({
      of: this.#workers.size,
      answers: await this.#askEach('admin.collect', a),
    }));
    rpc.on('metrics.scrape', () => this.metrics());
    rpc.on('ready.all', () => this.readiness());
  }

  /** Forgets a worker that exited: its holds, its WebSockets, its channel groups. */
  detach(worker: number): void {
    this.#workers.get(worker)?.close('the worker exited');
    this.#workers.delete(worker);
    for (const [name, ns] of this.#sessions) {
      ns.holds.delete(worker);
      if (ns.holds.size === 0) this.#sessions.delete(name);
    }
    for (const [topology, counts] of this.#websockets) {
      counts.delete(worker);
      if (counts.size === 0) this.#websockets.delete(topology);
    }
    for (const [key, set] of this.#groups) {
      set.delete(worker);
      if (set.size === 0) this.#groups.delete(key);
    }
  }

  /** Open WebSockets of a topology over every worker. */
  websockets(topology: string): number {
    let n = 0;
    for (const count of this.#websockets.get(topology)?.values() ?? []) n += count;
    return n;
  }

  /** Every worker's metrics, summed (gauges and counters by labels, as each metric's aggregator says). */
  async metrics(): Promise<string> {
    const answers = await this.#askAll<object>('metrics.collect');
    if (answers.length === 0) throw new Error('no worker answered');
    return AggregatorRegistry.aggregate(answers).metrics();
  }

  /** Ready when every worker that answered is, and one did; the body says how many are. */
  async readiness(): Promise<GatewayReadiness> {
    const answers = await this.#askAll<WorkerReadiness>('ready.collect');
    const readyCount = answers.filter((a) => a.ready).length;
    const notReady = answers.find((a) => !a.ready);
    const first = notReady ?? answers[0];
    const workers = { ready: readyCount, answered: answers.length, of: this.#workers.size };
    if (!first) return { ready: false, body: { status: 'not ready' }, workers };
    return { ready: notReady === undefined, body: first.body, workers };
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const ns of this.#sessions.values()) ns.store.clear();
    this.#sessions.clear();
    this.#buckets.clear();
    this.#throttles.clear();
    this.#tokens = undefined;
  }

  async #askAll<T>(op: string): Promise<T[]> {
    return (await this.#askEach<T>(op)).map((a) => a.value);
  }

  /** Every worker's answer that came in time, with its worker's number. */
  async #askEach<T>(op: string, args?: unknown): Promise<{ worker: number; value: T }[]> {
    const workers = [...this.#workers];
    const settled = await Promise.allSettled(workers.map(([, rpc]) => rpc.request<T>(op, args, ASK_ALL_MS)));
    return settled.flatMap((s, i) =>
      s.status === 'fulfilled' ? [{ worker: workers[i][0], value: s.value }] : [],
    );
  }

  #throttle(given: ThrottleLimits): LoginThrottle {
    const limits = throttleLimits(given);
    const key = JSON.stringify(limits);
    let t = this.#throttles.get(key);
    if (!t) {
      t = new LoginThrottle(limits);
      if (this.#throttles.size >= MAX_THROTTLES) this.#throttles.delete(this.#throttles.keys().next().value!);
      this.#throttles.set(key, t);
    }
    return t;
  }

  #namespace(name: string, timeoutMs: number): SessionNamespace {
    let ns = this.#sessions.get(name);
    if (!ns) {
      ns = { store: new SessionStore({ timeoutMs }), holds: new Map() };
      this.#sessions.set(name, ns);
    }
    return ns;
  }

  #hold(name: string, worker: number, delta: number, timeoutMs = 0): void {
    const ns = delta > 0 ? this.#namespace(name, timeoutMs) : this.#sessions.get(name);
    if (!ns) return;
    const held = (ns.holds.get(worker) ?? 0) + delta;
    if (held > 0) ns.holds.set(worker, held);
    else ns.holds.delete(worker);
    if (ns.holds.size === 0) {
      ns.store.clear();
      this.#sessions.delete(name);
    }
  }

  #countWebSocket(topology: string, worker: number, delta: number): void {
    let counts = this.#websockets.get(topology);
    if (!counts) {
      counts = new Map();
      this.#websockets.set(topology, counts);
    }
    const n = Math.max(0, (counts.get(worker) ?? 0) + delta);
    if (n > 0) counts.set(worker, n);
    else counts.delete(worker);
    if (counts.size === 0) this.#websockets.delete(topology);
  }
}
