/**
 * WebHDFS's two-step write, end to end, through Knox's own definition (knox-services/webhdfs/2.4.0, read in place):
 * a real gateway on a temporary home whose `postern.services.dirs` names Knox's services directory, a fake
 * namenode that answers CREATE with a 307 to a fake datanode (both real node:http servers on loopback), and a
 * client that follows the gateway's redirect with a body.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { formatDiagnostic } from '../../src/config/diagnostics.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

interface Received {
  method: string;
  url: string;
  length: number;
  sha256: string;
}

const LISTING = {
  FileStatuses: {
    FileStatus: [
      {
        pathSuffix: 'f',
        type: 'FILE',
        length: 0,
        owner: 'anonymous',
        group: 'supergroup',
        permission: '644',
        replication: 1,
        blockSize: 134217728,
        modificationTime: 1700000000000,
        accessTime: 1700000000000,
      },
    ],
  },
};

/** The query of a URL as name → every value, so encoding differences (`:` vs `%3A`) do not matter. */
function params(url: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of new URL(url, 'http://x').searchParams) {
    out[name] = [...(out[name] ?? []), value];
  }
  return out;
}

/** The same token with one character in its middle changed (still base64url, so only the cipher can tell). */
function tamper(location: string): string {
  const url = new URL(location);
  const token = url.searchParams.get('_') ?? '';
  const i = Math.floor(token.length / 2);
  const swapped = token[i] === 'A' ? 'B' : 'A';
  url.searchParams.set('_', token.slice(0, i) + swapped + token.slice(i + 1));
  return url.href;
}

