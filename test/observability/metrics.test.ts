/**
 * Prometheus metrics of a real gateway, scraped over HTTP from its own loopback listener (and, in a second
 * gateway, from the gateway's listener): requests by topology/service/status with latency histograms, requests
 * in flight, backend pool connections, WebSockets open, channel deliveries and drops, deployments and config
 * errors, readiness, TLS handshakes (full, resumed, failed) — all fed by what the core publishes on
 * diagnostics_channel.
 */
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { ConfigError } from '../../src/config/diagnostics.ts';
import { parseGatewaySite } from '../../src/config/gateway-site.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import type { ChannelEvent } from '../../src/observability/events.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { metricsUrl, startTelemetry } from '../../src/observability/telemetry.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, siteXml, type TestHome, topologyXml } from '../helpers/home.ts';
import { type Authority, makeAuthority } from '../helpers/pki.ts';
import { scrape, value } from '../helpers/prometheus.ts';
import { sessionTicket } from '../helpers/tls-session.ts';
import { startWsBackend, type WsBackend } from '../providers/security-helpers.ts';

const silent = () => createLogger({ level: 'silent', stdout: false });

function start(home: TestHome): Promise<Gateway> {
  return Gateway.start({
    home: home.dir,
    port: 0,
    host: '127.0.0.1',
    log: silent(),
    watch: false,
    startTelemetry,
  });
}

