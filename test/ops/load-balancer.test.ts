/**
 * ops/nginx/postern-lb.conf, as shipped, with Debian's real nginx in front of two real `postern start` nodes
 * (TLS on both legs, node certificates verified by nginx). Requests flow without pause from several clients
 * while one node is stopped with SIGTERM (no client error at all: it drains, nginx moves on), restarted, and the
 * other killed with SIGKILL (at most the requests that were in flight on it fail). The test only replaces the
 * example's node addresses, listener and certificate directory.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { type Backend, closedPort, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { startNginxLb } from '../helpers/nginx-lb.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO, 'src/cli/main.ts');
const CLIENTS = 8;

interface Node {
  home: TestHome;
  port: number;
  backend: Backend;
  child?: ChildProcess;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

/** A CA, and a certificate it issued for postern.internal (the nodes') and one for the balancer. */
function makeCertificates(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'nodes-ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=postern test CA',
    ],
    dir,
  );
  for (const [name, san] of [
    ['node', 'DNS:postern.internal'],
    ['lb', 'DNS:gateway.example.com,IP:127.0.0.1'],
  ]) {
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
    openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'nodes-ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  }
}

async function startNode(node: Node): Promise<void> {
  const child = spawn(process.execPath, [CLI, 'start', '--home', node.home.dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  node.child = child;
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      if (/^postern listening on /m.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`node exited with ${code}: ${out}`)));
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
}

describe('two postern nodes behind nginx (ops/nginx/postern-lb.conf)', () => {
  const nodes: Node[] = [];
  let lbHome: TestHome;
  let nginx: ChildProcess;
  let lbUrl: string;
  let agent: Agent;

  before(async () => {
    lbHome = makeHome();
    const dir = lbHome.dir;
    makeCertificates(dir);
    for (let i = 0; i < 2; i++) {
      // Each node has a backend of its own, so the test can tell which node served.
      const backend = await startBackend((_req, res) => setTimeout(() => res.end(`node ${i}`), 5));
      const port = await closedPort();
      const home = makeHome({
        'gateway.port': port,
        'ssl.enabled': true,
        'gateway.tls.certificate.path': join(dir, 'node.crt'),
        'gateway.tls.key.path': join(dir, 'node.key'),
        'postern.shutdown.grace': '10s',
      });
      home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
      nodes.push({ home, port, backend });
    }
    await Promise.all(nodes.map(startNode));

    const lbPort = await closedPort();
    nginx = startNginxLb({ dir, nodePorts: [nodes[0].port, nodes[1].port], port: lbPort });
    lbUrl = `https://127.0.0.1:${lbPort}/gateway/t/http/x`;
    agent = new Agent({
      connect: { ca: readFileSync(join(dir, 'nodes-ca.crt')), servername: 'gateway.example.com' },
    });
    for (let i = 0; ; i++) {
      try {
        const res = await request(lbUrl, { dispatcher: agent });
        await res.body.dump();
        if (res.statusCode === 200) break;
      } catch (err) {
        if (i > 200) throw err;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  });

  after(async () => {
    nginx?.kill('SIGKILL');
    for (const n of nodes) {
      if (n.child?.exitCode === null) n.child.kill('SIGKILL');
      await n.backend.close();
      n.home.remove();
    }
    await agent?.close();
    lbHome?.remove();
  });

  it('loses no request when a node stops, and only requests in flight when one is killed', async () => {
    const results: { phase: string; ok: boolean; status?: number; error?: string; body?: string }[] = [];
    let phase = 'both up';
    let running = true;
    const client = async () => {
      while (running) {
        const at = phase;
        try {
          const res = await request(lbUrl, { dispatcher: agent });
          const body = await res.body.text();
          results.push({
            phase: at,
            ok: res.statusCode === 200 && /^node [01]$/.test(body),
            status: res.statusCode,
            ...(res.statusCode !== 200 && { body: body.slice(0, 300) }),
          });
        } catch (err) {
          results.push({ phase: at, ok: false, error: (err as Error).message });
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    const served = () => nodes.map((n) => n.backend.requests.length);
    const until = async (check: () => boolean) => {
      while (!check()) await new Promise((r) => setTimeout(r, 20));
    };

    // Both nodes serve.
    await until(() => served().every((n) => n >= 20));

    // Node 0 stops gracefully: it drains and exits 0; node 1 takes everything.
    phase = 'node 0 stopping';
    nodes[0].child!.kill('SIGTERM');
    assert.equal(await exitOf(nodes[0].child!), 0);
    phase = 'node 0 stopped';
    const [zero, one] = served();
    await until(() => served()[1] >= one + 50);
    assert.equal(served()[0], zero, 'nothing reaches the stopped node');

    // Node 0 comes back and gets traffic again (after nginx's fail_timeout).
    phase = 'node 0 back';
    await startNode(nodes[0]);
    const back = served()[0];
    await until(() => served()[0] >= back + 20);

    // Node 1 is killed outright.
    phase = 'node 1 killed';
    nodes[1].child!.kill('SIGKILL');
    await exitOf(nodes[1].child!);
    const afterKill = served()[0];
    await until(() => served()[0] >= afterKill + 50);
    running = false;
    await Promise.all(clients);

    const failed = results.filter((r) => !r.ok);
    const graceful = failed.filter((r) => r.phase !== 'node 1 killed');
    assert.deepEqual(graceful, [], 'no failure around the graceful stop');
    assert.ok(
      failed.length <= CLIENTS,
      `at most the ${CLIENTS} requests in flight fail: ${JSON.stringify(failed)}`,
    );
    // Clients were served through every phase.
    for (const p of ['both up', 'node 0 stopped', 'node 0 back', 'node 1 killed']) {
      assert.ok(
        results.some((r) => r.phase === p && r.ok),
        p,
      );
    }
  });
});
