/**
 * The backplane on in-process gateways, seen from its wire: `/websocket/broadcast/` authenticated by AWX's
 * `secret` header (behaviours 35–44), the control and message frames (45–49), re-announcement after a reconnect
 * (55), only subscribed groups forwarded, a node that finds itself in its peer list, the refusal to run without a
 * secret, and mutual TLS between two nodes. Fake peers are plain `ws` clients and servers speaking the frames.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { Gateway } from '../../../src/gateway/gateway.ts';
import type { Backplane } from '../../../src/services/channels/backplane.ts';
import { channelNodeFor } from '../../../src/services/channels/nodes.ts';
import { secretHeader, verifySecretHeader } from '../../../src/services/channels/secret.ts';
import { reservePort } from '../../helpers/guarded-process.ts';
import { makeHome, startGateway, type TestHome } from '../../helpers/home.ts';
import { makeAuthority } from '../../helpers/pki.ts';
import {
  basic,
  Client,
  channelsTopology,
  type Frame,
  PUBLISHERS,
  publish,
  until,
  writeUsers,
  wsUrl,
} from './fixture.ts';

const SECRET = 'backplane-test-secret';

/** Opens a raw link to a node's broadcast endpoint; resolves with the socket or the refusal status. */
/**
 * A secret header no earlier link of this file used (the nodes accept each header once), with a nonce older than
 * any a node signs its own links with (`linkNonce`: up to 29 s back), so it never equals the header of the node's
 * link to itself, which comes from the same address.
 */
let issued = 0;
/** Fixed once: a nonce computed from the clock each time would repeat when a second passes between two calls. */
const FRESH_BASE = Math.floor(Date.now() / 1000) - 60;
function fresh(): string {
  return secretHeader(SECRET, FRESH_BASE - issued++);
}

function link(
  port: number,
  headers: Record<string, string>,
  options: { scheme?: string; tls?: object } = {},
): Promise<{ ws?: WebSocket; status?: number; nodeHeader?: string; frames: Frame[] }> {
  return new Promise((resolve, reject) => {
    const frames: Frame[] = [];
    const ws = new WebSocket(`${options.scheme ?? 'ws'}://127.0.0.1:${port}/websocket/broadcast/`, {
      headers,
      perMessageDeflate: false,
      ...options.tls,
    });
    let nodeHeader: string | undefined;
    ws.on('upgrade', (res) => {
      nodeHeader = res.headers['postern-node'] as string;
    });
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    ws.once('open', () => resolve({ ws, nodeHeader, frames }));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode, frames });
      ws.terminate();
    });
    ws.once('error', (err) => {
      if (ws.readyState !== WebSocket.CLOSED) reject(err);
    });
  });
}

/** A fake producer peer: a `ws` server that checks the secret and records the consumer's control frames. */
class FakeProducer {
  readonly wss: WebSocketServer;
  readonly links: { ws: WebSocket; frames: Frame[]; node: string }[] = [];
  readonly refused: string[] = [];
  port = 0;

  constructor() {
    this.wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      verifyClient: (info: { req: IncomingMessage }) => {
        const check = verifySecretHeader(info.req.headers.secret as string, SECRET);
        if (!check.ok) this.refused.push(check.reason);
        return check.ok && info.req.url === '/websocket/broadcast/';
      },
    });
    this.wss.on('connection', (ws, req) => {
      const entry = { ws, frames: [] as Frame[], node: req.headers['postern-node'] as string };
      ws.on('message', (d) => entry.frames.push(JSON.parse(d.toString())));
      this.links.push(entry);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.wss.once('listening', () => resolve()));
    this.port = (this.wss.address() as { port: number }).port;
  }

  get current() {
    return this.links.at(-1);
  }
}

