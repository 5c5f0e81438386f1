/**
 * The per-request logs (access, audit) are written in batches (observability/batched-file): lines encoded into
 * reused buffers, one write per 64 KiB. A line reaches its file on `flush`, within the 100 ms timer, and when the
 * process exits; a write the file refuses, or lines beyond what may wait, are dropped and counted, not fatal.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BatchedFile } from '../../src/observability/batched-file.ts';
import { BATCHED_LOG, createAccessLog } from '../../src/observability/logger.ts';
import { GatewayMetrics } from '../../src/observability/metrics.ts';

const logger = resolve(import.meta.dirname, '../../src/observability/logger.ts');

describe('batched log files', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'postern-batched-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const linesOf = (file: string) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);

  const flushed = (file: BatchedFile) => new Promise<void>((ok) => file.flush(() => ok()));
  const noLoss = () => assert.fail('no line should be lost');

  it('writes one batch per 64 KiB of lines, from buffers it reuses', async () => {
    const file = new BatchedFile(join(dir, 'batches.log'), { ...BATCHED_LOG, onLoss: noLoss });
    const lineOf = (i: number) =>
      `${JSON.stringify({ type: `a${String(i).padStart(4, '0')}`, path: '/gateway/t/x'.padEnd(80, 'x') })}\n`;
    // Five bursts of 1,000 lines, each flushed: a batch when 64 KiB are gathered and one at the flush.
    for (let burst = 0; burst < 5; burst++) {
      for (let i = burst * 1000; i < (burst + 1) * 1000; i++) file.write(lineOf(i));
      await flushed(file);
    }
    const size = lineOf(0).length;
    const perBatch = Math.floor(BATCHED_LOG.batchBytes / size);
    const stats = file.stats();
    assert.equal(stats.batches, 5 * Math.ceil(1000 / perBatch));
    assert.equal(stats.bytesWritten, 5000 * size);
    assert.equal(stats.bytesLost, 0);
    // One batch being filled, one being written, one spare: not a buffer per batch.
    assert.ok(stats.buffers <= 3, `${stats.buffers} buffers for ${stats.batches} batches`);
    const lines = linesOf('batches.log');
    assert.equal(lines.length, 5000);
    assert.ok(lines.every((l, i) => JSON.parse(l).type === `a${String(i).padStart(4, '0')}`));
    file.end();
  });

  it('writes lines of any size and alphabet whole and in order', async () => {
    const file = new BatchedFile(join(dir, 'mixed.log'), { ...BATCHED_LOG, onLoss: noLoss });
    const sent: string[] = [];
    for (let i = 0; i < 400; i++) {
      // Short and long, one-byte and multi-byte (2-byte, 3-byte CJK, 4-byte emoji as surrogate pairs): a batch is
      // counted in bytes, a string in UTF-16 units; every 97th line larger than a batch, some lines ending just
      // past a batch's end.
      const text =
        i % 97 === 0
          ? 'ü'.repeat(40_000)
          : i % 50 === 0
            ? '路'.repeat(7000 + (i % 3) * 1200)
            : `${'路'.repeat(i % 13)}${'😀'.repeat(i % 5)}${'x'.repeat(i * 7)}`;
      sent.push(text);
      file.write(`${JSON.stringify({ i, text })}\n`);
    }
    await flushed(file);
    const got = linesOf('mixed.log').map((l) => JSON.parse(l) as { i: number; text: string });
    assert.deepEqual(
      got.map((l) => l.i),
      sent.map((_, i) => i),
    );
    assert.ok(got.every((l) => l.text === sent[l.i]));
    file.end();
  });

  it('writes nothing on its 100 ms timer while there is nothing to write, and a line as soon as there is', async () => {
    const file = new BatchedFile(join(dir, 'idle.log'), { ...BATCHED_LOG, onLoss: noLoss });
    // Four of the timer's periods with nothing to log.
    await new Promise((r) => setTimeout(r, 450));
    assert.equal(file.stats().batches, 0);
    file.write('{"n":1}\n');
    for (let i = 0; i < 250 && file.stats().bytesWritten === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(file.stats(), { batches: 1, bytesWritten: 8, bytesLost: 0, buffers: 2 });
    assert.deepEqual(linesOf('idle.log'), ['{"n":1}']);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(file.stats().batches, 1);
    file.end();
    file.write('{"n":2}\n');
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(linesOf('idle.log'), ['{"n":1}'], 'a line after end is not written');
  });

  it('drops and reports a batch the file refuses (a full disk) and goes on', async () => {
    const lost: [number, string | undefined][] = [];
    const file = new BatchedFile('/dev/full', {
      ...BATCHED_LOG,
      onLoss: (_path, bytes, err) => lost.push([bytes, err?.code]),
    });
    for (let i = 0; i < 1000; i++) file.write(`${JSON.stringify({ i, pad: 'p'.repeat(100) })}\n`);
    await flushed(file);
    const bytes = lost.reduce((sum, [b]) => sum + b, 0);
    assert.ok(lost.length >= 2, 'every batch is reported');
    assert.ok(lost.every(([, code]) => code === 'ENOSPC'));
    assert.equal(file.stats().bytesLost, bytes);
    assert.equal(file.stats().bytesWritten, 0);
    // Later lines are tried again.
    file.write('{"again":true}\n');
    await flushed(file);
    assert.equal(file.stats().bytesLost, bytes + 15);
    file.end();
    // The loss is in the metrics too, by file name.
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    const text = await metrics.registry.metrics();
    metrics.close();
    assert.match(text, new RegExp(`^postern_log_bytes_lost_total\\{file="full"\\} ${bytes + 15}$`, 'm'));
    assert.match(text, /^postern_log_bytes_written_total\{file="full"\} 0$/m);
  });

  it('holds at most maxQueued bytes while the file does not keep up, and drops the rest', async () => {
    const fifo = join(dir, 'stalled.fifo');
    execFileSync('mkfifo', [fifo]);
    // A reader that reads nothing until the end: the pipe fills (64 KiB) and the write blocks in the thread pool.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const lost: (string | undefined)[] = [];
    const file = new BatchedFile(fifo, {
      batchBytes: 4096,
      maxQueued: 32 * 1024,
      onLoss: (_path, _bytes, err) => lost.push(err?.code),
    });
    const line = `${'x'.repeat(1023)}\n`;
    let sent = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 16; i++, sent++) file.write(line);
      file.flush();
      await new Promise((r) => setTimeout(r, 5));
    }
    const stalled = file.stats();
    assert.ok(stalled.bytesLost > 0, 'lines beyond maxQueued are dropped');
    assert.ok(lost.length > 0 && lost.every((code) => code === undefined));
    const done = flushed(file);
    let got = 0;
    const chunk = Buffer.alloc(65536);
    for (let i = 0; i < 500; i++) {
      try {
        got += readSync(reader, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
      if (
        file.stats().bytesWritten + file.stats().bytesLost === sent * 1024 &&
        got === file.stats().bytesWritten
      ) {
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await done;
    const end = file.stats();
    assert.equal(end.bytesWritten + end.bytesLost, sent * 1024, 'every line written or counted as lost');
    assert.equal(got, end.bytesWritten);
    assert.ok(end.bytesWritten <= 64 * 1024 + 32 * 1024 + 4096, 'at most the pipe, the queue and one batch');
    file.end();
    closeSync(reader);
  });

  it('writes the lines gathered within the 100 ms timer, in order, without a flush', async () => {
    const log = createAccessLog({ logDir: join(dir, 'timer'), level: 'info' });
    for (let i = 0; i < 5; i++) log.info({ type: 'access', n: i }, 'access');
    const file = join(dir, 'timer', 'access.log');
    let lines: string[] = [];
    for (let i = 0; i < 100 && lines.length < 5; i++) {
      await new Promise((r) => setTimeout(r, 20));
      lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    }
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).n),
      [0, 1, 2, 3, 4],
    );
  });

  it('writes the lines gathered when the process exits', () => {
    const logDir = join(dir, 'exit');
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createAccessLog } from ${JSON.stringify(logger)};
         const log = createAccessLog({ logDir: ${JSON.stringify(logDir)}, level: 'info' });
         // Wait until the file is open, as a gateway's first request does; then exit with the lines gathered.
         setTimeout(() => { for (let i = 0; i < 7; i++) log.info({ type: 'access', n: i }, 'access'); process.exit(0); }, 200);`,
      ],
      { env: { ...process.env, POSTERN_ACCESS_LOG: 'info' } },
    );
    assert.deepEqual(
      readFileSync(join(logDir, 'access.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).n),
      [0, 1, 2, 3, 4, 5, 6],
    );
  });
});
