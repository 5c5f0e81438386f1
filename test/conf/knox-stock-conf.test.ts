/**
 * Knox's own stock configuration (`conf/topologies` of Knox's gateway-release: admin, homepage, knoxsso, manager,
 * metadata, sandbox), read verbatim from `../shared/knox-conf` (test data, never copied into the repository),
 * deploys in postern against Knox's demo LDAP: a real slapd seeded with Knox's own `users.ldif`, on port 33389 as
 * Knox's topologies name it. Knox's admin curl lines then answer in Knox's shapes:
 *
 * ```
 * curl -u admin:admin-password https://localhost:8443/gateway/admin/api/v1/version
 * curl -u admin:admin-password https://localhost:8443/gateway/admin/api/v1/topologies
 * ```
 *
 * and guest (not in the admin group of `knox.acl=admin;*;*`) gets 403. A PUT of a topology that does not deploy is
 * refused with its diagnostics and nothing is written; a good one round-trips through Knox's JSON and XML beans.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { launchChromium } from '../helpers/browser.ts';
import { makeHome, startGateway, type TestHome } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';
import { type SlapdFixture, startSlapd } from '../helpers/slapd.ts';

const KNOX_CONF =
  process.env.KNOX_CONF_DIR ?? fileURLToPath(new URL('../../../shared/knox-conf', import.meta.url));
const STOCK = ['admin', 'homepage', 'knoxsso', 'manager', 'metadata', 'sandbox'];
/** Knox's demo LDAP port, as Knox's topologies and gateway-site name it. */
const KNOX_LDAP_PORT = 33389;

if (!existsSync(join(KNOX_CONF, 'topologies'))) {
  throw new Error(`Knox's stock conf not found at ${KNOX_CONF}: clone postern with ../shared beside it`);
}

async function portFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ADMIN = basic('admin', 'admin-password');
const GUEST = basic('guest', 'guest-password');

