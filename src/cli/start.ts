/**
 * @module cli/start
 * `postern start`: runs the gateway until SIGINT/SIGTERM, then stops accepting, lets requests in flight end and
 * exits. On the repository's own home it also starts the bundled demo backends (gateway-site enables them).
 */
import { ConfigError, formatDiagnostic } from '../config/diagnostics.ts';
import { startDemoBackends } from '../demo/index.ts';
import { Gateway, REPO_ROOT } from '../gateway/gateway.ts';

export async function runStart(options: { home?: string; port?: number }): Promise<number> {
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({
      home: options.home ?? REPO_ROOT,
      port: options.port,
      startDemoBackends: async () => {
        const demos = await startDemoBackends({});
        return () => demos.close();
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const d of err.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      return 1;
    }
    throw err;
  }
  const topologies = [...gateway.server.deployments.keys()].join(', ') || 'none';
  process.stdout.write(
    `postern listening on ${gateway.url} (topologies: ${topologies}); logs: ${gateway.home.layout.logs}/{gateway,access}.log\n`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gateway.log.info({ signal }, 'postern stopping');
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  return 0;
}
