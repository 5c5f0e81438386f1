/**
 * Every shell block of README.md marked `<!-- runnable -->` runs as written against a started sample home (a real
 * `postern start` on a copy of conf/, on a free port: `localhost:8443` in the commands is that port), from the
 * repository root with `POSTERN_HOME` naming the copy, and exits 0 with what the README says it prints.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type PosternProcess, startPostern } from './helpers/postern-process.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const README = readFileSync(join(REPO, 'README.md'), 'utf8');

/** The runnable blocks, in order. */
const blocks = [...README.matchAll(/<!-- runnable -->\n```sh\n([\s\S]*?)```/g)].map((m) => m[1]);

/** What each block must print, found by a command it holds (the first key that matches). */
const EXPECTED: [RegExp, RegExp[]][] = [
  [/postern topology new shop/, [/wrote .*conf\/topologies\/shop\.xml/, /postern check: no errors/]],
  [/admin\/api\/v1\/topologies/, [/"topologies":/, /"outcome":\s*"proxied"/]],
  [
    /sandbox\/http\/items/,
    [
      /"items":/,
      /HTTP\/(1\.1|2) 201 /,
      /HTTP\/(1\.1|2) 401 /,
      /www-authenticate: BASIC realm="application"/i,
    ],
  ],
  [/echo\/ws hello/, [/^hello$/m]],
  [
    /websocket\/publish/,
    [/"accepted":1/, /"groups_joined":\["jobs-1"\]/, /"status":"running","group_name":"jobs"/],
  ],
  [/readyz/, [/"status":"ready"/]],
];

describe('README runnable blocks', () => {
  let home: string;
  let postern: PosternProcess;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'postern-readme-'));
    cpSync(join(REPO, 'conf'), join(home, 'conf'), { recursive: true });
    postern = await startPostern(home);
  });

  after(async () => {
    await postern?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('are there, and each has what it must print', () => {
    assert.ok(blocks.length >= EXPECTED.length, `${blocks.length} runnable blocks`);
    for (const b of blocks)
      assert.ok(
        EXPECTED.some(([k]) => k.test(b)),
        `no expectation for:\n${b}`,
      );
  });

  for (const [i, block] of blocks.entries()) {
    it(`block ${i + 1}: ${block.split('\n').find((l) => l && !l.startsWith('#'))}`, () => {
      const script = block.replaceAll('localhost:8443', `localhost:${postern.port}`);
      const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', script], {
        cwd: REPO,
        env: { ...process.env, POSTERN_HOME: home, TMPDIR: home },
        encoding: 'utf8',
        timeout: 120_000,
      });
      const out = `${r.stdout}${r.stderr}`;
      assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}: ${out}`);
      const expected = EXPECTED.find(([k]) => k.test(block))?.[1] ?? [];
      for (const e of expected) assert.match(out, e, out);
    });
  }
});
