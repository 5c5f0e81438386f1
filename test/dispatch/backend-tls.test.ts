/**
 * TLS towards backends: a backend whose certificate chains to gateway-site's HTTP-client truststore is reached
 * over https and wss, one that does not is a 502; a backend that demands a client certificate gets the
 * gateway's own when the service says use-two-way-ssl, and refuses the gateway otherwise; a truststore postern
 * cannot read stops the deployment with a message saying how to convert it. A backend that takes the client's
 * order of suites (OpenSSL's default) answers in AES-128-GCM, over TLS 1.3 and 1.2.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { CredentialStore, GATEWAY_CLUSTER, masterSecretFile } from '../../src/config/aliases.ts';
import { loadOrCreateMasterSecret } from '../../src/deploy/secrets.ts';
import { BACKEND_TLS_HIGH_WATER_MARK } from '../../src/dispatch/http-dispatch.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { generateSelfSigned } from '../../src/gateway/tls.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

function status(url: string): Promise<number> {
  return request(url).then(async (r) => {
    await r.body.text();
    return r.statusCode;
  });
}

function upgrade(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.once('message', (d) => {
        resolve(String(d));
        ws.close();
      });
      ws.send('ping over wss');
    });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', (err) => resolve(err.message));
  });
}

describe('TLS to backends: trust and two-way TLS', () => {
  let home: TestHome;
  let gateway: Gateway;
  const servers: Server[] = [];
  let plainTls: string;
  let mutualTls: string;
  let tls12: string;
  /** The suite each backend agreed on, connection by connection (its `host:port` the key). */
  const negotiated = new Map<string, string[]>();
  // Every backend connection undici opens in this process (the gateway runs in it): its socket.
  const backendSockets: TLSSocket[] = [];
  const onConnected = (message: unknown) => backendSockets.push((message as { socket: TLSSocket }).socket);
  diagnosticsChannel.subscribe('undici:client:connected', onConnected);

  function backend(options: { requestCert: boolean; ca?: Buffer; maxVersion?: 'TLSv1.2' }): Promise<string> {
    const server = createHttpsServer(
      {
        cert: readFileSync(`${home.dir}/backend.crt`),
        key: readFileSync(`${home.dir}/backend.key`),
        requestCert: options.requestCert,
        rejectUnauthorized: options.requestCert,
        ca: options.ca,
        maxVersion: options.maxVersion,
        // The client's order of suites decides, as OpenSSL's servers (nginx, httpd) do by default; Node's own
        // default is the server's order.
        honorCipherOrder: false,
      },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        res.end(`hello over https${peer?.subject ? ` to ${peer.subject.CN}` : ''}`);
      },
    );
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (d) => ws.send(`echo: ${d}`)));
    servers.push(server);
    return new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () => {
        const at = `127.0.0.1:${(server.address() as AddressInfo).port}`;
        negotiated.set(at, []);
        server.on('secureConnection', (s: TLSSocket) => negotiated.get(at)!.push(s.getCipher().standardName));
        resolve(at);
      }),
    );
  }

  before(async () => {
    home = makeHome({
      'gateway.websocket.feature.enabled': true,
      'gateway.httpclient.truststore.path': 'backend.crt',
      'gateway.httpclient.truststore.type': 'PEM',
      'gateway.tls.certificate.path': 'gateway.crt',
      'gateway.tls.key.path': 'gateway.key',
    });
    // Two self-signed certificates for localhost/127.0.0.1: the backend's (trusted through the truststore)
    // and the gateway's own identity (trusted by the mutual-TLS backend).
    await generateSelfSigned(`${home.dir}/backend.crt`, `${home.dir}/backend.key`);
    await generateSelfSigned(`${home.dir}/gateway.crt`, `${home.dir}/gateway.key`);
    plainTls = await backend({ requestCert: false });
    mutualTls = await backend({ requestCert: true, ca: readFileSync(`${home.dir}/gateway.crt`) });
    tls12 = await backend({ requestCert: false, maxVersion: 'TLSv1.2' });
    home.write(
      'conf/topologies/trusted.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [`https://${plainTls}`] },
          { role: 'ECHOWS', urls: [`wss://${plainTls}`] },
        ],
      }),
    );
    home.write(
      'conf/topologies/mutual.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [`https://${mutualTls}`], params: { useTwoWaySsl: 'true' } },
          { role: 'ECHOWS', urls: [`wss://${mutualTls}`], params: { useTwoWaySsl: 'true' } },
        ],
      }),
    );
    home.write(
      'conf/topologies/tls12.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [`https://${tls12}`] },
          { role: 'ECHOWS', urls: [`wss://${tls12}`] },
        ],
      }),
    );
    home.write(
      'conf/topologies/oneway.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [`https://${mutualTls}`] },
          { role: 'ECHOWS', urls: [`wss://${mutualTls}`] },
        ],
      }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    diagnosticsChannel.unsubscribe('undici:client:connected', onConnected);
    await gateway?.close();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    home?.remove();
  });

  it('reaches an https backend whose certificate the truststore holds', async () => {
    const res = await request(`${gateway.url}/trusted/http/hello`);
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'hello over https');
  });

  it('gives an https backend connection room for 256 KiB each way, not undici’s 16 KiB for TLS', async () => {
    const res = await request(`${gateway.url}/trusted/http/hello`);
    assert.equal(res.statusCode, 200);
    await res.body.text();
    const tls = backendSockets.filter((s) => s.encrypted);
    assert.ok(tls.length > 0, 'no https backend connection was seen');
    for (const socket of tls) {
      assert.equal(socket.writableHighWaterMark, BACKEND_TLS_HIGH_WATER_MARK);
      assert.equal(socket.readableHighWaterMark, BACKEND_TLS_HIGH_WATER_MARK);
    }
  });

  it('offers AES-128-GCM first: a backend that takes the client’s order answers in it, TLS 1.3 and 1.2, https and wss', async () => {
    for (const [topology, backendAt] of [
      ['trusted', plainTls],
      ['tls12', tls12],
    ] as const) {
      const before = negotiated.get(backendAt)!.length;
      const res = await request(`${gateway.url}/${topology}/http/hello`);
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'hello over https');
      assert.equal(
        await upgrade(`${gateway.url.replace('http', 'ws')}/${topology}/echo/ws`),
        'echo: ping over wss',
      );
      const seen = negotiated.get(backendAt)!;
      assert.ok(seen.length > before, `no TLS connection reached the ${topology} backend`);
      for (const suite of seen) {
        if (topology === 'trusted') assert.equal(suite, 'TLS_AES_128_GCM_SHA256');
        else assert.match(suite, /^TLS_ECDHE_(RSA|ECDSA)_WITH_AES_128_GCM_SHA256$/);
      }
    }
  });

  it('presents the gateway’s certificate to an https backend that demands one when the service says useTwoWaySsl', async () => {
    const res = await request(`${gateway.url}/mutual/http/hello`);
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'hello over https to localhost');
  });

  it('is refused by that https backend without two-way TLS: 502', async () => {
    assert.equal(await status(`${gateway.url}/oneway/http/hello`), 502);
  });

  it('reaches a wss backend whose certificate the truststore holds', async () => {
    assert.equal(
      await upgrade(`${gateway.url.replace('http', 'ws')}/trusted/echo/ws`),
      'echo: ping over wss',
    );
  });

  it('presents the gateway’s certificate to a wss backend that demands one when the service says useTwoWaySsl', async () => {
    assert.equal(await upgrade(`${gateway.url.replace('http', 'ws')}/mutual/echo/ws`), 'echo: ping over wss');
  });

  it('is refused by that backend without two-way TLS: 502, no 101', async () => {
    assert.equal(await upgrade(`${gateway.url.replace('http', 'ws')}/oneway/echo/ws`), 502);
  });

  it("reads a JKS truststore made by keytool, its password from Knox's alias; says what to do without it", async () => {
    const other = makeHome({
      'gateway.websocket.feature.enabled': true,
      'gateway.httpclient.truststore.path': 'truststore.jks',
    });
    try {
      const made = spawnSync('keytool', [
        '-importcert',
        '-noprompt',
        '-alias',
        'backend',
        '-file',
        `${home.dir}/backend.crt`,
        '-keystore',
        `${other.dir}/truststore.jks`,
        '-storetype',
        'JKS',
        '-storepass',
        'trust-pass',
      ]);
      assert.equal(made.status, 0, String(made.stderr));
      other.write(
        'conf/topologies/t.xml',
        topologyXml({ services: [{ role: 'HTTP', urls: [`https://${plainTls}`] }] }),
      );
      const store = () =>
        new CredentialStore(
          other.dir,
          loadOrCreateMasterSecret(masterSecretFile(other.dir)),
          GATEWAY_CLUSTER,
        );
      const attempt = async () => {
        const g = await startGateway(other);
        try {
          const r = await request(`${g.url}/t/http/x`);
          const text = await r.body.text();
          const messages =
            g.status
              .get('t')
              ?.diagnostics.map((d) => d.message)
              .join('\n') ?? '';
          return { status: r.statusCode, text, messages };
        } finally {
          await g.close();
        }
      };
      // No password: the service does not deploy (503), and the diagnostic names the alias to create.
      const none = await attempt();
      assert.equal(none.status, 503);
      assert.match(
        none.messages,
        /no password: postern cli create-alias gateway-httpclient-truststore-password/,
      );
      store().set('gateway-httpclient-truststore-password', 'wrong');
      const wrong = await attempt();
      assert.equal(wrong.status, 503);
      assert.match(
        wrong.messages,
        /gateway\.httpclient\.truststore\.path: cannot open truststore .*truststore\.jks/,
      );
      store().set('gateway-httpclient-truststore-password', 'trust-pass');
      const ok = await attempt();
      assert.equal(ok.status, 200, ok.messages);
      assert.match(ok.text, /hello over https/);
    } finally {
      other.remove();
    }
  });

  it('answers 502 for https and wss backends whose certificate nothing trusts', async () => {
    const other = makeHome({ 'gateway.websocket.feature.enabled': true });
    try {
      other.write(
        'conf/topologies/t.xml',
        topologyXml({
          services: [
            { role: 'ECHOWS', urls: [`wss://${plainTls}`] },
            { role: 'HTTP', urls: [`https://${plainTls}`] },
          ],
        }),
      );
      const g = await startGateway(other);
      try {
        assert.equal(await upgrade(`${g.url.replace('http', 'ws')}/t/echo/ws`), 502);
        assert.equal(await status(`${g.url}/t/http/x`), 502);
      } finally {
        await g.close();
      }
    } finally {
      other.remove();
    }
  });
});
