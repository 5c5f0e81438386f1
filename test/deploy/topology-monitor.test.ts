/**
 * DirectoryMonitor on its own: what it reports for files created, changed and deleted, and that a file still
 * being written is reported once, after its last bytes (a scan between an editor's truncate and its write would
 * otherwise deploy an empty or half file, refuse it and log it as broken).
 */
import assert from 'node:assert/strict';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DirectoryMonitor, type FileChange } from '../../src/deploy/topology-monitor.ts';

describe('DirectoryMonitor', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'postern-monitor-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A monitor on a fresh subdirectory that records each report with the reported files' text at that moment. */
  const monitor = (name: string, options: { settleMs?: number; debounceMs?: number } = {}) => {
    const sub = join(dir, name);
    const reports: { kind: FileChange['kind']; file: string; text?: string }[][] = [];
    const m = new DirectoryMonitor({
      dir: sub,
      extensions: ['.xml'],
      debounceMs: options.debounceMs ?? 60,
      ...(options.settleMs === undefined ? {} : { settleMs: options.settleMs }),
      onChanges: (changes) => {
        reports.push(
          changes.map((c) => ({
            ...c,
            text: c.kind === 'deleted' ? undefined : readFileSync(c.file, 'utf8'),
          })),
        );
      },
    });
    return { m, sub, reports };
  };

  it('reports created, changed and deleted files, and nothing when nothing moved', async () => {
    const { m, sub, reports } = monitor('plain');
    m.prime();
    await m.scan();
    assert.equal(reports.length, 0, 'a directory that does not exist is empty');
    mkdirSync(sub);
    const file = join(sub, 'a.xml');
    writeFileSync(file, '<topology/>');
    writeFileSync(join(sub, 'ignored.txt'), 'x');
    await m.scan();
    assert.deepEqual(reports.at(-1), [{ kind: 'created', file, text: '<topology/>' }]);
    await m.scan();
    assert.equal(reports.length, 1, 'an unchanged file is not reported again');
    writeFileSync(file, '<topology><gateway/></topology>');
    await m.scan();
    assert.deepEqual(reports.at(-1), [{ kind: 'changed', file, text: '<topology><gateway/></topology>' }]);
    unlinkSync(file);
    await m.scan();
    assert.deepEqual(reports.at(-1), [{ kind: 'deleted', file, text: undefined }]);
    assert.equal(reports.length, 3);
    m.close();
  });

  it('reports a file caught mid-write once, with the bytes written last', async () => {
    const { m, sub, reports } = monitor('midwrite', { debounceMs: 200 });
    mkdirSync(sub);
    const file = join(sub, 'sandbox.xml');
    writeFileSync(file, '<topology><gateway/></topology>');
    m.prime();
    // The editor truncates, the scan starts, then the rest arrives in two writes 20 ms apart.
    writeFileSync(file, '');
    const scanned = m.scan();
    await new Promise((r) => setTimeout(r, 20));
    appendFileSync(file, '<topology>');
    await new Promise((r) => setTimeout(r, 20));
    appendFileSync(file, '<gateway><provider/></gateway></topology>');
    await scanned;
    assert.deepEqual(reports, [
      [{ kind: 'changed', file, text: '<topology><gateway><provider/></gateway></topology>' }],
    ]);
    m.close();
  });

  it('reports a file that never stands still once settleMs has passed', async () => {
    const { m, sub, reports } = monitor('busy', { settleMs: 300, debounceMs: 40 });
    mkdirSync(sub);
    const file = join(sub, 'busy.xml');
    m.prime();
    let n = 0;
    writeFileSync(file, '<x/>');
    const writer = setInterval(() => appendFileSync(file, `<x${n++}/>`), 10);
    try {
      const started = Date.now();
      await m.scan();
      const took = Date.now() - started;
      assert.equal(reports.length, 1);
      assert.equal(reports[0][0].kind, 'created');
      assert.ok(took >= 300, `the scan waited for the file to settle (${took} ms)`);
    } finally {
      clearInterval(writer);
      m.close();
    }
  });
});
