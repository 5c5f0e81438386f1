/**
 * One access-log line per request, in logs/gateway.log, with the request id the client saw, and without the
 * query string or credentials.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { Gateway } from '../../src/gateway/gateway.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';

describe('access log', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let log: Logger;

  before(async () => {
    backend = await startBackend((_req, res) => res.end('ok'));
    home = makeHome();
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    log = createLogger({ logDir: join(home.dir, 'logs'), stdout: false, level: 'info' });
    gateway = await Gateway.start({ home: home.dir, port: 0, host: '127.0.0.1', log, watch: false });
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('writes exactly one line per request, with id, status and no secrets', async () => {
    const ids: string[] = [];
    for (const path of ['/t/http/a?token=s3cret', '/t/none/b', '/nosuch/x']) {
      const res = await request(`${gateway.url}${path}`, { headers: { authorization: 'Basic c2VjcmV0' } });
      ids.push(res.headers['x-request-id'] as string);
      await res.body.dump();
    }
    await new Promise((r) => setTimeout(r, 100));
    log.flush();
    await new Promise((r) => setTimeout(r, 100));
    const text = readFileSync(join(home.dir, 'logs/gateway.log'), 'utf8');
    const access = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.type === 'access');
    assert.deepEqual(
      access.map((a) => [a.reqId, a.status, a.path]),
      [
        [ids[0], 200, '/gateway/t/http/a'],
        [ids[1], 404, '/gateway/t/none/b'],
        [ids[2], 404, '/gateway/nosuch/x'],
      ],
    );
    assert.equal(access[0].user, 'anonymous');
    assert.equal(access[0].role, 'HTTP');
    assert.doesNotMatch(text, /s3cret|c2VjcmV0/);
  });

  it('writes a line for a request the HTTP parser refuses, with its reason and nothing of the request', async () => {
    const { connect } = await import('node:net');
    const { port } = new URL(gateway.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write('GET /gateway/t/http/a HTTP/1.1\r\nHost: x\r\nX-Bad: s3cret\u0000here\r\n\r\n');
      });
      let data = '';
      socket.on('data', (c) => {
        data += c;
      });
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    await new Promise((r) => setTimeout(r, 100));
    log.flush();
    await new Promise((r) => setTimeout(r, 100));
    const text = readFileSync(join(home.dir, 'logs/gateway.log'), 'utf8');
    const refused = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.type === 'access' && l.refused !== undefined);
    assert.equal(refused.length, 1);
    assert.equal(refused[0].status, 400);
    assert.match(String(refused[0].refused), /^HPE_/);
    assert.equal(refused[0].remote, '127.0.0.1');
    assert.doesNotMatch(text, /s3cret/);
  });

  it('goes to logs/access.log by default, apart from the gateway log', async () => {
    const other = makeHome();
    other.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    const g = await Gateway.start({ home: other.dir, port: 0, host: '127.0.0.1', watch: false });
    try {
      const res = await request(`${g.url}/t/http/x`);
      const id = res.headers['x-request-id'];
      await res.body.dump();
      await g.close();
      await new Promise((r) => setTimeout(r, 200));
      const lines = readFileSync(join(other.dir, 'logs/access.log'), 'utf8').split('\n').filter(Boolean);
      assert.equal(lines.length, 1);
      assert.equal((JSON.parse(lines[0]) as { reqId: string }).reqId, id);
      assert.doesNotMatch(readFileSync(join(other.dir, 'logs/gateway.log'), 'utf8'), /"type":"access"/);
    } finally {
      await g.close().catch(() => {});
      other.remove();
    }
  });
});