describe("WebHDFS two-step flow through Knox's webhdfs/2.4.0", () => {
  let home: TestHome;
  let gateway: Gateway;
  let namenode: Backend;
  let datanode: Backend;
  const received: Received[] = [];

  before(async () => {
    datanode = await startBackend((req, res) => {
      const hash = createHash('sha256');
      let length = 0;
      req.on('data', (c: Buffer) => {
        hash.update(c);
        length += c.length;
      });
      req.on('end', () => {
        received.push({ method: req.method ?? '', url: req.url ?? '', length, sha256: hash.digest('hex') });
        const url = new URL(req.url ?? '/', 'http://x');
        if (req.method === 'PUT' && url.pathname === '/webhdfs/v1/tmp/f') {
          res.writeHead(201, { location: 'hdfs://nn:8020/tmp/f', 'content-length': 0 });
          res.end();
          return;
        }
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('datanode 404');
      });
    });
    namenode = await startBackend((req, res) => {
      req.resume();
      const url = new URL(req.url ?? '/', 'http://x');
      const op = url.searchParams.get('op');
      if (
        req.method === 'PUT' &&
        url.pathname === '/webhdfs/v1/tmp/f' &&
        op === 'CREATE' &&
        url.searchParams.get('noredirect') === 'true'
      ) {
        // noredirect=true: the same answer as JSON, for clients that cannot follow a 307 with a body.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            Location: `${datanode.url}/webhdfs/v1/tmp/f?op=CREATE&namenoderpcaddress=nn:8020`,
          }),
        );
        return;
      }
      if (req.method === 'PUT' && url.pathname === '/webhdfs/v1/tmp/f' && op === 'CREATE') {
        // As a real namenode does: the datanode's own host:port, its RPC address and the caller's user.
        const user = url.searchParams.get('user.name') ?? '';
        res.writeHead(307, {
          location: `${datanode.url}/webhdfs/v1/tmp/f?op=CREATE&namenoderpcaddress=nn:8020&overwrite=false&user.name=${user}`,
          'content-length': 0,
        });
        res.end();
        return;
      }
      if (req.method === 'GET' && url.pathname === '/webhdfs/v1/tmp' && op === 'LISTSTATUS') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(LISTING));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"RemoteException":{"exception":"FileNotFoundException"}}');
    });
    home = makeHome({ 'postern.services.dirs': KNOX_SERVICES });
    // Two topologies in front of the same cluster; postern's bundled webhdfs/3.0.0 also has the role WEBHDFS,
    // so the version pins Knox's definition.
    for (const name of ['sandbox', 'other']) {
      home.write(
        `conf/topologies/${name}.xml`,
        topologyXml({
          providers: [
            { role: 'authentication', name: 'Anonymous' },
            { role: 'identity-assertion', name: 'Default' },
          ],
          services: [{ role: 'WEBHDFS', version: '2.4.0', urls: [`${namenode.url}/webhdfs`] }],
        }),
      );
    }
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await namenode?.close();
    await datanode?.close();
    home?.remove();
  });

  /** Step one: CREATE at the namenode through the gateway; returns the Location the client is sent to. */
  async function create(topology: string): Promise<{ status: number; location: string }> {
    const res = await request(`${gateway.url}/${topology}/webhdfs/v1/tmp/f?op=CREATE`, { method: 'PUT' });
    await res.body.dump();
    return { status: res.statusCode, location: String(res.headers.location ?? '') };
  }

  it("deploys both topologies on Knox's definition", () => {
    for (const name of ['sandbox', 'other']) {
      const status = gateway.status.get(name);
      assert.equal(
        status?.deployed,
        true,
        `topology ${name} is not deployed:\n${(status?.diagnostics ?? []).map(formatDiagnostic).join('\n')}`,
      );
      const deployment = gateway.server.deployments.get(name);
      assert.ok(deployment);
      assert.deepEqual(new Set(deployment.routes.map((r) => r.definition)), new Set(['webhdfs/2.4.0']));
      assert.ok(deployment.routes.some((r) => r.path === '/webhdfs/data/v1/**?**'));
    }
  });

  it("answers CREATE with a 307 to a gateway URL that hides the datanode's address", async () => {
    const before = namenode.requests.length;
    const { status, location } = await create('sandbox');
    assert.equal(status, 307);
    // Knox's template keeps the namenode-side path after /webhdfs/data/v1/ and seals the query in `_`.
    assert.match(location, /\/webhdfs\/data\/v1\/[^?]*\?_=[\w-]+$/);
    assert.ok(
      location.startsWith(`${gateway.url}/sandbox/webhdfs/data/v1/`),
      `${location} is not under the gateway`,
    );
    assert.ok(!location.includes(`127.0.0.1:${datanode.port}`), 'datanode host:port in clear');
    assert.ok(!location.includes(String(datanode.port)), 'datanode port in clear');
    assert.ok(!/namenoderpcaddress|nn:8020|nn%3A8020/i.test(location), 'namenode RPC address in clear');
    // The namenode saw the request with the user the gateway asserted.
    const seen = namenode.requests.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].method, 'PUT');
    assert.equal(new URL(seen[0].url, 'http://x').pathname, '/webhdfs/v1/tmp/f');
    assert.deepEqual(params(seen[0].url), { op: ['CREATE'], 'user.name': ['anonymous'] });
  });

  it('follows the redirect to the datanode with the sealed query, the asserted user and the body', async () => {
    const { location } = await create('sandbox');
    assert.match(location, /\?_=/);
    // A client that tries to choose who it is on the datanode leg.
    const url = new URL(location);
    url.searchParams.append('user.name', 'admin');
    url.searchParams.append('doAs', 'root');
    const data = randomBytes(256 * 1024);
    const before = received.length;
    const res = await request(url.href, {
      method: 'PUT',
      body: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    const text = await res.body.text();
    assert.equal(res.statusCode, 201, text);
    const got = received.slice(before);
    assert.equal(got.length, 1, 'exactly one request reached the datanode');
    assert.equal(got[0].method, 'PUT');
    assert.equal(new URL(got[0].url, 'http://x').pathname, '/webhdfs/v1/tmp/f');
    assert.deepEqual(params(got[0].url), {
      op: ['CREATE'],
      namenoderpcaddress: ['nn:8020'],
      overwrite: ['false'],
      'user.name': ['anonymous'],
    });
    assert.equal(got[0].length, data.length);
    assert.equal(got[0].sha256, createHash('sha256').update(data).digest('hex'));
    // The datanode's hdfs:// Location becomes a gateway WebHDFS URL (Knox's WEBHDFS/webhdfs/outbound rule).
    assert.equal(res.headers.location, `${gateway.url}/sandbox/webhdfs/v1/tmp/f`);
  });

  it('refuses a tampered, a missing or a forged sealed query with 400 (a WebHDFS RemoteException) and never reaches the datanode', async () => {
    const { location } = await create('sandbox');
    assert.match(location, /\?_=/);
    const path = new URL(location).pathname;
    const forged = `${gateway.url.replace(/\/gateway$/, '')}${path}?scheme=http&host=127.0.0.1&port=${datanode.port}&op=CREATE`;
    const truncated = location.slice(0, -6);
    const before = received.length;
    for (const target of [tamper(location), truncated, forged]) {
      const res = await request(target, { method: 'PUT', body: 'x' });
      const text = await res.body.text();
      assert.equal(res.statusCode, 400, `${target}: ${text}`);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      // WEBHDFS routes answer the gateway's errors in WebHDFS's shape (gateway/error-shape), the code in a header.
      const body = JSON.parse(text) as { RemoteException: { exception: string; javaClassName: string } };
      assert.equal(body.RemoteException.javaClassName, 'java.lang.IllegalArgumentException');
      assert.match(String(res.headers['x-postern-error']), /^POSTERN_ERR_/);
      assert.ok(res.headers['x-request-id']);
      assert.ok(!text.includes(String(datanode.port)), 'the answer does not name the datanode');
    }
    assert.equal(received.length, before, 'nothing reached the datanode');
  });

  it('rewrites the JSON Location of a noredirect=true answer (response.body, $.Location)', async () => {
    const res = await request(`${gateway.url}/sandbox/webhdfs/v1/tmp/f?op=CREATE&noredirect=true`, {
      method: 'PUT',
    });
    assert.equal(res.statusCode, 200);
    const text = await res.body.text();
    assert.equal(res.headers['content-length'], String(Buffer.byteLength(text)));
    const { Location } = JSON.parse(text) as { Location: string };
    assert.ok(Location.startsWith(`${gateway.url}/sandbox/webhdfs/data/v1/`), Location);
    assert.match(Location, /\?_=[A-Za-z0-9_-]+$/);
    assert.ok(!Location.includes(String(datanode.port)), 'datanode address in clear');
  });

  it("returns the namenode's LISTSTATUS JSON", async () => {
    const res = await request(`${gateway.url}/sandbox/webhdfs/v1/tmp?op=LISTSTATUS`);
    const text = await res.body.text();
    assert.equal(res.statusCode, 200, text);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(text), LISTING);
    const last = namenode.requests.at(-1);
    assert.ok(last);
    assert.deepEqual(params(last.url), { op: ['LISTSTATUS'], 'user.name': ['anonymous'] });
  });

  it('does not accept one topology’s sealed query on another topology', async () => {
    const { location } = await create('sandbox');
    assert.match(location, /\?_=/);
    const onOther = location.replace(`${gateway.url}/sandbox/`, `${gateway.url}/other/`);
    assert.notEqual(onOther, location);
    const before = received.length;
    const res = await request(onOther, { method: 'PUT', body: 'x' });
    const text = await res.body.text();
    assert.equal(res.statusCode, 400, text);
    assert.equal(
      (JSON.parse(text) as { RemoteException: { exception: string } }).RemoteException.exception,
      'IllegalArgumentException',
    );
    assert.equal(received.length, before, 'nothing reached the datanode');
    // …while topology B's own redirect works on B.
    const own = await create('other');
    assert.equal(own.status, 307);
    assert.ok(own.location.startsWith(`${gateway.url}/other/webhdfs/data/v1/`), own.location);
    const ok = await request(own.location, { method: 'PUT', body: 'hello' });
    await ok.body.dump();
    assert.equal(ok.statusCode, 201);
    assert.equal(received.length, before + 1);
  });
});
