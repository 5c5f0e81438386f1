/**
 * @module bench/context
 * What bench/run.ts lends the modules of its row groups (bench/bodies.ts, bench/http2.ts): where things are, the
 * run's timings, and its helpers to start pinned processes, run load generators and read CPU times.
 */
import type { ChildProcess } from 'node:child_process';

/** A process started by bench/run.ts. */
export interface Started {
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface BenchContext {
  repo: string;
  node: string;
  tmp: string;
  loadgenCpu: string;
  duration: number;
  warmup: number;
  pinned(name: string, cmd: string, argv: string[], env?: NodeJS.ProcessEnv): Started;
  run(cmd: string, argv: string[]): Promise<string>;
  freePort(): Promise<number>;
  log(msg: string): void;
  waitReady(url: string, proc: Started, timeoutMs?: number): Promise<void>;
  cpuTimes(pid: number | undefined): { user: number; sys: number } | undefined;
  which(cmd: string): boolean;
  /** A postern home serving the bench topology in front of `backend` (a port on 127.0.0.1, or a URL). */
  posternHome(
    name: string,
    backend: number | string,
    port: number,
    tls: boolean,
    site?: Record<string, string>,
  ): string;
}
