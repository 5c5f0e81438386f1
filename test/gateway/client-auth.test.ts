/**
 * The listener's two-way TLS under Knox's gateway-site names: `gateway.client.auth.needed` refuses a client
 * without an accepted certificate at the handshake; `gateway.client.auth.exclude` keeps exempt topologies
 * reachable without one (and answers 403 elsewhere); `gateway.client.auth.wanted` asks without requiring; a
 * certificate the truststore does not accept never gets a request read; HeaderPreAuth's
 * `preauth.client.cert.validation` believes the header only over an accepted certificate; truststores postern
 * cannot read, and `gateway.trust.all.certs`, stop the start with a message that says what to do.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { checkHome } from '../../src/cli/check.ts';
import { CredentialStore, GATEWAY_CLUSTER, masterSecretFile } from '../../src/config/aliases.ts';
import { loadOrCreateMasterSecret } from '../../src/deploy/secrets.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { rawTls } from '../dispatch/federation-fixture.ts';
import type { Backend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { type Authority, makeAuthority, type Pem } from '../helpers/pki.ts';
import { type AuditEvent, startAuditedGateway, startEchoBackend } from '../providers/security-helpers.ts';

describe('two-way TLS on the listener', () => {
  let dir: string;
  let ca: Authority;
  let server: Pem;
  let client: Pem;
  let stranger: Pem;
  let backend: Backend;
  const homes: TestHome[] = [];
  const agents: Agent[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-client-auth-'));
    ca = makeAuthority(dir, 'corp');
    server = ca.issue({ name: 'server', cn: 'gateway', dns: ['localhost'], ips: ['127.0.0.1'] });
    client = ca.issue({ name: 'client', cn: 'partner-gateway' });
    stranger = makeAuthority(dir, 'other').issue({ name: 'stranger', cn: 'partner-gateway' });
    backend = await startEchoBackend();
  });

  after(async () => {
    for (const a of agents) await a.close();
    await backend?.close();
    for (const h of homes) h.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  function home(site: Record<string, string | boolean>, topologies: Record<string, string>): TestHome {
    const h = makeHome({
      'ssl.enabled': true,
      'gateway.tls.certificate.path': server.certFile,
      'gateway.tls.key.path': server.keyFile,
      ...site,
    });
    for (const [name, xml] of Object.entries(topologies)) h.write(`conf/topologies/${name}.xml`, xml);
    homes.push(h);
    return h;
  }

  const open = () => topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] });

  function agent(identity?: Pem): Agent {
    const a = new Agent({
      connect: { ca: ca.cert, ...(identity ? { cert: identity.cert, key: identity.key } : {}) },
    });
    agents.push(a);
    return a;
  }

  async function status(
    url: string,
    identity?: Pem,
    headers?: Record<string, string>,
  ): Promise<number | string> {
    try {
      const res = await request(url, { dispatcher: agent(identity), headers });
      await res.body.text();
      return res.statusCode;
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  }

  /** Sends a request on a raw TLS connection; '' means the gateway read no request and answered nothing. */
  async function answer(g: Gateway, path: string, identity?: Pem): Promise<string> {
    const r = await rawTls(
      {
        host: '127.0.0.1',
        port: g.port,
        ca: ca.cert,
        servername: 'localhost',
        ...(identity ? { cert: identity.cert, key: identity.key } : {}),
      },
      path,
      {},
    );
    return r.data.split('\r\n', 1)[0];
  }

  it('needed: no certificate, or one from another CA, is refused at the handshake; the CA’s is served', async () => {
    const h = home(
      {
        'gateway.client.auth.needed': true,
        'gateway.truststore.path': ca.certFile,
        'gateway.truststore.type': 'PEM',
      },
      { t: open() },
    );
    const g = await startGateway(h);
    try {
      assert.equal(await answer(g, '/gateway/t/http/x'), '');
      assert.equal(await answer(g, '/gateway/t/http/x', stranger), '');
      assert.equal(await answer(g, '/gateway/t/http/x', client), 'HTTP/1.1 200 OK');
      assert.equal(await status(`${g.url}/t/http/x`, client), 200);
      assert.notEqual(typeof (await status(`${g.url}/t/http/x`)), 'number');
    } finally {
      await g.close();
    }
  });

  it('needed with gateway.client.auth.exclude: exempt topologies answer without a certificate, others 403', async () => {
    const h = home(
      {
        'gateway.client.auth.needed': true,
        'gateway.client.auth.exclude': 'public',
        'gateway.truststore.path': ca.certFile,
      },
      { public: open(), private: open() },
    );
    const g = await startGateway(h);
    try {
      assert.equal(await status(`${g.url}/public/http/x`), 200);
      assert.equal(await status(`${g.url}/private/http/x`), 403);
      const res = await request(`${g.url}/private/http/x`, { dispatcher: agent() });
      assert.match(await res.body.text(), /POSTERN_ERR_CLIENT_CERT_REQUIRED/);
      assert.equal(await status(`${g.url}/nosuch/x`), 403);
      assert.equal(await status(`${g.url}/private/http/x`, client), 200);
      assert.equal(await status(`${g.url}/public/http/x`, client), 200);
      // A certificate the truststore does not accept: cut before any request is read, even for the exempt one.
      assert.equal(await answer(g, '/gateway/public/http/x', stranger), '');
      assert.equal(await answer(g, '/gateway/public/http/x'), 'HTTP/1.1 200 OK');
    } finally {
      await g.close();
    }
  });

  it('wanted: a client without a certificate is served; one with a certificate from another CA is cut', async () => {
    const h = home(
      { 'gateway.client.auth.wanted': true, 'gateway.truststore.path': ca.certFile },
      { t: open() },
    );
    const g = await startGateway(h);
    try {
      assert.equal(await status(`${g.url}/t/http/x`), 200);
      assert.equal(await status(`${g.url}/t/http/x`, client), 200);
      assert.equal(await answer(g, '/gateway/t/http/x', stranger), '');
    } finally {
      await g.close();
    }
  });

  it('HeaderPreAuth with preauth.client.cert.validation believes the header only over an accepted certificate', async () => {
    const preauth = (names?: string) =>
      topologyXml({
        providers: [
          {
            role: 'federation',
            name: 'HeaderPreAuth',
            params: {
              'preauth.validation.method': 'preauth.client.cert.validation',
              ...(names ? { 'preauth.client.cert.names': names } : {}),
            },
          },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      });
    const h = home(
      { 'gateway.client.auth.wanted': true, 'gateway.truststore.path': ca.certFile },
      { any: preauth(), named: preauth('partner-gateway'), other: preauth('someone-else,other.example') },
    );
    const { gateway: g, events } = await startAuditedGateway(h);
    try {
      const sm = { SM_USER: 'alice' };
      assert.equal(await status(`${g.url}/any/http/x`, undefined, sm), 403);
      assert.equal(await status(`${g.url}/any/http/x`, client, sm), 200);
      assert.equal(await status(`${g.url}/named/http/x`, client, sm), 200);
      assert.equal(await status(`${g.url}/other/http/x`, client, sm), 403);
      assert.equal(await status(`${g.url}/any/http/x`, client), 401);
      const denied = events.filter(
        (e: AuditEvent) => e.outcome === 'denied' && e.reason === 'preauth.client.cert.validation',
      );
      assert.deepEqual(
        denied.map((e) => [e.topology, e.user]),
        [
          ['any', 'alice'],
          ['other', 'alice'],
        ],
      );
      const seen = backend.requests.at(-1);
      assert.match(seen?.url ?? '', /user\.name=alice/);
    } finally {
      await g.close();
    }
  });

  it('preauth.client.cert.validation without client certificates on the listener does not deploy', async () => {
    const h = home(
      {},
      {
        t: topologyXml({
          providers: [
            {
              role: 'federation',
              name: 'HeaderPreAuth',
              params: { 'preauth.validation.method': 'preauth.client.cert.validation' },
            },
          ],
          services: [{ role: 'HTTP', urls: [backend.url] }],
        }),
      },
    );
    const g = await startGateway(h);
    try {
      const st = g.status.get('t');
      assert.equal(st?.deployed, false);
      assert.match(
        st?.diagnostics.map((d) => d.message).join('\n') ?? '',
        /preauth\.client\.cert\.validation needs .*gateway\.client\.auth\.needed/,
      );
    } finally {
      await g.close();
    }
  });

  it('without gateway.truststore.path the gateway trusts its own certificate, as Knox trusts its identity keystore', async () => {
    const h = home(
      {
        'gateway.client.auth.needed': true,
        'gateway.tls.certificate.path': 'data/security/gateway.crt',
        'gateway.tls.key.path': 'data/security/gateway.key',
      },
      { t: open() },
    );
    const g = await startGateway(h);
    try {
      const cert = readFileSync(join(h.dir, 'data/security/gateway.crt'), 'utf8');
      const key = readFileSync(join(h.dir, 'data/security/gateway.key'), 'utf8');
      const a = new Agent({ connect: { ca: cert, cert, key, servername: 'localhost' } });
      agents.push(a);
      const res = await request(`${g.url}/t/http/x`, { dispatcher: a });
      await res.body.text();
      assert.equal(res.statusCode, 200);
      assert.equal(
        await answer(g, '/gateway/t/http/x', client),
        '',
        'a certificate of another issuer is not trusted by default',
      );
    } finally {
      await g.close();
    }
  });

  it("reads a PKCS12 truststore made by keytool, its password from Knox's alias; refuses it without one", async () => {
    const h = home(
      {
        'gateway.client.auth.needed': true,
        'gateway.truststore.path': 'truststore.p12',
        'gateway.truststore.type': 'PKCS12',
      },
      { t: open() },
    );
    const made = spawnSync('keytool', [
      '-importcert',
      '-noprompt',
      '-alias',
      'clients-ca',
      '-file',
      ca.certFile,
      '-keystore',
      join(h.dir, 'truststore.p12'),
      '-storetype',
      'PKCS12',
      '-storepass',
      'trust-pass',
    ]);
    assert.equal(made.status, 0, String(made.stderr));
    await assert.rejects(
      startGateway(h),
      /gateway\.truststore\.path: cannot open truststore .*no password: postern cli create-alias gateway-truststore-password/,
    );
    // postern check says the same, as start does.
    const checked = (await checkHome(h.dir)).filter((d) => d.severity === 'error').map((d) => d.message);
    assert.match(checked.join('\n'), /cannot open truststore .*no password/);
    new CredentialStore(h.dir, loadOrCreateMasterSecret(masterSecretFile(h.dir)), GATEWAY_CLUSTER).set(
      'gateway-truststore-password',
      'trust-pass',
    );
    const g = await startGateway(h);
    try {
      assert.equal(await answer(g, '/gateway/t/http/x', client), 'HTTP/1.1 200 OK');
      assert.equal(await answer(g, '/gateway/t/http/x', stranger), '');
    } finally {
      await g.close();
    }
  });

  it('refuses gateway.trust.all.certs with client authentication on', async () => {
    const h = home(
      {
        'gateway.client.auth.needed': true,
        'gateway.truststore.path': ca.certFile,
        'gateway.trust.all.certs': true,
      },
      { t: open() },
    );
    await assert.rejects(startGateway(h), /gateway\.trust\.all\.certs=true .*Remove the property/);
  });
});
