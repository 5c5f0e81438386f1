/**
 * CHANNELS on one gateway (memory layer): AWX's client protocol (behaviours 1–34 of src/services/channels/README.md,
 * numbered in the test names), with AWX's defects fixed as the reference recommends, the publish API, ACLs per
 * group prefix, reserved groups, ordering, history, slow consumers and what a disconnect leaves behind.
 * Real gateway, real ShiroProvider logins, real `ws` clients.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import type { Subscriber } from '../../../src/services/channels/node.ts';
import { channelNodeFor } from '../../../src/services/channels/nodes.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';
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

const AWX = {
  ...PUBLISHERS,
  'channels.publish.acl.jobs': 'pub;*;*',
  'channels.subscribe.acl.job_events': '*;ops;*',
  'channels.history.size.job_events': '4',
  'channels.history.ttl': '60s',
  'channels.client.max.groups': '50',
};

describe('CHANNELS client protocol (one node)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let url: string;
  const open: Client[] = [];
  /** A Basic-authenticated client of `user` on topology `awx` (or another). */
  const connect = async (user: string, topology = 'awx', headers: Record<string, string> = {}) => {
    const c = await Client.open(wsUrl(url, topology), { authorization: basic(user), ...headers });
    open.push(c);
    return c;
  };

  before(async () => {
    home = makeHome({ 'gateway.websocket.feature.enabled': true });
    await writeUsers(home);
    home.write('conf/topologies/awx.xml', channelsTopology(AWX));
    home.write('conf/topologies/other.xml', channelsTopology(PUBLISHERS));
    home.write(
      'conf/topologies/tight.xml',
      channelsTopology({ ...PUBLISHERS, 'channels.client.ping': '200' }),
    );
    home.write(
      'conf/topologies/tokens.xml',
      topologyXml({
        providers: [
          {
            role: 'authentication',
            name: 'ShiroProvider',
            params: {
              'main.fileRealm': 'postern.FileRealm',
              'main.fileRealm.usersFile': 'conf/users.yaml',
              'urls./**': 'authcBasic',
            },
          },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'KNOXTOKEN', urls: [], params: { 'knox.token.ttl': '3000' } }],
      }),
    );
    home.write(
      'conf/topologies/brief.xml',
      topologyXml({
        providers: [
          { role: 'federation', name: 'JWTProvider' },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'CHANNELS', urls: [] }],
      }),
    );
    home.write(
      'conf/topologies/full.xml',
      channelsTopology({ ...PUBLISHERS, 'channels.client.ping': '0', 'channels.max.connections': '2' }),
    );
    home.write(
      'conf/topologies/slow.xml',
      channelsTopology({ ...PUBLISHERS, 'channels.client.queue.bytes': '65536' }),
    );
    gateway = await startGateway(home);
    url = gateway.url;
  });

  after(async () => {
    for (const c of open) c.ws.terminate();
    await gateway?.close();
    home?.remove();
  });

  describe('connect and authentication', () => {
    it('1/2: a Basic-authenticated client is accepted and first gets exactly {"accept": true, "user": ...}', async () => {
      const c = await connect('alice');
      assert.deepEqual(await c.next(), { accept: true, user: 'alice' });
      assert.equal(c.raw[0], '{"accept":true,"user":"alice"}');
    });

    it('1: a session cookie (from an earlier Basic login) is accepted', async () => {
      const login = await publish(url, 'awx', { group: 'misc-login', message: {} }, 'alice');
      assert.equal(login.status, 202);
      const setCookie = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
      const session = setCookie.find((c) => c.startsWith('KNOXSESSIONID='));
      assert.ok(session, 'a session cookie');
      const c = await connect('alice', 'awx', { authorization: '', cookie: session.split(';')[0] });
      assert.deepEqual(await c.next(), { accept: true, user: 'alice' });
    });

    it('3: no credentials or wrong ones are refused before any 101 (401)', async () => {
      await assert.rejects(Client.open(wsUrl(url, 'awx')), /status 401/);
      await assert.rejects(
        Client.open(wsUrl(url, 'awx'), {
          authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}`,
        }),
        /status 401/,
      );
    });

    it('6: /websocket without its trailing slash, or below it, is no route (404)', async () => {
      await assert.rejects(
        Client.open(wsUrl(url, 'awx', '/websocket'), { authorization: basic('bob') }),
        /status 404/,
      );
      await assert.rejects(
        Client.open(wsUrl(url, 'awx', '/websocket/x/'), { authorization: basic('bob') }),
        /status 404/,
      );
    });

    it('7: a fresh connection gets no events and no groups_current before it subscribes', async () => {
      const c = await connect('bob');
      await c.next();
      await publish(url, 'awx', { group: 'misc-early', message: { n: 1 } });
      const frames = await c.subscribe({ misc: ['later'] });
      assert.equal(frames.length, 1, 'only the reply');
      assert.deepEqual(frames[0].groups_current, ['misc-later']);
    });
  });

  describe('xrftoken (cookie-authenticated connections)', () => {
    let session: string;
    before(async () => {
      const login = await publish(url, 'awx', { group: 'misc-login', message: {} }, 'alice');
      session = ([] as string[])
        .concat(login.headers['set-cookie'] ?? [])
        .find((c) => c.startsWith('KNOXSESSIONID='))!
        .split(';')[0];
    });
    const cookieClient = async (csrf?: string) => {
      const cookie = csrf === undefined ? session : `${session}; csrftoken=${csrf}`;
      const c = await connect('alice', 'awx', { authorization: '', cookie });
      await c.next();
      return c;
    };

    it('9: the matching xrftoken subscribes', async () => {
      const c = await cookieClient('abc');
      const [reply] = await c.subscribe({ jobs: ['status_changed'] }, { xrftoken: 'abc' });
      assert.deepEqual(reply.groups_current, ['jobs-status_changed']);
    });

    it("10/11: a wrong, missing or empty xrftoken is denied with AWX's exact error, and nothing changes", async () => {
      const c = await cookieClient('abc');
      await c.subscribe({ jobs: ['summary'] }, { xrftoken: 'abc' });
      for (const xrftoken of ['xyz', undefined, '']) {
        c.send({ groups: { jobs: ['status_changed'] }, ...(xrftoken !== undefined && { xrftoken }) });
        assert.equal(JSON.stringify(await c.next()), '{"error":"access denied to channel"}');
      }
      const [reply] = await c.subscribe({ jobs: ['summary'] }, { xrftoken: 'abc' });
      assert.deepEqual(reply, { groups_current: ['jobs-summary'], groups_left: [], groups_joined: [] });
    });

    it('12: a cookie connection without a csrftoken cookie can never subscribe', async () => {
      const c = await cookieClient();
      c.send({ groups: { jobs: ['status_changed'] }, xrftoken: 'anything' });
      assert.deepEqual(await c.next(), { error: 'access denied to channel' });
    });

    it('13: a message without groups is not answered and changes nothing', async () => {
      const c = await cookieClient('abc');
      c.send({ xrftoken: 'abc', hello: 1 });
      const [reply] = await c.subscribe({}, { xrftoken: 'abc' });
      assert.deepEqual(reply, { groups_current: [], groups_left: [], groups_joined: [] });
    });

    it('header-authenticated connections need no xrftoken (deliberately unlike AWX)', async () => {
      const c = await connect('bob');
      await c.next();
      const [reply] = await c.subscribe({ jobs: ['status_changed'] });
      assert.deepEqual(reply.groups_current, ['jobs-status_changed']);
    });
  });

  describe('subscribe semantics', () => {
    it('14/15/16: groups replace the whole set; {} leaves all', async () => {
      const c = await connect('alice');
      await c.next();
      let [r] = await c.subscribe({ jobs: ['status_changed', 'summary'], job_events: [5] });
      const set = (a: string[]) => [...a].sort();
      assert.deepEqual(set(r.groups_current), ['job_events-5', 'jobs-status_changed', 'jobs-summary']);
      assert.deepEqual(set(r.groups_joined), ['job_events-5', 'jobs-status_changed', 'jobs-summary']);
      assert.deepEqual(r.groups_left, []);
      [r] = await c.subscribe({ jobs: ['status_changed'] });
      assert.deepEqual(r.groups_current, ['jobs-status_changed']);
      assert.deepEqual(set(r.groups_left), ['job_events-5', 'jobs-summary']);
      assert.deepEqual(r.groups_joined, []);
      [r] = await c.subscribe({});
      assert.deepEqual(r, { groups_current: [], groups_left: ['jobs-status_changed'], groups_joined: [] });
      // Nothing arrives from a group left: the next frame is the event of a group joined afterwards.
      await publish(url, 'awx', { group: 'jobs-status_changed', message: { n: 'left' } });
      await c.subscribe({ misc: ['after'] });
      await publish(url, 'awx', { group: 'misc-after', message: { n: 'joined' } });
      assert.deepEqual(await c.next(), { n: 'joined', group_name: 'misc' });
    });

    it('17: re-sending the same groups keeps the membership: no event lost or doubled meanwhile', async () => {
      const c = await connect('bob');
      await c.next();
      await c.subscribe({ misc: ['steady'] });
      const events = Array.from({ length: 20 }, (_, i) => ({ group: 'misc-steady', message: { i } }));
      const publishing = publish(url, 'awx', events);
      const replies: Frame[] = [];
      for (let k = 0; k < 5; k++) c.send({ groups: { misc: ['steady'] } });
      const seen: number[] = [];
      while (seen.length < 20 || replies.length < 5) {
        const f = await c.next();
        if ('groups_current' in f) {
          assert.deepEqual(f, { groups_current: ['misc-steady'], groups_left: [], groups_joined: [] });
          replies.push(f);
        } else seen.push(f.i);
      }
      assert.equal((await publishing).status, 202);
      assert.deepEqual(
        seen,
        Array.from({ length: 20 }, (_, i) => i),
      );
    });

    it('18: ints and numeric strings name the same group', async () => {
      const c = await connect('alice');
      await c.next();
      const [r] = await c.subscribe({ job_events: [7, '7'] });
      assert.deepEqual(r.groups_current, ['job_events-7']);
    });

    it('19/20: a prefix the ACL refuses gets a per-item error first; other items still join', async () => {
      const c = await connect('bob'); // not in group ops: job_events is refused
      await c.next();
      const frames = await c.subscribe({ job_events: [5, 9], jobs: ['status_changed'] });
      assert.deepEqual(frames.slice(0, 2), [
        { error: 'access denied to channel job_events for resource id 5' },
        { error: 'access denied to channel job_events for resource id 9' },
      ]);
      assert.deepEqual(frames[2].groups_current, ['jobs-status_changed']);
    });

    it('21: user-scoped prefixes: control-limit_reached_<user> only for that user (fixing AWX)', async () => {
      const c = await connect('bob');
      await c.next();
      const frames = await c.subscribe({ control: ['limit_reached_bob', 'limit_reached_alice'] });
      assert.deepEqual(frames[0], {
        error: 'access denied to channel control for resource id limit_reached_alice',
      });
      assert.deepEqual(frames[1].groups_current, ['control-limit_reached_bob']);
    });

    it('22: a groups value that is not an array is denied and the subscriptions stay exactly as they were (no AWX Q1 leak)', async () => {
      const c = await connect('bob');
      await c.next();
      await c.subscribe({ misc: ['kept'] });
      c.send({ groups: { jobs: 'status_changed', misc: ['other'] } });
      assert.deepEqual(await c.next(), { error: 'access denied to channel' });
      const [r] = await c.subscribe({ misc: ['kept'] });
      assert.deepEqual(r, { groups_current: ['misc-kept'], groups_left: [], groups_joined: [] });
      await publish(url, 'awx', { group: 'misc-kept', message: { still: true } });
      assert.deepEqual(await c.next(), { still: true, group_name: 'misc' });
    });

    it('23: an invalid group name gets an error frame, not a 1011 close', async () => {
      const c = await connect('bob');
      await c.next();
      const frames = await c.subscribe({
        jobs: ['a b', 'x'.repeat(120), 1.5, { o: 1 }, 'ok'],
        'bad-prefix': [1],
      });
      assert.equal(frames.length, 6);
      for (const f of frames.slice(0, 5)) assert.match(f.error, /^invalid channel /);
      assert.deepEqual(frames[5].groups_current, ['jobs-ok']);
      assert.equal(c.ws.readyState, c.ws.OPEN);
    });

    it('24: non-JSON, binary and non-object frames get an error frame and change nothing', async () => {
      const c = await connect('bob');
      await c.next();
      await c.subscribe({ misc: ['x24'] });
      c.send('not json');
      assert.deepEqual(await c.next(), { error: 'message is not JSON' });
      c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      assert.deepEqual(await c.next(), { error: 'binary frames are not accepted' });
      c.send('[1,2]');
      assert.deepEqual(await c.next(), { error: 'message is not a JSON object' });
      c.send({ groups: ['misc-x24'] });
      assert.deepEqual(await c.next(), { error: 'access denied to channel' });
      const [r] = await c.subscribe({ misc: ['x24'] });
      assert.deepEqual(r.groups_left, []);
    });

    it('25: reserved groups (broadcast-group_send, postern-events, metrics) can never be subscribed', async () => {
      const c = await connect('alice');
      await c.next();
      const frames = await c.subscribe({ broadcast: ['group_send'], postern: ['events'], metrics: ['x'] });
      assert.deepEqual(frames.slice(0, 3), [
        { error: 'access denied to channel broadcast for resource id group_send' },
        { error: 'access denied to channel postern for resource id events' },
        { error: 'access denied to channel metrics for resource id x' },
      ]);
      assert.deepEqual(frames[3].groups_current, []);
    });

    it('a subscription set over channels.client.max.groups is refused whole', async () => {
      const c = await connect('bob');
      await c.next();
      c.send({ groups: { misc: Array.from({ length: 51 }, (_, i) => i) } });
      assert.deepEqual(await c.next(), { error: 'too many channels: at most 50' });
    });
  });

  describe('events and publishing', () => {
    it("26: an event is the publisher's JSON with group_name, unwrapped, as one text frame", async () => {
      const c = await connect('bob');
      await c.next();
      await c.subscribe({ jobs: ['status_changed'] });
      const message = { unified_job_id: 12, status: 'running', type: 'job' };
      const res = await publish(url, 'awx', { group: 'jobs-status_changed', message });
      assert.deepEqual(res, { status: 202, body: { accepted: 1 }, headers: res.headers });
      await c.next();
      assert.equal(c.raw.at(-1), '{"unified_job_id":12,"status":"running","type":"job","group_name":"jobs"}');
    });

    it("31: a batch reaches a subscriber in the publisher's order; concurrent groups do not mix order", async () => {
      const c = await connect('alice');
      await c.next();
      await c.subscribe({ job_events: [42], misc: ['o'] });
      const batch = Array.from({ length: 200 }, (_, i) => ({
        group: i % 2 ? 'job_events-42' : 'misc-o',
        message: { counter: i },
      }));
      assert.deepEqual((await publish(url, 'awx', batch)).body, { accepted: 200 });
      const got: Record<string, number[]> = { job_events: [], misc: [] };
      for (let i = 0; i < 200; i++) {
        const f = await c.next();
        got[f.group_name].push(f.counter);
      }
      assert.deepEqual(
        got.misc,
        batch.filter((_, i) => i % 2 === 0).map((e) => e.message.counter),
      );
      assert.deepEqual(
        got.job_events,
        batch.filter((_, i) => i % 2 === 1).map((e) => e.message.counter),
      );
    });

    it('32: an event published before the subscription is never delivered', async () => {
      const c = await connect('bob');
      await c.next();
      await publish(url, 'awx', { group: 'misc-p32', message: { n: 'before' } });
      await c.subscribe({ misc: ['p32'] });
      await publish(url, 'awx', { group: 'misc-p32', message: { n: 'after' } });
      assert.deepEqual(await c.next(), { n: 'after', group_name: 'misc' });
    });

    it('a batch is checked whole: one refused group publishes nothing (403); malformed is 400', async () => {
      const c = await connect('bob');
      await c.next();
      await c.subscribe({ misc: ['b'] });
      const refused = await publish(
        url,
        'awx',
        [
          { group: 'misc-b', message: { n: 1 } },
          { group: 'jobs-status_changed', message: {} },
        ],
        'alice', // alice may publish, but not into jobs
      );
      assert.equal(refused.status, 403);
      assert.match(refused.body.error.message, /event 1: publishing into jobs is not allowed/);
      for (const bad of [
        { group: 'misc-b' },
        { group: 'misc b', message: {} },
        { group: 'misc-b', message: [1] },
        [],
        'nope',
      ]) {
        assert.equal((await publish(url, 'awx', bad)).status, 400, JSON.stringify(bad));
      }
      assert.equal((await publish(url, 'awx', { group: 'postern-events', message: {} })).status, 403);
      assert.equal((await publish(url, 'awx', { group: 'misc-b', message: {} }, 'eve')).status, 403);
      assert.equal(
        (await publish(url, 'awx', { group: 'misc-b', message: {} }, 'pub', { 'content-type': 'text/plain' }))
          .status,
        415,
      );
      const get = await request(`${url}/awx/websocket/publish`, { headers: { authorization: basic('pub') } });
      await get.body.dump();
      assert.equal(get.statusCode, 405);
      const anonymous = await request(`${url}/awx/websocket/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      await anonymous.body.dump();
      assert.equal(anonymous.statusCode, 401);
      // None of the refused batches reached the subscriber: the next event is this one.
      await publish(url, 'awx', { group: 'misc-b', message: { n: 'ok' } });
      assert.deepEqual(await c.next(), { n: 'ok', group_name: 'misc' });
    });

    it('topologies are separate namespaces', async () => {
      const a = await connect('bob', 'awx');
      const b = await connect('bob', 'other');
      await a.next();
      await b.next();
      await a.subscribe({ misc: ['ns'] });
      await b.subscribe({ misc: ['ns'] });
      await publish(url, 'other', { group: 'misc-ns', message: { from: 'other' } });
      await publish(url, 'awx', { group: 'misc-ns', message: { from: 'awx' } });
      assert.deepEqual(await a.next(), { from: 'awx', group_name: 'misc' });
      assert.deepEqual(await b.next(), { from: 'other', group_name: 'misc' });
    });

    it('the in-process API publishes like a POST and subscribes like a client', async () => {
      const node = channelNodeFor(gateway.settings);
      const c = await connect('bob');
      await c.next();
      await c.subscribe({ misc: ['inproc'] });
      assert.equal(node.publish('awx', 'misc-inproc', { via: 'api' }), 1);
      assert.deepEqual(await c.next(), { via: 'api', group_name: 'misc' });
      const got: string[] = [];
      const sub: Subscriber = { topology: 'awx', deliver: (t) => got.push(t) > 0 };
      node.subscribe('awx/misc-inproc', sub);
      await publish(url, 'awx', { group: 'misc-inproc', message: { via: 'http' } });
      assert.deepEqual(got, ['{"via":"http","group_name":"misc"}']);
      node.unsubscribe('awx/misc-inproc', sub);
    });

    it("postern's own events (topology deployed, redeployed, failed, undeployed) reach the reserved group", async () => {
      const node = channelNodeFor(gateway.settings);
      const events: Frame[] = [];
      const sub: Subscriber = { topology: '', deliver: (t) => events.push(JSON.parse(t)) > 0 };
      node.subscribe('postern-events', sub);
      try {
        const file = home.write('conf/topologies/extra.xml', channelsTopology(PUBLISHERS));
        gateway.deployFile(file);
        gateway.deployFile(file);
        home.write(
          'conf/topologies/extra.xml',
          // A topology-level error (a provider postern lacks) fails it whole; a service's own fails only it.
          '<topology><gateway><provider><role>authentication</role><name>NoSuchProvider</name><enabled>true</enabled></provider></gateway></topology>',
        );
        gateway.deployFile(file);
        gateway.undeploy('extra');
        const mine = events.filter((e) => e.topology === 'extra');
        assert.deepEqual(
          mine.map((e) => [e.group_name, e.type, e.event]),
          [
            ['postern', 'topology', 'deployed'],
            ['postern', 'topology', 'redeployed'],
            ['postern', 'topology', 'failed'],
            ['postern', 'topology', 'undeployed'],
          ],
        );
        assert.equal(mine[2].serving, true);
        assert.ok(mine[2].errors > 0);
      } finally {
        node.unsubscribe('postern-events', sub);
      }
    });
  });

  describe('history', () => {
    it('a reconnecting client recovers what it missed from its offset, or is told it cannot', async () => {
      const first = await connect('alice');
      await first.next();
      await first.subscribe({ job_events: [77] });
      await publish(
        url,
        'awx',
        [1, 2].map((n) => ({ group: 'job_events-77', message: { n } })),
      );
      const e1 = await first.next();
      const e2 = await first.next();
      assert.equal(e1._offset, 1);
      assert.equal(e2._offset, 2);
      assert.equal(e1._epoch, e2._epoch);
      await first.close();
      await publish(
        url,
        'awx',
        [3, 4, 5].map((n) => ({ group: 'job_events-77', message: { n } })),
      );

      const again = await connect('alice');
      await again.next();
      const frames = await again.subscribe(
        { job_events: [77] },
        { since: { 'job_events-77': { offset: 2, epoch: e2._epoch } } },
      );
      assert.equal(frames.length, 1);
      const missed = [await again.next(), await again.next(), await again.next()];
      assert.deepEqual(
        missed.map((m) => [m.n, m._offset]),
        [
          [3, 3],
          [4, 4],
          [5, 5],
        ],
      );
      await again.close();

      // Too old (the history keeps 4), or another epoch: not recoverable, with the current position.
      await publish(
        url,
        'awx',
        [6, 7].map((n) => ({ group: 'job_events-77', message: { n } })),
      );
      const late = await connect('alice');
      await late.next();
      const [old, reply] = await late.subscribe({ job_events: [77] }, { since: { 'job_events-77': 1 } });
      assert.deepEqual(old, {
        error: 'cannot recover job_events-77 since offset 1',
        group: 'job_events-77',
        epoch: e2._epoch,
        offset: 7,
      });
      assert.deepEqual(reply.groups_current, ['job_events-77']);
      const [other] = await late.subscribe({}, {});
      assert.deepEqual(other.groups_left, ['job_events-77']);
      const [wrongEpoch] = await late.subscribe(
        { job_events: [77] },
        { since: { 'job_events-77': { offset: 6, epoch: 'ffffffffffff' } } },
      );
      assert.equal(wrongEpoch.error, 'cannot recover job_events-77 since offset 6');
    });
  });

  describe('slow consumers and leaks', () => {
    it('a subscriber that does not read is closed with 4008 and its reason; the others get everything', async () => {
      const slow = await connect('bob', 'slow');
      const fast = await connect('alice', 'slow');
      await slow.next();
      await fast.next();
      await slow.subscribe({ misc: ['flood'] });
      await fast.subscribe({ misc: ['flood'] });
      const node = channelNodeFor(gateway.settings);
      const closesBefore = node.stats('slow').slowCloses;
      (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
      const big = 'x'.repeat(32 * 1024);
      let sent = 0;
      // Publish until the gateway gives up on the paused client (kernel buffers absorb the first megabytes).
      while (node.stats('slow').slowCloses === closesBefore) {
        const batch = Array.from({ length: 16 }, () => ({
          group: 'misc-flood',
          message: { i: sent++, big },
        }));
        assert.equal((await publish(url, 'slow', batch)).status, 202);
        for (let k = 0; k < 16; k++) assert.equal((await fast.next()).i, sent - 16 + k);
        assert.ok(sent < 20_000, 'the slow consumer was never closed');
      }
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      const closed = await slow.closed;
      assert.equal(closed.code, 4008);
      assert.equal(closed.reason, 'slow consumer: more than 65536 bytes unsent');
      assert.ok(slow.frames.length < sent, 'the slow client missed events');
      assert.equal(node.subscriberCount('slow/misc-flood'), 1, 'only the fast client is left');
      assert.match(
        node.metricsText(),
        /postern_channels_slow_consumer_closes_total\{topology="slow"\} [1-9]/,
      );
      // The fast client keeps up after the close.
      await publish(url, 'slow', { group: 'misc-flood', message: { i: 'after' } });
      assert.equal((await fast.next()).i, 'after');
    });

    it('34: a disconnect leaves no subscription, client or group behind', async () => {
      const node = channelNodeFor(gateway.settings);
      const clients = await Promise.all([connect('bob'), connect('bob'), connect('alice')]);
      for (const c of clients) await c.next();
      for (const c of clients) await c.subscribe({ misc: ['leak', 'leak2'], jobs: ['leak'] });
      assert.equal(node.subscriberCount('awx/misc-leak'), 3);
      const before = node.clientCount;
      clients[0].ws.terminate();
      await clients[1].close();
      clients[2].ws.close();
      await Promise.all(clients.map((c) => c.closed));
      await until(() => node.clientCount === before - 3, 5000, 'the clients to be forgotten');
      for (const key of ['awx/misc-leak', 'awx/misc-leak2', 'awx/jobs-leak']) {
        assert.equal(node.subscriberCount(key), 0);
        assert.ok(!node.keys().includes(key), `${key} is gone`);
      }
      assert.equal(node.publish('awx', 'misc-leak', {}), 0);
    });
  });

  describe('keepalive and limits', () => {
    it('a client that answers no ping is cut; one that does stays', async () => {
      const mute = await Client.open(
        wsUrl(url, 'tight'),
        { authorization: basic('bob') },
        { autoPong: false },
      );
      open.push(mute);
      const alive = await connect('alice', 'tight');
      await mute.next();
      await alive.next();
      const cut = await mute.closed;
      assert.equal(cut.code, 1006, 'terminated, no close frame');
      const [reply] = await alive.subscribe({ misc: ['still'] });
      assert.deepEqual(reply.groups_current, ['misc-still']);
    });

    it('a connection authenticated by a token is closed with 1008 when the token expires', async () => {
      const res = await request(`${url}/tokens/knoxtoken/api/v1/token`, {
        headers: { authorization: basic('alice') },
      });
      assert.equal(res.statusCode, 200);
      const { access_token: token } = (await res.body.json()) as { access_token: string };
      const c = await Client.open(wsUrl(url, 'brief'), { authorization: `Bearer ${token}` });
      open.push(c);
      assert.deepEqual(await c.next(), { accept: true, user: 'alice' });
      assert.deepEqual(await c.closed, { code: 1008, reason: 'credential expired' });
    });

    it('past channels.max.connections the upgrade is refused with 503; a freed slot is reused', async () => {
      const first = await connect('bob', 'full');
      await connect('alice', 'full');
      await assert.rejects(connect('bob', 'full'), /status 503/);
      await first.close();
      await until(
        async () => {
          try {
            await connect('bob', 'full');
            return true;
          } catch {
            return false;
          }
        },
        5000,
        'a free slot',
      );
    });
  });

  describe('metrics', () => {
    it('counts subscribers, groups, publications and deliveries per topology', async () => {
      const node = channelNodeFor(gateway.settings);
      const c = await connect('bob', 'other');
      await c.next();
      await c.subscribe({ misc: ['m1', 'm2'] });
      const before = node.stats('other').deliveries;
      await publish(url, 'other', [
        { group: 'misc-m1', message: {} },
        { group: 'misc-m2', message: {} },
        { group: 'misc-nobody', message: {} },
      ]);
      await c.next();
      await c.next();
      assert.equal(node.stats('other').deliveries - before, 2);
      const text = node.metricsText();
      assert.match(text, /postern_channels_subscribers\{topology="other"\} [1-9]/);
      assert.match(text, /postern_channels_groups\{topology="other"\} [2-9]/);
      assert.match(text, /postern_channels_layer_info\{layer="memory",node="[0-9a-f]{16}"\} 1/);
    });
  });

  describe('redeploy and undeploy', () => {
    it("a redeploy keeps the topology's subscribers, and the new deployment's publishers reach them", async () => {
      const file = home.write('conf/topologies/redep.xml', channelsTopology(PUBLISHERS));
      assert.ok(gateway.deployFile(file));
      const c = await connect('bob', 'redep');
      await c.next();
      await c.subscribe({ misc: ['r'] });
      home.write(
        'conf/topologies/redep.xml',
        channelsTopology({ ...PUBLISHERS, 'channels.client.max.groups': '7' }),
      );
      assert.ok(gateway.deployFile(file));
      await publish(url, 'redep', { group: 'misc-r', message: { after: 'redeploy' } });
      assert.deepEqual(await c.next(), { after: 'redeploy', group_name: 'misc' });
      // An undeploy closes them too, though they came in on the deployment before.
      gateway.undeploy('redep');
      assert.deepEqual(await c.closed, { code: 1001, reason: 'topology undeployed' });
      assert.equal(channelNodeFor(gateway.settings).subscriberCount('redep/misc-r'), 0);
    });

    it("closes the topology's subscribers with 1001 and forgets their groups", async () => {
      const file = home.write('conf/topologies/gone.xml', channelsTopology(PUBLISHERS));
      assert.ok(gateway.deployFile(file));
      const c = await connect('bob', 'gone');
      await c.next();
      await c.subscribe({ misc: ['g'] });
      gateway.undeploy('gone');
      const closed = await c.closed;
      assert.deepEqual(closed, { code: 1001, reason: 'topology undeployed' });
      assert.equal(channelNodeFor(gateway.settings).subscriberCount('gone/misc-g'), 0);
    });
  });
});
