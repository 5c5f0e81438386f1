/**
 * The per-request logs (access, audit) are written in batches: the lines are gathered in front of sonic-boom and
 * handed to it one batch at a time (sonic-boom's own batching measured the whole batch again on every line). A
 * line still reaches its file on `flush`, within the 100 ms timer, and when the process exits.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { BATCHED_LOG, createAccessLog, gatherLines } from '../../src/observability/logger.ts';

const logger = resolve(import.meta.dirname, '../../src/observability/logger.ts');

describe('batched log files', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'postern-batched-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const linesOf = (file: string) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);

  it('hands sonic-boom one string per batch, not one per line', async () => {
    const sonic = pino.destination({ dest: join(dir, 'gather.log'), sync: false, ...BATCHED_LOG });
    const handed: number[] = [];
    const write = sonic.write.bind(sonic);
    sonic.write = (s: string) => {
      handed.push(s.length);
      return write(s);
    };
    const stream = gatherLines(sonic, BATCHED_LOG.minLength);
    const line = `${JSON.stringify({ type: 'access', path: '/gateway/t/x'.padEnd(80, 'x') })}\n`;
    for (let i = 0; i < 1000; i++) stream.write(line);
    // 1000 lines of ~100 bytes make 12 batches of at least 8 KiB; the rest waits for the timer or a flush.
    const perBatch = Math.ceil(BATCHED_LOG.minLength / line.length);
    assert.equal(handed.length, Math.floor(1000 / perBatch));
    assert.ok(handed.every((n) => n >= BATCHED_LOG.minLength));
    await new Promise<void>((ok, fail) => stream.flush((err) => (err ? fail(err) : ok())));
    assert.equal(linesOf('gather.log').length, 1000);
    stream.end();
  });

  it('writes lines of any size and alphabet whole and in order', async () => {
    const sonic = pino.destination({ dest: join(dir, 'mixed.log'), sync: false, ...BATCHED_LOG });
    const stream = gatherLines(sonic, BATCHED_LOG.minLength);
    const sent: string[] = [];
    for (let i = 0; i < 400; i++) {
      // Short and long, one-byte and multi-byte (3-byte CJK, 4-byte emoji as surrogate pairs): sonic-boom counts
      // a batch in bytes, the gathering in UTF-16 units; every 97th line larger than two batches.
      const text =
        i % 97 === 0
          ? 'ü'.repeat(20_000)
          : i % 50 === 0
            ? '路'.repeat(3500 + (i % 3) * 1200)
            : `${'路'.repeat(i % 13)}${'😀'.repeat(i % 5)}${'x'.repeat(i * 7)}`;
      sent.push(text);
      stream.write(`${JSON.stringify({ i, text })}\n`);
    }
    await new Promise<void>((ok, fail) => stream.flush((err) => (err ? fail(err) : ok())));
    const got = linesOf('mixed.log').map((l) => JSON.parse(l) as { i: number; text: string });
    assert.deepEqual(
      got.map((l) => l.i),
      sent.map((_, i) => i),
    );
    assert.ok(got.every((l) => l.text === sent[l.i]));
    stream.end();
  });

  it('writes nothing on its 100 ms timer while there is nothing to write, and a line as soon as there is', async () => {
    const sonic = pino.destination({ dest: join(dir, 'idle.log'), sync: false, ...BATCHED_LOG });
    await new Promise((ok) => sonic.once('ready', ok));
    const stream = gatherLines(sonic, BATCHED_LOG.minLength);
    const writes: number[] = [];
    stream.on('write', (n: number) => writes.push(n));
    // Four of the timer's periods with nothing to log: sonic-boom alone wrote an empty string in each.
    await new Promise((r) => setTimeout(r, 450));
    assert.deepEqual(writes, []);
    stream.write('{"n":1}\n');
    for (let i = 0; i < 250 && writes.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(writes, [8]);
    assert.deepEqual(linesOf('idle.log'), ['{"n":1}']);
    await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(writes, [8]);
    stream.end();
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
