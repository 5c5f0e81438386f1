/**
 * Three real `postern start` processes on loopback sharing CHANNELS: once as a backplane mesh, once through a real
 * redis-server. An event published on any node reaches the subscribers on every node exactly once and in order;
 * a node with a wrong secret, a stale nonce and a malformed header are refused; killing node B (SIGKILL) and
 * starting it again loses no subscription on the others (they announce theirs again, or Redis kept them) and B's
 * clients recover after reconnecting; a Redis restart is survived; a subscriber that stops reading is closed with
 * its reason while the others keep up.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { secretHeader } from '../../../src/services/channels/secret.ts';
import { makeHome, type TestHome } from '../../helpers/home.ts';
import { freePort, type RedisFixture, startRedis } from '../../helpers/redis.ts';
import { basic, Client, channelsTopology, PUBLISHERS, publish, until, writeUsers, wsUrl } from './fixture.ts';

const CLI = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const SECRET = 'cluster-secret';

/** A `postern start` process under a guard that SIGKILLs it when the test process goes away (or on kill()). */
class Node {
  readonly name: string;
  readonly home: TestHome;
  readonly port: number;
  #guard?: ChildProcess;
  #exited?: Promise<void>;
  output = '';

  constructor(name: string, home: TestHome, port: number) {
    this.name = name;
    this.home = home;
    this.port = port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/gateway`;
  }

  async start(): Promise<void> {
    this.output = '';
    const script = `"$0" "$@" & pid=$!; read _; kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null; exit 0`;
    const guard = spawn('sh', ['-c', script, process.execPath, CLI, 'start', '--home', this.home.dir], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#guard = guard;
    this.#exited = new Promise((resolve) => guard.once('exit', () => resolve()));
    guard.stdout!.setEncoding('utf8').on('data', (c: string) => {
      this.output += c;
    });
    guard.stderr!.setEncoding('utf8').on('data', (c: string) => {
      this.output += c;
    });
    await until(
      () => /postern listening on /.test(this.output) || guard.exitCode !== null,
      60_000,
      `${this.name} to listen`,
    );
    if (!/postern listening on /.test(this.output))
      throw new Error(`${this.name} did not start:\n${this.output}`);
  }

  /** SIGKILL, as a crash. */
  async kill(): Promise<void> {
    const guard = this.#guard;
    if (!guard) return;
    this.#guard = undefined;
    guard.stdin!.end();
    await this.#exited;
  }

  log(): string {
    try {
      return readFileSync(join(this.home.dir, 'logs', 'gateway.log'), 'utf8');
    } catch {
      return '';
    }
  }
}

async function makeNodes(
  names: string[],
  site: (port: number, ports: number[]) => Record<string, string | number | boolean>,
  usersFrom?: TestHome,
): Promise<Node[]> {
  const ports: number[] = [];
  for (const _ of names) ports.push(await freePort());
  const nodes: Node[] = [];
  for (let i = 0; i < names.length; i++) {
    const home = makeHome({
      'gateway.port': ports[i],
      'gateway.websocket.feature.enabled': true,
      'gateway.channels.client.queue.bytes': 65536,
      'gateway.channels.broadcast.reconnect.min': '100',
      'gateway.channels.broadcast.reconnect.max': '1000',
      ...site(ports[i], ports),
    });
    if (usersFrom) cpSync(join(usersFrom.dir, 'conf/users.yaml'), join(home.dir, 'conf/users.yaml'));
    else await writeUsers(home);
    home.write('conf/topologies/awx.xml', channelsTopology(PUBLISHERS));
    nodes.push(new Node(names[i], home, ports[i]));
  }
  return nodes;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until events published on `node` into `group` reach every client (subscriptions travel between nodes
 * asynchronously), then reads every client up to a final marker, so that each starts clean.
 */
async function settle(node: Node, group: string, clients: Client[]): Promise<void> {
  const reached = new Set<Client>();
  for (let k = 0; reached.size < clients.length; k++) {
    assert.ok(k < 600, `events from ${node.name} never reached every client`);
    assert.equal((await publish(node.url, 'awx', { group, message: { probe: k } })).status, 202);
    await sleep(50);
    for (const c of clients) if (c.frames.some((f) => f.probe !== undefined)) reached.add(c);
  }
  const marker = randomUUID();
  await publish(node.url, 'awx', { group, message: { marker } });
  for (const c of clients) for (;;) if ((await c.next()).marker === marker) break;
}

/** Publishes one event then a marker on `node`: every client must get exactly the event, then the marker. */
async function exactlyOnce(node: Node, group: string, clients: Client[]): Promise<void> {
  const id = randomUUID();
  await publish(node.url, 'awx', [
    { group, message: { id, from: node.name } },
    { group, message: { marker: id } },
  ]);
  for (const c of clients) {
    assert.deepEqual(await c.next(), { id, from: node.name, group_name: group.split('-')[0] });
    assert.deepEqual(await c.next(), { marker: id, group_name: group.split('-')[0] }, 'no second copy');
  }
}

function clusterScenario(layer: 'backplane' | 'redis'): void {
  describe(`three postern processes, ${layer} layer`, () => {
    let redis: RedisFixture | undefined;
    let nodes: Node[] = [];
    let A: Node;
    let B: Node;
    let C: Node;
    const clients: Client[] = [];
    const connect = async (node: Node, user = 'bob') => {
      const c = await Client.open(wsUrl(node.url, 'awx'), { authorization: basic(user) });
      clients.push(c);
      assert.equal((await c.next()).accept, true);
      return c;
    };

    before(async () => {
      if (layer === 'redis') redis = await startRedis();
      nodes = await makeNodes(
        ['A', 'B', 'C'],
        (_port, ports): Record<string, string> =>
          layer === 'redis'
            ? { 'gateway.channels.layer': 'redis', 'gateway.channels.redis.url': redis!.url as string }
            : {
                'gateway.channels.layer': 'backplane',
                'gateway.channels.broadcast.secret': SECRET,
                'gateway.channels.broadcast.heartbeat': '2s',
                // Every node gets the same list; each finds itself in it.
                'gateway.channels.broadcast.peers': ports.map((p) => `ws://127.0.0.1:${p}`).join(','),
              },
      );
      [A, B, C] = nodes;
      await Promise.all(nodes.map((n) => n.start()));
    });

    after(async () => {
      for (const c of clients) c.ws.terminate();
      await Promise.all(nodes.map((n) => n.kill()));
      await redis?.close();
      for (const n of nodes) n.home.remove();
    });

    let a1: Client;
    let b1: Client;
    let c1: Client;

    it('an event published on any node reaches the subscribers on every node once, in order', async () => {
      a1 = await connect(A);
      b1 = await connect(B);
      c1 = await connect(C, 'alice');
      for (const c of [a1, b1, c1]) await c.subscribe({ misc: ['c1'] });
      for (const n of nodes) await settle(n, 'misc-c1', [a1, b1, c1]);
      for (const n of nodes) await exactlyOnce(n, 'misc-c1', [a1, b1, c1]);
      // Order per publisher and group, across nodes.
      const batch = Array.from({ length: 100 }, (_, i) => ({ group: 'misc-c1', message: { seq: i } }));
      assert.equal((await publish(A.url, 'awx', batch)).status, 202);
      for (const c of [a1, b1, c1]) {
        const seen: number[] = [];
        for (let i = 0; i < 100; i++) seen.push((await c.next()).seq);
        assert.deepEqual(
          seen,
          batch.map((e) => e.message.seq),
        );
      }
    });

    if (layer === 'backplane') {
      it('a node with a wrong secret is refused; stale and malformed headers are refused', async () => {
        const [D] = await makeNodes(
          ['D'],
          () => ({
            'gateway.channels.layer': 'backplane',
            'gateway.channels.broadcast.secret': 'not-the-cluster-secret',
            'gateway.channels.broadcast.peers': `ws://127.0.0.1:${A.port}`,
          }),
          A.home,
        );
        nodes.push(D);
        await D.start();
        await until(() => /backplane peer refused this node/.test(D.log()), 20_000, "D's refusal");
        await until(() => /backplane link refused: mismatch secret/.test(A.log()), 20_000, "A's log");
        const now = Math.floor(Date.now() / 1000);
        for (const secret of [
          secretHeader(SECRET, now - 400),
          secretHeader(SECRET, now).replace('HMAC-SHA256 ', 'HMAC-SHA256  '),
          'garbage',
        ]) {
          const status = await new Promise<number>((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${A.port}/websocket/broadcast/`, {
              headers: { secret },
            });
            ws.once('open', () => reject(new Error('accepted')));
            ws.once('unexpected-response', (_q, res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
              ws.terminate();
            });
            ws.once('error', () => {});
          });
          assert.equal(status, 403);
        }
        await D.kill();
      });
    }

    it("killing node B and starting it again loses no subscription on A and C; B's clients recover", async () => {
      await B.kill();
      const gone = await b1.closed;
      assert.equal(gone.code, 1006, 'B died without a close frame');
      if (layer === 'redis') {
        // A Redis restart meanwhile: the nodes subscribe again on their own.
        await redis!.stop();
        await redis!.start();
      }
      await B.start();
      const b2 = await connect(B);
      await b2.subscribe({ misc: ['c1'] });
      // A and C did nothing: their clients' subscriptions reach the new B again (announced anew, or kept by
      // Redis), and B's new client's reaches them.
      await settle(B, 'misc-c1', [a1, b2, c1]);
      await settle(A, 'misc-c1', [a1, b2, c1]);
      await settle(C, 'misc-c1', [a1, b2, c1]);
      for (const n of [B, A, C]) await exactlyOnce(n, 'misc-c1', [a1, b2, c1]);
    });

    it('a subscriber that stops reading is closed with 4008 and its reason; the others keep up', async () => {
      const slow = await connect(C);
      await slow.subscribe({ misc: ['flood'] });
      const fastC = await connect(C, 'alice');
      const fastA = await connect(A);
      for (const c of [fastC, fastA]) await c.subscribe({ misc: ['flood'] });
      await settle(A, 'misc-flood', [fastA, fastC]);
      const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      socket.pause();
      // 16 MiB from node A, far more than the 64 KiB bound plus what the kernel buffers for a reader that stops.
      const big = 'x'.repeat(32 * 1024);
      const total = 512;
      for (let i = 0; i < total; i += 16) {
        const batch = Array.from({ length: 16 }, (_, k) => ({
          group: 'misc-flood',
          message: { i: i + k, big },
        }));
        assert.equal((await publish(A.url, 'awx', batch)).status, 202);
        for (const c of [fastA, fastC]) for (let k = 0; k < 16; k++) assert.equal((await c.next()).i, i + k);
      }
      socket.resume();
      const closed = await slow.closed;
      assert.equal(closed.code, 4008);
      assert.equal(closed.reason, 'slow consumer: more than 65536 bytes unsent');
      assert.ok(slow.frames.length < total, 'the slow subscriber missed events');
      await until(() => /channels: slow consumer closed/.test(C.log()), 10_000, "C's log line");
      await exactlyOnce(A, 'misc-flood', [fastA, fastC]);
    });
  });
}

clusterScenario('backplane');
clusterScenario('redis');
