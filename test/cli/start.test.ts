/**
 * `postern start` as a real process on a copy of the repository's own sample home: TLS with a certificate
 * generated on first start, the demo backends started with it, an answer from the sandbox topology, and a clean
 * exit on SIGTERM.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

describe('postern start (a real process on the sample home)', () => {
  let home: string;
  let child: ChildProcess;
  let url: string;
  const agent = new Agent({ connect: { rejectUnauthorized: false } });

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'postern-start-'));
    cpSync(join(REPO, 'conf'), join(home, 'conf'), { recursive: true });
    child = spawn(process.execPath, [join(REPO, 'bin/postern.js'), 'start', '--home', home, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no listening line in 30 s:\n${out}`)), 30_000);
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        out += chunk;
        const m = /^postern listening on (https:\/\/\S+) /m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
    });
  });

  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await agent.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('generates its certificate and serves the sandbox over https', async () => {
    assert.ok(existsSync(join(home, 'data/security/gateway.crt')));
    assert.ok(existsSync(join(home, 'data/security/gateway.key')));
    const res = await request(`${url}/sandbox/http/items`, { dispatcher: agent });
    assert.equal(res.statusCode, 200);
    const body = (await res.body.json()) as { items: unknown[] };
    assert.ok(Array.isArray(body.items));
  });

  it('exits 0 on SIGTERM', async () => {
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
  });
});
