/**
 * @module cluster/supervisor
 * `postern start` with `postern.workers` = `auto` or N > 1: this process becomes the primary. It reads
 * gateway-site (cli/start.ts; a broken one fails the start before any worker exists), makes what workers would
 * otherwise race to make (the master secret, the TLS identity: TLS problems show here, once; the key of the TLS
 * session tickets, which every worker must share: gateway/ticket-keys), starts the bundled
 * demo backends once, then forks N workers (node:cluster), each running today's Gateway on the shared listener,
 * and keeps the state they share (cluster/hub.ts).
 *
 * The primary loads none of the gateway itself: the workers start at once and load it in parallel, so a start
 * with workers costs about what a single process's does. The rest of the configuration (plugins, service
 * definitions, topologies) is therefore checked by the workers: a worker whose start fails sends its
 * diagnostics here before exiting, and the primary prints the first worker's, once, and fails the start.
 *
 * The listener is node:cluster's round-robin one (the primary accepts and hands each connection to the next
 * worker), not `exclusive` + `reusePort`: it needs nothing of the gateway's listening code, works with port 0
 * (one port for every worker), spreads connections evenly where the kernel's reuseport hash can leave a worker
 * idle behind a few long-lived connections, and a worker that dies takes no accepted-but-unserved connections
 * with it (a reuseport socket's queue is reset with its process). What it costs is one hand-over per
 * connection, not per request (keep-alive connections stay on their worker).
 *
 * Signals: SIGTERM and SIGINT stop every worker gracefully (each drains as a single gateway does) and the
 * primary exits once all have; a second signal kills them and exits at once. SIGHUP makes every worker reread
 * gateway-site and the users files. Workers ignore SIGINT and SIGHUP from the terminal (the primary forwards
 * them once); a SIGTERM sent to the whole group (systemd) is the same graceful stop.
 *
 * A worker that dies after the start is replaced, with a back-off (0.5 s doubling to 30 s for a worker that
 * keeps dying within a minute of its start) so a worker that crashes at start does not spin. The primary logs
 * the stack the worker sent before dying (cluster/worker.ts), or its exit code or signal. A worker that fails
 * before every worker listened fails the start.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatDiagnostic } from '../config/diagnostics.ts';
import type { GatewaySettings } from '../config/gateway-site.ts';
import { loadOrCreateMasterSecret } from '../deploy/secrets.ts';
import type { HomeLayout } from '../gateway/home.ts';
import { SHARED_KEY_WAIT_MS, sharedTicketKeys, TicketKeyRotation } from '../gateway/ticket-keys.ts';
import { loadServerTls } from '../gateway/tls.ts';
import { createLogger } from '../observability/logger.ts';
import { Hub } from './hub.ts';
import { WORKER_ENV } from './ipc.ts';
import { acquireSharedState } from './redis-state.ts';
import { isRpcMessage, Rpc } from './rpc.ts';

/**
 * The TLS session ticket key, base64: a worker's request for it at start, answered by the primary (undefined
 * without TLS), and the primary's notification of each replacement.
 */
export const TICKET_KEYS_OP = 'tls.ticket-keys';

/** The environment variable carrying the demo backends' moved origins to the workers (JSON pairs). */
export const DEMO_ALIASES_ENV = 'POSTERN_DEMO_ALIASES';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** A worker that lived this long before dying starts its slot's back-off again from the minimum. */
const STABLE_MS = 60_000;

/**
 * How many workers `postern.workers` asks for on this machine: `auto` is one per available core, except with the
 * `backplane` channel layer, which needs one process per node (an explicit number above 1 with it is refused at
 * the start).
 */
export function workerCount(settings: Pick<GatewaySettings, 'workers' | 'channels'>): number {
  if (settings.workers !== 'auto') return settings.workers;
  if (settings.channels.layer === 'backplane') return 1;
  return Math.max(1, availableParallelism());
}

/** What a worker tells the primary once it listens. */
export interface ListeningReport {
  url: string;
  address: string;
  loopbackOnly: boolean;
  topologies: string[];
  logs: string;
  demoBackends: boolean;
}

