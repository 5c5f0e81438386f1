/**
 * A response body on its way to the client: what reaches the client's socket. undici's parser hands a dispatch
 * handler empty chunks as well (at the end of a socket read in the middle of a body); the gateway writes only
 * bytes, so a large download is one socket write per chunk read from the backend, not two. The gateway runs in
 * this process, so its server sockets' writes are counted here, on `net.Socket`'s own `write`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const MiB = 1024 * 1024;

describe('response bodies to the client', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  const body = Buffer.alloc(8 * MiB);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i, i);

  before(async () => {
    backend = await startBackend((_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
      });
      // 64 KiB at a time, each in a read of its own at the gateway when the loop lets it.
      let at = 0;
      const pump = () => {
        while (at < body.length) {
          const chunk = body.subarray(at, at + 64 * 1024);
          at += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    home = makeHome();
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('writes no empty chunk to the client’s socket while a large body streams, and every byte arrives', async () => {
    const { port } = new URL(gateway.url);
    const write = net.Socket.prototype.write;
    let empty = 0;
    let toClient = 0;
    // Only the gateway's side of the client's connection: its local port is the gateway's.
    net.Socket.prototype.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
      if (String(this.localPort) === port) {
        toClient++;
        const data = args[0];
        if (typeof data === 'string' ? data.length === 0 : (data as Uint8Array).byteLength === 0) empty++;
      }
      return write.apply(this, args);
    } as net.Socket['write'];
    try {
      const res = await request(`${gateway.url}/t/http/big`);
      assert.equal(res.statusCode, 200);
      const got = Buffer.from(await res.body.arrayBuffer());
      assert.equal(got.length, body.length);
      assert.equal(
        createHash('sha256').update(got).digest('hex'),
        createHash('sha256').update(body).digest('hex'),
      );
    } finally {
      net.Socket.prototype.write = write;
    }
    assert.ok(toClient > 8, `the body went out in ${toClient} writes`);
    // One is Node's own: `res.end()` after the last chunk writes an empty string for its callback.
    assert.ok(empty <= 1, `${empty} of ${toClient} writes to the client's socket were empty`);
  });
});
