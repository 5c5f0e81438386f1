/**
 * A real Redis for tests: `/usr/bin/redis-server` (Debian `redis-server`, installed by scripts/test.ts) run in a
 * temporary directory on a free loopback port, with no persistence (no RDB, no AOF) and no password.
 *
 * ```ts
 * const redis = await startRedis();   // redis.url = redis://127.0.0.1:<port>
 * after(() => redis.close());         // kills it and removes the directory
 * await redis.stop(); await redis.start();   // the same port, for "Redis is down" tests
 * ```
 *
 * redis-server runs under a small `sh` guard reading the test process's pipe: when the test process exits in any
 * way (even SIGKILL) the pipe closes and the guard kills redis-server, so no server outlives its test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

export interface RedisFixture {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly running: boolean;
  start(): Promise<void>;
  /** Kills redis-server (SIGKILL) and waits until it is gone. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Sends PING and resolves true on +PONG. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

class Redis implements RedisFixture {
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  #guard?: ChildProcess;
  #exited?: Promise<void>;
  readonly #onExit = () => this.#guard?.kill('SIGKILL');

  constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  get running(): boolean {
    return this.#guard !== undefined;
  }

  async start(): Promise<void> {
    if (this.#guard) return;
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--logfile',
      join(this.dir, 'redis.log'),
    ];
    // The guard starts redis-server, then kills it when its stdin (the test process's pipe) closes.
    const script = `"$0" "$@" & pid=$!; read _; kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null; exit 0`;
    const guard = spawn('sh', ['-c', script, REDIS_BIN, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
    this.#guard = guard;
    this.#exited = new Promise<void>((resolve) => guard.once('exit', () => resolve()));
    process.once('exit', this.#onExit);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (await pings(this.port)) return;
      if (Date.now() > deadline || guard.exitCode !== null) {
        let log = '';
        try {
          log = readFileSync(join(this.dir, 'redis.log'), 'utf8');
        } catch {}
        await this.stop();
        throw new Error(`redis-server did not start on ${this.url}: ${log.trim().slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const guard = this.#guard;
    if (!guard) return;
    this.#guard = undefined;
    process.off('exit', this.#onExit);
    guard.stdin?.end();
    await this.#exited;
    // The port is free once redis-server is gone.
    while (await pings(this.port)) await new Promise((r) => setTimeout(r, 20));
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startRedis(): Promise<RedisFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-redis-'));
  const fixture = new Redis(dir, await freePort());
  try {
    await fixture.start();
  } catch (err) {
    await fixture.close();
    throw err;
  }
  return fixture;
}
