/**
 * @module bench/proc
 * What every benchmark script asks of the machine: a free loopback port, the CPU time and page faults a process (and
 * its descendants: postern's primary and workers) has used, from /proc, and a probe (strace, perf) run against it;
 * for the A/B scripts (bodies-ab, ws-ab), a process started on the server core, a wait for its readiness, its stop,
 * and the median of their rounds.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';

/** Whether a command is on the PATH. */
export function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Microseconds per clock tick of /proc's CPU times (USER_HZ is 100 on Linux). */
const TICK_US = 1e6 / 100;

/**
 * A `/proc/…/stat` file: the command name, and the fields after it (`fields[0]` is the state, field 3 of proc(5);
 * the name, in brackets, may itself hold spaces and brackets, so the fields start after its last `)`).
 */
function readStat(path: string): { name: string; fields: string[] } {
  const stat = readFileSync(path, 'utf8');
  const end = stat.lastIndexOf(')');
  return { name: stat.slice(stat.indexOf('(') + 1, end), fields: stat.slice(end + 2).split(' ') };
}

/** CPU time a process has used so far (all threads), in microseconds, user and system; undefined once gone. */
export function cpuTimes(pid: number | undefined): { user: number; sys: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const { fields } = readStat(`/proc/${pid}/stat`);
    return { user: Number(fields[11]) * TICK_US, sys: Number(fields[12]) * TICK_US };
  } catch {
    return undefined;
  }
}

/** CPU µs (user + system) between two {@link cpuTimes} readings, per one of `count`; undefined without both. */
export function cpuPer(
  before: { user: number; sys: number } | undefined,
  after: { user: number; sys: number } | undefined,
  count: number,
): number | undefined {
  return before && after && count > 0
    ? (after.user - before.user + after.sys - before.sys) / count
    : undefined;
}

/**
 * CPU time (µs) and context switches of each of a process's threads, summed by thread name (`node` is the main
 * thread; libuv's pool threads and V8's helpers have names of their own).
 */
export function threadTimes(
  pid: number,
): Map<string, { user: number; sys: number; voluntary: number; involuntary: number; threads: number }> {
  const out = new Map<
    string,
    { user: number; sys: number; voluntary: number; involuntary: number; threads: number }
  >();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const { name, fields: f } = readStat(`/proc/${pid}/task/${tid}/stat`);
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const sum = out.get(name) ?? { user: 0, sys: 0, voluntary: 0, involuntary: 0, threads: 0 };
      sum.user += Number(f[11]) * TICK_US;
      sum.sys += Number(f[12]) * TICK_US;
      sum.voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)![1]);
      sum.involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)![1]);
      sum.threads++;
      out.set(name, sum);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** The minor page faults of a process so far (all threads). */
export function minorFaults(pid: number): number {
  return Number(readStat(`/proc/${pid}/stat`).fields[7]);
}

/**
 * Starts `command` against `pid` (`{pid}` replaced; for instance `strace -c -f -p {pid}`); the returned function
 * stops it with SIGINT and resolves to its output.
 */
export function attach(command: string, pid: number): () => Promise<string> {
  const [cmd, ...args] = command.replaceAll('{pid}', String(pid)).split(' ');
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  return () => {
    child.kill('SIGINT');
    return new Promise((resolve) => child.once('close', () => resolve(out)));
  };
}

/** User + system CPU seconds of a process (0 once gone). */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t ? (t.user + t.sys) / 1e6 : 0;
}

/** The running children of a process (of all its threads). */
export function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** {@link cpuTimes} of a process and all its descendants still running (postern's primary and its workers). */
export function treeCpuTimes(pid: number | undefined): { user: number; sys: number } | undefined {
  const own = cpuTimes(pid);
  if (!own || pid === undefined) return own;
  for (const c of childPids(pid)) {
    const t = treeCpuTimes(c);
    if (t) {
      own.user += t.user;
      own.sys += t.sys;
    }
  }
  return own;
}

/**
 * Starts `command argv` on core 1 (the server core of the A/B scripts) with `env` added, its stderr printed with its
 * pid, and keeps it in `children` until it exits (for the scripts' clean-up).
 */
export function startOnServerCore(
  children: Set<ChildProcess>,
  argv: string[],
  env: Record<string, string> = {},
  command = process.execPath,
): ChildProcess {
  const child = spawn('taskset', ['-c', '1', command, ...argv], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${child.pid}] ${d}`));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Waits until `url` answers 200 (curl, any certificate), up to 30 s. */
export async function waitFor200(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const r = spawnSync('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', url], { encoding: 'utf8' });
    if (r.stdout === '200') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer 200 within 30 s`);
}

/** The environment of an A/B target spec's `@NAME=value+NAME=value` tail. */
export function envOfSpec(extra: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of extra ? extra.split('+') : [])
    env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  return env;
}

/** Sends SIGINT (postern start and the floor close and exit on it) and waits for the process to be gone. */
export async function stopChild(child: ChildProcess): Promise<void> {
  child.kill('SIGINT');
  if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
}

/** The median of `xs` (the mean of the middle two for an even count): the A/B scripts' verdict over rounds. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