describe("Knox's stock conf, verbatim", () => {
  let ldap: SlapdFixture;
  let home: TestHome;
  let gateway: Gateway;
  /** Set when 33389 was taken and the copies name another port (the test says so). */
  let movedTo: number | undefined;

  before(async () => {
    const free = await portFree(KNOX_LDAP_PORT);
    ldap = await startSlapd({
      ldif: readFileSync(join(KNOX_CONF, 'users.ldif'), 'utf8'),
      ...(free && { port: KNOX_LDAP_PORT }),
    });
    if (!free) movedTo = ldap.port;
    // A Knox shop brings Knox's service definitions along (sandbox names WEBHCAT, OOZIE, HUE, …).
    home = makeHome({ 'postern.services.dirs': KNOX_SERVICES });
    for (const name of STOCK) {
      let xml = readFileSync(join(KNOX_CONF, 'topologies', `${name}.xml`), 'utf8');
      if (movedTo) xml = xml.replaceAll(`localhost:${KNOX_LDAP_PORT}`, `localhost:${movedTo}`);
      home.write(`conf/topologies/${name}.xml`, xml);
    }
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await ldap?.close();
    home?.remove();
  });

  it('runs slapd with Knox’s users.ldif on Knox’s port 33389 (or says why not)', (t) => {
    if (movedTo) t.diagnostic(`port ${KNOX_LDAP_PORT} was taken: the test's copies name ${movedTo} instead`);
    else assert.equal(ldap.port, KNOX_LDAP_PORT);
  });

  it('deploys all six topologies', () => {
    const names = readdirSync(join(KNOX_CONF, 'topologies'))
      .filter((n) => n.endsWith('.xml'))
      .map((n) => n.slice(0, -4))
      .sort();
    assert.deepEqual(names, STOCK);
    for (const name of STOCK) {
      const status = gateway.status.get(name);
      assert.equal(status?.deployed, true, `${name}: ${JSON.stringify(status?.diagnostics, null, 1)}`);
      assert.ok(gateway.server.deployments.has(name), name);
    }
  });

  it('serves every service of them, sandbox included, and every application postern bundles', (t) => {
    const failed = Object.fromEntries(
      STOCK.map((name) => [
        name,
        gateway.server.deployments.get(name)?.failed.map((f) => `${f.label}: ${f.code}`),
      ]),
    );
    t.diagnostic(JSON.stringify(failed));
    // Knox's token generation page, web shell and admin UI are not bundled: each fails alone, with its code, and the
    // topology serves the rest. knoxauth, home and token-management are bundled, written for postern.
    const missing = (...apps: string[]) => apps.map((a) => `${a}: POSTERN_ERR_SERVICE_APPLICATION`);
    assert.deepEqual(failed, {
      admin: [],
      homepage: missing('token-generation', 'webshell-ui'),
      knoxsso: [],
      manager: missing('admin-ui'),
      metadata: [],
      // Every service of Knox's stock sandbox deploys: registry-only URLs (NAMENODE hdfs://, JOBTRACKER rpc://),
      // HiveDispatch and the Druid definitions' unknown rules (a warning, as in Knox) included.
      sandbox: [],
    });
  });

  it("answers KNOX-METADATA's info and KNOXSSOUT's logout as Knox's resources do", async () => {
    const info = await request(`${gateway.url}/metadata/api/v1/metadata/info`, {
      headers: { authorization: ADMIN },
    });
    assert.equal(info.statusCode, 200);
    const body = (await info.body.json()) as { generalProxyInfo: Record<string, string> };
    assert.deepEqual(Object.keys(body.generalProxyInfo), [
      'version',
      'hostname',
      'adminUiUrl',
      'webShellUrl',
      'adminApiBookUrl',
      'enableTokenManagement',
      'enableWebshell',
      'truststoreType',
    ]);
    assert.equal(body.generalProxyInfo.adminUiUrl, `${gateway.url}/manager/admin-ui/`);
    // The home page's topologies answer only to a KnoxSSO cookie (SSOCookieProvider): without one, no logout.
    const anonymous = await request(`${gateway.url}/homepage/knoxssout/api/v1/webssout`);
    assert.notEqual(anonymous.statusCode, 200);
    await anonymous.body.dump();
  });

  it('answers `curl -u admin:admin-password …/admin/api/v1/version` in Knox’s shape', async () => {
    const r = await request(`${gateway.url}/admin/api/v1/version`, { headers: { authorization: ADMIN } });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    const body = (await r.body.json()) as { ServerVersion: { version: string; hash: string } };
    assert.deepEqual(Object.keys(body), ['ServerVersion']);
    assert.deepEqual(Object.keys(body.ServerVersion), ['version', 'hash']);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.equal(body.ServerVersion.version, pkg.version);

    const xml = await request(`${gateway.url}/admin/api/v1/version`, {
      headers: { authorization: ADMIN, accept: 'application/xml' },
    });
    assert.equal(xml.statusCode, 200);
    assert.match(
      await xml.body.text(),
      /<ServerVersion>\s*<version>[^<]+<\/version>\s*<hash>[^<]+<\/hash>\s*<\/ServerVersion>/,
    );
  });

  it('answers `…/admin/api/v1/topologies` in Knox’s shape, JSON and XML', async () => {
    const r = await request(`${gateway.url}/admin/api/v1/topologies`, { headers: { authorization: ADMIN } });
    assert.equal(r.statusCode, 200);
    const body = (await r.body.json()) as {
      topologies: { topology: { href: string; name: string; timestamp: string; uri: string }[] };
    };
    const list = body.topologies.topology;
    assert.deepEqual(
      list.map((t) => t.name),
      STOCK,
    );
    const origin = gateway.url.replace(/\/gateway$/, '');
    for (const t of list) {
      assert.deepEqual(Object.keys(t).sort(), ['href', 'name', 'timestamp', 'uri']);
      assert.equal(t.uri, `${origin}/gateway/${t.name}`);
      assert.equal(t.href, `${origin}/gateway/admin/api/v1/topologies/${t.name}`);
      assert.match(t.timestamp, /^\d{13}$/);
    }
    const xml = await request(`${gateway.url}/admin/api/v1/topologies`, {
      headers: { authorization: ADMIN, accept: 'application/xml' },
    });
    const text = await xml.body.text();
    assert.equal((text.match(/<topology>/g) ?? []).length, STOCK.length);
    assert.match(text, /^<\?xml[^>]*>\s*<topologies>\s*<topology>\s*<name>admin<\/name>/);

    // One topology: Knox's bean, with its providers and services.
    const one = await request(`${gateway.url}/admin/api/v1/topologies/sandbox`, {
      headers: { authorization: ADMIN },
    });
    assert.equal(one.statusCode, 200);
    const sandbox = (await one.body.json()) as {
      topology: {
        name: string;
        uri: string;
        timestamp: number;
        gateway: { provider: { role: string; name: string; enabled: boolean }[] };
        service: { role: string; url?: string[] }[];
      };
    };
    assert.equal(sandbox.topology.name, 'sandbox');
    assert.equal(typeof sandbox.topology.timestamp, 'number');
    assert.deepEqual(
      sandbox.topology.gateway.provider.map((p) => `${p.role}/${p.name}/${p.enabled}`),
      ['authentication/ShiroProvider/true', 'identity-assertion/Default/true', 'hostmap/static/true'],
    );
    assert.deepEqual(sandbox.topology.service.find((s) => s.role === 'WEBHDFS')?.url, [
      'http://localhost:50070/webhdfs',
    ]);
    const none = await request(`${gateway.url}/admin/api/v1/topologies/no-such`, {
      headers: { authorization: ADMIN },
    });
    assert.equal(none.statusCode, 204);
    await none.body.dump();
  });

  it('refuses guest (403) and an anonymous client (401), as Knox’s AclsAuthz and ShiroProvider do', async () => {
    const guest = await request(`${gateway.url}/admin/api/v1/version`, { headers: { authorization: GUEST } });
    assert.equal(guest.statusCode, 403);
    await guest.body.dump();
    const nobody = await request(`${gateway.url}/admin/api/v1/topologies`);
    assert.equal(nobody.statusCode, 401);
    await nobody.body.dump();
  });

  it('refuses a PUT of a topology that does not deploy, with its diagnostics, writing nothing', async () => {
    const broken = `<topology><gateway><provider><role>authentication</role><name>NoSuchProvider</name><enabled>true</enabled></provider></gateway><service><role>KNOX</role></service></topology>`;
    const r = await request(`${gateway.url}/admin/api/v1/topologies/broken`, {
      method: 'PUT',
      headers: { authorization: ADMIN, 'content-type': 'application/xml' },
      body: broken,
    });
    assert.equal(r.statusCode, 400);
    const body = (await r.body.json()) as {
      error: { code: string };
      diagnostics: { severity: string; message: string; at: string }[];
    };
    assert.equal(body.error.code, 'POSTERN_ERR_INVALID_TOPOLOGY');
    assert.ok(
      body.diagnostics.some((d) => d.severity === 'error' && /NoSuchProvider/.test(d.message)),
      JSON.stringify(body.diagnostics),
    );
    assert.ok(!existsSync(join(home.dir, 'conf/topologies/broken.xml')));
    const bad = await request(`${gateway.url}/admin/api/v1/topologies/copy`, {
      method: 'PUT',
      headers: { authorization: ADMIN, 'content-type': 'application/json' },
      body: '{"topology": [1, 2]}',
    });
    assert.equal(bad.statusCode, 400);
    await bad.body.dump();
    const badName = await request(`${gateway.url}/admin/api/v1/topologies/test-put-!nvalid`, {
      method: 'PUT',
      headers: { authorization: ADMIN, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(badName.statusCode, 400);
    await badName.body.dump();
  });

  it('PUTs a topology from Knox’s JSON bean, serves it, answers it as XML, and DELETEs it', async () => {
    const json = await (
      await request(`${gateway.url}/admin/api/v1/topologies/admin`, { headers: { authorization: ADMIN } })
    ).body.text();
    const put = await request(`${gateway.url}/admin/api/v1/topologies/copy`, {
      method: 'PUT',
      headers: { authorization: ADMIN, 'content-type': 'application/json', accept: 'application/xml' },
      body: json,
    });
    assert.equal(put.statusCode, 200);
    const xml = await put.body.text();
    assert.match(xml, /<topology>[\s\S]*<name>copy<\/name>[\s\S]*<provider>\s*<role>authentication<\/role>/);
    assert.ok(existsSync(join(home.dir, 'conf/topologies/copy.xml')));
    assert.ok(gateway.server.deployments.has('copy'));
    // XML back in: the same topology.
    const again = await request(`${gateway.url}/admin/api/v1/topologies/copy`, {
      method: 'PUT',
      headers: { authorization: ADMIN, 'content-type': 'application/xml' },
      body: xml,
    });
    assert.equal(again.statusCode, 200);
    const bean = (await again.body.json()) as { topology: { name: string; service: { role: string }[] } };
    assert.equal(bean.topology.name, 'copy');
    assert.deepEqual(
      bean.topology.service.map((s) => s.role),
      ['KNOX'],
    );
    // The copy serves Knox's admin API too, with the copied ACL.
    const version = await request(`${gateway.url}/copy/api/v1/version`, {
      headers: { authorization: GUEST },
    });
    assert.equal(version.statusCode, 403);
    await version.body.dump();

    const del = await request(`${gateway.url}/admin/api/v1/topologies/copy`, {
      method: 'DELETE',
      headers: { authorization: ADMIN },
    });
    assert.equal(del.statusCode, 200);
    assert.deepEqual(await del.body.json(), { deleted: true });
    assert.ok(!existsSync(join(home.dir, 'conf/topologies/copy.xml')));
    assert.ok(!gateway.server.deployments.has('copy'));
    const gone = await request(`${gateway.url}/admin/api/v1/topologies/copy`, {
      headers: { authorization: ADMIN },
    });
    assert.equal(gone.statusCode, 204);
    await gone.body.dump();
    // Knox never deletes the admin topology.
    const admin = await request(`${gateway.url}/admin/api/v1/topologies/admin`, {
      method: 'DELETE',
      headers: { authorization: ADMIN },
    });
    assert.deepEqual(await admin.body.json(), { deleted: false });
    assert.ok(existsSync(join(home.dir, 'conf/topologies/admin.xml')));
  });

  it('lists descriptors and provider configurations as Knox’s HrefListing', async () => {
    home.write(
      'conf/shared-providers/default-providers.json',
      readFileSync(join(KNOX_CONF, 'shared-providers/default-providers.json'), 'utf8'),
    );
    const r = await request(`${gateway.url}/admin/api/v1/providerconfig`, {
      headers: { authorization: ADMIN },
    });
    assert.equal(r.statusCode, 200);
    const origin = gateway.url.replace(/\/gateway$/, '');
    assert.deepEqual(await r.body.json(), {
      href: `${origin}/gateway/admin/api/v1/providerconfig`,
      items: [
        {
          href: `${origin}/gateway/admin/api/v1/providerconfig/default-providers`,
          name: 'default-providers.json',
        },
      ],
    });
    const one = await request(`${gateway.url}/admin/api/v1/providerconfig/default-providers`, {
      headers: { authorization: ADMIN },
    });
    assert.equal(one.statusCode, 200);
    assert.match(String(one.headers['content-type']), /^application\/json/);
    await one.body.dump();
    const descriptors = await request(`${gateway.url}/admin/api/v1/descriptors`, {
      headers: { authorization: ADMIN },
    });
    assert.deepEqual(((await descriptors.body.json()) as { items: unknown[] }).items, []);
    const defs = await request(`${gateway.url}/admin/api/v1/servicedefinitions/knox/KNOX`, {
      headers: { authorization: ADMIN },
    });
    assert.equal(defs.statusCode, 200);
    const list = (await defs.body.json()) as {
      serviceDefinitions: { serviceDefinition: { service: { role: string; name: string } }[] };
    };
    assert.deepEqual(
      list.serviceDefinitions.serviceDefinition.map((d) => `${d.service.name}/${d.service.role}`),
      ['knox/KNOX'],
    );
  });

  it('serves the knoxauth application: the login page, its files, and nothing else', async () => {
    const base = `${gateway.url}/knoxsso/knoxauth`;
    const page = await request(`${base}/login.html`);
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.ok(page.headers.etag);
    assert.match(await page.body.text(), /<form id="login"/);
    const script = await request(`${base}/js/knoxauth.js`);
    assert.match(String(script.headers['content-type']), /javascript/);
    await script.body.dump();
    // The mount without its slash goes to it with one (Jetty's welcome-file redirect); the query is kept.
    const bare = await request(`${base}?x=1`);
    assert.equal(bare.statusCode, 302);
    assert.equal(bare.headers.location, 'knoxauth/?x=1');
    await bare.body.dump();
    for (const [path, status] of [
      ['/missing.html', 404],
      ['/js', 302],
      ['/.hidden', 404],
    ] as const) {
      const r = await request(`${base}${path}`);
      assert.equal(r.statusCode, status, path);
      await r.body.dump();
    }
    const post = await request(`${base}/login.html`, { method: 'POST', body: 'x' });
    assert.equal(post.statusCode, 405);
    await post.body.dump();
  });

  it("sends a client without credentials from KnoxSSO to knoxauth (Shiro's redirectToUrl), query kept", async () => {
    const original = `${gateway.url}/homepage/session/api/v1/sessioninfo`;
    const r = await request(
      `${gateway.url}/knoxsso/api/v1/websso?originalUrl=${encodeURIComponent(original)}`,
    );
    assert.equal(r.statusCode, 302);
    assert.equal(
      r.headers.location,
      `/gateway/knoxsso/knoxauth/login.html?originalUrl=${encodeURIComponent(original)}`,
    );
    await r.body.dump();
    // With credentials the redirect does not apply: KnoxSSO answers (and refuses a wrong password).
    const wrong = await request(
      `${gateway.url}/knoxsso/api/v1/websso?originalUrl=${encodeURIComponent(original)}`,
      {
        headers: { authorization: basic('guest', 'wrong') },
      },
    );
    assert.equal(wrong.statusCode, 401);
    await wrong.body.dump();
    // The login page's script (X-Requested-With) gets its 401 without a Basic challenge: no browser dialog.
    for (const scripted of [false, true]) {
      const r = await request(
        `${gateway.url}/knoxsso/api/v1/websso?originalUrl=${encodeURIComponent(original)}`,
        {
          method: 'POST',
          headers: {
            authorization: basic('guest', 'wrong'),
            'x-xsrf-header': 'knoxauth',
            ...(scripted && { 'x-requested-with': 'XMLHttpRequest' }),
          },
        },
      );
      assert.equal(r.statusCode, 401);
      assert.equal(r.headers['www-authenticate'], scripted ? undefined : 'BASIC realm="application"');
      await r.body.dump();
    }
  });

  it('logs a browser in through knoxauth and back to the home page topology (Chromium)', async (t) => {
    const browser = await launchChromium();
    t.after(() => browser.close());
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const posted: string[] = [];
    page.on('request', (req) => posted.push(`${req.method()} ${req.url()}`));
    page.on('pageerror', (e) => t.diagnostic(`pageerror: ${e.message}`));
    const protectedUrl = `${gateway.url}/homepage/session/api/v1/sessioninfo`;
    await page.goto(protectedUrl);
    // SSOCookieProvider → KnoxSSO → Shiro's redirectToUrl → the login page.
    assert.match(page.url(), /\/gateway\/knoxsso\/knoxauth\/login\.html\?originalUrl=/);
    await page.fill('#username', 'guest');
    await page.fill('#password', 'wrong-password');
    await page.click('#signIn');
    await page.waitForSelector('#errorBox:not([hidden])');
    assert.match((await page.textContent('#errorBox')) ?? '', /incorrect/);
    await page.fill('#username', 'guest');
    await page.fill('#password', 'guest-password');
    await Promise.all([page.waitForURL(protectedUrl), page.click('#signIn')]);
    const info = JSON.parse((await page.textContent('body')) ?? '{}') as { sessioninfo: { user: string } };
    assert.equal(info.sessioninfo.user, 'guest');
    const cookies = await context.cookies();
    const jwt = cookies.find((c) => c.name === 'hadoop-jwt');
    assert.ok(jwt?.httpOnly, 'the KnoxSSO cookie is HttpOnly');
    // The home page application of the same topology shows who is signed in and the visible topologies.
    await page.goto(`${gateway.url}/homepage/home/`);
    await page.waitForSelector('[data-topology="sandbox"] [data-service="WEBHDFS"]');
    assert.match((await page.textContent('#user')) ?? '', /Signed in as guest/);
    assert.deepEqual(
      await page.$$eval('[data-topology]', (els) => els.map((e) => e.getAttribute('data-topology'))),
      ['sandbox'],
    );
    // The token management application: guest gets a token (KNOXTOKEN with the KnoxSSO cookie), sees it,
    // disables it and revokes it, in the page.
    const issued = await context.request.get(
      `${gateway.url}/homepage/knoxtoken/api/v1/token?comment=from-the-test`,
    );
    assert.equal(issued.status(), 200, await issued.text());
    const { token_id: tokenId } = (await issued.json()) as { token_id: string };
    await page.goto(`${gateway.url}/homepage/token-management/`);
    const row = `tr[data-token-id="${tokenId}"]`;
    await page.waitForSelector(`${row}[data-state="enabled"]`);
    assert.match((await page.textContent(row)) ?? '', /from-the-test/);
    await page.click(`${row} button:has-text("Disable")`);
    await page.waitForSelector(`${row}[data-state="disabled"]`);
    await page.click(`${row} button:has-text("Revoke")`);
    await page.waitForSelector(row, { state: 'detached' });
    const left = await context.request.get(`${gateway.url}/homepage/knoxtoken/api/v1/token/getUserTokens`);
    assert.deepEqual(((await left.json()) as { tokens: unknown[] }).tokens, []);
    // The credentials travelled in a header only: no URL the browser asked for holds the password.
    assert.ok(posted.some((p) => p.startsWith('POST ') && p.includes('/knoxsso/api/v1/websso')));
    assert.ok(posted.every((p) => !p.includes('guest-password') && !p.includes('wrong-password')));
  });

  it('manages aliases with Knox’s AliasResource: PUT, POST, list, DELETE, names only, admins only', async () => {
    const api = `${gateway.url}/admin/api/v1/aliases`;
    const put = await request(`${api}/sandbox/LDAP-Password`, {
      method: 'PUT',
      headers: { authorization: ADMIN, 'content-type': 'text/plain' },
      body: 's3cret-value',
    });
    assert.equal(put.statusCode, 201);
    assert.deepEqual(await put.body.json(), { created: { topology: 'sandbox', alias: 'ldap-password' } });
    const post = await request(`${api}/sandbox/other`, {
      method: 'POST',
      headers: { authorization: ADMIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'value=another',
    });
    assert.equal(post.statusCode, 201);
    await post.body.dump();
    const list = await request(`${api}/sandbox`, { headers: { authorization: ADMIN } });
    assert.equal(list.statusCode, 200);
    const listed = await list.body.text();
    assert.deepEqual(JSON.parse(listed), { topology: 'sandbox', aliases: ['ldap-password', 'other'] });
    assert.doesNotMatch(listed, /s3cret|another/);
    // The value is in the home's store, encrypted, and resolves for the topology.
    const { AliasResolver, readMasterSecret } = await import('../../src/config/aliases.ts');
    const resolver = new AliasResolver(home.dir, readMasterSecret(home.dir), 'sandbox');
    assert.equal(resolver.lookup('ldap-password'), 's3cret-value');
    const empty = await request(`${api}/sandbox/blank`, {
      method: 'PUT',
      headers: { authorization: ADMIN },
      body: '',
    });
    assert.equal(empty.statusCode, 400);
    await empty.body.dump();
    const guest = await request(`${api}/sandbox`, { headers: { authorization: GUEST } });
    assert.equal(guest.statusCode, 403);
    await guest.body.dump();
    const deleted = await request(`${api}/sandbox/other`, {
      method: 'DELETE',
      headers: { authorization: ADMIN },
    });
    assert.deepEqual(await deleted.body.json(), { deleted: { topology: 'sandbox', alias: 'other' } });
    const after = await request(`${api}/sandbox`, { headers: { authorization: ADMIN } });
    assert.deepEqual(((await after.body.json()) as { aliases: string[] }).aliases, ['ldap-password']);
  });

  it("answers KNOX-METADATA's topologies, profiles and publicCert in Knox's shapes", async () => {
    const origin = gateway.url.replace(/\/gateway$/, '');
    const get = (path: string) =>
      request(`${gateway.url}/metadata/api/v1/metadata/${path}`, { headers: { authorization: ADMIN } });
    const r = await get('topologies');
    assert.equal(r.statusCode, 200);
    const body = (await r.body.json()) as {
      topologyInformations: {
        topologyInformation: {
          topology: string;
          pinned: boolean;
          apiServicesViewVersion: string;
          apiServices: {
            service: {
              serviceName: string;
              serviceUrls: string[];
              samples: { sample: { value: string }[] };
            }[];
          };
          uiServices: { service: { serviceName: string }[] };
        }[];
      };
    };
    // Knox's default knox.homepage.hidden.topologies leaves only the sandbox.
    const [sandbox, ...others] = body.topologyInformations.topologyInformation;
    assert.deepEqual(others, []);
    assert.equal(sandbox.topology, 'sandbox');
    assert.equal(sandbox.pinned, false);
    assert.equal(sandbox.apiServicesViewVersion, 'v1');
    const api = new Map(sandbox.apiServices.service.map((s) => [s.serviceName, s]));
    assert.ok(!api.has('NAMENODE') && !api.has('JOBTRACKER'), 'registry-only services are not listed');
    assert.deepEqual(api.get('WEBHDFS')?.serviceUrls, [`${origin}/gateway/sandbox/webhdfs`]);
    assert.match(
      api.get('WEBHDFS')?.samples.sample[0]?.value ?? '',
      /^curl -iv -X GET "http:\/\/.*\/gateway\/sandbox\/webhdfs\//,
    );
    const port = new URL(origin).port;
    assert.deepEqual(api.get('HIVE')?.serviceUrls, [
      `jdbc:hive2://${new URL(origin).hostname}:${port}/;ssl=true;transportMode=http;httpPath=gateway/sandbox/hive`,
    ]);
    const one = await get('topologies/sandbox');
    assert.equal(((await one.body.json()) as typeof body).topologyInformations.topologyInformation.length, 1);
    const full = await get('profiles/full');
    assert.deepEqual(await full.body.json(), {
      gpi_version: 'true',
      gpi_hostname: 'true',
      gpi_cert: 'true',
      gpi_admin_ui: 'true',
      gpi_admin_api: 'true',
      gpi_md_api: 'true',
      gpi_tokens: 'true',
      gpi_webshell: 'true',
      topologies: '',
    });
    const thin = (await (await get('profiles/THIN')).body.json()) as Record<string, string>;
    assert.equal(thin.gpi_tokens, 'false');
    assert.deepEqual(await (await get('profiles/none')).body.json(), {});
    // This gateway listens without TLS: Knox answers 503 when it has no certificate to give.
    const cert = await get('publicCert?type=pem');
    assert.equal(cert.statusCode, 503);
    await cert.body.dump();
    const bad = await get('publicCert?type=p12');
    assert.equal(bad.statusCode, 400);
    await bad.body.dump();
  });

  it('writes and deletes descriptors and provider configurations as Knox’s TopologiesResource does', async () => {
    const api = `${gateway.url}/admin/api/v1`;
    const put = (path: string, body: string, type = 'application/json') =>
      request(`${api}/${path}`, {
        method: 'PUT',
        headers: { authorization: ADMIN, 'content-type': type },
        body,
      });
    const shared = JSON.stringify({
      providers: [{ role: 'authentication', name: 'Anonymous', enabled: 'true' }],
    });
    const made = await put('providerconfig/adminapi-providers', shared);
    assert.equal(made.statusCode, 201);
    assert.equal(made.headers.location, `${api}/providerconfig/adminapi-providers`);
    await made.body.dump();
    const descriptor = JSON.stringify({
      'provider-config-ref': 'adminapi-providers',
      services: [{ name: 'HTTP', urls: ['http://127.0.0.1:1'] }],
    });
    const created = await put('descriptors/fromapi', descriptor);
    assert.equal(created.statusCode, 201);
    await created.body.dump();
    // The generated topology deploys: its dead backend answers 502 through it, not 404.
    const through = await request(`${gateway.url}/fromapi/http/x`);
    assert.equal(through.statusCode, 502);
    await through.body.dump();
    const updated = await put('descriptors/fromapi', descriptor);
    assert.equal(updated.statusCode, 204);
    await updated.body.dump();
    // A body that does not parse is refused with its diagnostics, and nothing is written.
    const broken = await put('descriptors/broken', '{"services": "not a list"');
    assert.equal(broken.statusCode, 400);
    assert.match(await broken.body.text(), /diagnostics/);
    const listed = await request(`${api}/descriptors`, { headers: { authorization: ADMIN } });
    const names = ((await listed.body.json()) as { items: { name: string }[] }).items.map((i) => i.name);
    assert.deepEqual(names, ['fromapi.json']);
    // A provider configuration a descriptor names is kept (304) unless forced, as Knox does.
    const kept = await request(`${api}/providerconfig/adminapi-providers`, {
      method: 'DELETE',
      headers: { authorization: ADMIN },
    });
    assert.equal(kept.statusCode, 304);
    await kept.body.dump();
    const gone = await request(`${api}/descriptors/fromapi`, {
      method: 'DELETE',
      headers: { authorization: ADMIN },
    });
    assert.deepEqual(await gone.body.json(), { deleted: 'descriptor fromapi' });
    const dropped = await request(`${api}/providerconfig/adminapi-providers`, {
      method: 'DELETE',
      headers: { authorization: ADMIN },
    });
    assert.deepEqual(await dropped.body.json(), { deleted: 'provider config adminapi-providers' });
    // Only admins: guest is refused before anything is looked at.
    const asGuest = await request(`${api}/descriptors/anything`, {
      method: 'PUT',
      headers: { authorization: GUEST, 'content-type': 'application/json' },
      body: descriptor,
    });
    assert.equal(asGuest.statusCode, 403);
    await asGuest.body.dump();
  });

  it('adds, replaces and removes service definitions as Knox’s ServiceDefinitionsResource does', async () => {
    const api = `${gateway.url}/admin/api/v1/servicedefinitions`;
    const pair = (path: string) => `<serviceDefinition>
      <service role="ADMINAPI" name="adminapi" version="1.0.0">
        <routes><route path="${path}"/></routes>
      </service>
      <rules>
        <rule dir="IN" name="ADMINAPI/in" pattern="*://*:*/**/adminapi/{path=**}?{**}">
          <rewrite template="{$serviceUrl[ADMINAPI]}/{path=**}?{**}"/>
        </rule>
      </rules>
    </serviceDefinition>`;
    const send = (method: string, body: string) =>
      request(api, { method, headers: { authorization: ADMIN, 'content-type': 'application/xml' }, body });
    const created = await send('POST', pair('/adminapi/**'));
    assert.equal(created.statusCode, 201);
    assert.match(String(created.headers.location), /\/servicedefinitions\/adminapi\/ADMINAPI\/1\.0\.0$/);
    await created.body.dump();
    const again = await send('POST', pair('/adminapi/**'));
    assert.equal(again.statusCode, 409);
    await again.body.dump();
    const broken = await send(
      'PUT',
      pair('/adminapi/**').replace('<routes>', '<routs>').replace('</routes>', '</routs>'),
    );
    assert.equal(broken.statusCode, 400);
    assert.match(await broken.body.text(), /routs/);
    const replaced = await send('PUT', pair('/adminapi/**?**'));
    assert.equal(replaced.statusCode, 201);
    await replaced.body.dump();
    // The gateway's definition watcher loads it within a second or two.
    const listed = async () => {
      const r = await request(`${api}/adminapi`, { headers: { authorization: ADMIN } });
      const body = (await r.body.json()) as { serviceDefinitions: { serviceDefinition: unknown[] } };
      return body.serviceDefinitions.serviceDefinition.length;
    };
    let seen = 0;
    for (let i = 0; i < 50 && seen === 0; i++) {
      seen = await listed();
      if (seen === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(seen, 1);
    const deleted = await request(`${api}/adminapi/ADMINAPI/1.0.0`, {
      method: 'DELETE',
      headers: { authorization: ADMIN },
    });
    assert.equal(deleted.statusCode, 200);
    await deleted.body.dump();
    const bundled = await request(`${api}/knox/KNOX/1.0.0`, {
      method: 'DELETE',
      headers: { authorization: ADMIN },
    });
    assert.equal(bundled.statusCode, 404, 'a bundled definition is not the home’s to delete');
    await bundled.body.dump();
  });
});
