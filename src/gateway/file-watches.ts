/**
 * @module gateway/file-watches
 * Files a deployment reads besides its topology (a file realm's users file), watched as topologies are: the
 * kernel's events (fs.watch on the file's directory, so editors that rename over the file are seen), and a stat
 * once a second because such events can be lost. A watcher is called when the file's bytes changed (a touch alone
 * does not count), and on SIGHUP whatever changed ({@link FileWatches.reloadAll}). What the reload found is
 * logged here: each problem at its `file:line:column`, then one line saying whether the new content was taken or
 * the previous one kept.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, statSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { FileReload } from '../spi/index.ts';

interface Watched {
  file: string;
  reload: () => FileReload;
  stamp: string;
  digest: string;
}

export class FileWatches {
  readonly #watched = new Set<Watched>();
  readonly #dirWatchers = new Map<string, { watcher: FSWatcher; users: number }>();
  readonly #report: (file: string, result: FileReload) => void;
  #poll: NodeJS.Timeout | undefined;
  /** Watching the file system (after {@link start}); before, and without it, only SIGHUP rereads. */
  #live = false;
  #closed = false;

  constructor(report: (file: string, result: FileReload) => void) {
    this.#report = report;
  }

  /** Calls `reload` whenever the file's bytes change; returns the function that stops watching. */
  watch(file: string, reload: () => FileReload): () => void {
    const path = resolve(file);
    const entry: Watched = { file: path, reload, stamp: stampOf(path), digest: digestOf(path) };
    if (this.#closed) return () => {};
    this.#watched.add(entry);
    if (this.#live) this.#watchDir(dirname(path));
    return () => {
      if (!this.#watched.delete(entry)) return;
      if (this.#live) this.#unwatchDir(dirname(path));
    };
  }

  /** Starts watching the file system (the gateway's `watch` option). */
  start(): void {
    if (this.#live || this.#closed) return;
    this.#live = true;
    for (const entry of this.#watched) this.#watchDir(dirname(entry.file));
    this.#poll = setInterval(() => this.#check(false), 1000).unref();
  }

  /** Rereads every watched file whose bytes changed (SIGHUP). */
  reloadAll(): void {
    this.#check(true);
  }

  close(): void {
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    for (const { watcher } of this.#dirWatchers.values()) watcher.close();
    this.#dirWatchers.clear();
    this.#watched.clear();
  }

  /** `force`: compare the bytes even when size and time look the same (a same-size edit within a tick). */
  #check(force: boolean, name?: string): void {
    for (const entry of [...this.#watched]) {
      if (name !== undefined && basename(entry.file) !== name) continue;
      const stamp = stampOf(entry.file);
      if (!force && name === undefined && stamp === entry.stamp) continue;
      entry.stamp = stamp;
      const digest = digestOf(entry.file);
      if (digest === entry.digest) continue;
      entry.digest = digest;
      let result: FileReload;
      try {
        result = entry.reload();
      } catch (err) {
        result = { ok: false, diagnostics: [], summary: `rereading failed: ${(err as Error).message}` };
      }
      this.#report(entry.file, result);
    }
  }

  #watchDir(dir: string): void {
    const known = this.#dirWatchers.get(dir);
    if (known) {
      known.users++;
      return;
    }
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        // Debounced by the digest: an event for a file whose bytes did not change calls nobody.
        setTimeout(() => this.#check(false, name === null ? undefined : String(name)), 50).unref();
      });
      watcher.on('error', () => {});
      this.#dirWatchers.set(dir, { watcher, users: 1 });
    } catch {
      // The directory may not exist; the poll still notices the file appearing.
    }
  }

  #unwatchDir(dir: string): void {
    const known = this.#dirWatchers.get(dir);
    if (!known) return;
    if (--known.users > 0) return;
    known.watcher.close();
    this.#dirWatchers.delete(dir);
  }
}

function stampOf(file: string): string {
  try {
    const st = statSync(file);
    return `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return 'missing';
  }
}

function digestOf(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return 'missing';
  }
}
