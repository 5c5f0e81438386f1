/**
 * @module observability/batched-file
 * The destination of the per-request logs (access, audit): an append-only file written in batches from buffers
 * that are reused. A line is encoded into the batch being filled as it is logged (its string dies young); a batch
 * goes to the file when the next line does not fit, on the timer (every `periodicFlush` ms) or on `flush`, with one
 * asynchronous `write(2)` through libuv's thread pool straight from the batch's buffer; that buffer is then reused
 * for a later batch. So a busy gateway pays one thread-pool round per 64 KiB of lines, copies nothing after the
 * encoding, and its batches are neither JavaScript strings the garbage collector moves nor fresh buffers.
 *
 * What sonic-boom did before (pino's destination) and this keeps: lines in their order, whole; a line in its file
 * within `periodicFlush` ms; what waits written synchronously when the process exits (a batch whose asynchronous
 * write had begun is written again then, as sonic-boom's `flushSync` does: a line may appear twice in that case,
 * none is lost). What it does differently: a write error (a full disk) does not crash the gateway. The batch is
 * dropped and counted, the error is reported (on stderr by default, at most once a minute), and later batches are
 * tried again. While the file does not keep up (a stalled disk), at most `maxQueued` bytes of batches wait; the
 * lines beyond that are dropped and counted the same way, instead of growing memory without bound.
 *
 * Several worker processes append to one file: the file is opened with `O_APPEND`, each batch is one `write(2)` of
 * whole lines, and Linux appends a regular file's write whole, so batches of different processes do not interleave
 * inside a line.
 */
import { closeSync, openSync, write, writeSync } from 'node:fs';
import { basename } from 'node:path';

export interface BatchedFileOptions {
  /** Bytes per batch (each batch is one buffer of this size). Default 64 KiB. */
  batchBytes?: number;
  /** At most this many ms between a line and its write. Default 100. */
  periodicFlush?: number;
  /** Bytes of batches waiting for the file beyond which lines are dropped. Default 64 MiB. */
  maxQueued?: number;
  /** The file's mode when it is created. Default 0640. */
  mode?: number;
  /**
   * Told of a write that failed (its batch dropped) or of lines dropped because too much waits; `bytes` is what
   * was lost. Default: a line on stderr, at most once a minute per file.
   */
  onLoss?: (path: string, bytes: number, err: NodeJS.ErrnoException | undefined) => void;
}

/** What a batched file has done since it was opened. */
export interface BatchedFileStats {
  /** Batches given to `write(2)` (a partial write continues in the same batch). */
  batches: number;
  /** Bytes written to the file. */
  bytesWritten: number;
  /** Bytes dropped: failed writes and lines beyond `maxQueued`. */
  bytesLost: number;
  /** Batch buffers allocated so far (the rest were reused). */
  buffers: number;
}

interface Batch {
  buf: Buffer;
  /** Bytes of the batch. */
  len: number;
  /** Bytes already written. */
  done: number;
  /** A buffer of batchBytes to reuse after (a line larger than a batch gets a buffer of its own). */
  reuse: boolean;
}

/**
 * Bytes written and lost per file name (`access.log`, `audit.log`) by every batched file of the process, for the
 * metrics (`postern_log_bytes_written_total`, `postern_log_bytes_lost_total`): counters, kept when a file closes.
 */
const totals = new Map<string, { written: number; lost: number }>();

/** The bytes written and lost so far by this process's batched files, by file name. */
export function batchedFileTotals(): ReadonlyMap<
  string,
  { readonly written: number; readonly lost: number }
> {
  return totals;
}

/** Files flushed synchronously when the process exits (one 'exit' listener for all). */
const openFiles = new Set<BatchedFile>();
let exitHook = false;

function lossOnStderr(): (path: string, bytes: number, err: NodeJS.ErrnoException | undefined) => void {
  let last = 0;
  let unreported = 0;
  return (path, bytes, err) => {
    unreported += bytes;
    const now = Date.now();
    if (now - last < 60_000) return;
    last = now;
    process.stderr.write(
      `postern: ${unreported} bytes of log lines for ${path} dropped: ${err ? `${err.code ?? err.message}` : 'the file does not keep up'}\n`,
    );
    unreported = 0;
  };
}

export class BatchedFile {
  readonly path: string;
  readonly #fd: number;
  readonly #size: number;
  readonly #maxQueued: number;
  readonly #onLoss: NonNullable<BatchedFileOptions['onLoss']>;
  readonly #timer: NodeJS.Timeout;
  #buf: Buffer;
  #used = 0;
  /** Batches handed over and not yet written; the first is being written while `#writing`. */
  #queue: Batch[] = [];
  #queued = 0;
  #writing = false;
  /** Buffers of batches written, kept for the next ones (at most two). */
  #spare: Buffer[] = [];
  #drained: (() => void)[] = [];
  #ended = false;
  #closed = false;
  #stats: BatchedFileStats = { batches: 0, bytesWritten: 0, bytesLost: 0, buffers: 1 };
  readonly #totals: { written: number; lost: number };

