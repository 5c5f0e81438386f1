/**
 * Trailers through the TLS gateway (dispatch/proxy-handler, dispatch/headers' filterTrailers): a backend's
 * HTTP/1.1 chunked trailers (a gRPC-web-ish `grpc-status`) reach an HTTP/2 client as HTTP/2 trailers, without
 * hop-by-hop fields, fields RFC 9110 forbids in trailers, or what the dispatch drops from headers; an HTTP/1.1
 * client gets none (as before); a rewritten body drops them; an HTTP/2 client's request trailers are dropped
 * and its body reaches the backend whole.
 */
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { connectH2 } from '../helpers/h2-client.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { writeRewriteService } from '../helpers/rewrite-service.ts';

interface Answer {
  status: number;
  body: string;
  trailers: http2.IncomingHttpHeaders | undefined;
}

/** One request; `trailers` are sent after `body` when given. */
function exchange(
  session: ClientHttp2Session,
  path: string,
  body?: string,
  trailers?: http2.OutgoingHttpHeaders,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(
      { ':path': path, ':method': body === undefined ? 'GET' : 'POST' },
      { endStream: body === undefined, waitForTrailers: trailers !== undefined },
    );
    if (trailers) stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    let got: http2.IncomingHttpHeaders | undefined;
    stream.on('trailers', (t) => {
      got = t;
    });
    stream.on('response', (headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () =>
        resolve({
          status: Number(headers[':status']),
          body: Buffer.concat(chunks).toString(),
          trailers: got,
        }),
      );
    });
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

describe('trailers through the gateway', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let base: string;
  let received: { body: string; trailers: string[] } | undefined;

  before(async () => {
    backend = await startBackend((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/grpc' || path === '/page.html') {
        const html = path === '/page.html';
        res.writeHead(200, {
          'content-type': html ? 'text/html' : 'application/grpc-web-text',
          trailer: 'grpc-status, grpc-message',
        });
        res.write(html ? `<html><body><a href="${backend.url}/next">next</a>` : 'AAAA');
        res.write(html ? '</body></html>' : 'BBBB');
        res.addTrailers({
          'grpc-status': '0',
          'grpc-message': 'fine',
          'x-checksum': 'abc',
          'set-cookie': 'sid=stolen',
          'www-authenticate': 'Basic',
          'keep-alive': 'timeout=5',
          'x-dropped': 'by policy',
        });
        res.end();
        return;
      }
      if (path === '/upload') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received = { body: Buffer.concat(chunks).toString(), trailers: req.rawTrailers };
          res.end('stored');
        });
        return;
      }
      res.writeHead(404);
      res.end();
    });
    home = makeHome({ 'ssl.enabled': true });
    writeRewriteService(home, 'RWTR');
    home.write(
      'conf/topologies/t.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [backend.url], params: { responseExcludeHeaders: 'X-DROPPED' } },
          { role: 'RWTR', urls: [backend.url] },
        ],
      }),
    );
    gateway = await startGateway(home);
    base = new URL(gateway.url).origin;
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('passes the backend’s trailers to an h2 client, without the fields a trailer may not carry', async () => {
    const session = await connectH2(base);
    try {
      const answer = await exchange(session, '/gateway/t/http/grpc');
      assert.equal(answer.status, 200);
      assert.equal(answer.body, 'AAAABBBB');
      assert.ok(answer.trailers, 'trailers arrived');
      assert.deepEqual(Object.fromEntries(Object.entries(answer.trailers)), {
        'grpc-status': '0',
        'grpc-message': 'fine',
        'x-checksum': 'abc',
      });
    } finally {
      session.close();
    }
  });

  it('gives an HTTP/1.1 client no trailers', async () => {
    const agent = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      const res = await request(`${gateway.url}/t/http/grpc`, { dispatcher: agent });
      assert.equal(await res.body.text(), 'AAAABBBB');
      assert.deepEqual({ ...res.trailers }, {});
    } finally {
      await agent.close();
    }
  });

  it('drops the trailers of a body the rewrite changed', async () => {
    const session = await connectH2(base);
    try {
      const answer = await exchange(session, '/gateway/t/rw/page.html');
      assert.equal(answer.status, 200);
      assert.equal(answer.body, `<html><body><a href="${gateway.url}/t/rw/next">next</a></body></html>`);
      assert.equal(answer.trailers, undefined);
    } finally {
      session.close();
    }
  });

  it('drops an h2 client’s request trailers; the body reaches the backend whole', async () => {
    const session = await connectH2(base);
    try {
      const answer = await exchange(session, '/gateway/t/http/upload', 'x'.repeat(100_000), {
        'x-request-checksum': 'def',
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.body, 'stored');
      assert.equal(received?.body.length, 100_000);
      assert.deepEqual(received?.trailers, []);
    } finally {
      session.close();
    }
  });
});
