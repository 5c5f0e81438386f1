/**
 * WebAppSec CORS end to end: preflights answered by the gateway (never reaching authentication or the backend),
 * 403/405 refusals, the Fetch rules for credentials and `*`, `Vary: Origin` merged into the backend's, the
 * backend's own CORS headers replaced, subdomains, generic requests, CORS headers on the gateway's error
 * responses, WebSocket upgrades from a disallowed origin refused before any backend is contacted, and bad params
 * failing the deployment at their line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import {
  type AuditEvent,
  call,
  openWs,
  paramLine,
  startAuditedGateway,
  startWsBackend,
  type WsBackend,
} from '../security-helpers.ts';

const APP = 'https://app.example.com';

describe('WebAppSec CORS', () => {
  let home: TestHome;
  let gateway: Gateway;
  let events: AuditEvent[];
  let backend: Backend;
  let wsBackend: WsBackend;
  const files: Record<string, string> = {};

  const topology = (
    name: string,
    cors: Record<string, string>,
    options: { preauth?: boolean; ws?: boolean } = {},
  ) => {
    files[name] = topologyXml({
      providers: [
        { role: 'webappsec', name: 'WebAppSec', params: { 'cors.enabled': 'true', ...cors } },
        options.preauth
          ? { role: 'federation', name: 'HeaderPreAuth' }
          : { role: 'authentication', name: 'Anonymous' },
        { role: 'identity-assertion', name: 'Default' },
      ],
      services: [
        options.ws ? { role: 'ECHOWS', urls: [wsBackend.url] } : { role: 'HTTP', urls: [backend.url] },
      ],
    });
    home.write(`conf/topologies/${name}.xml`, files[name]);
  };

  before(async () => {
    // A backend that sets its own CORS headers and Vary: the gateway's policy must be the one the client sees.
    backend = await startBackend((req, res) => {
      req.resume();
      res.setHeader('access-control-allow-origin', '*');
      res.setHeader('access-control-allow-methods', 'DELETE');
      res.setHeader('vary', 'Accept-Encoding');
      res.setHeader('x-total', '5');
      res.end(`${req.method} ${req.url}`);
    });
    wsBackend = await startWsBackend();
    home = makeHome({ 'gateway.websocket.feature.enabled': true });
    topology(
      'cors',
      {
        'cors.allowOrigin': `${APP} http://trusted.test:8080`,
        'cors.allowSubdomains': 'true',
        'cors.supportedMethods': 'GET, POST, PUT, OPTIONS',
        'cors.supportedHeaders': 'Content-Type,X-Custom',
        'cors.exposedHeaders': 'X-Total',
        'cors.maxAge': '600',
        'cors.tagRequests': 'true',
      },
      { preauth: true },
    );
    topology('defaults', {});
    topology('any-creds', { 'cors.allowOrigin': '*', 'cors.supportsCredentials': 'true' });
    topology('listed', { 'cors.allowOrigin': 'https://any.example, https://other.example' });
    topology('nocreds', { 'cors.supportsCredentials': 'false', 'CORS.allowOrigin': '*' });
    topology('listed-nocreds', { 'cors.supportsCredentials': 'false', 'cors.allowOrigin': `${APP},null` });
    topology('nogeneric', { 'cors.allowGenericHttpRequests': 'false', 'cors.allowOrigin': APP });
    topology('ws', { 'cors.allowOrigin': APP }, { ws: true });
    topology('bad-origin', { 'cors.allowOrigin': `${APP} app.example.com/path` });
    topology('bad-age', { 'cors.maxAge': 'ten', 'cors.allowOrigin': APP });
    topology('bad-bool', { 'cors.supportsCredentials': 'yes', 'cors.allowOrigin': APP });
    topology('typo', { 'cors.allowOrigins': APP, 'cors.allowOrigin': APP });
    ({ gateway, events } = await startAuditedGateway(home));
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await wsBackend?.close();
    home?.remove();
  });

  const preflight = (topo: string, origin: string, method: string, headers?: string) =>
    call(`${gateway.url}/${topo}/http/items`, {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': method,
        ...(headers ? { 'Access-Control-Request-Headers': headers } : {}),
      },
    });

  it('answers a preflight itself: no authentication, no backend', async () => {
    const before = backend.requests.length;
    const res = await preflight('cors', APP, 'PUT', 'content-type, x-custom');
    assert.equal(res.status, 204);
    assert.equal(res.text, '');
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, POST, PUT, OPTIONS');
    assert.equal(res.headers['access-control-allow-headers'], 'Content-Type, X-Custom');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers.vary, 'Origin');
    assert.equal(backend.requests.length, before);
  });

  it('refuses a preflight from another origin (403), for another method (405) or header (403)', async () => {
    const before = backend.requests.length;
    const evil = await preflight('cors', 'https://evil.example', 'GET');
    assert.equal(evil.status, 403);
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
    const method = await preflight('cors', APP, 'DELETE');
    assert.equal(method.status, 405);
    assert.equal(JSON.parse(method.text).error.code, 'POSTERN_ERR_METHOD_NOT_ALLOWED');
    assert.equal((await preflight('cors', APP, 'POST', 'X-Other')).status, 403);
    assert.equal((await preflight('cors', APP, 'GET', 'bad header')).status, 400);
    assert.equal(backend.requests.length, before);
  });

  it('with credentials, echoes a listed origin and any requested header, never *', async () => {
    const res = await preflight('listed', 'https://any.example', 'POST', 'X-Whatever');
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'https://any.example');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, POST, HEAD, OPTIONS');
    assert.equal(res.headers['access-control-allow-headers'], 'X-Whatever');
    assert.equal(res.headers['access-control-max-age'], undefined);
    // Knox's default methods: a cross-origin PUT is 405.
    assert.equal((await preflight('listed', 'https://any.example', 'PUT')).status, 405);
    const put = await call(`${gateway.url}/listed/http/x`, {
      method: 'PUT',
      headers: { Origin: 'https://other.example' },
    });
    assert.equal(put.status, 405);
    // An origin the list does not name is refused.
    assert.equal((await preflight('listed', APP, 'GET')).status, 403);
    // The origin null is not covered by a list that does not name it.
    assert.equal((await preflight('listed', 'null', 'GET')).status, 403);
  });

  it("refuses Knox's default (any origin with credentials) at deployment, and says why", async () => {
    for (const [name, param] of [
      ['defaults', 'cors.enabled'],
      ['any-creds', 'cors.allowOrigin'],
    ] as const) {
      const s = gateway.status.get(name)!;
      assert.equal(s.deployed, false, name);
      const error = s.diagnostics.find((d) => d.severity === 'error')!;
      assert.match(error.message, /any origin .* cors\.supportsCredentials=true .* list the allowed origins/);
      assert.equal(error.line, paramLine(files[name], param), name);
      const res = await call(`${gateway.url}/${name}/http/x`, {
        headers: { Origin: 'https://evil.example' },
      });
      assert.equal(res.status, 404);
      assert.equal(res.headers['access-control-allow-origin'], undefined);
    }
  });

  it('sends * only when any origin is allowed without credentials; a listed null is echoed', async () => {
    const any = await call(`${gateway.url}/nocreds/http/x`, { headers: { Origin: APP } });
    assert.equal(any.status, 200);
    assert.equal(any.headers['access-control-allow-origin'], '*');
    assert.equal(any.headers['access-control-allow-credentials'], undefined);
    const listed = await call(`${gateway.url}/listed-nocreds/http/x`, { headers: { Origin: APP } });
    assert.equal(listed.headers['access-control-allow-origin'], APP);
    const nul = await call(`${gateway.url}/listed-nocreds/http/x`, { headers: { Origin: 'null' } });
    assert.equal(nul.status, 200);
    assert.equal(nul.headers['access-control-allow-origin'], 'null');
  });

  it("an actual request gets the gateway's CORS headers, not the backend's, and Vary merged", async () => {
    const res = await call(`${gateway.url}/cors/http/items?x=1`, {
      headers: { Origin: APP, SM_USER: 'alice' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'GET /items?x=1&user.name=alice');
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-expose-headers'], 'X-Total');
    assert.equal(res.headers['access-control-allow-methods'], undefined);
    assert.equal(res.headers.vary, 'Accept-Encoding, Origin');
    assert.equal(res.headers['x-total'], '5');
  });

  it('allows subdomains of a listed origin (same scheme and port) and nothing that merely ends alike', async () => {
    const sub = await call(`${gateway.url}/cors/http/a`, {
      headers: { Origin: 'https://api.app.example.com', SM_USER: 'alice' },
    });
    assert.equal(sub.status, 200);
    assert.equal(sub.headers['access-control-allow-origin'], 'https://api.app.example.com');
    for (const origin of [
      'https://evilapp.example.com',
      'http://api.app.example.com',
      'https://api.app.example.com:8443',
      'http://trusted.test',
      'not an origin',
      'https://app.example.com/path',
    ]) {
      const res = await call(`${gateway.url}/cors/http/a`, { headers: { Origin: origin, SM_USER: 'alice' } });
      assert.equal(res.status, 403, origin);
    }
    const port = await call(`${gateway.url}/cors/http/a`, {
      headers: { Origin: 'http://trusted.test:8080', SM_USER: 'alice' },
    });
    assert.equal(port.status, 200);
  });

  it("puts the CORS headers on the gateway's own error responses (a 401 from authentication)", async () => {
    const res = await call(`${gateway.url}/cors/http/a`, { headers: { Origin: APP } });
    assert.equal(res.status, 401);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers.vary, 'Origin');
  });

  it('requests without Origin, or from the gateway itself, are generic: allowed unless turned off', async () => {
    const plain = await call(`${gateway.url}/cors/http/a`, { headers: { SM_USER: 'alice' } });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['access-control-allow-origin'], undefined);
    assert.equal(plain.headers.vary, 'Accept-Encoding, Origin');
    const own = new URL(gateway.url).origin;
    const same = await call(`${gateway.url}/cors/http/a`, {
      method: 'PUT',
      headers: { Origin: own, SM_USER: 'alice' },
    });
    assert.equal(same.status, 200);
    assert.equal((await call(`${gateway.url}/nogeneric/http/a`)).status, 403);
    assert.equal((await call(`${gateway.url}/nogeneric/http/a`, { headers: { Origin: APP } })).status, 200);
  });

  it('refuses a WebSocket upgrade from a disallowed origin with 403 before contacting the backend', async () => {
    const url = `${gateway.url.replace(/^http/, 'ws')}/ws/echo/ws`;
    const refused = await openWs(url, { origin: 'https://evil.example' });
    assert.equal(refused.status, 403);
    assert.equal(wsBackend.connections, 0);
    const allowed = await openWs(url, { origin: APP });
    assert.equal(allowed.status, 101);
    assert.equal(wsBackend.connections, 1);
    allowed.ws!.close();
    const noOrigin = await openWs(url);
    assert.equal(noOrigin.status, 101);
    noOrigin.ws!.close();
    const denied = events.filter((e) => e.action === 'webappsec' && e.topology === 'ws');
    assert.deepEqual(
      denied.map((e) => [e.outcome, e.reason, e.method]),
      [['denied', 'cors origin', 'GET']],
    );
  });

  it('bad params fail the deployment at their line; an unknown cors.* param is a warning', () => {
    const cases: [string, string, RegExp][] = [
      ['bad-origin', 'cors.allowOrigin', /"app\.example\.com\/path" is not an origin/],
      ['bad-age', 'cors.maxAge', /expected an integer of at least -1, found "ten"/],
      ['bad-bool', 'cors.supportsCredentials', /expected true or false, found "yes"/],
    ];
    for (const [name, param, message] of cases) {
      const s = gateway.status.get(name)!;
      assert.equal(s.deployed, false, name);
      const error = s.diagnostics.find((d) => d.severity === 'error')!;
      assert.match(error.message, message);
      assert.equal(error.line, paramLine(files[name], param), name);
    }
    const typo = gateway.status.get('typo')!;
    assert.equal(typo.deployed, true);
    const warning = typo.diagnostics.find((d) => d.severity === 'warning')!;
    assert.match(warning.message, /cors\.allowOrigins: is not a WebAppSec param/);
    assert.equal(warning.line, paramLine(files.typo, 'cors.allowOrigins'));
  });
});
