/**
 * @module bench/profile-summary
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function (name + file + line), the top
 * N, the share of time by origin (postern's own src/, undici, node:http, pino, …), and the postern functions with
 * the most inclusive time.
 *
 *   node bench/profile-summary.ts <file.cpuprofile | dir> [--top 25] [--skip-ms N] [--root /path/to/repo]
 *
 * A directory means the newest .cpuprofile in it. Samples before the first one that is inside postern's request
 * handler (src/gateway/server.ts) are left out — that is start-up: module loading and compiling the topology —
 * and so are the `--skip-ms` milliseconds after it (the load's warm-up, while the JIT settles).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export type Category =
  | 'postern src/'
  | 'undici'
  | 'node:http'
  | 'node:net/streams'
  | 'pino'
  | 'other node: internals'
  | 'other node_modules'
  | 'GC'
  | '(program) native'
  | '(idle)';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function categorize(frame: CallFrame, root = REPO): Category {
  const { url, functionName } = frame;
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return 'GC';
  if (!url) return '(program) native';
  // The only WebAssembly in the gateway is undici's llhttp build.
  if (
    /node_modules\/undici\//.test(url) ||
    url.startsWith('node:internal/deps/undici') ||
    url.startsWith('wasm://')
  )
    return 'undici';
  if (
    /node_modules\/(pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|@pinojs|on-exit-leak-free|atomic-sleep|quick-format-unescaped|safe-stable-stringify|fast-safe-stringify)\//.test(
      url,
    )
  )
    return 'pino';
  if (url.includes('/node_modules/')) return 'other node_modules';
  if (/^node:(_http_|http$|https$|internal\/http)/.test(url)) return 'node:http';
  if (
    /^node:(net$|stream$|internal\/streams\/|internal\/stream_base_commons|internal\/net|internal\/tls|_tls_)/.test(
      url,
    )
  )
    return 'node:net/streams';
  if (url.startsWith('node:')) return 'other node: internals';
  if (url.startsWith(`file://${root}/src/`)) return 'postern src/';
  return 'other node_modules';
}

export interface Summary {
  totalMs: number;
  busyMs: number;
  top: { name: string; where: string; category: Category; selfMs: number; share: number }[];
  byCategory: { category: Category; ms: number; share: number }[];
  posternInclusive: { name: string; where: string; ms: number; share: number }[];
  /** Time of each sample charged to the innermost postern frame on its stack (its self time plus what it called). */
  chargedToPostern: { name: string; where: string; ms: number; share: number; callees: string }[];
}

