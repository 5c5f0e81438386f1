/**
 * @module observability/telemetry
 * Wires the exporters gateway-site enables to a starting gateway (`Gateway.start({ startTelemetry })`, as
 * `postern start` does): Prometheus metrics on their own loopback listener (or on the gateway's, with
 * `postern.metrics.gateway.listener`) and OpenTelemetry tracing. Nothing here is imported by the core; each
 * exporter subscribes to what the core publishes (observability/events.ts).
 */

import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Gateway } from '../gateway/gateway.ts';
import { GatewayMetrics } from './metrics.ts';

/** Starts what `gateway.settings` enables; returns the function that stops it all (tracing flushes first). */
export async function startTelemetry(gateway: Gateway): Promise<() => Promise<void>> {
  const { metrics: metricsSettings, tracing: tracingSettings } = gateway.settings;
  const closers: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const fn of closers.splice(0).reverse()) await fn();
  };
  try {
    if (tracingSettings.enabled) {
      // The OpenTelemetry SDK is loaded only when tracing is on.
      const { GatewayTracing } = await import('./tracing.ts');
      const tracing = new GatewayTracing(tracingSettings, { log: gateway.log });
      closers.push(() => tracing.close());
      gateway.log.info(
        { endpoint: tracingSettings.endpoint, sampleRatio: tracingSettings.sampleRatio },
        'tracing on (OTLP/HTTP)',
      );
    }
    if (metricsSettings.enabled) {
      const settings = gateway.settings;
      const services = gateway.home.registry.services();
      const metrics = new GatewayMetrics({
        ready: () => gateway.ready,
        inflight: () => gateway.server.inflight,
        // The services' own families (the channel node's per-peer and per-topology ones).
        families: () => services.flatMap((s) => s.metricFamilies?.({ settings }) ?? []),
        extraText: () => services.map((s) => s.metricsText?.({ settings }) ?? '').join(''),
      });
      closers.push(() => metrics.close());
      if (metricsSettings.onGatewayListener) {
        gateway.operations.add(metricsSettings.path, metrics.handler);
        closers.push(() => gateway.operations.remove(metricsSettings.path));
        gateway.log.info({ path: metricsSettings.path }, 'metrics on the gateway listener');
      } else {
        const server = http.createServer((req, res) => {
          const url = req.url ?? '/';
          const q = url.indexOf('?');
          const path = q < 0 ? url : url.slice(0, q);
          if (path === metricsSettings.path && (req.method === 'GET' || req.method === 'HEAD')) {
            metrics.handler(req, res);
          } else if (!gateway.operations.handle(req, res)) {
            res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
          }
        });
        await listen(server, metricsSettings.port, metricsSettings.host);
        closers.push(() => closeServer(server));
        const a = server.address() as AddressInfo;
        const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        metricsUrls.set(gateway, `http://${host}:${a.port}${metricsSettings.path}`);
        gateway.log.info(
          { url: metricsUrls.get(gateway) },
          `metrics on http://${host}:${a.port}${metricsSettings.path}`,
        );
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return close;
}

const metricsUrls = new WeakMap<Gateway, string>();

/** The URL of a gateway's own metrics listener (undefined when metrics are off or on the gateway listener). */
export function metricsUrl(gateway: Gateway): string | undefined {
  return metricsUrls.get(gateway);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