describe('CHANNELS backplane (in-process nodes)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let port: number;
  let producer: FakeProducer;
  const sockets: WebSocket[] = [];
  const clients: Client[] = [];

  before(async () => {
    producer = new FakeProducer();
    await producer.listen();
    // Held until the gateway listens (the producer's and the gateway's own listen(0)s must not be handed it).
    const reserved = await reservePort();
    port = reserved.port;
    home = makeHome({
      'gateway.port': port,
      'gateway.websocket.feature.enabled': true,
      'gateway.channels.layer': 'backplane',
      'gateway.channels.broadcast.secret': SECRET,
      // The fake producer, and this node itself (found and skipped).
      'gateway.channels.broadcast.peers': `ws://127.0.0.1:${producer.port},ws://127.0.0.1:${port}`,
      'gateway.channels.broadcast.reconnect.min': '50',
      'gateway.channels.broadcast.reconnect.max': '400',
    });
    await writeUsers(home);
    home.write('conf/topologies/awx.xml', channelsTopology(PUBLISHERS));
    const log = (await import('../../../src/observability/logger.ts')).createLogger({ level: 'silent' });
    await reserved.release();
    gateway = await Gateway.start({ home: home.dir, port, host: '127.0.0.1', log, watch: false });
  });

  after(async () => {
    for (const s of sockets) s.terminate();
    for (const c of clients) c.ws.terminate();
    await gateway?.close();
    producer?.wss.close();
    home?.remove();
  });

  const backplane = () => channelNodeFor(gateway.settings).layer as Backplane;
  const client = async (user = 'bob') => {
    const c = await Client.open(wsUrl(gateway.url, 'awx'), { authorization: basic(user) });
    clients.push(c);
    await c.next();
    return c;
  };

  it('35/42: a valid secret header is accepted once (a replay is refused, unlike AWX); the answer names the node', async () => {
    const header = fresh();
    const first = await link(port, { secret: header });
    assert.ok(first.ws, 'accepted');
    assert.equal(first.nodeHeader, channelNodeFor(gateway.settings).id);
    sockets.push(first.ws);
    const replay = await link(port, { secret: header });
    assert.equal(replay.ws, undefined, 'the same header a second time');
    assert.equal(replay.status, 403);
    const near = await link(port, { secret: secretHeader(SECRET, Math.floor(Date.now() / 1000) - 290) });
    assert.ok(near.ws, 'a nonce 290 s old is accepted');
    sockets.push(near.ws);
  });

  it('refuses a link from an address that is not a configured peer, whatever secret it carries', async () => {
    const stranger = await link(port, { secret: fresh() }, { tls: { localAddress: '127.0.0.2' } });
    assert.equal(stranger.ws, undefined);
    assert.equal(stranger.status, 403);
    const peer = await link(port, { secret: fresh() }, { tls: { localAddress: '127.0.0.1' } });
    assert.ok(peer.ws);
    sockets.push(peer.ws);
  });

  it('37/38/39/40/43: a missing, wrong, stale or malformed header is refused with 403 before any 101', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = secretHeader(SECRET, now);
    const refusals: [string, Record<string, string>][] = [
      ['missing', {}],
      ['user credentials only', { authorization: basic('alice') }],
      ['wrong secret', { secret: secretHeader('not-the-secret') }],
      ['stale nonce', { secret: secretHeader(SECRET, now - 301) }],
      ['future nonce', { secret: secretHeader(SECRET, now + 400) }],
      ['docs form', { secret: good.slice('HMAC-SHA256 '.length) }],
      ['upper-case digest', { secret: good.replace(/:(.*)$/, (_m, h: string) => `:${h.toUpperCase()}`) }],
      ['two colons', { secret: `${good}:x` }],
    ];
    const refused = () =>
      Number(
        /postern_channels_backplane_refused_total (\d+)/.exec(
          channelNodeFor(gateway.settings).metricsText(),
        )![1],
      );
    const before = refused();
    for (const [what, headers] of refusals) {
      const r = await link(port, headers);
      assert.equal(r.status, 403, what);
    }
    assert.equal(refused() - before, refusals.length);
    // Outside AWX's exact path there is no backplane.
    const res = await request(`http://127.0.0.1:${port}/websocket/broadcast`, {
      headers: { connection: 'upgrade', upgrade: 'websocket', secret: good },
    }).catch((e) => e);
    assert.ok(!(res instanceof Error) ? res.statusCode !== 101 : true);
  });

  it('45/47/48: a peer gets exactly the groups it announced, as AWX frames, for messages published here', async () => {
    const r = await link(port, { secret: fresh(), 'postern-node': 'fake-consumer' });
    const ws = r.ws!;
    sockets.push(ws);
    ws.send(JSON.stringify({ type: 'consumer.subscribe', groups: ['awx/misc-bp'], origin_channel: 'fake' }));
    await until(
      () =>
        backplane()
          .inspect()
          .incoming.some((l) => l.groups.includes('awx/misc-bp')),
      5000,
      'the subscription',
    );
    await publish(gateway.url, 'awx', [
      { group: 'misc-other', message: { n: 0 } },
      { group: 'misc-bp', message: { n: 1 } },
    ]);
    await until(() => r.frames.length >= 1, 5000, 'a frame');
    assert.deepEqual(r.frames, [
      { group: 'awx/misc-bp', message: { type: 'internal.message', text: '{"n":1,"group_name":"misc"}' } },
    ]);
    ws.send(
      JSON.stringify({ type: 'consumer.unsubscribe', groups: ['awx/misc-bp'], origin_channel: 'fake' }),
    );
    ws.send(JSON.stringify({ type: 'consumer.subscribe', groups: ['awx/misc-bp2'], origin_channel: 'fake' }));
    await until(
      () =>
        backplane()
          .inspect()
          .incoming.some((l) => l.groups.join() === 'awx/misc-bp2'),
      5000,
      'the change',
    );
    await publish(gateway.url, 'awx', [
      { group: 'misc-bp', message: { n: 2 } },
      { group: 'misc-bp2', message: { n: 3 } },
    ]);
    await until(() => r.frames.length >= 2, 5000, 'a second frame');
    assert.equal(r.frames[1].message.text, '{"n":3,"group_name":"misc"}');
  });

  it('finds itself in its peer list and does not link to itself', async () => {
    await until(
      () =>
        backplane()
          .inspect()
          .outgoing.some((l) => l.self),
      10_000,
      'self detection',
    );
    const self = backplane()
      .inspect()
      .outgoing.find((l) => l.url.endsWith(`:${port}`))!;
    assert.equal(self.self, true);
    assert.equal(self.connected, false);
  });

  it('55/46/49: subscriptions go to producers, first whole then as changes, again after every reconnect; received messages are not forwarded', async () => {
    await until(() => producer.current !== undefined, 10_000, 'the link to the fake producer');
    const nodeId = channelNodeFor(gateway.settings).id;
    assert.equal(producer.current!.node, nodeId);
    const c = await client();
    await c.subscribe({ misc: ['fp'] });
    await until(
      () => producer.current!.frames.some((f) => f.groups?.includes('awx/misc-fp')),
      5000,
      'the announcement',
    );
    assert.deepEqual(producer.current!.frames.at(-1), {
      type: 'consumer.subscribe',
      groups: ['awx/misc-fp'],
      origin_channel: nodeId,
    });

    // A fake consumer of this node subscribed to the same group must not get the producer's message.
    const consumer = await link(port, { secret: fresh() });
    sockets.push(consumer.ws!);
    consumer.ws!.send(JSON.stringify({ type: 'consumer.subscribe', groups: ['awx/misc-fp'] }));
    await until(
      () =>
        backplane()
          .inspect()
          .incoming.some((l) => l.groups.includes('awx/misc-fp')),
      5000,
      'the consumer',
    );
    producer.current!.ws.send(
      JSON.stringify({
        group: 'awx/misc-fp',
        message: { type: 'internal.message', text: '{"from":"peer","group_name":"misc"}' },
      }),
    );
    assert.equal(JSON.stringify(await c.next()), '{"from":"peer","group_name":"misc"}');
    await publish(gateway.url, 'awx', { group: 'misc-fp', message: { from: 'local' } });
    assert.deepEqual(await c.next(), { from: 'local', group_name: 'misc' });
    await until(() => consumer.frames.length > 0, 5000, 'the local message at the consumer');
    assert.deepEqual(
      consumer.frames.map((f) => JSON.parse(f.message.text).from),
      ['local'],
      'only what was published here',
    );

    // The producer drops the link: the node reconnects (a fresh nonce) and announces its whole set first.
    const before = producer.links.length;
    producer.current!.ws.terminate();
    await until(
      () => producer.links.length > before && producer.current!.frames.length > 0,
      10_000,
      'a new link',
    );
    assert.deepEqual(producer.current!.frames[0], {
      type: 'consumer.subscribe',
      groups: ['awx/misc-fp'],
      origin_channel: nodeId,
    });
    assert.ok(
      backplane()
        .inspect()
        .outgoing.find((l) => !l.self)!.reconnects >= 1,
    );

    // Switching groups: the unsubscription comes first, then the subscription.
    const seen = producer.current!.frames.length;
    await c.subscribe({ misc: ['fp2'] });
    await until(() => producer.current!.frames.length >= seen + 2, 5000, 'the change');
    assert.deepEqual(
      producer.current!.frames.slice(seen).map((f) => [f.type, f.groups]),
      [
        ['consumer.unsubscribe', ['awx/misc-fp']],
        ['consumer.subscribe', ['awx/misc-fp2']],
      ],
    );
    // And a disconnect withdraws what the client held.
    await c.close();
    await until(
      () =>
        producer.current!.frames.some(
          (f) => f.type === 'consumer.unsubscribe' && f.groups.includes('awx/misc-fp2'),
        ),
      5000,
      'the withdrawal',
    );
    assert.deepEqual(producer.refused, []);
  });

  it('44: the backplane refuses to run without a secret', async () => {
    const h = makeHome({ 'gateway.channels.layer': 'backplane' });
    try {
      await assert.rejects(
        startGateway(h),
        /gateway.channels.broadcast.secret is empty: the backplane refuses to run without a shared secret/,
      );
    } finally {
      h.remove();
    }
  });
});

