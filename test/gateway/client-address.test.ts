/**
 * The client's address is captured when the request starts (GatewayExchange.clientAddress): undici consuming a
 * request body detaches the socket (`req.socket` is null afterwards), so anything read later — the access line,
 * the audit trail, X-Forwarded-For, IP ACLs — would lose it for every request with a body. The built-in dispatch
 * guards the body (dispatch/request-body), so the plugin dispatch below streams `ex.req` to its backend itself,
 * as the issue saw it, and audits afterwards.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Gateway } from '../../src/gateway/gateway.ts';
import { auditLogOn } from '../../src/observability/audit.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';
import type { Backend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { type AuditEvent, call, startEchoBackend } from '../providers/security-helpers.ts';

const PLUGIN = `
import { request } from '${import.meta.resolve('undici')}';
export function register(registry) {
  registry.dispatch({
    name: 'stream-body',
    create(ctx) {
      const audit = ctx.audit.forRoute({ topology: ctx.topology.name, service: ctx.service.role, action: 'dispatch' });
      const url = ctx.service.urls[0].url;
      return async (ex) => {
        const answer = await request(url, { method: ex.req.method, body: ex.req });
        const text = await answer.body.text();
        audit(ex, 'success', { status: answer.statusCode });
        ex.res.writeHead(200, { 'content-type': 'application/json', 'x-socket-gone': String(ex.req.socket === null) });
        ex.res.end(text);
      };
    },
  });
}
`;

describe('client address', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let log: Logger;
  const audit: AuditEvent[] = [];

  before(async () => {
    backend = await startEchoBackend();
    home = makeHome({ 'postern.plugins': './plugins/stream-body.mjs' });
    home.write('plugins/stream-body.mjs', PLUGIN);
    home.write(
      'conf/topologies/plug.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }).replace(
        '</service>',
        '<dispatch><contributor-name>stream-body</contributor-name></dispatch></service>',
      ),
    );
    home.write(
      'conf/topologies/t.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'identity-assertion', name: 'Default' },
          { role: 'authorization', name: 'AclsAuthz', params: { 'http.acl': '*;*;127.0.0.1' } },
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    log = createLogger({ logDir: join(home.dir, 'logs'), stdout: false, level: 'info' });
    const auditLogger = pino(
      { level: 'info', base: undefined },
      { write: (line: string) => audit.push(JSON.parse(line) as AuditEvent) },
    );
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log,
      watch: false,
      audit: auditLogOn(auditLogger),
    });
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('is in the access line, the audit trail and X-Forwarded-For of a request with a body', async () => {
    const answers = [];
    for (const method of ['POST', 'PUT', 'GET']) {
      answers.push(
        await call(`${gateway.url}/t/http/echo`, {
          method,
          headers: { 'content-type': 'text/plain' },
          body: method === 'GET' ? undefined : 'x'.repeat(100_000),
        }),
      );
    }
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.equal(a.echo?.headers['x-forwarded-for'], '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 100));
    log.flush();
    await new Promise((r) => setTimeout(r, 100));
    const access = readFileSync(join(home.dir, 'logs/gateway.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.type === 'access');
    assert.deepEqual(
      access.map((a) => [a.method, a.status, a.remote]),
      [
        ['POST', 200, '127.0.0.1'],
        ['PUT', 200, '127.0.0.1'],
        ['GET', 200, '127.0.0.1'],
      ],
    );
    assert.ok(audit.length >= 3);
    for (const e of audit) assert.equal(e.remote, '127.0.0.1', JSON.stringify(e));
  });

  it('outlives a dispatch that streams the request body itself (req.socket is null afterwards)', async () => {
    audit.length = 0;
    const a = await call(`${gateway.url}/plug/http/echo`, { method: 'POST', body: 'z'.repeat(100_000) });
    assert.equal(a.status, 200);
    // The trap itself: once undici has consumed the request, its socket is gone.
    assert.equal(a.headers['x-socket-gone'], 'true');
    await new Promise((r) => setTimeout(r, 100));
    log.flush();
    await new Promise((r) => setTimeout(r, 100));
    const access = readFileSync(join(home.dir, 'logs/gateway.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.type === 'access' && l.topology === 'plug');
    assert.equal(access.length, 1);
    assert.equal(access[0].remote, '127.0.0.1');
    // The plugin's own event and the gateway's dispatch event, both written after the body was consumed.
    const dispatched = audit.filter((e) => e.action === 'dispatch');
    assert.equal(dispatched.length, 2, JSON.stringify(audit));
    for (const e of dispatched) assert.equal(e.remote, '127.0.0.1', JSON.stringify(e));
  });

  it('is what a refused request with a body is logged with', async () => {
    const a = await call(`${gateway.url}/nosuch/x`, { method: 'POST', body: 'y'.repeat(100_000) });
    assert.equal(a.status, 404);
    await new Promise((r) => setTimeout(r, 100));
    log.flush();
    await new Promise((r) => setTimeout(r, 100));
    const access = readFileSync(join(home.dir, 'logs/gateway.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.type === 'access' && l.status === 404);
    assert.equal(access.length, 1);
    assert.equal(access[0].remote, '127.0.0.1');
  });
});
