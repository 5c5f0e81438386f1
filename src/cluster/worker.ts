/**
 * @module cluster/worker
 * One worker of a multi-process gateway (cluster/supervisor.ts): today's Gateway on the shared listener, told
 * what to do by the primary over the IPC channel (cluster/rpc.ts) rather than by signals:
 *
 * - `stop`: graceful shutdown as a single gateway's SIGTERM (also on SIGTERM itself, sent to the whole process
 *   group, and when the primary is gone); `reload`: SIGHUP's reread of gateway-site and the users files.
 *   SIGINT and SIGHUP from a terminal are left to the primary, which forwards them once.
 * - `ready.collect`: this worker's readiness, which the primary combines; `/readyz` on any worker answers for
 *   all of them (200 only when every worker is ready).
 * - `tls.ticket-keys`: the TLS session ticket key all workers share, asked for at start and replaced on the
 *   primary's word (gateway/ticket-keys).
 * - An uncaught exception or rejection: the stack goes to the primary (which logs it and starts a
 *   replacement), the worker's relayed WebSockets are closed with 1011, and the worker exits 1.
 */
import { ConfigError, formatDiagnostic } from '../config/diagnostics.ts';
import { CloseCodes } from '../errors.ts';
import { Gateway } from '../gateway/gateway.ts';
import { sendJson } from '../gateway/operations.ts';
import type { Readiness } from '../gateway/readiness.ts';
import { newTicketKeys } from '../gateway/ticket-keys.ts';
import { startTelemetry } from '../observability/telemetry.ts';
import { closeAllRelayed } from '../websocket/ws-dispatch.ts';
import type { GatewayReadiness, WorkerReadiness } from './hub.ts';
import { hub, workerNumber } from './ipc.ts';
import { DEMO_ALIASES_ENV, type ListeningReport, TICKET_KEYS_OP } from './supervisor.ts';
import { shareWorkerState } from './worker-shared.ts';

export async function runWorker(options: { home: string; port?: number }): Promise<number> {
  const rpc = hub();
  const n = workerNumber();
  if (!rpc || n === undefined) throw new Error('runWorker runs only in a worker postern start forked');
  let gateway: Gateway | undefined;
  let stopping = false;
  let crashed = false;

  const exit = (code: number) => {
    if (!gateway) process.exit(code);
    gateway.log.flush(() => process.exit(code));
    setTimeout(() => process.exit(code), 1000).unref();
  };
  const stop = () => {
    if (stopping || crashed) return;
    stopping = true;
    if (!gateway) {
      process.exit(0);
    }
    gateway.log.info({ worker: n, graceMs: gateway.settings.shutdownGraceMs }, 'worker stopping');
    gateway.shutdown().then(
      () => exit(0),
      (err: Error) => {
        gateway?.log.error({ err: err.message }, 'stopping failed');
        exit(1);
      },
    );
  };
  const crash = (err: unknown) => {
    if (crashed) return;
    crashed = true;
    const stack = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
    rpc.notify('worker.crash', { stack });
    try {
      gateway?.log.fatal({ worker: n, stack }, 'worker crashed');
    } catch {
      // the log may be what failed
    }
    const out = () => {
      if (gateway) gateway.log.flush(() => process.exit(1));
      else process.exit(1);
    };
    closeAllRelayed(CloseCodes.internalError, 'gateway worker failed').then(out, out);
    setTimeout(() => process.exit(1), 1000).unref();
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  rpc.on('stop', stop);
  rpc.on('reload', () => {
    if (stopping || !gateway) return;
    try {
      gateway.reloadSite();
    } catch (err) {
      gateway.log.error({ err: (err as Error).message }, 'reloading gateway-site failed');
    }
  });

  // The TLS session ticket key every worker shares (gateway/ticket-keys): asked for before listening, replaced
  // when the primary says (never by a timer of this worker's). Should the primary not answer, a key of this
  // worker's own until the next replacement only costs resumptions.
  let ticketKeys: Buffer | undefined;
  rpc.on(TICKET_KEYS_OP, (keys: string) => {
    ticketKeys = Buffer.from(keys, 'base64');
    gateway?.server.setTicketKeys(ticketKeys);
  });
  try {
    const keys = await rpc.request<string | undefined>(TICKET_KEYS_OP);
    ticketKeys ??= keys === undefined ? undefined : Buffer.from(keys, 'base64');
  } catch {
    ticketKeys ??= newTicketKeys();
  }

  const aliases = new Map<string, string>(JSON.parse(process.env[DEMO_ALIASES_ENV] ?? '[]'));
  try {
    gateway = await Gateway.start({
      home: options.home,
      port: options.port,
      // The primary runs the demo backends; a worker only follows where they bound.
      startDemoBackends: async () => ({ close: async () => {}, aliases }),
      startTelemetry,
      ticketKeys,
    });
    // node:cluster gives each worker's listener the ticket key of the first worker's first listen: a replacement
    // started after a rotation would go back to that one. The current key again, now that this one listens (or
    // the key that came while the gateway started).
    if (ticketKeys) gateway.server.setTicketKeys(ticketKeys);
  } catch (err) {
    // Every worker fails the same way: the primary prints the first one's message, once.
    const text =
      err instanceof ConfigError
        ? err.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join('')
        : `postern: ${(err as Error).message}\n`;
    const sent = rpc.notify('worker.start-failed', { text });
    if (!sent) process.stderr.write(text);
    // IPC sends are asynchronous: exit once a last, empty message is written, and so the one above.
    if (sent && process.send) process.send({}, () => process.exit(1));
    else process.exit(1);
    setTimeout(() => process.exit(1), 1000).unref();
    return 1;
  }
  const g = gateway;
  shareWorkerState(rpc, g);
  rpc.on('ready.collect', (): WorkerReadiness => {
    const r: Readiness = g.readiness();
    return { ready: r.ready, body: r.body };
  });
  const health = g.settings.health;
  if (health.enabled) {
    // The whole gateway's readiness, whichever worker is asked.
    g.operations.add(health.readyPath, (_req, res) => {
      rpc.request<GatewayReadiness>('ready.all').then(
        (r) => sendJson(res, r.ready ? 200 : 503, { ...r.body, workers: r.workers }),
        () => sendJson(res, 503, { status: 'not ready', reason: 'the primary did not answer' }),
      );
    });
  }
  const { address, loopbackOnly } = g.bound;
  rpc.notify('worker.listening', {
    url: g.url,
    address,
    loopbackOnly,
    topologies: [...g.server.deployments.keys()],
    logs: g.home.layout.logs,
    demoBackends: g.settings.demoBackends,
  } satisfies ListeningReport);
  return 0;
}
