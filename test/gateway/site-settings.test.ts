/**
 * gateway-site and topology settings that change what a client sees: the topology's default service path
 * (`<path>`), `gateway.frontend.url` in rewritten URLs, `gateway.path`, and the request header limit
 * (`gateway.httpserver.requestHeaderBuffer`, answered with 431).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

describe('site settings seen by clients', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;

  before(async () => {
    backend = await startBackend((req, res) => {
      if (req.url?.startsWith('/go')) {
        res.writeHead(302, { location: `${backend.url}/landing` });
        res.end();
        return;
      }
      res.end(`backend saw ${req.url}`);
    });
    home = makeHome({
      'gateway.path': 'edge',
      'gateway.frontend.url': 'https://public.example.com/edge',
      'gateway.httpserver.requestHeaderBuffer': 4096,
    });
    home.write(
      'conf/topologies/t.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }], extra: '<path>http</path>' }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('serves under gateway.path', async () => {
    assert.match(gateway.url, /\/edge$/);
    const res = await request(`${gateway.url}/t/http/x`);
    assert.equal(await res.body.text(), 'backend saw /x?user.name=anonymous');
  });

  it("sends a request without a service segment to the topology's default path", async () => {
    const res = await request(`${gateway.url}/t`);
    assert.equal(await res.body.text(), 'backend saw /?user.name=anonymous');
  });

  it('writes gateway.frontend.url into rewritten Location headers', async () => {
    const res = await request(`${gateway.url}/t/http/go`);
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, 'https://public.example.com/edge/t/http/landing');
    await res.body.dump();
  });

  it('answers 431 to request headers over the configured limit, with the gateway error body', async () => {
    const answer = await new Promise<{ status: number; type: string; id: string; body: string }>(
      (resolve, reject) => {
        http
          .get(
            {
              host: '127.0.0.1',
              port: gateway.port,
              path: '/edge/t/http/x',
              headers: { 'x-big': 'a'.repeat(8000) },
            },
            (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => {
                body += c;
              });
              res.on('end', () =>
                resolve({
                  status: res.statusCode ?? 0,
                  type: String(res.headers['content-type']),
                  id: String(res.headers['x-request-id']),
                  body,
                }),
              );
            },
          )
          .on('error', reject);
      },
    );
    assert.equal(answer.status, 431);
    assert.match(answer.type, /^application\/json/);
    const { error } = JSON.parse(answer.body) as {
      error: { status: number; code: string; requestId: string };
    };
    assert.equal(error.status, 431);
    assert.equal(error.code, 'POSTERN_ERR_HEADER_FIELDS_TOO_LARGE');
    assert.equal(error.requestId, answer.id);
  });
});