function where(frame: CallFrame, root: string): string {
  const url = frame.url.replace(`file://${root}/`, '').replace(/^file:\/\/.*\/node_modules\//, '');
  return url ? `${url}:${frame.lineNumber + 1}` : '';
}

export interface SummarizeOptions {
  top?: number;
  root?: string;
  /** Milliseconds to leave out after the first request (warm-up). */
  skipMs?: number;
}

export function summarize(profile: CpuProfile, options: SummarizeOptions = {}): Summary {
  const { top = 25, root = REPO, skipMs = 0 } = options;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Sample i lasts until sample i+1 (timeDeltas[i+1]); the last one until endTime (DevTools' convention).
  const durations = new Float64Array(profile.samples.length);
  let t = profile.startTime;
  const stamps: number[] = [];
  for (const d of profile.timeDeltas) {
    t += d;
    stamps.push(t);
  }
  for (let i = 0; i < stamps.length; i++) {
    durations[i] = Math.max(0, (i + 1 < stamps.length ? stamps[i + 1] : profile.endTime) - stamps[i]);
  }
  const inHandler = (id: number): boolean => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if (byId.get(cur)!.callFrame.url.endsWith('/src/gateway/server.ts')) return true;
    }
    return false;
  };
  let first = profile.samples.findIndex(inHandler);
  if (first < 0) first = 0;
  const from = stamps[first] + skipMs * 1000;
  const selfById = new Map<number, number>();
  const inclusive = new Map<string, number>();
  const charged = new Map<string, { us: number; callees: Map<string, number> }>();
  let total = 0;
  let idle = 0;
  for (let i = first; i < profile.samples.length; i++) {
    if (stamps[i] < from) continue;
    const id = profile.samples[i];
    const us = durations[i];
    total += us;
    selfById.set(id, (selfById.get(id) ?? 0) + us);
    const node = byId.get(id);
    if (node?.callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    // Inclusive time of postern's own functions: each distinct function on the stack once.
    const seen = new Set<string>();
    const leaf = byId.get(id)!.callFrame;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (categorize(f, root) !== 'postern src/') continue;
      const key = `${f.functionName || '(anonymous)'}\t${where(f, root)}`;
      if (seen.size === 0) {
        const c = charged.get(key) ?? { us: 0, callees: new Map<string, number>() };
        c.us += us;
        if (cur !== id) {
          const callee = leaf.functionName || '(anonymous)';
          c.callees.set(callee, (c.callees.get(callee) ?? 0) + us);
        }
        charged.set(key, c);
      }
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const selfByFn = new Map<string, { frame: CallFrame; us: number }>();
  const byCat = new Map<Category, number>();
  for (const [id, us] of selfById) {
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName}\t${f.url}\t${f.lineNumber}\t${f.columnNumber}`;
    const e = selfByFn.get(key) ?? { frame: f, us: 0 };
    e.us += us;
    selfByFn.set(key, e);
    const c = categorize(f, root);
    byCat.set(c, (byCat.get(c) ?? 0) + us);
  }
  const share = (us: number) => (busy > 0 ? us / busy : 0);
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    top: [...selfByFn.values()]
      .filter((e) => e.frame.functionName !== '(idle)')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({
        name: e.frame.functionName || '(anonymous)',
        where: where(e.frame, root),
        category: categorize(e.frame, root),
        selfMs: e.us / 1000,
        share: share(e.us),
      })),
    byCategory: [...byCat.entries()]
      .filter(([c]) => c !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .map(([category, us]) => ({ category, ms: us / 1000, share: share(us) })),
    posternInclusive: [...inclusive.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([key, us]) => {
        const [name, w] = key.split('\t');
        return { name, where: w, ms: us / 1000, share: share(us) };
      }),
    chargedToPostern: [...charged.entries()]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, 15)
      .map(([key, c]) => {
        const [name, w] = key.split('\t');
        const callees = [...c.callees.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 4)
          .map(([n, us]) => `${n} ${(us / 1000).toFixed(0)}`)
          .join(', ');
        return { name, where: w, ms: c.us / 1000, share: share(c.us), callees };
      }),
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(6);

export function formatSummary(s: Summary): string {
  const lines: string[] = [];
  lines.push(
    `profile: ${s.totalMs.toFixed(0)} ms sampled (start-up and warm-up left out), ${s.busyMs.toFixed(0)} ms not idle (shares below are of the not-idle time)`,
  );
  lines.push('', `top ${s.top.length} functions by self time:`);
  lines.push(
    `  ${'self ms'.padStart(9)} ${'share'.padStart(6)}  ${'origin'.padEnd(22)} function  (file:line)`,
  );
  for (const e of s.top) {
    lines.push(
      `  ${e.selfMs.toFixed(1).padStart(9)} ${pct(e.share)}  ${e.category.padEnd(22)} ${e.name}  (${e.where})`,
    );
  }
  lines.push('', 'self time by origin:');
  for (const c of s.byCategory) {
    lines.push(`  ${c.category.padEnd(22)} ${c.ms.toFixed(1).padStart(9)} ms ${pct(c.share)}`);
  }
  lines.push('', "postern's own functions by inclusive time (callees included):");
  for (const e of s.posternInclusive) {
    lines.push(`  ${e.ms.toFixed(1).padStart(9)} ms ${pct(e.share)}  ${e.name}  (${e.where})`);
  }
  lines.push(
    '',
    'time charged to the innermost postern function on the stack (its self time + the library/runtime',
  );
  lines.push('code it called; top callees by self ms):');
  for (const e of s.chargedToPostern) {
    lines.push(
      `  ${e.ms.toFixed(1).padStart(9)} ms ${pct(e.share)}  ${e.name}  (${e.where})  ← ${e.callees}`,
    );
  }
  return lines.join('\n');
}

export function newestProfile(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const files = readdirSync(path)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(path, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (files.length === 0) throw new Error(`no .cpuprofile in ${path}`);
  return files[0];
}

export function summarizeFile(path: string, options: SummarizeOptions = {}): string {
  const file = newestProfile(path);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  return `${file}\n${formatSummary(summarize(profile, options))}`;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '25' },
      root: { type: 'string', default: REPO },
      'skip-ms': { type: 'string', default: '0' },
    },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile | dir> [--top N]\n');
    process.exit(2);
  }
  const options = { top: Number(values.top), root: resolve(values.root), skipMs: Number(values['skip-ms']) };
  process.stdout.write(`${summarizeFile(positionals[0], options)}\n`);
}
