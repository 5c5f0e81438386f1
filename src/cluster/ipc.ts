/**
 * @module cluster/ipc
 * A worker's line to the primary's shared-state hub (cluster/hub.ts). `hub()` is undefined in a single-process
 * gateway (`postern.workers` = 1, tests, embedders): then every store stays in process and nothing here runs.
 * In a worker that `postern start` forked, it is the one {@link Rpc} towards the primary, made at first use.
 */
import cluster from 'node:cluster';
import { Rpc } from './rpc.ts';

/** Set by the primary in each worker's environment: the worker's number (1..N, reused by its replacement). */
export const WORKER_ENV = 'POSTERN_WORKER';

/** How long a worker waits for the hub before failing closed (503). */
export const HUB_TIMEOUT_MS = 5000;

let rpc: Rpc | undefined;

/** This process's worker number, or undefined when it is not a postern worker. */
export function workerNumber(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const n = Number(process.env[WORKER_ENV]);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The hub, in a postern worker; undefined otherwise. */
export function hub(): Rpc | undefined {
  if (rpc) return rpc;
  if (workerNumber() === undefined) return undefined;
  const channel = new Rpc((m) => {
    if (!process.connected) return false;
    process.send!(m);
    return true;
  }, HUB_TIMEOUT_MS);
  process.on('message', (m) => channel.receive(m));
  process.once('disconnect', () => channel.close('the primary is gone'));
  rpc = channel;
  return rpc;
}
