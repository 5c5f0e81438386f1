/**
 * OpenTelemetry tracing of a real gateway, exported over OTLP/HTTP to a real receiver started by the test: the
 * client's W3C traceparent is the server span's parent, the backend gets the dispatch span's context (HTTP and
 * WebSocket handshakes), the chain and the dispatch have spans of their own, an unsampled caller stays unsampled,
 * and the trace id is in the request's access, gateway and audit lines. With tracing off, nothing is added and
 * the client's traceparent passes through as it came.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { Gateway } from '../../src/gateway/gateway.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';
import { startTelemetry } from '../../src/observability/telemetry.ts';
import { type Backend, closedPort, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

function logLines(home: TestHome, log: Logger): Promise<Record<string, unknown>[]> {
  return new Promise((resolve) => {
    log.flush(() =>
      setTimeout(() => {
        const text = readFileSync(join(home.dir, 'logs/gateway.log'), 'utf8');
        resolve(
          text
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>),
        );
      }, 50),
    );
  });
}

async function startWsRecorder(): Promise<{ url: string; handshakes: IncomingHttpHeaders[]; close(): void }> {
  const handshakes: IncomingHttpHeaders[] = [];
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (socket, req) => {
    handshakes.push(req.headers);
    socket.on('message', (data) => socket.send(data));
  });
  await new Promise((r) => wss.once('listening', r));
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    handshakes,
    close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}

describe('tracing on', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let wsBackend: Awaited<ReturnType<typeof startWsRecorder>>;
  let receiver: OtlpReceiver;
  let log: Logger;
  const spansOf = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);

  before(async () => {
    // Export every 100 ms instead of every 5 s (the SDK reads the standard variable).
    process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
    receiver = await startOtlpReceiver();
    backend = await startBackend((_req, res) => res.end('ok'));
    wsBackend = await startWsRecorder();
    const dead = await closedPort();
    home = makeHome({
      'postern.tracing.enabled': true,
      'postern.tracing.otlp.endpoint': receiver.url,
      'postern.tracing.otlp.headers': 'x-api-key=k-123',
      'postern.tracing.service.name': 'postern-test',
      'gateway.websocket.feature.enabled': true,
    });
    home.write(
      'conf/topologies/t.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [backend.url] },
          { role: 'ECHOWS', urls: [wsBackend.url] },
        ],
      }),
    );
    home.write(
      'conf/topologies/down.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [`http://127.0.0.1:${dead}`] }] }),
    );
    log = createLogger({ logDir: join(home.dir, 'logs'), stdout: false, level: 'info' });
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log,
      watch: false,
      startTelemetry,
    });
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    wsBackend?.close();
    await receiver?.close();
    home?.remove();
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
  });

  it('continues the client’s trace: server, chain and dispatch spans, the backend gets the dispatch span', async () => {
    const res = await request(`${gateway.url}/t/http/items?token=s3cret`, {
      headers: { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`, tracestate: 'vendor=1' },
    });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const sent = backend.requests.at(-1)!.headers;
    const m = TRACEPARENT.exec(String(sent.traceparent));
    assert.ok(m, String(sent.traceparent));
    assert.equal(m[1], TRACE_ID);
    assert.notEqual(m[2], CLIENT_SPAN, 'the backend sees postern’s dispatch span, not the client’s');
    assert.equal(m[3], '01');
    assert.equal(sent.tracestate, 'vendor=1');

    const spans = await receiver.waitFor(() => spansOf(TRACE_ID).length >= 3);
    const mine = spansOf(TRACE_ID);
    const server = mine.find((s) => s.kind === 2)!;
    const chain = mine.find((s) => s.name === 'chain')!;
    const dispatch = mine.find((s) => s.kind === 3)!;
    assert.ok(server && chain && dispatch, JSON.stringify(spans));
    assert.equal(server.name, 'GET t/HTTP');
    assert.equal(server.parentSpanId, CLIENT_SPAN);
    assert.equal(chain.parentSpanId, server.spanId);
    assert.equal(dispatch.parentSpanId, server.spanId);
    assert.equal(dispatch.spanId, m[2]);
    assert.equal(dispatch.name, 'dispatch http');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.attributes['url.path'], '/gateway/t/http/items');
    assert.equal(server.attributes['postern.topology'], 't');
    assert.equal(server.attributes['postern.request_id'], res.headers['x-request-id']);
    assert.deepEqual(chain.attributes['postern.chain'], [
      'authentication/Anonymous',
      'rewrite/url-rewrite',
      'identity-assertion/Default',
      'dispatch/configurable',
    ]);
    assert.equal(dispatch.attributes['http.response.status_code'], 200);
    assert.equal(dispatch.attributes['url.full'], `${backend.url}/items`);
    assert.equal(server.resource['service.name'], 'postern-test');
    // No query, no token anywhere in the exported spans.
    assert.ok(!JSON.stringify(mine).includes('s3cret'));
    assert.ok(receiver.exports.every((h) => h['x-api-key'] === 'k-123'));

    const lines = await logLines(home, log);
    const access = lines.find((l) => l.type === 'access' && l.reqId === res.headers['x-request-id']);
    assert.equal(access?.traceId, TRACE_ID);
    const audit = lines.find((l) => l.type === 'audit' && l.reqId === res.headers['x-request-id']);
    assert.equal(audit?.traceId, TRACE_ID);
  });

  it('starts a trace when the client sends none, and marks a failed dispatch as an error', async () => {
    const res = await request(`${gateway.url}/down/http/x`);
    assert.equal(res.statusCode, 502);
    await res.body.dump();
    const id = res.headers['x-request-id'];
    const lines = await logLines(home, log);
    const error = lines.find((l) => l.level === 50 && l.reqId === id);
    assert.ok(error, 'the 502 is logged');
    const traceId = error.traceId as string;
    assert.match(traceId, /^[0-9a-f]{32}$/);
    assert.equal(lines.find((l) => l.type === 'access' && l.reqId === id)?.traceId, traceId);
    await receiver.waitFor(() => spansOf(traceId).length >= 3);
    const server = spansOf(traceId).find((s) => s.kind === 2)!;
    const dispatch = spansOf(traceId).find((s) => s.kind === 3)!;
    assert.equal(server.parentSpanId, '');
    assert.equal(server.status.code, 2, 'ERROR');
    assert.equal(dispatch.status.code, 2);
    assert.equal(dispatch.attributes['error.type'], 'POSTERN_ERR_UPSTREAM_UNAVAILABLE');
    assert.equal(dispatch.attributes['http.response.status_code'], 502);
  });

  it('propagates to a WebSocket backend’s handshake', async () => {
    const traceId = `${'a'.repeat(31)}b`;
    const client = new WebSocket(`${gateway.url.replace('http:', 'ws:')}/t/echo/ws`, {
      headers: { traceparent: `00-${traceId}-${CLIENT_SPAN}-01` },
    });
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const m = TRACEPARENT.exec(String(wsBackend.handshakes.at(-1)?.traceparent));
    assert.ok(m);
    assert.equal(m[1], traceId);
    await receiver.waitFor(() => spansOf(traceId).length >= 3);
    const server = spansOf(traceId).find((s) => s.kind === 2)!;
    const dispatch = spansOf(traceId).find((s) => s.kind === 3)!;
    assert.equal(server.attributes['postern.upgrade'], 'websocket');
    assert.equal(server.attributes['http.response.status_code'], 101);
    assert.equal(dispatch.name, 'dispatch websocket');
    assert.equal(dispatch.spanId, m[2]);
    client.close();
  });

  it('keeps an unsampled caller unsampled: ids propagate, nothing is exported', async () => {
    const unsampled = 'c'.repeat(32);
    const res = await request(`${gateway.url}/t/http/quiet`, {
      headers: { traceparent: `00-${unsampled}-${CLIENT_SPAN}-00` },
    });
    await res.body.dump();
    const m = TRACEPARENT.exec(String(backend.requests.at(-1)!.headers.traceparent));
    assert.ok(m);
    assert.equal(m[1], unsampled);
    assert.equal(m[3], '00');
    // A sampled request after it: once its spans are in, the unsampled one's would have been too.
    const marker = 'd'.repeat(32);
    const after = await request(`${gateway.url}/t/http/loud`, {
      headers: { traceparent: `00-${marker}-${CLIENT_SPAN}-01` },
    });
    await after.body.dump();
    await receiver.waitFor(() => spansOf(marker).length >= 3);
    assert.deepEqual(spansOf(unsampled), []);
  });
});

describe('tracing off', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let log: Logger;

  before(async () => {
    backend = await startBackend((_req, res) => res.end('ok'));
    home = makeHome();
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    log = createLogger({ logDir: join(home.dir, 'logs'), stdout: false, level: 'info' });
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log,
      watch: false,
      startTelemetry,
    });
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it('passes the client’s traceparent through untouched and logs no trace id', async () => {
    const traceparent = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;
    const res = await request(`${gateway.url}/t/http/x`, { headers: { traceparent } });
    await res.body.dump();
    assert.equal(backend.requests.at(-1)!.headers.traceparent, traceparent);
    const lines = await logLines(home, log);
    const access = lines.find((l) => l.type === 'access' && l.reqId === res.headers['x-request-id']);
    assert.ok(access);
    assert.equal('traceId' in access, false);
  });
});
