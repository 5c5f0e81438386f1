/**
 * What `postern start` prints: on a terminal, human lines (pino-pretty), never raw JSON; in a pipe or a file,
 * JSON lines for log collectors (`POSTERN_LOG_FORMAT` overrides either); an internal error is logged without an
 * empty stack; and the start line says what the listener is bound to.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

const THROWER = `export function register(registry) {
  registry.provider({ role: 'authorization', name: 'Thrower', create() {
    return () => { throw new Error('a plugin bug', { cause: new Error('deeper') }); };
  } });
}
`;

function home(site: Record<string, string | number | boolean> = {}): TestHome {
  const h = makeHome({ 'postern.plugins': './thrower.mjs', ...site });
  h.write('thrower.mjs', THROWER);
  h.write('conf/topologies/broken.xml', '<topology><gateway>\n  <provider>');
  h.write(
    'conf/topologies/t.xml',
    topologyXml({
      providers: [
        { role: 'authentication', name: 'Anonymous' },
        { role: 'authorization', name: 'Thrower' },
      ],
      services: [{ role: 'HTTP', urls: ['http://127.0.0.1:1'] }],
    }),
  );
  return h;
}

/**
 * Starts postern (through `script` for a terminal), asks for a 500, stops it; returns what it printed. With
 * `until`, it is stopped once its output matches (at most 30 s later): `script` kills what it runs 2 s after its
 * own SIGTERM, and a line still on its way to a terminal (pino-pretty formats in a thread of its own) is lost
 * then on a loaded machine.
 */
async function run(
  h: TestHome,
  options: { tty?: boolean; env?: Record<string, string>; until?: RegExp } = {},
): Promise<string> {
  const env = { ...process.env, ...options.env };
  const args = [CLI, 'start', '--home', h.dir, '--port', '0'];
  const child = options.tty
    ? spawn('script', ['-qfec', [process.execPath, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    out += c;
  });
  child.stderr!.on('data', (c: Buffer) => {
    out += c;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      const m = /postern listening on (https?:\/\/\S+) /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
  });
  const res = await request(`${url}/t/http/x`);
  await res.body.dump();
  assert.equal(res.statusCode, 500);
  const printed = Date.now() + 30_000;
  while (options.until && !options.until.test(out.replace(/\x1b\[[0-9;]*m/g, '')) && Date.now() < printed) {
    await new Promise((r) => setTimeout(r, 50));
  }
  // The error line is written asynchronously; it is there once the process has stopped.
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  return out;
}

describe('console output of postern start', () => {
  const homes: TestHome[] = [];
  after(() => {
    for (const h of homes) h.remove();
  });

  it('prints human lines on a terminal, not JSON', async (t) => {
    if (spawnSync('script', ['--version']).status !== 0) return t.skip('util-linux script is not installed');
    const h = home();
    homes.push(h);
    const out = (await run(h, { tty: true, until: /Internal gateway error[\s\S]*a plugin bug/ })).replace(
      /\x1b\[[0-9;]*m/g,
      '',
    );
    assert.doesNotMatch(out, /^\{"level"/m, out);
    assert.match(out, /^\[\d\d:\d\d:\d\d\.\d{3}\] ERROR: .*broken\.xml:\d+:\d+: /m, out);
    assert.match(out, /^\[\d\d:\d\d:\d\d\.\d{3}\] ERROR: Internal gateway error \{"reqId":/m, out);
    assert.match(out, /"message": "a plugin bug"/);
  });

  it('prints JSON lines in a pipe, and logs an internal error without an empty stack', async () => {
    const h = home();
    homes.push(h);
    const out = await run(h);
    const json = out.split('\n').filter((l) => l.startsWith('{'));
    assert.ok(json.length >= 2, out);
    const file = readFileSync(join(h.dir, 'logs/gateway.log'), 'utf8');
    const failed = file
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.served === 't');
    assert.ok(failed, file);
    assert.doesNotMatch(JSON.stringify(failed), /caused by: "|"stack":""/);
    assert.deepEqual((failed.error as { message: string }).message, 'a plugin bug');
    assert.match(String(failed.reqId), /^[0-9a-f-]{36}$/);
  });

  it('prints human lines in a pipe with POSTERN_LOG_FORMAT=pretty', async () => {
    const h = home();
    homes.push(h);
    const out = await run(h, { env: { POSTERN_LOG_FORMAT: 'pretty' } });
    assert.doesNotMatch(out, /^\{/m, out);
    assert.match(out, /^\[\d\d:\d\d:\d\d\.\d{3}\] ERROR: .*broken\.xml:\d+:\d+: /m, out);
  });

  it('says what the listener is bound to', async () => {
    const local = home();
    homes.push(local);
    assert.match(
      await run(local),
      /^postern listening on \S+ \(bound to 127\.0\.0\.1:\d+: this machine only; /m,
    );
    const open = home({ 'gateway.host': '0.0.0.0' });
    homes.push(open);
    const out = await run(open);
    assert.match(
      out,
      /^postern listening on http:\/\/127\.0\.0\.1:\d+\/gateway \(bound to 0\.0\.0\.0:\d+: every interface, reachable from the network; /m,
    );
  });
});
