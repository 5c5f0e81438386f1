/**
 * A request line with a version other than HTTP/1.x (`HTTP/2.0`, which Node's parser reads) gets 505 and its
 * connection closed; it is never served as HTTP/1.1, and the backend never sees it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

/** Writes a raw request; resolves with everything the gateway sent before closing. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    const bound = setTimeout(() => socket.destroy(), 15_000);
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      got += c;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(bound);
      resolve(got);
    });
  });
}

describe('HTTP versions', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let port: number;

  before(async () => {
    backend = await startBackend((_req, res) => res.end('ok'));
    home = makeHome();
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    gateway = await startGateway(home);
    port = Number(new URL(gateway.url).port);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('an HTTP/2.0 request line gets 505 and is not forwarded', async () => {
    const answer = await raw(port, 'GET /gateway/t/http/x HTTP/2.0\r\nHost: x\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 505 /);
    assert.match(answer, /POSTERN_ERR_HTTP_VERSION/);
    assert.equal(backend.requests.length, 0);
  });

  it('HTTP/1.0 and HTTP/1.1 are served', async () => {
    assert.match(await raw(port, 'GET /gateway/t/http/x HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200 /);
    assert.match(
      await raw(port, 'GET /gateway/t/http/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      /^HTTP\/1\.1 200 /,
    );
  });
});
