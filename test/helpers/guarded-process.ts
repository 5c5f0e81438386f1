/**
 * A server that a test starts (slapd, redis-server, postgres, krb5kdc, httpd) and that must never outlive the
 * test process. A small `sh` guard starts the server in the background, prints its pid and waits on its stdin, a
 * pipe from the test process: when the test process ends in any way (even SIGKILL), the pipe closes and the
 * guard signals the server. Every fixture in this folder starts its servers through one of these.
 *
 * ```ts
 * const server = new GuardedProcess('redis-server', 'KILL');
 * await server.start([REDIS_BIN, '--port', '6390'], { log: join(dir, 'redis.log') });
 * await waitUntilUp(server, () => pings(6390), { timeoutMs: 15_000, log: join(dir, 'redis.log') });
 * await server.stop();
 * ```
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';

/** How the guard stops the server: `KILL` at once, `TERM` for a parent that takes its children with it, `QUIT` for postgres's immediate shutdown. */
export type StopSignal = 'KILL' | 'TERM' | 'QUIT';

export class GuardedProcess {
  readonly name: string;
  readonly #signal: StopSignal;
  #guard?: ChildProcess;
  #pid?: number;
  #exited?: Promise<void>;
  readonly #onExit = () => this.kill();

  constructor(name: string, signal: StopSignal = 'KILL') {
    this.name = name;
    this.#signal = signal;
  }

  /** Whether it was started and not stopped since (the server itself may have died: see {@link dead}). */
  get running(): boolean {
    return this.#guard !== undefined;
  }

  get pid(): number | undefined {
    return this.#pid;
  }

  /** Whether the server process is gone (the guard outlives it, waiting on the pipe). */
  get dead(): boolean {
    if (!this.#pid) return true;
    try {
      // A dead server stays a zombie until the guard, blocked on the pipe, reaps it.
      return /\) [ZX] /.test(readFileSync(`/proc/${this.#pid}/stat`, 'utf8'));
    } catch {
      return true;
    }
  }

  /** Starts `cmd` (its stdout and stderr appended to `log`); resolves with the server's pid. */
  async start(cmd: string[], options: { log: string; env?: NodeJS.ProcessEnv }): Promise<number> {
    if (this.#guard) throw new Error(`${this.name} is already started`);
    const script = `"$@" 2>>"$LOGFILE" >>"$LOGFILE" & pid=$!; echo $pid; read _; kill -$SIGNAL $pid 2>/dev/null; wait $pid 2>/dev/null; exit 0`;
    const guard = spawn('sh', ['-c', script, 'guard', ...cmd], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { ...(options.env ?? process.env), LOGFILE: options.log, SIGNAL: this.#signal },
    });
    this.#guard = guard;
    this.#exited = new Promise<void>((resolve) => guard.once('exit', () => resolve()));
    process.once('exit', this.#onExit);
    this.#pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      guard.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(Number(out.slice(0, nl)));
      });
      guard.once('exit', () => reject(new Error(`the guard of ${this.name} exited before starting it`)));
    });
    return this.#pid;
  }

  /** Sends a signal to the server (SIGSTOP/SIGCONT to freeze it); nothing when it is not running. */
  signal(signal: NodeJS.Signals): void {
    if (!this.#pid) return;
    try {
      process.kill(this.#pid, signal);
    } catch {}
  }

  /** Stops the server with the guard's signal and waits until the guard has reaped it. */
  async stop(): Promise<void> {
    if (!this.#guard) return;
    const exited = this.#exited;
    this.kill();
    await exited;
    process.removeListener('exit', this.#onExit);
    this.#guard = undefined;
    this.#pid = undefined;
  }

  /** Signals the server and closes the guard's pipe, without waiting (also run when the test process exits). */
  kill(): void {
    this.signal(`SIG${this.#signal}`);
    this.#guard?.stdin?.end();
  }
}

/**
 * Polls `up` until it is true. When the deadline passes or the server dies first, stops it and throws with the
 * end of its log (of its logs, in order, when it writes several).
 */
export async function waitUntilUp(
  server: GuardedProcess,
  up: () => Promise<boolean>,
  options: { timeoutMs: number; log: string | string[]; intervalMs?: number; what?: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await up()) return;
    if (Date.now() > deadline || server.dead) {
      let log = '';
      for (const file of Array.isArray(options.log) ? options.log : [options.log]) {
        try {
          log += readFileSync(file, 'utf8');
        } catch {}
      }
      await server.stop();
      throw new Error(`${options.what ?? server.name} did not start: ${log.trim().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

/** A TCP port free on 127.0.0.1 now (the kernel's choice). */
export async function freePort(): Promise<number> {
  const { port, release } = await reservePort();
  await release();
  return port;
}

/**
 * A TCP port on 127.0.0.1 held until `release()`: for a server whose port must be known (and written into other
 * fixtures' configuration) before it starts. {@link freePort} gives the port back at once, and every `listen(0)`
 * made meanwhile — in this process or another test file's — may be handed it again (EADDRINUSE when the server
 * finally starts). Release it just before the server listens.
 */
export async function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  // A connection made to the port meanwhile (a peer that starts first) is reset, as by a closed port, and does
  // not keep the release waiting.
  const server = net.createServer((socket) => socket.resetAndDestroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { port, release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Whether something accepts a TCP connection on 127.0.0.1:port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
