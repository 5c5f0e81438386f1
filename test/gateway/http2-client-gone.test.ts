/**
 * An HTTP/2 client that goes away with requests in flight lets go of their backend requests
 * (dispatch/proxy-handler): a reset stream reports its response finished, so the gateway did not abort the backend
 * request; the backend's answer was then written to the closed stream, which never drains, and the paused backend
 * request kept its pool connection for good. A pool of two connections here: three such clients used to leave the route answering
 * nobody.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { connectH2 } from '../helpers/h2-client.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

const MiB = 1024 * 1024;

/** Asks for `streams` large bodies over one HTTP/2 connection and drops the connection before any answer. */
async function walkAway(base: string, path: string, streams: number): Promise<void> {
  const session = await connectH2(base);
  for (let i = 0; i < streams; i++) session.request({ ':path': path }).on('error', () => {});
  // The gateway has sent them on; the backend answers 150 ms later, to a client that is gone.
  await new Promise((r) => setTimeout(r, 50));
  session.destroy();
}

describe('an HTTP/2 client gone with a response in flight', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let agent: Agent;
  let base: string;

  before(async () => {
    const big = Buffer.alloc(4 * MiB, 0x61);
    backend = await startBackend((req, res) => {
      if (req.url?.startsWith('/big')) {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': big.length });
          res.end(big);
        }, 150);
        return;
      }
      res.end('small');
    });
    home = makeHome({ 'ssl.enabled': true, 'gateway.httpclient.maxConnections': 2 });
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    gateway = await startGateway(home);
    base = new URL(gateway.url).origin;
    agent = new Agent({ connect: { rejectUnauthorized: false } });
  });

  after(async () => {
    await agent?.close();
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('frees its backend connection: the route keeps answering after more such clients than the pool holds', async () => {
    for (let i = 0; i < 3; i++) {
      await walkAway(base, '/gateway/t/http/big', 4);
      // The backend's answers to the gone client come and go.
      await new Promise((r) => setTimeout(r, 300));
    }
    const res = await request(`${gateway.url}/t/http/small`, {
      dispatcher: agent,
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'small');
  });
});
