/**
 * `Expect: 100-continue` as curl sends it for large uploads, through a real gateway, with real curl: the `100`
 * comes only once the chain accepted the request and the body is wanted; a refused request and a WebHDFS
 * namenode step (whose answer is a redirect) get their final answer with no `100`, and curl sends no body there.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

interface Received {
  method: string;
  url: string;
  length: number;
  sha256: string;
}

/** A backend that reads every body and records its length and hash. */
function recordingBackend(received: Received[], answer: (req: Received) => [number, Record<string, string>]) {
  return startBackend((req, res) => {
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      length += c.length;
    });
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', length, sha256: hash.digest('hex') };
      received.push(r);
      const [status, headers] = answer(r);
      res.writeHead(status, { 'content-length': '0', ...headers });
      res.end();
    });
  });
}

interface Curl {
  status: number;
  uploaded: number;
  /** curl's -v trace: `< HTTP/1.1 100 Continue` when the gateway asked for the body. */
  trace: string;
}

/**
 * curl -T with `Expect: 100-continue` and a 20 s expect timeout: without a `100` curl would wait that long and
 * then send anyway, so the test asserts the `100` itself, never a duration.
 */
function curlPut(url: string, file: string, extra: string[] = []): Promise<Curl> {
  const args = ['-sS', '-v', '-o', '/dev/null', '-w', '%{http_code} %{size_upload}', '-T', file];
  args.push('-H', 'Expect: 100-continue', '--expect100-timeout', '20', ...extra, url);
  return new Promise((resolve, reject) => {
    execFile('curl', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl failed: ${err.message}\n${stderr}`));
      const [status, uploaded] = stdout.trim().split(' ').map(Number);
      resolve({ status, uploaded, trace: stderr });
    });
  });
}

const CONTINUE = /^< HTTP\/1\.1 100 Continue/m;

describe('Expect: 100-continue with curl', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let namenode: Backend;
  let datanode: Backend;
  let dir: string;
  let file: string;
  let sha256: string;
  const received: Received[] = [];
  const atNamenode: Received[] = [];
  const atDatanode: Received[] = [];
  const SIZE = 3 * 1024 * 1024 + 17;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-expect-'));
    file = join(dir, 'upload.bin');
    const data = randomBytes(SIZE);
    writeFileSync(file, data);
    sha256 = createHash('sha256').update(data).digest('hex');
    backend = await recordingBackend(received, () => [201, {}]);
    datanode = await recordingBackend(atDatanode, () => [201, { location: 'hdfs://nn:8020/tmp/f' }]);
    namenode = await recordingBackend(atNamenode, (r) => [
      307,
      {
        location: `${datanode.url}/webhdfs/v1/tmp/f?op=CREATE&namenoderpcaddress=nn:8020&${r.url.split('?')[1]}`,
      },
    ]);
    home = makeHome();
    home.write(
      'conf/topologies/open.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }),
    );
    // HeaderPreAuth refuses a request without its header: the chain answers before any body is wanted.
    home.write(
      'conf/topologies/closed.xml',
      topologyXml({
        providers: [
          { role: 'federation', name: 'HeaderPreAuth' },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    home.write(
      'conf/topologies/hdfs.xml',
      topologyXml({ services: [{ role: 'WEBHDFS', urls: [`${namenode.url}/webhdfs`] }] }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await namenode?.close();
    await datanode?.close();
    home?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 100 once the chain accepted the request, and the whole body streams to the backend', async () => {
    const r = await curlPut(`${gateway.url}/open/http/upload`, file);
    assert.equal(r.status, 201, r.trace);
    assert.match(r.trace, CONTINUE);
    assert.equal(r.uploaded, SIZE);
    const last = received.at(-1);
    assert.equal(last?.method, 'PUT');
    assert.equal(last?.length, SIZE);
    assert.equal(last?.sha256, sha256);
  });

  it('a request the chain refuses gets its answer without a 100, and curl sends no body', async () => {
    const before = received.length;
    const r = await curlPut(`${gateway.url}/closed/http/upload`, file);
    assert.ok(r.status === 401 || r.status === 403, `status ${r.status}`);
    assert.doesNotMatch(r.trace, CONTINUE);
    assert.equal(r.uploaded, 0);
    assert.equal(received.length, before, 'the backend saw nothing');
  });

  it('WebHDFS CREATE: no 100 at the namenode step (no body sent there), 100 and the body at the datanode step', async () => {
    const r = await curlPut(`${gateway.url}/hdfs/webhdfs/v1/tmp/f?op=CREATE`, file, ['-L']);
    assert.equal(r.status, 201, r.trace);
    // curl -v: the first exchange (namenode, 307) has no 100; the second (datanode) has exactly one.
    const [first, second] = r.trace.split(/^< HTTP\/1\.1 307/m);
    assert.doesNotMatch(first, CONTINUE);
    assert.match(second ?? '', CONTINUE);
    assert.equal(atNamenode.at(-1)?.length, 0);
    assert.equal(atDatanode.at(-1)?.length, SIZE);
    assert.equal(atDatanode.at(-1)?.sha256, sha256);
  });
});
