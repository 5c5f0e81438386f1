/**
 * `postern start` as a real process on a test home (optionally inside a network namespace, through
 * `ip netns exec`): resolves once the process prints its listening line, with the port it bound.
 */
import { type ChildProcess, spawn } from 'node:child_process';
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