describe('metrics on their own listener', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let ws: WsBackend;
  let url: string;
  let releaseSlow: (() => void) | undefined;

  before(async () => {
    backend = await startBackend((req, res) => {
      if (req.url?.startsWith('/slow')) {
        releaseSlow = () => res.end('slow');
        return;
      }
      res.statusCode = req.url?.startsWith('/missing') ? 404 : 200;
      res.end('ok');
    });
    ws = await startWsBackend();
    home = makeHome({
      'postern.metrics.enabled': true,
      'postern.metrics.port': 0,
      'gateway.websocket.feature.enabled': true,
    });
    home.write(
      'conf/topologies/t.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [backend.url] },
          { role: 'ECHOWS', urls: [ws.url] },
        ],
      }),
    );
    // HA over a refused URL and the live backend: the refused one goes down.
    home.write(
      'conf/topologies/ha.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'identity-assertion', name: 'Default' },
          {
            role: 'ha',
            name: 'HaProvider',
            params: { HTTP: 'enabled=true;maxFailoverAttempts=2;failoverSleep=0' },
          },
        ],
        services: [{ role: 'HTTP', urls: ['http://127.0.0.1:9', backend.url] }],
      }),
    );
    home.write(
      'conf/topologies/broken.xml',
      topologyXml({
        providers: [{ role: 'authentication', name: 'NoSuchProvider' }],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    gateway = await start(home);
    url = metricsUrl(gateway)!;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await ws?.close();
    home?.remove();
  });

  it('counts requests by topology, service and status, with a latency histogram', async () => {
    for (const path of [
      '/t/http/a',
      '/t/http/b',
      '/t/http/missing',
      '/t/nothing-here',
      '/nosuch-topology/x',
    ]) {
      const res = await request(`${gateway.url}${path}`);
      await res.body.dump();
    }
    const { samples, text, type } = await scrape(url);
    assert.match(type, /^text\/plain; version=0\.0\.4/);
    const requests = (labels: Record<string, string>) =>
      value(samples, 'postern_http_requests_total', labels);
    assert.equal(requests({ topology: 't', service: 'HTTP', status: '200' }), 2);
    assert.equal(requests({ topology: 't', service: 'HTTP', status: '404' }), 1);
    // No route matched: the topology is known, the service is not.
    assert.equal(requests({ topology: 't', service: '', status: '404' }), 1);
    // An unknown topology's name comes from the URL: it is not a label value.
    assert.equal(requests({ topology: '', service: '', status: '404' }), 1);
    assert.ok(!text.includes('nosuch-topology'));

    const h = 'postern_http_request_duration_seconds';
    assert.equal(value(samples, `${h}_count`, { topology: 't', service: 'HTTP' }), 3);
    assert.equal(value(samples, `${h}_bucket`, { topology: 't', service: 'HTTP', le: '+Inf' }), 3);
    assert.ok(value(samples, `${h}_sum`, { topology: 't', service: 'HTTP' })! > 0);
    // Buckets are cumulative.
    const buckets = samples.filter((s) => s.name === `${h}_bucket` && s.labels.service === 'HTTP');
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
    assert.match(text, /^# TYPE postern_http_request_duration_seconds histogram$/m);
    assert.match(text, /^# TYPE postern_http_requests_total counter$/m);
    // prom-client's process metrics come along.
    assert.ok(value(samples, 'process_cpu_user_seconds_total') !== undefined);
  });

  it('shows requests in flight and the backend connection pool', async () => {
    const slow = request(`${gateway.url}/t/http/slow`);
    while (!releaseSlow) await new Promise((r) => setTimeout(r, 10));
    const during = (await scrape(url)).samples;
    assert.equal(value(during, 'postern_http_requests_in_flight'), 1);
    const origin = backend.url;
    const pool = (state: string) =>
      value(during, 'postern_backend_pool_connections', { topology: 't', origin, state });
    assert.ok(pool('connected')! >= 1);
    assert.equal(pool('running'), 1);
    releaseSlow();
    await (await slow).body.text();
    const afterwards = (await scrape(url)).samples;
    assert.equal(value(afterwards, 'postern_http_requests_in_flight'), 0);
    assert.equal(
      value(afterwards, 'postern_backend_pool_connections', { topology: 't', origin, state: 'running' }),
      0,
    );
  });

  it('keeps a gauge of open WebSockets per topology and service', async () => {
    const client = new WebSocket(`${gateway.url.replace('http:', 'ws:')}/t/echo/ws`);
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const echoed = new Promise((r) => client.once('message', r));
    client.send('hello');
    await echoed;
    const labels = { topology: 't', service: 'ECHOWS' };
    const open = (await scrape(url)).samples;
    assert.equal(value(open, 'postern_websockets_open', labels), 1);
    assert.equal(value(open, 'postern_websockets_total', labels), 1);
    const closed = new Promise((r) => client.once('close', r));
    client.close(1000);
    await closed;
    let samples = (await scrape(url)).samples;
    for (let i = 0; i < 100 && value(samples, 'postern_websockets_open', labels) !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      samples = (await scrape(url)).samples;
    }
    assert.equal(value(samples, 'postern_websockets_open', labels), 0);
    assert.equal(value(samples, 'postern_websocket_bytes_total', { ...labels, direction: 'in' }), 5);
    assert.equal(value(samples, 'postern_websocket_bytes_total', { ...labels, direction: 'out' }), 5);
    // The upgrade is a request too (status 101), kept out of the latency histogram.
    assert.equal(
      value(samples, 'postern_http_requests_total', { topology: 't', service: 'ECHOWS', status: '101' }),
      1,
    );
    assert.equal(
      value(samples, 'postern_http_request_duration_seconds_count', { topology: 't', service: 'ECHOWS' }),
      undefined,
    );
  });

  it('counts deployments and config errors; a topology that never deployed is reported, the node stays ready', async () => {
    let samples = (await scrape(url)).samples;
    assert.equal(value(samples, 'postern_deployments_total', { topology: 't', result: 'deployed' }), 1);
    assert.equal(value(samples, 'postern_deployments_total', { topology: 'broken', result: 'failed' }), 1);
    assert.equal(value(samples, 'postern_topology_serving', { topology: 't' }), 1);
    assert.equal(value(samples, 'postern_topology_serving', { topology: 'broken' }), 0);
    assert.equal(value(samples, 'postern_topology_config_errors', { topology: 'broken' }), 1);
    assert.equal(value(samples, 'postern_topology_config_errors', { topology: 't' }), 0);
    assert.equal(value(samples, 'postern_ready'), 1);
    // The metrics listener answers readiness too.
    const ready = await request(url.replace('/metrics', '/readyz'));
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(await ready.body.json(), {
      status: 'ready',
      topologies: 2,
      failed: ['broken'],
      waiting: ['broken'],
    });

    const file = home.write(
      'conf/topologies/broken.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }),
    );
    assert.equal(gateway.deployFile(file), true);
    gateway.undeploy('t');
    samples = (await scrape(url)).samples;
    assert.equal(value(samples, 'postern_deployments_total', { topology: 'broken', result: 'deployed' }), 1);
    assert.equal(value(samples, 'postern_topology_serving', { topology: 'broken' }), 1);
    assert.equal(value(samples, 'postern_topology_config_errors', { topology: 'broken' }), 0);
    assert.equal(value(samples, 'postern_deployments_total', { topology: 't', result: 'undeployed' }), 1);
    assert.equal(value(samples, 'postern_topology_serving', { topology: 't' }), undefined);
    assert.equal(value(samples, 'postern_ready'), 1);
    // Counts of an undeployed topology stay (counters never go back).
    assert.equal(
      value(samples, 'postern_http_requests_total', { topology: 't', service: 'HTTP', status: '200' }),
      3,
    );
  });

  it('counts channel deliveries and drops by group from postern:channels', async () => {
    const channel = diagnostics_channel.channel('postern:channels');
    channel.publish({ event: 'delivered', group: 'jobs' } satisfies ChannelEvent);
    channel.publish({ event: 'delivered', group: 'jobs', count: 4 } satisfies ChannelEvent);
    channel.publish({ event: 'dropped', group: 'jobs' } satisfies ChannelEvent);
    const samples = (await scrape(url)).samples;
    assert.equal(value(samples, 'postern_channel_messages_delivered_total', { group: 'jobs' }), 5);
    assert.equal(value(samples, 'postern_channel_messages_dropped_total', { group: 'jobs' }), 1);
  });

  it('shows each HA backend URL up or down, and the channel node’s own families', async () => {
    const res = await request(`${gateway.url}/ha/http/x`);
    await res.body.text();
    assert.equal(res.statusCode, 200, 'failed over to the live URL');
    const { samples, text } = await scrape(url);
    const down = samples.filter((s) => s.name === 'postern_backend_up' && s.labels.topology === 'ha');
    assert.deepEqual(
      down.map((s) => [s.labels.service, s.labels.url, s.value]),
      [['HTTP', 'http://127.0.0.1:9', 0]],
    );
    assert.ok(
      samples.some(
        (s) =>
          s.name === 'postern_backend_health_changes_total' &&
          s.labels.topology === 'ha' &&
          s.labels.state === 'down' &&
          s.value >= 1,
      ),
    );
    assert.match(text, /^# TYPE postern_channels_subscribers gauge$/m);
  });

  it('is not on the gateway listener', async () => {
    const res = await request(`${new URL(gateway.url).origin}/metrics`);
    assert.equal(res.statusCode, 404);
    await res.body.dump();
  });
});

describe('metrics on the gateway listener', () => {
  let home: TestHome;
  let gateway: Gateway;

  before(async () => {
    home = makeHome({
      'postern.metrics.enabled': true,
      'postern.metrics.gateway.listener': true,
      'postern.metrics.path': '/ops/metrics',
    });
    gateway = await start(home);
  });

  after(async () => {
    await gateway?.close();
    home?.remove();
  });

  it('answers the configured path outside the gateway path, GET and HEAD only', async () => {
    assert.equal(metricsUrl(gateway), undefined);
    const origin = new URL(gateway.url).origin;
    const { samples } = await scrape(`${origin}/ops/metrics?x=1`);
    assert.equal(value(samples, 'postern_ready'), 1);
    const post = await request(`${origin}/ops/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.statusCode, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    await post.body.dump();
    const head = await request(`${origin}/ops/metrics`, { method: 'HEAD' });
    assert.equal(head.statusCode, 200);
    await head.body.dump();
  });

  it('refuses a metrics or health path under the gateway path', () => {
    for (const [name, path] of [
      ['postern.metrics.path', '/gateway/metrics'],
      ['postern.ready.path', '/gateway'],
      ['postern.health.path', '/'],
    ]) {
      assert.throws(
        () => parseGatewaySite(siteXml({ [name]: path }), 'gateway-site.xml'),
        (err: ConfigError) => {
          assert.ok(err instanceof ConfigError);
          assert.match(
            err.diagnostics[0].message,
            new RegExp(`^${name}: .* must be outside the gateway path`),
          );
          assert.equal(err.diagnostics[0].line, 3);
          return true;
        },
      );
    }
  });
});

describe('TLS handshake metrics', () => {
  let dir: string;
  let home: TestHome;
  let gateway: Gateway;
  let ca: Authority;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-tls-metrics-'));
    ca = makeAuthority(dir, 'corp');
    const server = ca.issue({ name: 'server', cn: 'gateway', ips: ['127.0.0.1'] });
    home = makeHome({
      'ssl.enabled': true,
      'gateway.tls.certificate.path': server.certFile,
      'gateway.tls.key.path': server.keyFile,
      'postern.metrics.enabled': true,
      'postern.metrics.port': 0,
    });
    gateway = await start(home);
  });

  after(async () => {
    await gateway?.close();
    home?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts full, resumed and failed handshakes, by protocol', async () => {
    const url = metricsUrl(gateway)!;
    const port = gateway.port;
    const ticket = await sessionTicket(port, ca.cert);
    // Resumed, and ended only once the server has had the client's Finished (a socket destroyed at once can reach
    // the server as a reset before its handshake completed).
    const resumed = await new Promise<boolean>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: ca.cert, session: ticket });
      socket.once('secureConnect', () => {
        const reused = socket.isSessionReused();
        setTimeout(() => socket.end(), 100);
        socket.once('close', () => resolve(reused));
      });
      socket.on('error', reject);
      socket.resume();
    });
    assert.equal(resumed, true);
    // Not TLS at all: an HTTP request line where a ClientHello belongs.
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
      socket.on('error', () => {});
      socket.on('close', () => resolve());
      socket.resume();
    });
    let samples = (await scrape(url)).samples;
    for (
      let i = 0;
      i < 20 && value(samples, 'postern_tls_handshakes_total', { result: 'failed', protocol: '' }) !== 1;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
      samples = (await scrape(url)).samples;
    }
    const count = (result: string, protocol: string) =>
      value(samples, 'postern_tls_handshakes_total', { result, protocol });
    assert.equal(count('full', 'TLSv1.3'), 1);
    assert.equal(count('resumed', 'TLSv1.3'), 1);
    assert.equal(count('failed', ''), 1);
  });
});
