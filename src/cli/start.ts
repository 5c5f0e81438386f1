/**
 * @module cli/start
 * `postern start`: runs the gateway until SIGINT/SIGTERM. On SIGTERM it stops accepting, lets requests in flight
 * finish within `postern.shutdown.grace`, closes WebSockets with 1001 and exits 0; a second signal exits at
 * once. SIGHUP rereads the users files and gateway-site and applies what it safely can (Gateway.reloadSite). On the repository's own
 * home it also starts the bundled demo backends (gateway-site enables them).
 *
 * With `postern.workers` = `auto` or N > 1 the process becomes the primary of N worker processes sharing the
 * listener (cluster/supervisor.ts); each worker comes back here and runs the gateway (cluster/worker.ts).
 */
import { existsSync } from 'node:fs';
import { workerNumber } from '../cluster/ipc.ts';
import { ConfigError, formatDiagnostic } from '../config/diagnostics.ts';
import { type GatewaySettings, loadGatewaySite } from '../config/gateway-site.ts';
import type { Gateway } from '../gateway/gateway.ts';
import { homeLayout, REPO_ROOT } from '../gateway/home.ts';

export async function runStart(options: { home?: string; port?: number }): Promise<number> {
  const home = options.home ?? REPO_ROOT;
  // A worker the primary forked (cluster/worker.ts) runs the gateway under the primary's orders.
  if (workerNumber() !== undefined)
    return (await import('../cluster/worker.ts')).runWorker({ home, port: options.port });
  const layout = homeLayout(home);
  let settings: GatewaySettings;
  try {
    settings = loadGatewaySite(existsSync(layout.siteFile) ? layout.siteFile : undefined);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const d of err.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      return 1;
    }
    throw err;
  }
  // A SIGHUP while starting (a `systemctl reload` right after start) must not end the process: a single gateway
  // applies it once it runs; the primary's workers read the files as they start anyway.
  let reloadAsked = false;
  const early = () => {
    reloadAsked = true;
  };
  process.on('SIGHUP', early);
  // Only what this process runs is loaded: the primary of several workers loads none of the gateway.
  const { runPrimary, workerCount } = await import('../cluster/supervisor.ts');
  const workers = workerCount(settings);
  if (workers > 1) return runPrimary({ layout, settings, workers, startDemoBackends });
  const { Gateway } = await import('../gateway/gateway.ts');
  const { startTelemetry } = await import('../observability/telemetry.ts');
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({ home, port: options.port, startDemoBackends, startTelemetry });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const d of err.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      return 1;
    }
    throw err;
  }
  const topologies = [...gateway.server.deployments.keys()].join(', ') || 'none';
  const { address, loopbackOnly } = gateway.bound;
  process.stdout.write(
    `postern listening on ${gateway.url} (bound to ${address}: ${loopbackOnly ? 'this machine only' : 'every interface, reachable from the network'}; topologies: ${topologies}); logs: ${gateway.home.layout.logs}/{gateway,access,audit}.log\n`,
  );
  if (!loopbackOnly && gateway.settings.demoBackends) {
    gateway.log.warn(
      { bound: address },
      'the demo backends and the sample users (documented passwords) are on while the gateway is reachable from the network: set gateway.host to 127.0.0.1, or postern.demo.backends.enabled to false and replace conf/users.yaml',
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      gateway.log.warn({ signal }, 'second signal: exiting without waiting');
      gateway.log.flush();
      process.exit(1);
    }
    stopping = true;
    gateway.log.info({ signal, graceMs: gateway.settings.shutdownGraceMs }, 'postern stopping');
    gateway.shutdown().then(
      () => exit(gateway, 0),
      (err: Error) => {
        gateway.log.error({ err: err.message }, 'stopping failed');
        exit(gateway, 1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const reload = () => {
    if (stopping) return;
    gateway.log.info({ signal: 'SIGHUP' }, 'reloading gateway-site and the users files');
    try {
      gateway.reloadSite();
    } catch (err) {
      gateway.log.error({ err: (err as Error).message }, 'reloading gateway-site failed');
    }
  };
  process.on('SIGHUP', reload);
  process.off('SIGHUP', early);
  if (reloadAsked) reload();
  return 0;
}

/** Another postern may hold the demo ports: take free ones, say so, and let the sandbox's URLs follow. */
async function startDemoBackends(): Promise<{ close: () => Promise<void>; aliases: Map<string, string> }> {
  const { startDemoBackends: startDemos } = await import('../demo/index.ts');
  const demos = await startDemos({ fallback: true });
  for (const m of demos.moved) {
    process.stdout.write(`demo ${m.name} on ${m.to} (${new URL(m.from).port} is in use)\n`);
  }
  return { close: () => demos.close(), aliases: new Map(demos.moved.map((m) => [m.from, m.to])) };
}

/** Exits once the logs are written (pino's destinations are asynchronous). */
function exit(gateway: Gateway, code: number): void {
  gateway.log.flush(() => process.exit(code));
  setTimeout(() => process.exit(code), 1000).unref();
}
