/**
 * TLS as gateway-site describes it: PEM certificate and key paths, a PKCS#12 keystore under Knox's names, a
 * self-signed certificate generated on first start, and a clear refusal of a keystore that cannot be opened.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { defaultSettings, type GatewaySettings } from '../../src/config/gateway-site.ts';
import { generateSelfSigned, loadServerTls, sessionIdContext } from '../../src/gateway/tls.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

describe('gateway TLS', () => {
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

  /** Connects with the given CA only: proves which certificate the server presents. */
  async function fetchWithCa(url: string, ca: Buffer): Promise<number> {
    const agent = new Agent({ connect: { ca, servername: 'localhost' } });
    try {
      const res = await request(url, { dispatcher: agent });
      await res.body.dump();
      return res.statusCode;
    } finally {
      await agent.close();
    }
  }

  it('generates a self-signed certificate on first start and serves https with it', async () => {
    const h = home({});
    const gateway = await startGateway(h);
    try {
      assert.match(gateway.url, /^https:/);
      const cert = readFileSync(join(h.dir, 'data/security/gateway.crt'));
      assert.equal(await fetchWithCa(`${gateway.url}/t/none`, cert), 404);
    } finally {
      await gateway.close();
    }
  });

  it('derives the TLS session id context from the identity and the client-certificate trust, not the command line', async () => {
    // Two homes (two nodes) serving the same certificate get the same context, so that each resumes the other's
    // sessions (Node's default hashes process.argv, which names the home).
    const certs = home({});
    await generateSelfSigned(join(certs.dir, 'c.crt'), join(certs.dir, 'c.key'));
    await generateSelfSigned(join(certs.dir, 'd.crt'), join(certs.dir, 'd.key'));
    const load = (dir: string, ssl: Partial<GatewaySettings['ssl']> = {}) => {
      const settings = defaultSettings();
      return loadServerTls(
        {
          ...settings,
          ssl: {
            ...settings.ssl,
            enabled: true,
            certificatePath: join(certs.dir, 'c.crt'),
            keyPath: join(certs.dir, 'c.key'),
            ...ssl,
          },
        },
        dir,
      );
    };
    const a = await load(home({}).dir);
    const b = await load(home({}).dir);
    assert.match(a.sessionIdContext!, /^[0-9a-f]{32}$/);
    assert.equal(a.sessionIdContext, b.sessionIdContext);
    assert.equal(sessionIdContext(a), a.sessionIdContext);
    // Another certificate, or a client certificate asked for or required: another context each.
    const other = await load(certs.dir, {
      certificatePath: join(certs.dir, 'd.crt'),
      keyPath: join(certs.dir, 'd.key'),
    });
    const wanted = await load(certs.dir, { clientAuthWanted: true });
    const needed = await load(certs.dir, { clientAuthNeeded: true });
    assert.equal(new Set([a, other, wanted, needed].map((t) => t.sessionIdContext)).size, 4);
  });

  it('uses the PEM files gateway-site names', async () => {
    const h = home({ 'gateway.tls.certificate.path': 'pem/c.crt', 'gateway.tls.key.path': 'pem/c.key' });
    await generateSelfSigned(join(h.dir, 'pem/c.crt'), join(h.dir, 'pem/c.key'));
    const gateway = await startGateway(h);
    try {
      assert.equal(await fetchWithCa(`${gateway.url}/t/none`, readFileSync(join(h.dir, 'pem/c.crt'))), 404);
      assert.equal(existsSync(join(h.dir, 'data/security/gateway.crt')), false);
    } finally {
      await gateway.close();
    }
  });

  it('reads a PKCS#12 keystore under Knox’s property names', async () => {
    const h = home({
      'gateway.tls.keystore.path': 'data/security/keystores/gateway.p12',
      'gateway.tls.keystore.type': 'PKCS12',
    });
    const crt = join(h.dir, 'tmp.crt');
    const key = join(h.dir, 'tmp.key');
    await generateSelfSigned(crt, key);
    mkdirSync(join(h.dir, 'data/security/keystores'), { recursive: true });
    execFileSync(
      'openssl',
      [
        'pkcs12',
        '-export',
        '-in',
        crt,
        '-inkey',
        key,
        '-out',
        join(h.dir, 'data/security/keystores/gateway.p12'),
        '-passout',
        'pass:changeit',
      ].flat(),
      { stdio: 'ignore' },
    );
    process.env.POSTERN_KEYSTORE_PASSWORD = 'changeit';
    try {
      const gateway = await startGateway(h);
      try {
        assert.equal(await fetchWithCa(`${gateway.url}/t/none`, readFileSync(crt)), 404);
      } finally {
        await gateway.close();
      }
    } finally {
      delete process.env.POSTERN_KEYSTORE_PASSWORD;
    }
  });

  // JKS keystores are read (test/gateway/keystore.test.ts); one that cannot be opened stops the start, named.
  it('refuses a JKS keystore it cannot open, with a way out', async () => {
    const h = home({ 'gateway.tls.keystore.path': 'data/security/keystores/gateway.jks' });
    h.write('data/security/keystores/gateway.jks', 'not really a keystore');
    await assert.rejects(
      startGateway(h),
      /cannot open keystore .*gateway\.jks \(type JKS.*the file is not a JKS keystore/,
    );
  });
});
