/**
 * A real Jupyter server for tests: Debian's `jupyter-server` (1.23) with `python3-ipykernel`, installed by
 * scripts/test.ts. It serves what Jupyter Kernel Gateway serves — the kernels REST API (`/api/kernels`,
 * `/api/kernelspecs`) and the channels WebSocket (`/api/kernels/{id}/channels`, messaging protocol v5) — on a free
 * loopback port, as root (`--allow-root`), with its runtime, config and data directories and `HOME` in a
 * temporary directory.
 *
 * ```ts
 * const jupyter = await startJupyter();   // jupyter.url = http://127.0.0.1:<port>
 * after(() => jupyter.close());           // stops it (and so its kernels) and removes the directory
 * ```
 *
 * Token authentication and the XSRF check are off, as Kernel Gateway runs behind Knox: the gateway is the only
 * way in and authenticates the user itself, and Knox's JKG/JKGWS definitions have no way to carry a backend
 * token on both legs (no header of one's own on the WebSocket leg, and a `?token=` in the service URL would land
 * before the rewritten path). The server listens on 127.0.0.1 only.
 *
 * Kernel Gateway passes the `KERNEL_*` keys of a kernel request's `env` to the kernel; jupyter-server 1.23 ignores
 * `env`. The server extension `jupyter/kernel_env.py` adds Kernel Gateway's rule, nothing else.
 *
 * The server runs in a process group of its own, stopped by a guard process when `close()` is called or the test
 * process ends in any way: SIGTERM (the server shuts its kernels down), SIGKILL to the group after 5 s. A kernel
 * whose server is gone exits on its own (ipykernel polls its parent, `JPY_PARENT_PID`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './redis.ts';

export const JUPYTER_SERVER_BIN = process.env.JUPYTER_SERVER_BIN ?? '/usr/bin/jupyter-server';

export interface JupyterFixture {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** What the server wrote so far (its log, with every request it answered; the last 4 MB). */
  log(): string;
  close(): Promise<void>;
}

const EXTENSIONS = fileURLToPath(new URL('./jupyter/', import.meta.url));

export async function startJupyter(): Promise<JupyterFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-jupyter-'));
  for (const d of ['root', 'runtime', 'config', 'data', 'home']) mkdirSync(join(dir, d));
  // The extension is enabled by the server's config file (the command line cannot name a dict trait's keys).
  writeFileSync(
    join(dir, 'config', 'jupyter_server_config.json'),
    JSON.stringify({ ServerApp: { jpserver_extensions: { kernel_env: true } } }),
  );
  const port = await freePort();
  const args = [
    '--no-browser',
    '--allow-root',
    '--ip=127.0.0.1',
    `--port=${port}`,
    '--port-retries=0',
    `--ServerApp.root_dir=${join(dir, 'root')}`,
    '--ServerApp.token=',
    '--ServerApp.password=',
    '--ServerApp.disable_check_xsrf=True',
    // Every request is logged (jupyter-server logs a 2xx at debug), so a test can tell what reached it.
    '--ServerApp.log_level=DEBUG',
  ];
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: join(dir, 'home'),
    JUPYTER_RUNTIME_DIR: join(dir, 'runtime'),
    JUPYTER_CONFIG_DIR: join(dir, 'config'),
    JUPYTER_DATA_DIR: join(dir, 'data'),
    // Only the system's kernel specs and config, not a user's.
    JUPYTER_PLATFORM_DIRS: '0',
    PYTHONPATH: EXTENSIONS,
    PYTHONDONTWRITEBYTECODE: '1',
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
  };
  const child: ChildProcess = spawn(JUPYTER_SERVER_BIN, args, {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-4_000_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The guard, in a session of its own, holds the read end of a pipe from this process: when the pipe closes
  // (close(), or this process ending in any way, even SIGKILL) it stops the server's process group, SIGTERM
  // first and SIGKILL after 5 s, and removes the directory.
  const guard = spawn(
    'sh',
    [
      '-c',
      'read _; kill -TERM -"$0" 2>/dev/null; i=0; while kill -0 -"$0" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -"$0" 2>/dev/null; rm -rf "$1"; exit 0',
      String(child.pid),
      dir,
    ],
    { detached: true, stdio: ['pipe', 'ignore', 'ignore'] },
  );
  guard.unref();

  let closed = false;
  const fixture: JupyterFixture = {
    url: `http://127.0.0.1:${port}`,
    port,
    log: () => output,
    async close() {
      if (closed) return;
      closed = true;
      guard.stdin?.end();
      if (child.exitCode === null && child.signalCode === null) await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${fixture.url}/api`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) {
        await r.json();
        return fixture;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
      await fixture.close();
      throw new Error(`jupyter-server did not start on ${fixture.url}: ${output.trim().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