interface Slot {
  n: number;
  worker?: Worker;
  rpc?: Rpc;
  startedAt: number;
  failures: number;
  crashStack?: string;
  restartTimer?: NodeJS.Timeout;
}

export interface PrimaryOptions {
  layout: HomeLayout;
  settings: GatewaySettings;
  workers: number;
  /** Starts the demo backends (once, here); returns their close and the moved origins. */
  startDemoBackends?: () => Promise<{ close: () => Promise<void>; aliases?: ReadonlyMap<string, string> }>;
}

/** A log that says nothing: the primary's shared-state connection serves the ticket key only (see runPrimary). */
const QUIET = { info() {}, warn() {}, debug() {} };

/** Runs the primary until it is stopped; resolves with 1 when the start fails (0 once it runs). */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { layout, settings, workers } = options;
  // What each worker would otherwise make at the same moment; and TLS problems show here, once.
  loadOrCreateMasterSecret(join(layout.security, 'master.secret'));
  try {
    if (settings.ssl.enabled) await loadServerTls(settings, layout.home);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const d of err.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      return 1;
    }
    throw err;
  }
  if (settings.channels.layer === 'backplane') {
    process.stderr.write(
      'postern: gateway.channels.layer=backplane runs in one process per node: set postern.workers to 1, or use the redis layer\n',
    );
    return 1;
  }
  const log = createLogger({
    logDir: layout.logs,
    level: process.env.POSTERN_LOG_LEVEL ?? settings.logLevel,
  }).child({ component: 'primary' });

  let demos: { close: () => Promise<void>; aliases?: ReadonlyMap<string, string> } | undefined;
  if (settings.demoBackends && options.startDemoBackends) demos = await options.startDemoBackends();
  const env: Record<string, string> = {
    [DEMO_ALIASES_ENV]: JSON.stringify([...(demos?.aliases ?? new Map())]),
  };

  const hub = new Hub();
  const slots: Slot[] = Array.from({ length: workers }, (_, i) => ({ n: i + 1, startedAt: 0, failures: 0 }));
  // The TLS session ticket key of every worker, replaced on a timer (gateway/ticket-keys): each worker asks for
  // it before it listens, and is told of each replacement. Shared with the other nodes, it is read from Redis
  // here, through a connection of the primary's own (its outages are the rotation's to log, not the requests').
  const shareKeys = settings.ssl.enabled && settings.ssl.ticketKeyShared;
  const releaseState = shareKeys ? acquireSharedState(settings, QUIET) : undefined;
  const ticketKeys = settings.ssl.enabled
    ? new TicketKeyRotation(
        settings.ssl.ticketKeyRotationMs,
        (keys) => {
          for (const s of slots) s.rpc?.notify(TICKET_KEYS_OP, keys.toString('base64'));
        },
        undefined,
        sharedTicketKeys(settings, log),
      )
    : undefined;
  await ticketKeys?.readyWithin(SHARED_KEY_WAIT_MS);
  const listening = new Map<number, ListeningReport>();
  /** Set once a worker's start failed and its message was printed: the others' (the same) are not. */
  let startFailure: string | undefined;
  let started = false;
  let stopping = false;
  /** The start failed: the primary exits 1 once every worker is gone. */
  let failedStart = false;
  let resolveStart!: (code: number) => void;
  const startResult = new Promise<number>((resolve) => {
    resolveStart = resolve;
  });

  const fork = (slot: Slot) => {
    slot.restartTimer = undefined;
    slot.crashStack = undefined;
    slot.startedAt = Date.now();
    const worker = cluster.fork({ ...env, [WORKER_ENV]: String(slot.n) });
    slot.worker = worker;
    const rpc = new Rpc((m) => {
      if (!worker.isConnected()) return false;
      worker.send(m);
      return true;
    });
    slot.rpc = rpc;
    hub.attach(slot.n, rpc);
    rpc.on('worker.listening', (report: ListeningReport) => {
      listening.set(slot.n, report);
      if (!started && listening.size === workers) {
        started = true;
        announce(report, workers);
        if (!report.loopbackOnly && report.demoBackends) {
          log.warn(
            { bound: report.address },
            'the demo backends and the sample users (documented passwords) are on while the gateway is reachable from the network: set gateway.host to 127.0.0.1, or postern.demo.backends.enabled to false and replace conf/users.yaml',
          );
        }
        resolveStart(0);
      } else if (started) {
        log.info({ worker: slot.n, workerPid: worker.process.pid }, `worker ${slot.n} listening again`);
      }
    });
    rpc.on(TICKET_KEYS_OP, () => ticketKeys?.keys.toString('base64'));
    rpc.on('worker.crash', ({ stack }: { stack: string }) => {
      slot.crashStack = stack;
    });
    rpc.on('worker.start-failed', ({ text }: { text: string }) => {
      if (started || startFailure !== undefined) return;
      startFailure = text;
      process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
    });
    worker.on('message', (m: unknown) => {
      if (isRpcMessage(m)) rpc.receive(m);
    });
    worker.on('exit', (code, signal) => onExit(slot, worker, code, signal));
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    if (slot.worker !== worker) return;
    hub.detach(slot.n);
    slot.worker = undefined;
    slot.rpc = undefined;
    listening.delete(slot.n);
    if (stopping) {
      if (slots.every((s) => s.worker === undefined)) void finish(failedStart ? 1 : 0);
      return;
    }
    const how = slot.crashStack
      ? `crashed: ${slot.crashStack}`
      : signal
        ? `was killed by ${signal}`
        : `exited with code ${code}`;
    if (!started) {
      log.error({ worker: slot.n, code, signal }, `worker ${slot.n} ${how}; the gateway does not start`);
      // A worker that said why (its diagnostics, printed above) needs no second line.
      if (startFailure === undefined) {
        process.stderr.write(`postern: worker ${slot.n} ${how}; the gateway does not start\n`);
      }
      stopping = true;
      failedStart = true;
      for (const s of slots) s.worker?.kill('SIGKILL');
      if (slots.every((s) => s.worker === undefined)) void finish(1);
      resolveStart(1);
      return;
    }
    const lived = Date.now() - slot.startedAt;
    slot.failures = lived >= STABLE_MS ? 1 : slot.failures + 1;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (slot.failures - 1));
    log.error(
      {
        worker: slot.n,
        workerPid: worker.process.pid,
        code,
        signal,
        stack: slot.crashStack,
        restartInMs: delay,
      },
      `worker ${slot.n} ${how}; restarting it in ${delay} ms`,
    );
    slot.restartTimer = setTimeout(() => fork(slot), delay);
  };

  let finishing: Promise<void> | undefined;
  const finish = (code: number) => {
    finishing ??= (async () => {
      for (const s of slots) if (s.restartTimer) clearTimeout(s.restartTimer);
      ticketKeys?.stop();
      await releaseState?.();
      hub.close();
      try {
        await demos?.close();
      } catch {
        // going anyway
      }
      log.info({ code }, 'postern stopped (all workers)');
      log.flush(() => process.exit(code));
      setTimeout(() => process.exit(code), 1000).unref();
    })();
    return finishing;
  };

  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: killing the workers and exiting without waiting');
      for (const s of slots) s.worker?.kill('SIGKILL');
      log.flush();
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, graceMs: settings.shutdownGraceMs }, 'postern stopping (all workers)');
    for (const s of slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = undefined;
      s.rpc?.notify('stop');
    }
    if (slots.every((s) => s.worker === undefined)) void finish(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    log.info({ signal: 'SIGHUP' }, 'reloading gateway-site and the users files on every worker');
    for (const s of slots) s.rpc?.notify('reload');
  });

  for (const slot of slots) fork(slot);
  return startResult;
}

/** The start line, as a single gateway prints it, with the number of workers. */
function announce(r: ListeningReport, workers: number): void {
  const topologies = r.topologies.join(', ') || 'none';
  process.stdout.write(
    `postern listening on ${r.url} (bound to ${r.address}: ${r.loopbackOnly ? 'this machine only' : 'every interface, reachable from the network'}; topologies: ${topologies}; workers: ${workers}); logs: ${r.logs}/{gateway,access,audit}.log\n`,
  );
}
