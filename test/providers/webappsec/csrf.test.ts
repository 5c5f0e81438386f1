/**
 * WebAppSec CSRF end to end: state-changing methods need the custom header (400 without it, as Knox), the
 * ignored methods and the header name are configurable, and on WebSocket upgrades (which browsers cannot add a
 * header to) the Origin check stands in: a cross-site upgrade is refused with 403 before any backend is
 * contacted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import type { Backend } from '../../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import {
  type AuditEvent,
  call,
  openWs,
  paramLine,
  startAuditedGateway,
  startEchoBackend,
  startWsBackend,
  type WsBackend,
} from '../security-helpers.ts';

describe('WebAppSec CSRF', () => {
  let home: TestHome;
  let gateway: Gateway;
  let events: AuditEvent[];
  let backend: Backend;
  let wsBackend: WsBackend;
  const files: Record<string, string> = {};

  const topology = (name: string, params: Record<string, string>, ws = false) => {
    files[name] = topologyXml({
      providers: [
        { role: 'webappsec', name: 'WebAppSec', params: { 'csrf.enabled': 'true', ...params } },
        { role: 'authentication', name: 'Anonymous' },
        { role: 'identity-assertion', name: 'Default' },
      ],
      services: [ws ? { role: 'ECHOWS', urls: [wsBackend.url] } : { role: 'HTTP', urls: [backend.url] }],
    });
    home.write(`conf/topologies/${name}.xml`, files[name]);
  };

  before(async () => {
    backend = await startEchoBackend();
    wsBackend = await startWsBackend();
    home = makeHome({ 'gateway.websocket.feature.enabled': true });
    topology('csrf', {});
    topology('custom', { 'csrf.customHeader': 'X-Requested-By', 'csrf.methodsToIgnore': 'GET, post' });
    topology('ws', {}, true);
    topology('ws-cors', { 'cors.enabled': 'true', 'cors.allowOrigin': 'https://app.example.com' }, true);
    topology('bad-bool', { 'csrf.enabled': 'maybe' });
    topology('bad-header', { 'csrf.customHeader': 'X XSRF' });
    ({ gateway, events } = await startAuditedGateway(home));
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await wsBackend?.close();
    home?.remove();
  });

  it('requires X-XSRF-Header on methods other than GET, OPTIONS and HEAD (400 without it)', async () => {
    const before = backend.requests.length;
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await call(`${gateway.url}/csrf/http/x`, {
        method,
        body: method === 'DELETE' ? undefined : '{}',
      });
      assert.equal(res.status, 400, method);
      assert.equal(JSON.parse(res.text).error.code, 'POSTERN_ERR_BAD_REQUEST');
    }
    assert.equal(backend.requests.length, before);
    for (const method of ['GET', 'OPTIONS', 'HEAD']) {
      assert.equal((await call(`${gateway.url}/csrf/http/x`, { method })).status, 200, method);
    }
    // Any value, even empty, satisfies the check; the header is forwarded like any other.
    const ok = await call(`${gateway.url}/csrf/http/x`, {
      method: 'POST',
      body: '{}',
      headers: { 'X-XSRF-Header': '' },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.echo!.method, 'POST');
  });

  it('honours csrf.customHeader and csrf.methodsToIgnore', async () => {
    assert.equal((await call(`${gateway.url}/custom/http/x`, { method: 'POST', body: 'a' })).status, 200);
    assert.equal((await call(`${gateway.url}/custom/http/x`, { method: 'DELETE' })).status, 400);
    const knoxDefault = await call(`${gateway.url}/custom/http/x`, {
      method: 'DELETE',
      headers: { 'X-XSRF-Header': '1' },
    });
    assert.equal(knoxDefault.status, 400);
    const custom = await call(`${gateway.url}/custom/http/x`, {
      method: 'DELETE',
      headers: { 'x-requested-by': 'app' },
    });
    assert.equal(custom.status, 200);
  });

  it('audits the refusal', async () => {
    events.length = 0;
    await call(`${gateway.url}/csrf/http/x`, { method: 'POST', body: '' });
    assert.deepEqual(
      events.map((e) => [e.action, e.outcome, e.reason, e.method, e.provider]),
      [['webappsec', 'denied', 'csrf header missing', 'POST', 'WebAppSec']],
    );
  });

  it('checks the Origin of a WebSocket upgrade instead of the header a browser cannot send', async () => {
    const url = `${gateway.url.replace(/^http/, 'ws')}/ws/echo/ws`;
    const crossSite = await openWs(url, { origin: 'https://evil.example' });
    assert.equal(crossSite.status, 403);
    assert.equal(wsBackend.connections, 0);

    const own = await openWs(url, { origin: new URL(gateway.url).origin });
    assert.equal(own.status, 101);
    own.ws!.close();
    const noOrigin = await openWs(url);
    assert.equal(noOrigin.status, 101);
    noOrigin.ws!.close();
    const withHeader = await openWs(url, {
      origin: 'https://tool.example',
      headers: { 'X-XSRF-Header': '1' },
    });
    assert.equal(withHeader.status, 101);
    withHeader.ws!.close();
    assert.equal(wsBackend.connections, 3);
  });

  it('with CORS enabled, an upgrade from an allowed origin passes and any other is refused', async () => {
    const url = `${gateway.url.replace(/^http/, 'ws')}/ws-cors/echo/ws`;
    const allowed = await openWs(url, { origin: 'https://app.example.com' });
    assert.equal(allowed.status, 101);
    allowed.ws!.close();
    assert.equal((await openWs(url, { origin: 'https://evil.example' })).status, 403);
  });

  it('bad params fail the deployment at their line', () => {
    const cases: [string, string, RegExp][] = [
      ['bad-bool', 'csrf.enabled', /expected true or false, found "maybe"/],
      ['bad-header', 'csrf.customHeader', /"X XSRF" is not a header name/],
    ];
    for (const [name, param, message] of cases) {
      const s = gateway.status.get(name)!;
      assert.equal(s.deployed, false, name);
      const error = s.diagnostics.find((d) => d.severity === 'error')!;
      assert.match(error.message, message);
      assert.equal(error.line, paramLine(files[name], param), name);
    }
  });
});
