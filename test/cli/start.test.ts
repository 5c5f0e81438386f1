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

  it('generates its certificate and serves the sandbox over https, to the sample users only', async () => {
    assert.ok(existsSync(join(home, 'data/security/gateway.crt')));
    assert.ok(existsSync(join(home, 'data/security/gateway.key')));
    const anonymous = await request(`${url}/sandbox/http/items`, { dispatcher: agent });
    await anonymous.body.text();
    assert.equal(anonymous.statusCode, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^BASIC realm=/i);
    const wrong = await request(`${url}/sandbox/http/items`, {
      dispatcher: agent,
      headers: { authorization: `Basic ${Buffer.from('guest:nope').toString('base64')}` },
    });
    await wrong.body.text();
    assert.equal(wrong.statusCode, 401);
    // The README's curl line: curl -k -u guest:guest-password https://localhost:8443/gateway/sandbox/http/items
    const res = await request(`${url}/sandbox/http/items`, {
      dispatcher: agent,
      headers: { authorization: `Basic ${Buffer.from('guest:guest-password').toString('base64')}` },
    });
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