describe('CHANNELS backplane with mutual TLS', () => {
  let dir: string;
  const homes: TestHome[] = [];
  const gateways: Gateway[] = [];
  let ca: ReturnType<typeof makeAuthority>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-channels-mtls-'));
    ca = makeAuthority(dir, 'nodes');
    // Each node's port is held until that node listens; a connection the first node makes to the second's
    // meanwhile is refused by the holder, and the backplane tries again.
    const reserved = [await reservePort(), await reservePort()];
    const ports = reserved.map((r) => r.port);
    for (let i = 0; i < 2; i++) {
      const cert = ca.issue({ name: `node${i}`, cn: `node${i}`, ips: ['127.0.0.1'] });
      const h = makeHome({
        'gateway.port': ports[i],
        'ssl.enabled': true,
        'gateway.tls.certificate.path': cert.certFile,
        'gateway.tls.key.path': cert.keyFile,
        'gateway.client.auth.wanted': true,
        'gateway.truststore.path': ca.certFile,
        'gateway.websocket.feature.enabled': true,
        'gateway.channels.layer': 'backplane',
        'gateway.channels.broadcast.secret': SECRET,
        'gateway.channels.broadcast.mtls': true,
        'gateway.channels.broadcast.peers': `wss://127.0.0.1:${ports[1 - i]}`,
        'gateway.channels.broadcast.reconnect.min': '50',
        'gateway.channels.broadcast.reconnect.max': '400',
      });
      await writeUsers(h);
      h.write('conf/topologies/awx.xml', channelsTopology(PUBLISHERS));
      homes.push(h);
    }
    for (let i = 0; i < 2; i++) {
      const log = (await import('../../../src/observability/logger.ts')).createLogger({ level: 'silent' });
      await reserved[i]!.release();
      gateways.push(
        await Gateway.start({ home: homes[i].dir, port: ports[i], host: '127.0.0.1', log, watch: false }),
      );
    }
  });

  after(async () => {
    for (const g of gateways) await g.close();
    for (const h of homes) h.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('nodes link over wss with their certificates; a peer without a trusted certificate is refused', async () => {
    const [a, b] = gateways;
    const layer = (g: Gateway) => channelNodeFor(g.settings).layer as Backplane;
    await until(
      () => layer(a).inspect().outgoing[0].connected && layer(b).inspect().outgoing[0].connected,
      15_000,
      'both links',
    );
    const c = await Client.open(wsUrl(b.url, 'awx'), { authorization: basic('bob') }, { ca: ca.cert });
    try {
      await c.next();
      await c.subscribe({ misc: ['tls'] });
      await until(
        () =>
          layer(a)
            .inspect()
            .incoming.some((l) => l.groups.includes('awx/misc-tls')),
        5000,
        'the subscription at a',
      );
      const agent = new Agent({ connect: { ca: ca.cert } });
      const res = await request(`${a.url}/awx/websocket/publish`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: basic('pub'), 'content-type': 'application/json' },
        body: JSON.stringify({ group: 'misc-tls', message: { over: 'wss' } }),
      });
      await res.body.dump();
      await agent.close();
      assert.equal(res.statusCode, 202);
      assert.deepEqual(await c.next(), { over: 'wss', group_name: 'misc' });
    } finally {
      c.ws.terminate();
    }
    // The right secret, but no client certificate: refused.
    const r = await link(a.port, { secret: fresh() }, { scheme: 'wss', tls: { ca: ca.cert } });
    assert.equal(r.status, 403);
  });
});
