/**
 * `postern start` as a real process on a test home (optionally inside a network namespace, through
 * `ip netns exec`): resolves once the process prints its listening line, with the port it bound.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bin/postern.js', import.meta.url));

export interface PosternProcess {
  child: ChildProcess;
  /** The URL the process printed (`https://127.0.0.1:PORT/gateway`; 127.0.0.1 when bound to 0.0.0.0). */
  url: string;
  port: number;
  /** What the process wrote so far (for failure messages). */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s. */
  stop(): Promise<void>;
}

/**
 * @param options.netns run inside this network namespace
 * @param options.nofile the process's open-file limit (`ulimit -n`, set by a shell that then execs node)
 */
export function startPostern(
  home: string,
  options: { netns?: string; nofile?: number } = {},
): Promise<PosternProcess> {
  const args = [CLI, 'start', '--home', home, '--port', '0'];
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  const child = options.netns
    ? spawn('ip', ['netns', 'exec', options.netns, process.execPath, ...args], { stdio })
    : options.nofile !== undefined
      ? spawn('sh', ['-c', `ulimit -n ${options.nofile} && exec "$@"`, 'sh', process.execPath, ...args], {
          stdio,
        })
      : spawn(process.execPath, args, { stdio });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    out += c;
  });
  child.stderr!.on('data', (c: string) => {
    out += c;
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise<PosternProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`postern printed no listening line in 60 s:\n${out}`));
    }, 60_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`postern exited with ${code} before listening:\n${out}`));
    };
    child.once('exit', onExit);
    child.stdout!.on('data', () => {
      const m = /^postern listening on (https?:\/\/\S+) /m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      const url = m[1];
      resolve({ child, url, port: Number(new URL(url).port), output: () => out, stop });
    });
  });
}

/**
 * The worker of a multi-process `postern start` on `home` that served the request with this id, from the access
 * log's `worker` field (waits up to 5 s for the line: the log is written asynchronously).
 */
export async function workerThatServed(home: string, reqId: string): Promise<number> {
  for (let i = 0; i < 250; i++) {
    const text = readFileSync(join(home, 'logs/access.log'), 'utf8');
    for (const line of text.split('\n')) {
      if (!line.includes(reqId)) continue;
      const parsed = JSON.parse(line) as { reqId: string; worker?: number };
      if (parsed.reqId === reqId) {
        if (!parsed.worker) throw new Error(`the access line names no worker: ${line}`);
        return parsed.worker;
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no access line for ${reqId}`);
}
