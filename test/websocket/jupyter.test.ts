/**
 * A Jupyter-style service end to end on one topology, with postern's bundled `jupyter` and `jupyterws`
 * definitions: pages and the REST API over HTTP, a kernel's channels over a WebSocket with its query kept, and
 * the HTTP calls under `/api/kernels` staying HTTP.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

describe('a Jupyter-style service (HTTP and WebSocket on one topology)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let server: http.Server;
  let channels: WebSocketServer;
  const seen: string[] = [];

  before(async () => {
    // Jupyter started with --ServerApp.base_url=/gateway/lab/jupyter/, as the definition's README says.
    const baseUrl = '/gateway/lab/jupyter';
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const path = (req.url ?? '').split('?')[0];
      if (path === `${baseUrl}/tree`) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>notebooks</body></html>');
      } else if (path === `${baseUrl}/api/kernels` && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify([{ id: 'k1', name: 'python3' }]));
      } else if (path === `${baseUrl}/api/kernels/k1/interrupt` && req.method === 'POST') {
        res.writeHead(204);
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    channels = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      seen.push(`UPGRADE ${req.url}`);
      if (!(req.url ?? '').startsWith(`${baseUrl}/api/kernels/k1/channels`)) {
        socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
        return;
      }
      channels.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data) => {
          const msg = JSON.parse(String(data)) as { header: { msg_type: string } };
          ws.send(
            JSON.stringify({
              channel: 'shell',
              header: { msg_type: `${msg.header.msg_type.replace('_request', '_reply')}` },
            }),
          );
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    home = makeHome({ 'gateway.websocket.feature.enabled': true });
    home.write(
      'conf/topologies/lab.xml',
      topologyXml({
        services: [
          { role: 'JUPYTER', urls: [`http://127.0.0.1:${port}${baseUrl}`] },
          { role: 'JUPYTERWS', urls: [`ws://127.0.0.1:${port}${baseUrl}`] },
        ],
      }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    for (const c of channels?.clients ?? []) c.terminate();
    await new Promise<void>((resolve) => {
      server?.close(() => resolve());
      server?.closeAllConnections();
    });
    home?.remove();
  });

  it('serves the pages and the REST API over HTTP', async () => {
    const page = await request(`${gateway.url}/lab/jupyter/tree`);
    assert.equal(page.statusCode, 200);
    assert.match(await page.body.text(), /notebooks/);
    const kernels = await request(`${gateway.url}/lab/jupyter/api/kernels`);
    assert.deepEqual(await kernels.body.json(), [{ id: 'k1', name: 'python3' }]);
    const interrupt = await request(`${gateway.url}/lab/jupyter/api/kernels/k1/interrupt`, {
      method: 'POST',
    });
    assert.equal(interrupt.statusCode, 204);
    await interrupt.body.dump();
  });

  it("opens a kernel's channels over a WebSocket through the same topology, query kept", async () => {
    const url = `${gateway.url.replace(/^http/, 'ws')}/lab/jupyter/api/kernels/k1/channels?session_id=s-42`;
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const reply = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send(JSON.stringify({ header: { msg_type: 'kernel_info_request' }, channel: 'shell' }));
    assert.equal(
      (JSON.parse(await reply) as { header: { msg_type: string } }).header.msg_type,
      'kernel_info_reply',
    );
    ws.close();
    const upgrade = seen.find((s) => s.startsWith('UPGRADE'));
    assert.match(
      upgrade ?? '',
      /^UPGRADE \/gateway\/lab\/jupyter\/api\/kernels\/k1\/channels\?session_id=s-42&user\.name=anonymous$/,
    );
  });
});
