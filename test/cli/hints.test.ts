/**
 * What the CLI tells a person to run next works in a clone, where `postern` is not on the PATH: every hint says
 * `npx postern …` (it finds the package's own bin, installed or not).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function postern(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/postern.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

/**
 * Every `postern <command>` the text asks to run: not a usage line's program name, not a `postern check:` label,
 * not the command named as what wrote a file.
 */
function hints(text: string): string[] {
  const re =
    /(?<![\w-]|usage: |npx |written by `)((?:npx )?postern (?:check|start|hash-password|explain|topology new|service new))\b(?!:)/g;
  return [...text.matchAll(re)].map((m) => m[1]);
}

describe('CLI hints', () => {
  const homes: TestHome[] = [];
  after(() => {
    for (const h of homes) h.remove();
  });

  it('say npx postern: scaffolds, a plain-text password, an unknown role', () => {
    const home = makeHome();
    homes.push(home);
    const written = postern(
      'topology',
      'new',
      'shop',
      '--home',
      home.dir,
      '--auth',
      'file',
      '--service',
      'HTTP=http://127.0.0.1:1',
    );
    assert.equal(written.code, 0, written.out);
    const unknown = postern('topology', 'new', 'x', '--home', home.dir, '--service', 'NOSUCHROLE=http://a');
    assert.notEqual(unknown.code, 0);
    home.write('conf/users.yaml', 'users:\n  dora:\n    password: hunter2\n');
    const check = postern('check', '--home', home.dir);
    assert.equal(check.code, 1, check.out);
    const texts = [written.out, unknown.out, check.out];
    const found = texts.flatMap(hints);
    assert.ok(found.length >= 3, found.join('\n'));
    for (const h of found) assert.match(h, /^npx postern /, `a hint without npx: ${h}`);
  });

  it('say npx postern in the files a scaffold writes', async () => {
    const home = makeHome();
    homes.push(home);
    home.write('conf/topologies/t.xml', topologyXml({ services: [] }));
    assert.equal(postern('topology', 'new', 'shop', '--home', home.dir, '--auth', 'file').code, 0);
    const { readFileSync } = await import('node:fs');
    const found = ['conf/topologies/shop.xml', 'conf/users.yaml'].flatMap((f) =>
      hints(readFileSync(join(home.dir, f), 'utf8')),
    );
    assert.ok(found.length >= 2, found.join('\n'));
    for (const h of found) assert.match(h, /^npx postern /, `a hint without npx: ${h}`);
  });
});
