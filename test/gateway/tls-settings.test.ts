/**
 * gateway-site's TLS and response settings, honoured on a real gateway over loopback: Knox's protocol and cipher
 * lists with Jetty's semantics (checked with `openssl s_client`, a client that can be told to offer exactly one
 * protocol or suite), the `Server` header, global HSTS, the dispatch whitelist and topology port mapping.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { ConfigError, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { parseGatewaySite } from '../../src/config/gateway-site.ts';
import { type Backend, closedPort, startBackend } from '../helpers/backend.ts';
import {
  insecureAgent,
  makeHome,
  siteXml,
  startGateway,
  type TestHome,
  topologyXml,
} from '../helpers/home.ts';

/**
 * Whether a TLS handshake with exactly these client options succeeds. Asynchronous: the gateway runs in this
 * process and must answer while openssl waits.
 */
function handshake(port: number, ...args: string[]): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stdin.end();
    child.on('error', reject);
    child.on('close', (code) =>
      resolve(code === 0 && /^New, TLSv1\.[23], Cipher is (?!\(NONE\))/m.test(out)),
    );
  });
}

const portOf = (url: string) => Number(new URL(url).port);

describe('TLS protocol and cipher lists (Knox names, Jetty semantics)', () => {
  const homes: TestHome[] = [];
  after(() => {
    for (const h of homes) h.remove();
  });
  function home(site: Record<string, string | boolean | number>): TestHome {
    const h = makeHome({ 'ssl.enabled': true, ...site });
    h.write(
      'conf/topologies/t.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: ['http://127.0.0.1:1'] }] }),
    );
    homes.push(h);
    return h;
  }

  it('refuses a TLS 1.2 client under ssl.include.protocols=TLSv1.3', async () => {
    const gateway = await startGateway(home({ 'ssl.include.protocols': 'TLSv1.3' }));
    try {
      const port = portOf(gateway.url);
      assert.equal(await handshake(port, '-tls1_2'), false);
      assert.equal(await handshake(port, '-tls1_3'), true);
    } finally {
      await gateway.close();
    }
  });

  it('refuses TLS 1.3 under ssl.exclude.protocols=TLSv1.3 (an exclusion wins over an inclusion)', async () => {
    const gateway = await startGateway(
      home({ 'ssl.include.protocols': 'TLSv1.2,TLSv1.3', 'ssl.exclude.protocols': 'SSLv3|TLSv1.3' }),
    );
    try {
      const port = portOf(gateway.url);
      assert.equal(await handshake(port, '-tls1_3'), false);
      assert.equal(await handshake(port, '-tls1_2'), true);
    } finally {
      await gateway.close();
    }
  });

  it('offers only the included suites (IANA names or patterns); TLS 1.3 goes when none of its suites is included', async () => {
    const gateway = await startGateway(
      home({ 'ssl.include.ciphers': 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384' }),
    );
    try {
      const port = portOf(gateway.url);
      assert.equal(await handshake(port, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384'), true);
      assert.equal(await handshake(port, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'), false);
      assert.equal(await handshake(port, '-tls1_3'), false);
    } finally {
      await gateway.close();
    }
  });

  it('removes the excluded suites, TLS 1.3 ones included', async () => {
    const gateway = await startGateway(home({ 'ssl.exclude.ciphers': '.*_AES_128_GCM_.*' }));
    try {
      const port = portOf(gateway.url);
      assert.equal(await handshake(port, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'), false);
      assert.equal(await handshake(port, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384'), true);
      assert.equal(await handshake(port, '-tls1_3', '-ciphersuites', 'TLS_AES_128_GCM_SHA256'), false);
      assert.equal(await handshake(port, '-tls1_3', '-ciphersuites', 'TLS_AES_256_GCM_SHA384'), true);
    } finally {
      await gateway.close();
    }
  });

  it('refuses, at the <value>, an unknown protocol, lists that leave nothing, and a pattern that does not compile', () => {
    const errors = (props: Record<string, string>) => {
      try {
        parseGatewaySite(siteXml(props), 'gateway-site.xml');
        return [];
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.diagnostics.map(formatDiagnostic);
      }
    };
    assert.deepEqual(errors({ 'ssl.include.protocols': 'TLSv1.4' }), [
      'gateway-site.xml:3:47: ssl.include.protocols: unknown TLS protocol "TLSv1.4"; known: SSLv2Hello, SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3',
    ]);
    assert.match(
      errors({ 'ssl.include.protocols': 'TLSv1.1' })[0],
      /ssl.include.protocols: no protocol left/,
    );
    assert.match(
      errors({ 'ssl.exclude.ciphers': '(' })[0],
      /ssl.exclude.ciphers: "\(" is not a valid regular/,
    );
    assert.match(errors({ 'ssl.include.ciphers': 'NOPE' })[0], /ssl.include.ciphers: no cipher suite left/);
    assert.match(
      errors({ 'gateway.dispatch.whitelist': '^http://(' })[0],
      /gateway.dispatch.whitelist: "\^http:\/\/\(" is not/,
    );
  });
});

describe('Server header and global HSTS', () => {
  const homes: TestHome[] = [];
  after(() => {
    for (const h of homes) h.remove();
  });

  async function headersOf(site: Record<string, string | boolean>, topology?: string) {
    const h = makeHome({ 'ssl.enabled': true, ...site });
    homes.push(h);
    h.write(
      'conf/topologies/t.xml',
      topology ?? topologyXml({ services: [{ role: 'HTTP', urls: ['http://127.0.0.1:1'] }] }),
    );
    const gateway = await startGateway(h);
    const agent = insecureAgent();
    try {
      const res = await request(`${gateway.url}/t/none`, { dispatcher: agent });
      await res.body.dump();
      return res.headers;
    } finally {
      await agent.close();
      await gateway.close();
    }
  }

  it('sends no Server header by default (Knox: false), and one with gateway.server.header.enabled', async () => {
    assert.equal((await headersOf({})).server, undefined);
    assert.equal((await headersOf({ 'gateway.server.header.enabled': true })).server, 'postern');
  });

  it('sends Strict-Transport-Security on every answer with gateway.strict.transport.enabled; WebAppSec wins', async () => {
    assert.equal((await headersOf({}))['strict-transport-security'], undefined);
    assert.equal(
      (await headersOf({ 'gateway.strict.transport.enabled': true }))['strict-transport-security'],
      'max-age=31536000; includeSubDomains',
    );
    assert.equal(
      (
        await headersOf({
          'gateway.strict.transport.enabled': true,
          'gateway.strict.transport.option': 'max-age=600',
        })
      )['strict-transport-security'],
      'max-age=600',
    );
    const backend = await startBackend((_req, res) => res.end('ok'));
    try {
      const withWebAppSec = topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'identity-assertion', name: 'Default' },
          {
            role: 'webappsec',
            name: 'WebAppSec',
            params: { 'strict.transport.enabled': 'true', 'strict.transport': 'max-age=5' },
          },
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      });
      const h = makeHome({ 'ssl.enabled': true, 'gateway.strict.transport.enabled': true });
      homes.push(h);
      h.write('conf/topologies/t.xml', withWebAppSec);
      const gateway = await startGateway(h);
      const agent = insecureAgent();
      try {
        const res = await request(`${gateway.url}/t/http/x`, { dispatcher: agent });
        await res.body.dump();
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['strict-transport-security'], 'max-age=5');
      } finally {
        await agent.close();
        await gateway.close();
      }
    } finally {
      await backend.close();
    }
  });
});

describe('gateway.dispatch.whitelist', () => {
  let backend: Backend;
  const homes: TestHome[] = [];
  after(async () => {
    for (const h of homes) h.remove();
    await backend?.close();
  });

  async function status(site: Record<string, string>, host?: string): Promise<number> {
    backend ??= await startBackend((_req, res) => res.end('ok'));
    const h = makeHome(site);
    homes.push(h);
    h.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    const gateway = await startGateway(h);
    try {
      const res = await request(`${gateway.url}/t/http/x`, { headers: host ? { host } : {} });
      await res.body.dump();
      return res.statusCode;
    } finally {
      await gateway.close();
    }
  }

  it('leaves services it does not cover alone (Knox: KNOXSSO and the listed roles only)', async () => {
    const before = backend?.requests.length ?? 0;
    assert.equal(await status({ 'gateway.dispatch.whitelist': '^https://nowhere\\.example:[0-9]+$' }), 200);
    assert.equal(backend.requests.length, before + 1);
  });

  it('answers 400 without dispatching when the backend does not match the whitelist', async () => {
    const before = backend?.requests.length ?? 0;
    const code = await status({
      'gateway.dispatch.whitelist': '^https?:\\/\\/backend\\.example\\.com:[0-9]+$',
      'gateway.dispatch.whitelist.services': 'HTTP',
    });
    assert.equal(code, 400);
    assert.equal(backend.requests.length, before);
  });

  it("derives Knox's default when unset: the gateway's own host (loopback here) passes, another domain does not", async () => {
    assert.equal(await status({ 'gateway.dispatch.whitelist.services': 'HTTP' }), 200);
    assert.equal(await status({ 'gateway.dispatch.whitelist.services': 'HTTP' }, 'gw.example.com'), 400);
    assert.equal(
      await status({
        'gateway.dispatch.whitelist.services': 'HTTP',
        'gateway.dispatch.whitelist': 'HTTPS_ONLY',
      }),
      400,
    );
  });
});

describe('gateway.port.mapping', () => {
  it('serves the mapped topology at the root of its own port, and nothing else there', async () => {
    const backend = await startBackend((req, res) => res.end(`backend saw ${req.url}`));
    const port = await closedPort();
    const h = makeHome({ 'ssl.enabled': true, 'gateway.port.mapping.t': port });
    h.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    h.write('conf/topologies/other.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    const gateway = await startGateway(h);
    const agent = insecureAgent();
    const get = async (url: string) => {
      const res = await request(url, { dispatcher: agent });
      return { status: res.statusCode, body: await res.body.text() };
    };
    try {
      assert.deepEqual(await get(`https://127.0.0.1:${port}/http/a?b=1`), {
        status: 200,
        body: 'backend saw /a?b=1&user.name=anonymous',
      });
      assert.deepEqual(await get(`https://127.0.0.1:${port}/gateway/t/http/c`), {
        status: 200,
        body: 'backend saw /c?user.name=anonymous',
      });
      // Another topology is not reachable on the mapped port: its path is the mapped topology's.
      assert.equal((await get(`https://127.0.0.1:${port}/gateway/other/http/c`)).status, 404);
      // The gateway port still serves both.
      assert.equal((await get(`${gateway.url}/other/http/d`)).status, 200);
      assert.equal((await get(`${gateway.url}/t/http/d`)).status, 200);
    } finally {
      await agent.close();
      await gateway.close();
      await backend.close();
      h.remove();
    }
  });

  it('opens no port when gateway.port.mapping.enabled is false', async () => {
    const port = await closedPort();
    const h = makeHome({ 'gateway.port.mapping.enabled': false, 'gateway.port.mapping.t': port });
    h.write(
      'conf/topologies/t.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: ['http://127.0.0.1:1'] }] }),
    );
    const gateway = await startGateway(h);
    try {
      await assert.rejects(request(`http://127.0.0.1:${port}/http/`), /ECONNREFUSED/);
    } finally {
      await gateway.close();
      h.remove();
    }
  });
});
