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
 * redis-server runs under a guard (guarded-process.ts), so no server outlives its test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, GuardedProcess, waitUntilUp } from './guarded-process.ts';

export { freePort };

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
  readonly #server = new GuardedProcess('redis-server', 'KILL');

  constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  get running(): boolean {
    return this.#server.running;
  }

  async start(): Promise<void> {
    if (this.#server.running) return;
    const log = join(this.dir, 'redis.log');
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
      log,
    ];
    await this.#server.start([REDIS_BIN, ...args], { log });
    await waitUntilUp(this.#server, () => pings(this.port), {
      timeoutMs: 15_000,
      log,
      what: `redis-server on ${this.url}`,
    });
  }

  async stop(): Promise<void> {
    if (!this.#server.running) return;
    await this.#server.stop();
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
