/**
 * A topology's `<application>`, deployed as Knox deploys it (servicedef/application.ts) and served by the
 * `application` dispatch: from the home's `data/applications/{name}/app/` before postern's bundled ones, at its
 * `<url>`s or `/{name}`, behind the topology's providers (Knox's default set, or the policies of its own
 * service.xml), and, when its files are missing or packed, failing alone with a message saying what to do.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { hashPassword } from '../../src/providers/authentication/shiro/password-hash.ts';
import { makeHome, startGateway, type TestHome } from '../helpers/home.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const SHIRO = `
  <provider><role>authentication</role><name>ShiroProvider</name><enabled>true</enabled>
    <param><name>main.fileRealm</name><value>postern.FileRealm</value></param>
    <param><name>main.fileRealm.usersFile</name><value>conf/users.yaml</value></param>
    <param><name>urls./**</name><value>authcBasic</value></param>
  </provider>`;

describe('topology applications', () => {
  let home: TestHome;
  let gateway: Gateway;

  before(async () => {
    home = makeHome();
    home.write('conf/users.yaml', `users:\n  sam:\n    password: '${await hashPassword('sam-password')}'\n`);
    // A home application with no service.xml: Knox's default routes and policies (the topology's Shiro applies).
    home.write('data/applications/docs/app/index.html', '<h1>docs</h1>');
    home.write('data/applications/docs/app/guide/index.html', '<h1>guide</h1>');
    home.write('data/applications/docs/app/.secret', 'hidden');
    // One with its own service.xml whose policies pin Anonymous, mounted at two <url>s.
    home.write('data/applications/open/app/hello.txt', 'hello');
    home.write(
      'data/applications/open/service.xml',
      `<service role="OPEN" name="open" version="1.0.0">
        <policies><policy role="authentication" name="Anonymous"/><policy role="rewrite"/></policies>
        <routes><route path="/**"/></routes>
      </service>`,
    );
    // A packed application, and none at all.
    home.write('data/applications/packed/app.war', 'PK');
    home.write(
      'conf/topologies/apps.xml',
      `<topology><gateway>${SHIRO}</gateway>
        <application><name>docs</name></application>
        <application><name>open</name><url>public/open</url><url>/also/</url></application>
        <application><name>packed</name></application>
        <application><name>nowhere</name></application>
        <application><name>knoxauth</name></application>
      </topology>`,
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    home?.remove();
  });

  it("serves a home application at /{name} behind the topology's authentication", async () => {
    const anonymous = await request(`${gateway.url}/apps/docs/`);
    assert.equal(anonymous.statusCode, 401);
    await anonymous.body.dump();
    const page = await request(`${gateway.url}/apps/docs/`, {
      headers: { authorization: basic('sam', 'sam-password') },
    });
    assert.equal(page.statusCode, 200);
    assert.equal(await page.body.text(), '<h1>docs</h1>');
    const guide = await request(`${gateway.url}/apps/docs/guide`, {
      headers: { authorization: basic('sam', 'sam-password') },
    });
    assert.equal(guide.statusCode, 302);
    assert.equal(guide.headers.location, 'guide/');
    await guide.body.dump();
    const secret = await request(`${gateway.url}/apps/docs/.secret`, {
      headers: { authorization: basic('sam', 'sam-password') },
    });
    assert.equal(secret.statusCode, 404);
    assert.doesNotMatch(await secret.body.text(), /hidden/);
  });

  it('answers a conditional request with 304 and a range with 206', async () => {
    const auth = { authorization: basic('sam', 'sam-password') };
    const first = await request(`${gateway.url}/apps/docs/index.html`, { headers: auth });
    const etag = String(first.headers.etag);
    await first.body.dump();
    const again = await request(`${gateway.url}/apps/docs/index.html`, {
      headers: { ...auth, 'if-none-match': etag },
    });
    assert.equal(again.statusCode, 304);
    await again.body.dump();
    const part = await request(`${gateway.url}/apps/docs/index.html`, {
      headers: { ...auth, range: 'bytes=4-7' },
    });
    assert.equal(part.statusCode, 206);
    assert.equal(await part.body.text(), 'docs');
  });

  it("mounts an application at each of its <url>s with its own service.xml's policies", async () => {
    for (const path of ['/public/open/hello.txt', '/also/hello.txt']) {
      const r = await request(`${gateway.url}/apps${path}`);
      assert.equal(r.statusCode, 200, path);
      assert.equal(await r.body.text(), 'hello');
    }
    const route = gateway.server.deployments.get('apps')?.routes.find((r) => r.path === '/also/**');
    assert.deepEqual(route?.chain, ['authentication/Anonymous', 'dispatch/application']);
    assert.equal(route?.role, 'OPEN');
  });

  it('serves the bundled knoxauth when the home has none', async () => {
    const r = await request(`${gateway.url}/apps/knoxauth/login.html`);
    assert.equal(r.statusCode, 200);
    assert.match(await r.body.text(), /<form id="login"/);
  });

  it('fails a missing or packed application alone: 503 with its code after authentication', async () => {
    const failed = gateway.server.deployments.get('apps')?.failed.map((f) => [f.label, f.code]);
    assert.deepEqual(failed, [
      ['packed', 'POSTERN_ERR_SERVICE_APPLICATION'],
      ['nowhere', 'POSTERN_ERR_SERVICE_APPLICATION'],
    ]);
    const anonymous = await request(`${gateway.url}/apps/nowhere/x`);
    assert.equal(anonymous.statusCode, 401);
    await anonymous.body.dump();
    const r = await request(`${gateway.url}/apps/nowhere/x`, {
      headers: { authorization: basic('sam', 'sam-password') },
    });
    assert.equal(r.statusCode, 503);
    assert.equal(
      ((await r.body.json()) as { error: { code: string } }).error.code,
      'POSTERN_ERR_SERVICE_APPLICATION',
    );
  });

  it('is a check error saying where the files go, at the <application>', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'bin/postern.js'), 'check', '--home', home.dir], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(
      r.stdout,
      /apps\.xml:\d+:\d+: application "nowhere" not found: no directory nowhere\/ in .*data\/applications or .*applications .*put another application's files in .*data\/applications\/nowhere\/app\//,
    );
    assert.match(
      r.stdout,
      /apps\.xml:\d+:\d+: application "packed": .* holds an archive; .* unpack it there/,
    );
  });
});
