/**
 * A file realm's users file is reread when it changes and on SIGHUP, without a redeploy: a changed password works
 * at once and the old one stops working (the login cache and the user's sessions are forgotten); a file that no
 * longer reads keeps the previous users, and the log says where the problem is (`file:line:column`).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Gateway } from '../../../src/gateway/gateway.ts';
import { createLogger, type Logger } from '../../../src/observability/logger.ts';
import { hashPassword } from '../../../src/providers/authentication/shiro/password-hash.ts';
import type { Backend } from '../../helpers/backend.ts';
import { makeHome, type TestHome } from '../../helpers/home.ts';
import { call, startEchoBackend } from '../security-helpers.ts';
import { basic, shiroTopology } from './shiro-fixture.ts';

const FAST = { ln: 10, r: 8, p: 1 };

async function usersYaml(users: Record<string, { password: string; groups?: string[] }>): Promise<string> {
  let text = 'users:\n';
  for (const [name, u] of Object.entries(users)) {
    text += `  ${name}:\n    password: "${await hashPassword(u.password, FAST)}"\n`;
    if (u.groups) text += `    groups: [${u.groups.join(', ')}]\n`;
  }
  return text;
}

/** Asks until `check` holds: the watcher reacts within about a second; nothing here measures how fast. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`never: ${what}`);
}

const PARAMS = {
  'main.fileRealm': 'postern.FileRealm',
  'main.fileRealm.usersFile': 'conf/users.yaml',
  'urls./**': 'authcBasic',
};

describe('users file reload', () => {
  let backend: Backend;
  before(async () => {
    backend = await startEchoBackend();
  });
  after(async () => {
    await backend?.close();
  });

  describe('watched', () => {
    let home: TestHome;
    let gateway: Gateway;
    let log: Logger;
    const url = () => `${gateway.url}/t/http/x`;
    const status = async (user: string, password: string) =>
      (await call(url(), { headers: basic(user, password) })).status;

    before(async () => {
      home = makeHome();
      home.write('conf/users.yaml', await usersYaml({ alice: { password: 'first-password' } }));
      home.write('conf/topologies/t.xml', shiroTopology(PARAMS, backend.url));
      log = createLogger({ logDir: join(home.dir, 'logs'), stdout: false, level: 'info' });
      gateway = await Gateway.start({ home: home.dir, port: 0, host: '127.0.0.1', log, watch: true });
    });
    after(async () => {
      await gateway?.close();
      home?.remove();
    });

    it('takes a changed password without a redeploy, and forgets the old one and its sessions', async () => {
      const first = await call(url(), { headers: basic('alice', 'first-password') });
      assert.equal(first.status, 200);
      const cookie = String(first.headers['set-cookie']).split(';')[0];
      assert.match(cookie, /^KNOXSESSIONID=/);
      assert.equal((await call(url(), { headers: { cookie } })).status, 200);
      const deployedAt = gateway.status.get('t')?.deployedAt;

      home.write(
        'conf/users.yaml',
        await usersYaml({ alice: { password: 'second-password' }, bob: { password: 'bob-password' } }),
      );
      await eventually(
        async () => (await status('alice', 'second-password')) === 200,
        'the new password works',
      );
      assert.equal(await status('bob', 'bob-password'), 200);
      // The cached login of the old password and alice's session are gone.
      assert.equal(await status('alice', 'first-password'), 401);
      assert.equal((await call(url(), { headers: { cookie } })).status, 401);
      assert.equal(gateway.status.get('t')?.deployedAt, deployedAt, 'no redeploy');
    });

    it('keeps the previous users when the file breaks, and logs where', async () => {
      const broken = 'users:\n  alice:\n    password: hunter2\n';
      const file = home.write('conf/users.yaml', broken);
      const logged = () => readFileSync(join(home.dir, 'logs/gateway.log'), 'utf8');
      await eventually(async () => {
        log.flush();
        return logged().includes('not reloaded');
      }, 'the broken file is logged');
      const text = logged();
      const messages = text
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { msg?: string }).msg ?? '');
      assert.ok(
        messages.some((m) => m.startsWith(`${file}:3:15: user "alice": the password must be a scrypt hash`)),
        messages.join('\n'),
      );
      assert.ok(messages.some((m) => m.endsWith('keeps its 2 previous user(s)')));
      assert.doesNotMatch(text, /hunter2/);
      assert.equal(await status('alice', 'second-password'), 200);
      assert.equal(await status('bob', 'bob-password'), 200);
    });
  });

  describe('on SIGHUP (Gateway.reloadSite), without watching', () => {
    let home: TestHome;
    let gateway: Gateway;

    before(async () => {
      home = makeHome();
      home.write('conf/users.yaml', await usersYaml({ alice: { password: 'first-password' } }));
      home.write('conf/topologies/t.xml', shiroTopology(PARAMS, backend.url));
      gateway = await Gateway.start({
        home: home.dir,
        port: 0,
        host: '127.0.0.1',
        log: createLogger({ level: 'silent', stdout: false }),
        watch: false,
      });
    });
    after(async () => {
      await gateway?.close();
      home?.remove();
    });

    it('rereads the users file', async () => {
      const url = `${gateway.url}/t/http/x`;
      assert.equal((await call(url, { headers: basic('alice', 'first-password') })).status, 200);
      home.write('conf/users.yaml', await usersYaml({ alice: { password: 'other-password' } }));
      assert.equal((await call(url, { headers: basic('alice', 'other-password') })).status, 401);
      gateway.reloadSite();
      assert.equal((await call(url, { headers: basic('alice', 'other-password') })).status, 200);
      assert.equal((await call(url, { headers: basic('alice', 'first-password') })).status, 401);
    });
  });
});
