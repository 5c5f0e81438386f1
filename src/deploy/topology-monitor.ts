/**
 * @module deploy/topology-monitor
 * Watches a directory and reports which files were created, changed or deleted. Knox polls every 5 s;
 * postern listens to the kernel (fs.watch, debounced) and also rescans once a second,
 * because watch events can be lost (editors that rename over a file, network file systems). A file counts as
 * changed when its modification time or size moved, or — with `requireContentChange` — only when its bytes did
 * (Knox's `gateway.topology.redeploy.requires.changes`).
 *
 * A file is reported once it stands still: when a scan finds files created or changed, it looks again after
 * `debounceMs` and reports only when no file's time or size moved meanwhile (for at most `settleMs`). A file
 * caught between an editor's truncate and its write, or half copied, is then not deployed (and refused, and
 * logged as broken) before its last bytes are there.
 *
 * Only a file that is not there is deleted: a directory or a file that cannot be read for another reason (EMFILE
 * when the process is out of descriptors under load, EIO, ENOTDIR…) changes nothing, and the next scan looks
 * again, so a transient error never undeploys a topology that serves. A directory that does not exist is empty.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, readdirSync, readFileSync, statSync, watch } from 'node:fs';
import { extname, join } from 'node:path';

export interface FileChange {
  kind: 'created' | 'changed' | 'deleted';
  file: string;
}

interface Seen {
  mtimeMs: number;
  size: number;
  hash?: string;
}

export interface MonitorOptions {
  dir: string;
  extensions: readonly string[];
  onChanges: (changes: FileChange[]) => void | Promise<void>;
  requireContentChange?: boolean;
  pollMs?: number;
  debounceMs?: number;
  /** How long a scan waits at most for changed files to stand still before it reports them anyway. */
  settleMs?: number;
}

export class DirectoryMonitor {
  readonly #opts: Required<MonitorOptions>;
  readonly #seen = new Map<string, Seen>();
  #watcher?: FSWatcher;
  #timer?: NodeJS.Timeout;
  #poll?: NodeJS.Timeout;
  #running: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: MonitorOptions) {
    this.#opts = { requireContentChange: false, pollMs: 1000, debounceMs: 100, settleMs: 2000, ...options };
  }

  /** Records the current files without reporting them (they were deployed at start-up). */
  prime(): string[] {
    const files = this.#list() ?? new Map<string, Seen>();
    for (const [file, seen] of files) this.#seen.set(file, seen);
    return [...files.keys()];
  }

  start(): void {
    try {
      this.#watcher = watch(this.#opts.dir, { persistent: false }, () => this.#schedule());
      this.#watcher.on('error', () => {});
    } catch {
      // The directory may not exist yet; polling still notices when it appears.
    }
    this.#poll = setInterval(() => this.#schedule(), this.#opts.pollMs);
    this.#poll.unref();
  }

  /** Rescans now and resolves when the resulting changes have been handled. */
  scan(): Promise<void> {
    this.#running = this.#running.then(() => this.#scan());
    return this.#running;
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#poll) clearInterval(this.#poll);
  }

  #schedule(): void {
    if (this.#closed || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.scan();
    }, this.#opts.debounceMs);
    this.#timer.unref();
  }

  async #scan(): Promise<void> {
    if (this.#closed) return;
    let now = this.#list();
    // The directory could not be read: nothing is known to have changed.
    if (!now) return;
    // Files being written: wait until they stand still (bounded), then compare what they became.
    const until = Date.now() + this.#opts.settleMs;
    while (this.#anyMoved(now) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, this.#opts.debounceMs));
      if (this.#closed) return;
      const later = this.#list();
      if (!later) return;
      const still = sameFiles(now, later);
      now = later;
      if (still) break;
    }
    const changes: FileChange[] = [];
    for (const [file, seen] of now) {
      const before = this.#seen.get(file);
      if (!before) changes.push({ kind: 'created', file });
      else if (moved(before, seen)) {
        if (this.#opts.requireContentChange) {
          seen.hash = hashOf(file);
          before.hash ??= seen.hash;
          if (seen.hash === before.hash) {
            this.#seen.set(file, seen);
            continue;
          }
        }
        changes.push({ kind: 'changed', file });
      }
      this.#seen.set(file, seen);
    }
    for (const file of [...this.#seen.keys()]) {
      if (!now.has(file)) {
        this.#seen.delete(file);
        changes.push({ kind: 'deleted', file });
      }
    }
    if (changes.length > 0) await this.#opts.onChanges(changes);
  }

  /** Whether a file of the listing is new or has another time or size than when last reported. */
  #anyMoved(now: Map<string, Seen>): boolean {
    for (const [file, seen] of now) {
      const before = this.#seen.get(file);
      if (!before || moved(before, seen)) return true;
    }
    return false;
  }

  /** The files now, or undefined when the directory could not be read (for another reason than not existing). */
  #list(): Map<string, Seen> | undefined {
    const out = new Map<string, Seen>();
    let names: string[];
    try {
      names = readdirSync(this.#opts.dir);
    } catch (err) {
      return isMissing(err) ? out : undefined;
    }
    for (const name of names) {
      if (!this.#opts.extensions.includes(extname(name).toLowerCase())) continue;
      const file = join(this.#opts.dir, name);
      try {
        const st = statSync(file);
        if (!st.isFile()) continue;
        const seen: Seen = { mtimeMs: st.mtimeMs, size: st.size };
        if (this.#opts.requireContentChange) seen.hash = hashOf(file);
        out.set(file, seen);
      } catch (err) {
        // Deleted between readdir and stat: it is simply not there. Unreadable for now: as it was.
        const before = this.#seen.get(file);
        if (!isMissing(err) && before) out.set(file, before);
      }
    }
    return out;
  }
}

function hashOf(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/** A file's modification time or size is not what it was. */
function moved(before: Seen, now: Seen): boolean {
  return before.mtimeMs !== now.mtimeMs || before.size !== now.size;
}

/** Two listings name the same files with the same times and sizes. */
function sameFiles(a: Map<string, Seen>, b: Map<string, Seen>): boolean {
  if (a.size !== b.size) return false;
  for (const [file, seen] of a) {
    const other = b.get(file);
    if (!other || moved(other, seen)) return false;
  }
  return true;
}

/** The error says the path is not there (as opposed to not readable right now). */
function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}
