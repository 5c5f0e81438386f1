/**
 * Which host a request is answered as (gateway/host.ts), through a real gateway on loopback: a duplicate Host is
 * refused; gateway.frontend.url wins over Host in rewritten Location headers and X-Forwarded-Host; with
 * postern.host.allowlist a forged Host is answered as the gateway's own host, or refused under postern.host.strict;
 * a client's X-Forwarded-* reach the backend only from an address in postern.trusted.proxies.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

/** Sends raw bytes and returns the status line. */
function rawStatus(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      got += c;
      if (got.includes('\r\n')) {
        resolve(got.slice(0, got.indexOf('\r\n')));
        socket.destroy();
      }
    });
    socket.on('error', reject);
  });
}

async function startOne(site: Record<string, string | number | boolean>, backend: Backend) {
  const home = makeHome(site);
  home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
  const gateway = await startGateway(home);
  return { home, gateway, port: new URL(gateway.url).port };
}

describe('the host a request is answered as', () => {
  let backend: Backend;
  const started: { home: TestHome; gateway: Gateway }[] = [];
  let open: { port: string; gateway: Gateway };
  let listed: { port: string; gateway: Gateway };
  let strict: { port: string; gateway: Gateway };
  let frontend: { port: string; gateway: Gateway };
  let trusting: { port: string; gateway: Gateway };

  before(async () => {
    // A backend that redirects to its own absolute URL, as an application behind a proxy does.
    backend = await startBackend((req, res) => {
      req.resume();
      res.writeHead(302, { location: `${backend.url}/next` });
      res.end();
    });
    const one = async (site: Record<string, string | number | boolean>) => {
      const s = await startOne(site, backend);
      started.push(s);
      return s;
    };
    open = await one({});
    listed = await one({ 'postern.host.allowlist': 'gw.example.com,gw2.example.com' });
    strict = await one({ 'postern.host.allowlist': 'gw.example.com', 'postern.host.strict': true });
    frontend = await one({ 'gateway.frontend.url': 'https://lb.example.com/gateway' });
    trusting = await one({ 'postern.trusted.proxies': '127.0.0.1, ::1' });
  });

  after(async () => {
    for (const s of started) {
      await s.gateway.close();
      s.home.remove();
    }
    await backend?.close();
  });

  const get = (port: string, host: string, headers: Record<string, string> = {}) =>
    request(`http://127.0.0.1:${port}/gateway/t/http/x`, { headers: { host, ...headers } }).then(
      async (r) => {
        await r.body.dump();
        return { status: r.statusCode, location: r.headers.location, seen: backend.requests.at(-1)!.headers };
      },
    );

  it('refuses a request with two Host headers', async () => {
    const line = await rawStatus(
      Number(open.port),
      'GET /gateway/t/http/x HTTP/1.1\r\nHost: gw.example.com\r\nHost: evil.example\r\n\r\n',
    );
    assert.equal(line, 'HTTP/1.1 400 Bad Request');
  });

  it('without an allow-list, answers as the Host the client named', async () => {
    const r = await get(open.port, 'gw.example.com:8443');
    assert.equal(r.location, 'http://gw.example.com:8443/gateway/t/http/next');
    assert.equal(r.seen['x-forwarded-host'], 'gw.example.com:8443');
  });

  it('with an allow-list, answers a forged Host as its own host; an allowed one as named', async () => {
    const forged = await get(listed.port, 'evil.example');
    assert.equal(forged.status, 302);
    assert.equal(forged.location, `http://gw.example.com:${listed.port}/gateway/t/http/next`);
    assert.equal(forged.seen['x-forwarded-host'], `gw.example.com:${listed.port}`);
    const ok = await get(listed.port, 'GW2.example.com:9443');
    assert.equal(ok.location, 'http://GW2.example.com:9443/gateway/t/http/next');
  });

  it('in strict mode, refuses a forged or malformed Host with 400', async () => {
    assert.equal((await get(strict.port, 'evil.example')).status, 400);
    assert.equal((await get(strict.port, 'gw.example.com')).status, 302);
    const line = await rawStatus(Number(strict.port), 'GET /gateway/t/http/x HTTP/1.0\r\n\r\n');
    assert.equal(line, 'HTTP/1.1 400 Bad Request');
  });

  it('with gateway.frontend.url, answers as the front-end URL whatever Host says', async () => {
    const r = await get(frontend.port, 'evil.example');
    assert.equal(r.location, 'https://lb.example.com/gateway/t/http/next');
    assert.equal(r.seen['x-forwarded-host'], 'lb.example.com');
    assert.equal(r.seen['x-forwarded-proto'], 'https');
  });

  it("drops a client's X-Forwarded-* unless it comes from a trusted proxy", async () => {
    const claims = {
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'http',
      forwarded: 'for=203.0.113.9',
    };
    const untrusted = await get(open.port, 'gw.example.com', claims);
    assert.equal(untrusted.seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(untrusted.seen['x-forwarded-host'], 'gw.example.com');
    assert.equal(untrusted.seen.forwarded, undefined);
    const trusted = await get(trusting.port, 'gw.example.com', claims);
    assert.equal(trusted.seen['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(trusted.seen['x-forwarded-host'], 'evil.example');
    assert.equal(trusted.seen.forwarded, 'for=203.0.113.9');
  });
});
