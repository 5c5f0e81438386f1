/**
 * What the TLS listener decides per connection holds over HTTP/2 exactly as over HTTP/1.1 (curl `--http2` and
 * `--http1.1`, the same assertions): two-way TLS (`gateway.client.auth.needed` with exempt topologies: the
 * per-request refusal reads the connection's certificate through an h2 stream), HeaderPreAuth's
 * `preauth.client.cert.validation` (the peer certificate's CN), and the port-mapped topologies
 * (`gateway.port.mapping.*`: the local port of an h2 session's connection picks the topology).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type Backend, closedPort, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { type Authority, makeAuthority, type Pem } from '../helpers/pki.ts';

const run = promisify(execFile);
const VERSIONS = [
  ['--http1.1', '1.1'],
  ['--http2', '2'],
] as const;

describe('client certificates and port mapping over HTTP/2 as over HTTP/1.1', () => {
  let dir: string;
  let ca: Authority;
  let server: Pem;
  let client: Pem;
  let stranger: Pem;
  let backend: Backend;
  const homes: TestHome[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-h2-tls-'));
    ca = makeAuthority(dir, 'corp');
    server = ca.issue({ name: 'server', cn: 'gateway', dns: ['localhost'], ips: ['127.0.0.1'] });
    client = ca.issue({ name: 'client', cn: 'partner-gateway' });
    stranger = makeAuthority(dir, 'other').issue({ name: 'stranger', cn: 'partner-gateway' });
    backend = await startBackend((req, res) =>
      res.end(`backend saw ${req.url} as ${req.headers.sm_user ?? req.headers['x-forwarded-user'] ?? '-'}`),
    );
  });

  after(async () => {
    await backend?.close();
    for (const h of homes) h.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  function home(
    site: Record<string, string | boolean | number>,
    topologies: Record<string, string>,
  ): TestHome {
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

  /**
   * A GET with curl: the protocol it spoke and the status, or `cut` when the handshake or the connection
   * failed before an answer.
   */
  async function fetch(
    version: string,
    url: string,
    identity?: Pem,
    headers: string[] = [],
  ): Promise<{ version: string; status: number; body: string } | 'cut'> {
    const args = ['-s', '--cacert', ca.certFile, version, '-w', '\n%{http_version} %{http_code}', url];
    if (identity) args.push('--cert', identity.certFile, '--key', identity.keyFile);
    for (const h of headers) args.push('-H', h);
    try {
      const { stdout } = await run('curl', args);
      const nl = stdout.lastIndexOf('\n');
      const [v, status] = stdout.slice(nl + 1).split(' ');
      return { version: v, status: Number(status), body: stdout.slice(0, nl) };
    } catch {
      return 'cut';
    }
  }

  /** The status over `version`, checking that it was that protocol that answered. */
  async function status(version: readonly [string, string], url: string, identity?: Pem, headers?: string[]) {
    const r = await fetch(version[0], url, identity, headers);
    if (r === 'cut') return r;
    assert.equal(r.version, version[1], `${version[0]} ${url}`);
    return r.status;
  }

  it('two-way TLS with exempt topologies: the same answers over h2 and HTTP/1.1', async () => {
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
      for (const v of VERSIONS) {
        assert.equal(await status(v, `${g.url}/public/http/x`), 200, v[0]);
        assert.equal(await status(v, `${g.url}/private/http/x`), 403, v[0]);
        assert.equal(await status(v, `${g.url}/private/http/x`, client), 200, v[0]);
        assert.equal(await status(v, `${g.url}/public/http/x`, client), 200, v[0]);
        // A certificate the truststore does not accept: cut before any request is read.
        assert.equal(await status(v, `${g.url}/public/http/x`, stranger), 'cut', v[0]);
      }
      const refused = await fetch('--http2', `${g.url}/private/http/x`);
      assert.notEqual(refused, 'cut');
      assert.match((refused as { body: string }).body, /POSTERN_ERR_CLIENT_CERT_REQUIRED/);
    } finally {
      await g.close();
    }
  });

  it('HeaderPreAuth with preauth.client.cert.validation reads the peer certificate over h2', async () => {
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
      { named: preauth('partner-gateway'), other: preauth('someone-else') },
    );
    const g = await startGateway(h);
    try {
      const sm = ['SM_USER: alice'];
      for (const v of VERSIONS) {
        assert.equal(await status(v, `${g.url}/named/http/x`, undefined, sm), 403, v[0]);
        assert.equal(await status(v, `${g.url}/named/http/x`, client, sm), 200, v[0]);
        assert.equal(await status(v, `${g.url}/other/http/x`, client, sm), 403, v[0]);
        const served = await fetch(v[0], `${g.url}/named/http/x`, client, sm);
        assert.notEqual(served, 'cut');
        assert.match((served as { body: string }).body, /user\.name=alice/);
      }
    } finally {
      await g.close();
    }
  });

  it('serves the mapped topology on its own port over h2 as over HTTP/1.1', async () => {
    const port = await closedPort();
    const h = home({ 'gateway.port.mapping.t': port }, { t: open(), other: open() });
    const g = await startGateway(h);
    try {
      for (const v of VERSIONS) {
        const mapped = await fetch(v[0], `https://127.0.0.1:${port}/http/a?b=1`);
        assert.deepEqual(mapped, {
          version: v[1],
          status: 200,
          body: 'backend saw /a?b=1&user.name=anonymous as -',
        });
        assert.equal(await status(v, `https://127.0.0.1:${port}/gateway/t/http/c`), 200, v[0]);
        assert.equal(await status(v, `https://127.0.0.1:${port}/gateway/other/http/c`), 404, v[0]);
        assert.equal(await status(v, `${g.url}/other/http/d`), 200, v[0]);
      }
    } finally {
      await g.close();
    }
  });
});
