/**
 * A TCP connection that never sends a TLS ClientHello costs a descriptor only until the handshake timeout: a real
 * `postern start` process with a low open-file limit (`ulimit -n 64`, 27 descriptors in use after start) is
 * handed more silent connections than its limit in waves, the gateway closes each at
 * `postern.tls.handshake.timeout`, and a request through it afterwards is still served. (Before, the
 * `clientError` handler `end()`ed the never-handshaken socket, which stayed open; the requests after it got 502
 * EMFILE.)
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { insecureAgent, makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { type PosternProcess, startPostern } from '../helpers/postern-process.ts';

const NOFILE = 64;
const WAVE = 25;
const WAVES = 4;

/** Opens a connection that sends nothing; resolves true when the gateway closes it, false at the bound. */
function silentConnection(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const bound = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 15_000);
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(bound);
      resolve(true);
    });
  });
}

describe('connections that never handshake', () => {
  let home: TestHome;
  let backend: Backend;
  let postern: PosternProcess;

  before(async () => {
    backend = await startBackend((_req, res) => res.end('served'));
    home = makeHome({ 'ssl.enabled': true, 'postern.tls.handshake.timeout': '300' });
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    postern = await startPostern(home.dir, { nofile: NOFILE });
  });

  after(async () => {
    await postern?.stop();
    await backend?.close();
    home?.remove();
  });

  it('are closed at the handshake timeout, and more of them than the fd limit leave the gateway serving', async () => {
    for (let wave = 0; wave < WAVES; wave++) {
      const closed = await Promise.all(Array.from({ length: WAVE }, () => silentConnection(postern.port)));
      assert.equal(
        closed.filter(Boolean).length,
        WAVE,
        `wave ${wave}: the gateway closed only ${closed.filter(Boolean).length} of ${WAVE} silent connections`,
      );
    }
    assert.ok(WAVE * WAVES > NOFILE);
    const open = readdirSync(`/proc/${postern.child.pid}/fd`).length;
    assert.ok(open < NOFILE - 10, `the gateway holds ${open} descriptors`);
    const agent = insecureAgent();
    try {
      const res = await request(`${postern.url}/t/http/x`, {
        dispatcher: agent,
        signal: AbortSignal.timeout(20_000),
      });
      assert.equal(res.statusCode, 200, postern.output());
      assert.equal(await res.body.text(), 'served');
    } finally {
      await agent.close();
    }
  });
});