  constructor(path: string, options: BatchedFileOptions = {}) {
    this.path = path;
    this.#size = options.batchBytes ?? 65_536;
    this.#maxQueued = options.maxQueued ?? 64 * 1024 * 1024;
    this.#onLoss = options.onLoss ?? lossOnStderr();
    this.#fd = openSync(path, 'a', options.mode ?? 0o640);
    const name = basename(path);
    const total = totals.get(name) ?? { written: 0, lost: 0 };
    totals.set(name, total);
    this.#totals = total;
    this.#buf = Buffer.allocUnsafeSlow(this.#size);
    this.#timer = setInterval(() => this.#handOver(), options.periodicFlush ?? 100);
    this.#timer.unref();
    openFiles.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const file of openFiles) file.flushSync();
      });
    }
  }

  /** Appends `line` (whole lines, each ending in a newline) to the batch being filled. Always true. */
  write(line: string): boolean {
    if (this.#ended) return true;
    const room = this.#size - this.#used;
    // A UTF-16 unit is at most 3 bytes of UTF-8: most lines fit without being measured.
    if (line.length * 3 <= room) {
      this.#used += this.#buf.write(line, this.#used);
      return true;
    }
    const bytes = Buffer.byteLength(line);
    if (bytes <= room) {
      this.#used += this.#buf.write(line, this.#used);
      return true;
    }
    this.#handOver();
    if (bytes <= this.#size) {
      this.#used = this.#buf.write(line, 0);
    } else {
      this.#enqueue({ buf: Buffer.from(line), len: bytes, done: 0, reuse: false });
    }
    return true;
  }

  /** Writes what is gathered; `cb` once everything logged so far is in the file (or lost, and reported). */
  flush(cb?: (err?: Error) => void): void {
    this.#handOver();
    if (cb === undefined) return;
    if (!this.#writing && this.#queue.length === 0) process.nextTick(cb);
    else this.#drained.push(() => cb());
  }

  /**
   * Writes everything waiting now, synchronously (at exit): the batches handed over, then the one being filled,
   * which is not handed to the thread pool first (a pool thread could still write it before the process ends).
   */
  flushSync(): void {
    if (this.#closed) return;
    const pending = this.#queue;
    if (this.#used > 0) pending.push({ buf: this.#buf, len: this.#used, done: 0, reuse: false });
    this.#queue = [];
    this.#queued = 0;
    for (const batch of pending) {
      try {
        while (batch.done < batch.len) {
          const n = writeSync(this.#fd, batch.buf, batch.done, batch.len - batch.done);
          batch.done += n;
          this.#wrote(n);
        }
      } catch (err) {
        this.#lose(batch.len - batch.done, err as NodeJS.ErrnoException);
      }
    }
    this.#used = 0;
  }

  /** Writes what waits, then closes the file; later lines are ignored. */
  end(): void {
    if (this.#ended) return;
    this.#handOver();
    this.#ended = true;
    clearInterval(this.#timer);
    if (!this.#writing) this.#close();
  }

  stats(): BatchedFileStats {
    return { ...this.#stats };
  }

  #handOver(): void {
    if (this.#used === 0) return;
    const batch: Batch = { buf: this.#buf, len: this.#used, done: 0, reuse: true };
    const spare = this.#spare.pop();
    if (spare) this.#buf = spare;
    else {
      this.#buf = Buffer.allocUnsafeSlow(this.#size);
      this.#stats.buffers++;
    }
    this.#used = 0;
    this.#enqueue(batch);
  }

  #enqueue(batch: Batch): void {
    if (this.#queued + batch.len > this.#maxQueued) {
      this.#lose(batch.len, undefined);
      this.#keep(batch);
      return;
    }
    this.#queue.push(batch);
    this.#queued += batch.len;
    if (!this.#writing) this.#next();
  }

  #next(): void {
    const batch = this.#queue[0];
    if (batch === undefined) {
      this.#writing = false;
      const drained = this.#drained;
      this.#drained = [];
      for (const cb of drained) cb();
      if (this.#ended) this.#close();
      return;
    }
    this.#writing = true;
    this.#stats.batches++;
    this.#writeFrom(batch);
  }

  #writeFrom(batch: Batch): void {
    write(this.#fd, batch.buf, batch.done, batch.len - batch.done, null, (err, n) => {
      // flushSync (at exit) may have written this batch already and emptied the queue.
      if (this.#queue[0] !== batch) return this.#next();
      if (err) this.#lose(batch.len - batch.done, err);
      else {
        batch.done += n;
        this.#wrote(n);
        if (batch.done < batch.len) return this.#writeFrom(batch);
      }
      this.#queue.shift();
      this.#queued -= batch.len;
      this.#keep(batch);
      this.#next();
    });
  }

  #keep(batch: Batch): void {
    if (batch.reuse && this.#spare.length < 2) this.#spare.push(batch.buf);
  }

  /** Counts bytes the file took, in this file's stats and in the process's totals by file name. */
  #wrote(bytes: number): void {
    this.#stats.bytesWritten += bytes;
    this.#totals.written += bytes;
  }

  #lose(bytes: number, err: NodeJS.ErrnoException | undefined): void {
    this.#stats.bytesLost += bytes;
    this.#totals.lost += bytes;
    this.#onLoss(this.path, bytes, err);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    openFiles.delete(this);
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
  }
}
