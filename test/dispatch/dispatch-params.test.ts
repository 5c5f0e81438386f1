/**
 * Knox's dispatch variants and ConfigurableDispatch parameters, end to end: `requestExcludeHeaders`,
 * `responseExcludeHeaders` (with `SET-COOKIE:names`), `requestAppendHeaders`, PassAllHeadersDispatch chosen by
 * Knox class name in a topology's dispatch override, and `gateway.xforwarded.enabled=false`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

describe('dispatch variants and parameters', () => {
  let home: TestHome;
  let noForwarded: TestHome;
  let gateway: Gateway;
  let plain: Gateway;
  let backend: Backend;

  before(async () => {
    backend = await startBackend((req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'www-authenticate': 'Negotiate abc',
        'x-backend-secret': 'internal',
        'set-cookie': ['a=1', 'b=2', 'hadoop.auth=x'],
      });
      res.end(JSON.stringify(req.headers));
    });
    home = makeHome();
    home.write(
      'conf/topologies/conf.xml',
      topologyXml({
        services: [
          {
            role: 'HTTP',
            urls: [backend.url],
            params: {
              requestExcludeHeaders: 'Host,Authorization,X-Drop-Me',
              responseExcludeHeaders: 'WWW-Authenticate,X-Backend-Secret,SET-COOKIE:a',
              requestAppendHeaders: 'X-Added:yes;X-Tenant:blue',
            },
          },
        ],
      }),
    );
    home.write(
      'conf/topologies/passall.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }).replace(
        '</service>',
        '<dispatch><classname>org.apache.knox.gateway.dispatch.PassAllHeadersDispatch</classname></dispatch></service>',
      ),
    );
    home.write(
      'conf/topologies/default.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }).replace(
        '</service>',
        '<dispatch classname="org.apache.knox.gateway.dispatch.DefaultDispatch"/></service>',
      ),
    );
    gateway = await startGateway(home);
    noForwarded = makeHome({
      'gateway.xforwarded.enabled': false,
      'gateway.scope.cookies.feature.enabled': true,
    });
    noForwarded.write(
      'conf/topologies/t.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }),
    );
    plain = await startGateway(noForwarded);
  });

  after(async () => {
    await gateway?.close();
    await plain?.close();
    await backend?.close();
    home?.remove();
    noForwarded?.remove();
  });

  const call = async (g: Gateway, topology: string) => {
    const res = await request(`${g.url}/${topology}/http/x`, {
      headers: { authorization: 'Bearer tok', 'x-drop-me': '1', 'x-keep-me': '2' },
    });
    return { headers: res.headers, sent: (await res.body.json()) as Record<string, string> };
  };

  it('ConfigurableDispatch honours requestExcludeHeaders, requestAppendHeaders and responseExcludeHeaders', async () => {
    const { headers, sent } = await call(gateway, 'conf');
    assert.equal(sent.authorization, undefined);
    assert.equal(sent['x-drop-me'], undefined);
    assert.equal(sent['x-keep-me'], '2');
    assert.equal(sent['x-added'], 'yes');
    assert.equal(sent['x-tenant'], 'blue');
    assert.equal(headers['www-authenticate'], undefined);
    assert.equal(headers['x-backend-secret'], undefined);
    assert.deepEqual(headers['set-cookie'], ['b=2', 'hadoop.auth=x']);
  });

  it('PassAllHeadersDispatch forwards Authorization and returns WWW-Authenticate and every cookie', async () => {
    const { headers, sent } = await call(gateway, 'passall');
    assert.equal(sent.authorization, 'Bearer tok');
    assert.equal(headers['www-authenticate'], 'Negotiate abc');
    assert.deepEqual(headers['set-cookie'], ['a=1', 'b=2', 'hadoop.auth=x']);
  });

  it('DefaultDispatch drops every Set-Cookie, as Knox does', async () => {
    const { headers, sent } = await call(gateway, 'default');
    assert.equal(sent.authorization, undefined);
    assert.equal(headers['set-cookie'], undefined);
    assert.equal(headers['www-authenticate'], undefined);
  });

  it('gateway.scope.cookies.feature.enabled scopes backend cookies to the topology path', async () => {
    const res = await request(`${plain.url}/t/http/x`);
    await res.body.dump();
    assert.deepEqual(res.headers['set-cookie'], ['a=1; Path=/gateway/t/', 'b=2; Path=/gateway/t/']);
  });

  it('gateway.xforwarded.enabled=false adds no X-Forwarded-* headers', async () => {
    const { sent } = await call(plain, 't');
    assert.deepEqual(
      Object.keys(sent).filter((h) => h.startsWith('x-forwarded')),
      [],
    );
    const { sent: withForwarded } = await call(gateway, 'conf');
    assert.ok(withForwarded['x-forwarded-for']);
  });
});
