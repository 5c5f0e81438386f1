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
import { generateSelfSigned } from '../../src/gateway/tls.ts';
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
