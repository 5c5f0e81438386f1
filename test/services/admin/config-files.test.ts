/**
 * The admin API behind the console's descriptor and shared-provider-configuration editor, on a real gateway (the
 * sample admin topology, a real backend): checks that change nothing and report problems at their line and
 * column (malformed JSON and YAML, a provider configuration that does not exist, an unknown or misconfigured
 * provider), writes that regenerate and redeploy what they feed with the replaced version kept for undo,
 * creation and deletion, and refusals (path traversal, non-admins, missing CSRF header, a provider
 * configuration still in use). Also the polled live feed, and sign-out ending the session on the server.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { type Gateway, REPO_ROOT } from '../../../src/gateway/gateway.ts';
import { hashPassword } from '../../../src/providers/authentication/shiro/password-hash.ts';
import { writeAdminHome } from '../../helpers/admin-home.ts';
import { makeHome, startGateway, type TestHome } from '../../helpers/home.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ADMIN = basic('admin', 'admin-password');
const GUEST = basic('guest', 'guest-password');
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

const PROVIDERS = `{
  "providers": [
    { "role": "authentication", "name": "Anonymous", "enabled": "true" },
    { "role": "identity-assertion", "name": "Default", "enabled": "true" }
  ]
}
`;
const descriptor = (url: string, ref = 'default-providers') => `{
  "provider-config-ref": "${ref}",
  "services": [
    { "name": "HTTP", "urls": ["${url}"] }
  ]
}
`;

interface Diag {
  severity: string;
  message: string;
  file: string;
  line: number;
  column: number;
  at: string;
}
interface TopologyState {
  name: string;
  state: string;
  serving: boolean;
  redeployed: boolean;
}

describe('admin API: descriptors and shared provider configurations', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Server;
  let backendUrl: string;

  const api = (path: string) => `${gateway.url}/admin/api/v1/${path}`;
  const get = (path: string, auth = ADMIN) =>
    fetch(api(path), { headers: { authorization: auth }, dispatcher: insecure } as RequestInit);
  const send = (
    method: string,
    path: string,
    body?: string,
    type = 'application/json',
    headers: Record<string, string> = { authorization: ADMIN, 'x-xsrf-header': 'x' },
  ) =>
    fetch(api(path), {
      method,
      headers: { ...headers, ...(body !== undefined && { 'content-type': type }) },
      body,
      dispatcher: insecure,
    } as RequestInit);
  const json = async <T>(res: Response, status: number): Promise<T> => {
    const text = await res.text();
    assert.equal(res.status, status, text);
    return JSON.parse(text) as T;
  };
  const served = async (topology: string) => {
    const r = await fetch(`${gateway.url}/${topology}/http/x`, { dispatcher: insecure } as RequestInit);
    await r.arrayBuffer();
    return r.status;
  };
  const file = (relative: string) => join(home.dir, relative);

  before(async () => {
    backend = createServer((req, res) => res.end(`backend saw ${req.url}`));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    home = makeHome({ 'ssl.enabled': true });
    await writeAdminHome(home, { admin: ['admin'], guest: ['users'] });
    home.write('conf/shared-providers/default-providers.json', PROVIDERS);
    home.write('conf/descriptors/sandbox.json', descriptor(backendUrl));
    home.write('conf/descriptors/sandbox2.json', descriptor(backendUrl));
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    backend?.close();
    home?.remove();
    await insecure.close();
  });

  it('lists descriptors with their topologies, and provider configurations with the topologies they feed', async () => {
    assert.equal(await served('sandbox'), 200);
    const d = await json<{
      descriptors: { name: string; file: string; providerConfig: string; topology: TopologyState }[];
    }>(await get('descriptors'), 200);
    assert.deepEqual(
      d.descriptors.map((x) => [x.name, x.file, x.providerConfig, x.topology.state, x.topology.serving]),
      [
        ['sandbox', 'conf/descriptors/sandbox.json', 'default-providers', 'deployed', true],
        ['sandbox2', 'conf/descriptors/sandbox2.json', 'default-providers', 'deployed', true],
      ],
    );
    const p = await json<{
      providerConfigs: { name: string; descriptors: string[]; topologies: TopologyState[] }[];
    }>(await get('shared-providers'), 200);
    assert.deepEqual(p.providerConfigs[0].descriptors, ['sandbox', 'sandbox2']);
    assert.deepEqual(
      p.providerConfigs[0].topologies.map((t) => [t.name, t.state]),
      [
        ['sandbox', 'deployed'],
        ['sandbox2', 'deployed'],
      ],
    );
    const s = await json<{ source: string; file: string; exists: boolean }>(
      await get('shared-providers/default-providers/source'),
      200,
    );
    assert.equal(s.source, PROVIDERS);
    assert.equal(s.exists, true);
  });

  it('checks a descriptor without writing: malformed JSON and YAML, a missing provider configuration, at line:col', async () => {
    const path = file('conf/descriptors/sandbox.json');
    const original = readFileSync(path, 'utf8');
    // JSON missing a comma between two members: line 3.
    const malformed = original.replace('"services"', '"extra": 1 "services"');
    let r = await json<{ ok: boolean; diagnostics: Diag[] }>(
      await send('POST', 'descriptors/sandbox/check', malformed),
      200,
    );
    assert.equal(r.ok, false);
    const syntax = r.diagnostics.find((d) => d.severity === 'error');
    assert.ok(syntax);
    assert.equal(syntax.file, 'conf/descriptors/sandbox.json');
    assert.equal(syntax.line, 3, JSON.stringify(r.diagnostics));
    assert.match(syntax.message, /malformed/);

    r = await json(
      await send(
        'POST',
        'descriptors/sandbox/check',
        'provider-config-ref: x\nservices:\n  - name: [HTTP\n',
        'application/yaml',
      ),
      200,
    );
    assert.equal(r.ok, false);
    assert.match(r.diagnostics[0].at, /^conf\/descriptors\/sandbox\.json:\d+:\d+$/);
    assert.match(r.diagnostics[0].message, /malformed YAML/);

    r = await json(
      await send('POST', 'descriptors/sandbox/check', descriptor(backendUrl, 'no-such-providers')),
      200,
    );
    assert.equal(r.ok, false);
    const missing = r.diagnostics.find((d) => /no-such-providers/.test(d.message));
    assert.ok(missing, JSON.stringify(r.diagnostics));
    assert.match(missing.message, /provider configuration "no-such-providers" not found/);
    assert.equal(missing.line, 2);
    assert.equal(missing.column, 26);

    // A service without a definition is reported as deploying would.
    r = await json(
      await send('POST', 'descriptors/sandbox/check', original.replace('"HTTP"', '"NO-SUCH-ROLE"')),
      200,
    );
    assert.ok(
      r.diagnostics.some((d) => /NO-SUCH-ROLE/.test(d.message)),
      JSON.stringify(r.diagnostics),
    );
    // A descriptor whose name is a hand-written topology's would overwrite it.
    r = await json(await send('POST', 'descriptors/admin/check', original), 200);
    assert.equal(r.ok, false);
    assert.match(
      r.diagnostics.at(-1)?.message ?? '',
      /would overwrite the hand-written topology conf\/topologies\/admin\.xml/,
    );
    assert.equal(readFileSync(path, 'utf8'), original, 'a check writes nothing');

    // And a PUT of the broken one is refused, writing nothing.
    const put = await send('PUT', 'descriptors/sandbox', descriptor(backendUrl, 'no-such-providers'));
    const body = await json<{ error: { status: number }; diagnostics: Diag[] }>(put, 400);
    assert.ok(body.diagnostics.some((d) => /not found/.test(d.message)));
    assert.equal(readFileSync(path, 'utf8'), original);
    assert.equal(existsSync(file('data/history/descriptors/sandbox')), false);
  });

  it('refuses a provider configuration with an unknown or misconfigured provider, at its line', async () => {
    const path = file('conf/shared-providers/default-providers.json');
    const unknown = PROVIDERS.replace('"Anonymous"', '"NoSuchProvider"');
    let r = await json<{ ok: boolean; diagnostics: Diag[]; topologies: string[] }>(
      await send('POST', 'shared-providers/default-providers/check', unknown),
      200,
    );
    assert.equal(r.ok, false);
    assert.deepEqual(r.topologies, ['sandbox', 'sandbox2']);
    const d = r.diagnostics.find((x) => /NoSuchProvider/.test(x.message));
    assert.ok(d, JSON.stringify(r.diagnostics));
    assert.match(d.message, /no provider named "NoSuchProvider" for role "authentication"/);
    assert.equal(d.file, 'conf/shared-providers/default-providers.json');
    assert.equal(d.line, 3);
    // Reported once, though both descriptors use it.
    assert.equal(r.diagnostics.filter((x) => /NoSuchProvider/.test(x.message)).length, 1);

    // A param the provider refuses, found by compiling the descriptors' routes with the proposed providers.
    const misconfigured = `providers:
  - role: authentication
    name: ShiroProvider
    params:
      main.fileRealm: postern.FileRealm
      main.fileRealm.usersFile: conf/users.yaml
      main.securityManager.realms: $fileRealm
      sessionTimeout: soon
  - role: identity-assertion
    name: Default
`;
    r = await json(
      await send('POST', 'shared-providers/default-providers/check', misconfigured, 'application/yaml'),
      200,
    );
    assert.equal(r.ok, false);
    const param = r.diagnostics.find((x) => /sessionTimeout/.test(x.message));
    assert.ok(param, JSON.stringify(r.diagnostics));
    assert.equal(param.file, 'conf/shared-providers/default-providers.json');
    assert.equal(param.line, 8);

    // Malformed JSON, at its line.
    r = await json(
      await send(
        'POST',
        'shared-providers/default-providers/check',
        PROVIDERS.replace('"Anonymous",', '"Anonymous"'),
      ),
      200,
    );
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics[0].line, 3);
    assert.match(r.diagnostics[0].message, /malformed/);

    // A new provider configuration no descriptor uses: its providers' names are still checked.
    r = await json(await send('POST', 'shared-providers/spare/check', unknown), 200);
    assert.equal(r.ok, false);
    assert.deepEqual(r.topologies, []);
    assert.equal(r.diagnostics[0].file, 'conf/shared-providers/spare.json');
    const put = await send('PUT', 'shared-providers/default-providers', unknown);
    await json(put, 400);
    assert.equal(readFileSync(path, 'utf8'), PROVIDERS);
    assert.equal(await served('sandbox'), 200);
  });

  it('writes a provider configuration, redeploys the topologies it feeds, and undoes it from the kept version', async () => {
    const path = file('conf/shared-providers/default-providers.json');
    const changed = PROVIDERS.replace(
      '{ "role": "identity-assertion", "name": "Default", "enabled": "true" }',
      '{ "role": "identity-assertion", "name": "Default", "enabled": "true", "params": { "principal.mapping": "anonymous=guest" } }',
    );
    assert.notEqual(changed, PROVIDERS);
    const ok = await json<{ ok: boolean }>(
      await send('POST', 'shared-providers/default-providers/check', changed),
      200,
    );
    assert.equal(ok.ok, true);
    const put = await json<{
      created: boolean;
      previousVersion: string;
      topologies: TopologyState[];
    }>(await send('PUT', 'shared-providers/default-providers', changed), 200);
    assert.equal(put.created, false);
    assert.match(put.previousVersion, /^\d{4}-\d{2}-\d{2}T/);
    assert.deepEqual(
      put.topologies.map((t) => [t.name, t.state, t.redeployed]),
      [
        ['sandbox', 'deployed', true],
        ['sandbox2', 'deployed', true],
      ],
    );
    assert.equal(readFileSync(path, 'utf8'), changed);
    assert.match(readFileSync(file('conf/topologies/sandbox.xml'), 'utf8'), /principal\.mapping/);
    assert.deepEqual(readdirSync(file('data/history/shared-providers/default-providers')), [
      `${put.previousVersion}.json`,
    ]);

    const history = await json<{ versions: { version: string }[] }>(
      await get('shared-providers/default-providers/history'),
      200,
    );
    assert.deepEqual(
      history.versions.map((v) => v.version),
      [put.previousVersion],
    );
    const kept = await json<{ source: string }>(
      await get(`shared-providers/default-providers/history/${put.previousVersion}`),
      200,
    );
    assert.equal(kept.source, PROVIDERS);
    const undo = await json<{ topologies: TopologyState[] }>(
      await send('PUT', 'shared-providers/default-providers', kept.source),
      200,
    );
    assert.ok(undo.topologies.every((t) => t.redeployed));
    assert.equal(readFileSync(path, 'utf8'), PROVIDERS);
    assert.doesNotMatch(readFileSync(file('conf/topologies/sandbox.xml'), 'utf8'), /principal\.mapping/);
  });

  it('creates a descriptor (its topology deploys), refuses deleting a provider configuration in use, deletes with undo', async () => {
    const created = await json<{ created: boolean; file: string; topologies: TopologyState[] }>(
      await send(
        'PUT',
        'descriptors/fresh',
        `provider-config-ref: default-providers\nservices:\n  - name: HTTP\n    urls: ["${backendUrl}"]\n`,
        'application/yaml',
      ),
      201,
    );
    assert.equal(created.created, true);
    assert.equal(created.file, 'conf/descriptors/fresh.yml');
    assert.deepEqual(
      created.topologies.map((t) => [t.name, t.state, t.serving]),
      [['fresh', 'deployed', true]],
    );
    assert.equal(await served('fresh'), 200);

    const inUse = await send('DELETE', 'shared-providers/default-providers');
    const refused = await json<{ error: { status: number; message: string } }>(inUse, 409);
    assert.match(refused.error.message, /used by descriptor\(s\) fresh, sandbox, sandbox2/);
    assert.ok(existsSync(file('conf/shared-providers/default-providers.json')));

    const removed = await json<{ removed: string; previousVersion: string; serving: boolean }>(
      await send('DELETE', 'descriptors/fresh'),
      200,
    );
    assert.equal(removed.removed, 'conf/descriptors/fresh.yml');
    assert.equal(removed.serving, false);
    assert.equal(existsSync(file('conf/descriptors/fresh.yml')), false);
    assert.equal(existsSync(file('conf/topologies/fresh.xml')), false);
    assert.equal(await served('fresh'), 404);
    // Listed as deleted, its kept version restorable (a PUT creates it again).
    const list = await json<{ deleted: string[] }>(await get('descriptors'), 200);
    assert.deepEqual(list.deleted, ['fresh']);
    const gone = await json<{ exists: boolean; source: string }>(await get('descriptors/fresh/source'), 200);
    assert.equal(gone.exists, false);
    const kept = await json<{ source: string }>(
      await get(`descriptors/fresh/history/${removed.previousVersion}`),
      200,
    );
    await json(await send('PUT', 'descriptors/fresh', kept.source, 'application/yaml'), 201);
    assert.equal(await served('fresh'), 200);
    await json(await send('DELETE', 'descriptors/fresh'), 200);
    assert.equal((await send('DELETE', 'descriptors/fresh')).status, 404);
  });

  it('refuses path traversal, other media types, non-admins and calls without the CSRF header', async () => {
    const before = readdirSync(file('conf/descriptors')).sort();
    for (const path of [
      'descriptors/..%2F..%2Fconf%2Fgateway-site/source',
      'descriptors/..%2Ftopologies%2Fadmin/check',
      'shared-providers/..%2F..%2Fdata%2Fsecurity%2Fmaster',
      'descriptors/sandbox/history/..%2F..%2F..%2Fconf%2Fgateway-site',
      'descriptors/.hidden/source',
      'descriptors/..%5C..%5Cgateway-site',
      'shared-providers/..%2Fdescriptors%2Fsandbox',
    ]) {
      const method = path.endsWith('/check')
        ? 'POST'
        : path.includes('history') || path.endsWith('source')
          ? 'GET'
          : 'PUT';
      const r = await send(method, path, method === 'GET' ? undefined : '{}');
      assert.equal(r.status, 400, path);
      await r.arrayBuffer();
    }
    assert.deepEqual(readdirSync(file('conf/descriptors')).sort(), before);
    assert.equal(existsSync(join(home.dir, 'data/security/master')), false);

    const xml = await send('PUT', 'descriptors/sandbox', '<topology/>', 'application/xml');
    await json(xml, 415);

    const guest = await get('descriptors', GUEST);
    assert.equal(guest.status, 403);
    await guest.arrayBuffer();
    const guestPut = await send('PUT', 'descriptors/evil', descriptor(backendUrl), 'application/json', {
      authorization: GUEST,
      'x-xsrf-header': 'x',
    });
    assert.equal(guestPut.status, 403);
    await guestPut.arrayBuffer();

    const noCsrf = await send('PUT', 'descriptors/evil', descriptor(backendUrl), 'application/json', {
      authorization: ADMIN,
    });
    const body = await json<{ error: { message: string } }>(noCsrf, 400);
    assert.match(body.error.message, /X-XSRF-Header/i);
    const noCsrfDelete = await send('DELETE', 'descriptors/sandbox', undefined, '', { authorization: ADMIN });
    assert.equal(noCsrfDelete.status, 400);
    await noCsrfDelete.arrayBuffer();
    assert.deepEqual(readdirSync(file('conf/descriptors')).sort(), before);
  });
});

describe('admin API: the polled feed and signing out', () => {
  let home: TestHome;
  let gateway: Gateway;

  before(async () => {
    // WebSocket support off (the default): the feed says so, and its events are polled.
    home = makeHome({ 'ssl.enabled': false });
    home.write(
      'conf/users.yaml',
      `users:\n  admin:\n    password: "${await hashPassword('admin-password', { ln: 10, r: 8, p: 1 })}"\n    groups: [admin]\n`,
    );
    home.write(
      'conf/topologies/admin.xml',
      readFileSync(join(REPO_ROOT, 'conf/topologies/admin.xml'), 'utf8'),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    home?.remove();
  });

  const get = (path: string, headers: Record<string, string>) =>
    fetch(`${gateway.url}/admin/api/v1/${path}`, { headers });

  it('polls the feed: why the WebSocket is off, then the events after the last one seen', async () => {
    const first = (await (await get('feed', { authorization: ADMIN })).json()) as {
      websocket: { enabled: boolean; reason: string };
      next: number;
      events: unknown[];
    };
    assert.equal(first.websocket.enabled, false);
    assert.match(first.websocket.reason, /gateway\.websocket\.feature\.enabled/);
    assert.deepEqual(first.events, []);
    home.write(
      'conf/topologies/extra.xml',
      readFileSync(join(REPO_ROOT, 'conf/topologies/admin.xml'), 'utf8'),
    );
    await gateway.rescan();
    const next = (await (await get(`feed?after=${first.next}`, { authorization: ADMIN })).json()) as {
      next: number;
      events: { seq: number; type: string; topology: string; event: string }[];
    };
    assert.ok(
      next.events.some((e) => e.type === 'topology' && e.topology === 'extra' && e.event === 'deployed'),
      JSON.stringify(next.events),
    );
    assert.ok(next.events.every((e) => e.seq > first.next));
    assert.equal(next.next, next.events.at(-1)?.seq);
    const none = (await (await get(`feed?after=${next.next}`, { authorization: ADMIN })).json()) as {
      events: unknown[];
    };
    assert.deepEqual(none.events, []);
    const bad = await get('feed?after=-1', { authorization: ADMIN });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
  });

  it('ends the session on the server at sign-out: the old cookie is refused afterwards', async () => {
    const login = await get('whoami', { authorization: ADMIN });
    assert.equal(login.status, 200);
    await login.arrayBuffer();
    const setCookie = login.headers.getSetCookie().find((c) => c.startsWith('KNOXSESSIONID='));
    assert.ok(setCookie, 'a Basic login opens a session');
    const cookie = setCookie.split(';', 1)[0];
    // The cookie alone authenticates.
    const me = (await (await get('whoami', { cookie })).json()) as { user: string; authMethod: string };
    assert.deepEqual([me.user, me.authMethod], ['admin', 'session']);

    const out = await get('logout', { cookie });
    assert.equal(out.status, 401);
    await out.arrayBuffer();
    assert.ok(
      out.headers.getSetCookie().some((c) => /^KNOXSESSIONID=;.*Max-Age=0/.test(c)),
      'the answer clears the cookie',
    );
    // The old cookie, sent again as a client that ignored the clearing would: refused.
    const after = await get('whoami', { cookie });
    assert.equal(after.status, 401);
    await after.arrayBuffer();
    // A new Basic login still works.
    const again = await get('whoami', { authorization: ADMIN });
    assert.equal(again.status, 200);
    await again.arrayBuffer();
  });
});
