/**
 * @module bench/flat-memory
 * Issue 21's flat-memory check: N downloads and N uploads of a GiB each, all at once, through postern (logs off,
 * Anonymous, the HTTP service), while the gateway process's RSS is sampled from /proc every 100 ms. Optional
 * slow readers (`--slow K`: K more downloads read 64 KiB every 100 ms, ~0.6 MiB/s) show that a client that reads
 * slowly holds back its backend instead of growing the gateway's memory. The backend (bench/backend.ts:
 * `GET /stream/N` generated as taken, `PUT /upload` a counting sink) and postern run as their own processes; the
 * clients run here. Prints the RSS at rest, the peak (sampled, and the kernel's VmHWM), bytes moved and each
 * transfer's outcome, and exits 1 when a transfer fails or moves the wrong number of bytes.
 *
 *   npm run bench:memory -- [--streams 16] [--gib 1] [--slow 4] [--tls]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { writeBenchHome } from './home.ts';
import { cpuSeconds, freePort } from './proc.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    streams: { type: 'string', default: '16' },
    gib: { type: 'string', default: '1' },
    slow: { type: 'string', default: '4' },
    tls: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const STREAMS = Number(args.streams);
const BYTES = Math.round(Number(args.gib) * 1024 * MiB);
const SLOW = Number(args.slow);

function startProcess(cmd: string, argv: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  child.stdout!.resume();
  return child;
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function waitReady(url: string, dispatcher: Agent): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await request(url, { dispatcher });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function home(dir: string, port: number, backendPort: number, tls: boolean): string {
  return writeBenchHome(
    dir,
    {
      'gateway.port': String(port),
      'gateway.host': '127.0.0.1',
      'ssl.enabled': String(tls),
      'postern.workers': '1',
    },
    [{ role: 'HTTP', url: `http://127.0.0.1:${backendPort}` }],
  );
}

/** A body of `total` bytes made of one 64 KiB chunk, produced as the request takes it. */
function generated(total: number): Readable {
  const chunk = Buffer.alloc(64 * 1024, 'u');
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

interface Outcome {
  kind: 'download' | 'upload' | 'slow download';
  ok: boolean;
  bytes: number;
  detail: string;
}

async function download(base: string, dispatcher: Agent): Promise<Outcome> {
  try {
    const res = await request(`${base}stream/${BYTES}`, { dispatcher });
    let bytes = 0;
    for await (const c of res.body) bytes += (c as Buffer).length;
    return {
      kind: 'download',
      ok: res.statusCode === 200 && bytes === BYTES,
      bytes,
      detail: String(res.statusCode),
    };
  } catch (err) {
    return { kind: 'download', ok: false, bytes: 0, detail: (err as Error).message };
  }
}

async function upload(base: string, dispatcher: Agent): Promise<Outcome> {
  try {
    const res = await request(`${base}upload`, {
      method: 'PUT',
      dispatcher,
      body: generated(BYTES),
      headers: { 'content-length': String(BYTES), 'content-type': 'application/octet-stream' },
    });
    const answer = (await res.body.json()) as { bytes?: number };
    const bytes = answer.bytes ?? 0;
    return {
      kind: 'upload',
      ok: res.statusCode === 201 && bytes === BYTES,
      bytes,
      detail: String(res.statusCode),
    };
  } catch (err) {
    return { kind: 'upload', ok: false, bytes: 0, detail: (err as Error).message };
  }
}

/** Reads 64 KiB every 100 ms until `stop` resolves, then drops the connection. */
async function slowDownload(base: string, dispatcher: Agent, stop: Promise<void>): Promise<Outcome> {
  let bytes = 0;
  try {
    const res = await request(`${base}stream/${BYTES}`, { dispatcher, highWaterMark: 64 * 1024 });
    let stopped = false;
    void stop.then(() => {
      stopped = true;
    });
    const reader = res.body;
    while (!stopped) {
      const c = reader.read(64 * 1024) as Buffer | null;
      if (c) bytes += c.length;
      await new Promise((r) => setTimeout(r, 100));
    }
    reader.destroy();
    return { kind: 'slow download', ok: res.statusCode === 200, bytes, detail: String(res.statusCode) };
  } catch (err) {
    return { kind: 'slow download', ok: false, bytes, detail: (err as Error).message };
  }
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-flat-memory-'));
  const children: ChildProcess[] = [];
  try {
    const backendPort = await freePort();
    children.push(
      startProcess(process.execPath, [join(REPO, 'bench', 'backend.ts'), '--port', String(backendPort)]),
    );
    const port = await freePort();
    const gateway = startProcess(
      process.execPath,
      [join(REPO, 'src', 'cli', 'main.ts'), 'start', '--home', home(dir, port, backendPort, args.tls)],
      { POSTERN_LOG_LEVEL: 'warn', POSTERN_ACCESS_LOG: 'silent', POSTERN_AUDIT_LOG: 'silent' },
    );
    children.push(gateway);
    const base = `${args.tls ? 'https' : 'http'}://127.0.0.1:${port}/gateway/bench/http/`;
    const dispatcher = new Agent({
      connections: STREAMS * 2 + SLOW + 2,
      bodyTimeout: 0,
      headersTimeout: 0,
      connect: { rejectUnauthorized: false },
    });
    await waitReady(`http://127.0.0.1:${backendPort}/small`, new Agent());
    await waitReady(`${base}small`, dispatcher);
    const pid = gateway.pid!;
    const atRest = memory(pid);
    let peak = atRest.rss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, memory(pid).rss);
    }, 100);
    const startedAt = Date.now();
    const cpu0 = cpuSeconds(pid);
    let endSlow!: () => void;
    const slowStop = new Promise<void>((r) => {
      endSlow = r;
    });
    const slow = Array.from({ length: SLOW }, () => slowDownload(base, dispatcher, slowStop));
    const fast = await Promise.all([
      ...Array.from({ length: STREAMS }, () => download(base, dispatcher)),
      ...Array.from({ length: STREAMS }, () => upload(base, dispatcher)),
    ]);
    endSlow();
    const outcomes = [...fast, ...(await Promise.all(slow))];
    clearInterval(sampler);
    const seconds = (Date.now() - startedAt) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    const end = memory(pid);
    const moved = fast.reduce((a, o) => a + o.bytes, 0);
    const failed = outcomes.filter((o) => !o.ok);
    const slowBytes = outcomes.filter((o) => o.kind === 'slow download').reduce((a, o) => a + o.bytes, 0);
    const lines = [
      `flat memory — ${STREAMS} downloads + ${STREAMS} uploads of ${(BYTES / MiB / 1024).toFixed(2)} GiB at once` +
        `${SLOW ? `, ${SLOW} slow readers (64 KiB / 100 ms)` : ''}, ${args.tls ? 'TLS listener' : 'plain HTTP'}, postern logs off`,
      `  moved ${(moved / MiB).toFixed(0)} MiB in ${seconds.toFixed(1)} s (${(moved / MiB / seconds).toFixed(0)} MiB/s), gateway CPU ${cpu.toFixed(1)} s (${((cpu * 1e6) / (moved / MiB)).toFixed(0)} µs/MiB)`,
      `  slow readers took ${(slowBytes / MiB).toFixed(1)} MiB in all`,
      `  gateway RSS: at rest ${(atRest.rss / MiB).toFixed(0)} MiB, peak sampled ${(peak / MiB).toFixed(0)} MiB, ` +
        `kernel peak (VmHWM) ${(end.hwm / MiB).toFixed(0)} MiB, at the end ${(end.rss / MiB).toFixed(0)} MiB`,
      `  transfers: ${outcomes.length - failed.length}/${outcomes.length} complete` +
        (failed.length
          ? `; failed: ${failed.map((f) => `${f.kind} (${f.detail}, ${f.bytes} bytes)`).join('; ')}`
          : ''),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    await dispatcher.close();
    return failed.length === 0 ? 0 : 1;
  } finally {
    for (const c of children) c.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
