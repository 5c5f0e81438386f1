/**
 * The audit trail of a dispatch: each proxied request leaves one `dispatch` event with its outcome and the
 * backend's status (or the gateway's answer when the backend could not be reached), the user and the path —
 * never the query string, which can carry tokens.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { Gateway } from '../../src/gateway/gateway.ts';
import { auditLogOn, backendPath } from '../../src/observability/audit.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';

describe('audit log: dispatch events', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  const events: Record<string, unknown>[] = [];

  before(async () => {
    backend = await startBackend((req, res) => {
      res.writeHead(req.url?.startsWith('/missing') ? 404 : 200);
      res.end('ok');
    });
    home = makeHome();
    home.write('conf/topologies/up.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    home.write(
      'conf/topologies/down.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: ['http://127.0.0.1:9'] }] }),
    );
    const sink = { write: (line: string) => events.push(JSON.parse(line)) };
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      watch: false,
      log: createLogger({ level: 'silent', stdout: false }),
      audit: auditLogOn(pino({ base: undefined }, sink)),
    });
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('records a proxied request with the backend status, the user and the path without its query', async () => {
    const res = await request(`${gateway.url}/up/http/items?delegation=SECRET-TOKEN`);
    await res.body.text();
    const missing = await request(`${gateway.url}/up/http/missing`);
    await missing.body.text();
    const dispatch = events.filter((e) => e.action === 'dispatch' && e.topology === 'up');
    assert.equal(dispatch.length, 2);
    assert.deepEqual(
      dispatch.map((e) => [e.outcome, e.status, e.path, e.user, e.effectiveUser, e.service]),
      [
        ['success', 200, '/gateway/up/http/items', 'anonymous', 'anonymous', 'HTTP'],
        ['success', 404, '/gateway/up/http/missing', 'anonymous', 'anonymous', 'HTTP'],
      ],
    );
    assert.ok(typeof dispatch[0].reqId === 'string');
    assert.doesNotMatch(JSON.stringify(events), /SECRET-TOKEN/);
  });

  it('records an unreachable backend as unavailable with the gateway’s 502', async () => {
    const res = await request(`${gateway.url}/down/http/items`);
    await res.body.text();
    assert.equal(res.statusCode, 502);
    const event = events.find((e) => e.action === 'dispatch' && e.topology === 'down');
    assert.ok(event);
    assert.equal(event.outcome, 'unavailable');
    assert.equal(event.status, 502);
    assert.equal(event.reason, 'POSTERN_ERR_UPSTREAM_UNAVAILABLE');
  });
});

describe('audit log: backendPath', () => {
  it('is the path of a backend URL, without scheme, authority, query or fragment', () => {
    assert.deepEqual(
      [
        'http://nn:9870/webhdfs/v1/tmp?op=LISTSTATUS',
        'https://h:1/a/b#c?d',
        'ws://x/y?z/w',
        'http://h?x',
        'http://h#f',
        'http://h',
        '/a#b',
        '?q',
        '',
      ].map(backendPath),
      ['/webhdfs/v1/tmp', '/a/b', '/y', '/', '/', '/', '/a', '/', '/'],
    );
  });
});
