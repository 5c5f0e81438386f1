/**
 * Connection caps (`postern.connections.max.per.address`, `postern.connections.max`): connections that send
 * nothing (or a header a byte at a time) hold at most their share; a client address over its cap has its next
 * connection closed unanswered, another address is still served, and the total cap holds whatever the address.
 * Client addresses are loopback aliases (127.0.0.2, …), so each test client is its own address.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

/** A connection from `localAddress` that has sent the start of a request line and nothing more. */
function slowHeader(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => {
      socket.write('GET /gateway/t/http/x HTTP/1.1\r\nHost: x\r\n');
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Sends a whole request on a new connection; resolves with the status line, or 'closed' when cut unanswered. */
function ask(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () =>
      socket.write('GET /gateway/t/http/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    const bound = setTimeout(() => socket.destroy(), 15_000);
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      got += c;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(bound);
      resolve(got === '' ? 'closed' : got.split('\r\n', 1)[0]);
    });
  });
}

describe('connection caps', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let port: number;
  const held: net.Socket[] = [];

  before(async () => {
    backend = await startBackend((_req, res) => res.end('ok'));
    home = makeHome({ 'postern.connections.max.per.address': 4, 'postern.connections.max': 10 });
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    gateway = await startGateway(home);
    port = Number(new URL(gateway.url).port);
  });

  after(async () => {
    for (const s of held) s.destroy();
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('close the connection of an address over its cap; other addresses are served', async () => {
    for (let i = 0; i < 4; i++) held.push(await slowHeader(port, '127.0.0.2'));
    assert.equal(await ask(port, '127.0.0.2'), 'closed');
    assert.equal(await ask(port, '127.0.0.3'), 'HTTP/1.1 200 OK');
  });

  it('close any connection over the total cap', async () => {
    // 4 held from 127.0.0.2; 4 more from .4 and 2 from .5 make 10.
    for (let i = 0; i < 4; i++) held.push(await slowHeader(port, '127.0.0.4'));
    for (let i = 0; i < 2; i++) held.push(await slowHeader(port, '127.0.0.5'));
    assert.equal(await ask(port, '127.0.0.6'), 'closed');
    // A held connection that goes frees its place.
    const gone = held.pop()!;
    await new Promise<void>((resolve) => {
      gone.once('close', () => resolve());
      gone.destroy();
    });
    let answer = 'closed';
    // The server may see the close a moment after the client; the bound is only a failure bound.
    for (let i = 0; i < 50 && answer === 'closed'; i++) {
      answer = await ask(port, '127.0.0.6');
      if (answer === 'closed') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(answer, 'HTTP/1.1 200 OK');
  });
});
