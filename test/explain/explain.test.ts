/**
 * The explain engine, in process, against real deployments: a real gateway on a test home (postern's bundled
 * HTTP definition and Knox's own webhdfs/2.4.0, read in place) with a real backend on loopback. The central
 * claim is checked by sending the same request for real: the backend URL and headers explain predicts are the
 * ones the backend receives. Then what explain says about routes that lost, unmatched URLs, refusals, the
 * topology's default path, WebSocket URLs and secrets in params, and that it audits nothing.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { formatDiagnostic } from '../../src/config/diagnostics.ts';
import { compileDeployment } from '../../src/deploy/compile.ts';
import { type Explanation, explain, formatExplanation } from '../../src/explain/index.ts';
import { Gateway, loadHome } from '../../src/gateway/gateway.ts';
import { auditLogOn } from '../../src/observability/audit.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { hashPassword } from '../../src/providers/authentication/shiro/password-hash.ts';
import { readTopologyFile } from '../../src/topology/load.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

const GUEST_PASSWORD = 'guest-password';

describe('explain against a running gateway', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let origin: string;
  const audit: { action: string; outcome: string; user?: string; effectiveUser?: string }[] = [];

  before(async () => {
    backend = await startBackend((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"FileStatuses":{"FileStatus":[]}}');
    });
    home = makeHome({ 'postern.services.dirs': KNOX_SERVICES });
    const hash = await hashPassword(GUEST_PASSWORD);
    home.write('conf/users.yaml', `users:\n  guest:\n    password: "${hash}"\n    groups: [users]\n`);
    // Anonymous, mapped to another name, with the actor headers of ConfigurableDispatch.
    home.write(
      'conf/topologies/anon.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          {
            role: 'identity-assertion',
            name: 'Default',
            params: { 'principal.mapping': 'anonymous=webuser' },
          },
        ],
        services: [
          {
            role: 'HTTP',
            urls: [`${backend.url}/base`],
            params: { shouldIncludePrincipalAndGroups: 'true' },
          },
        ],
      }),
    );
    // HTTP Basic against a users file; Knox's own WebHDFS definition; an ACL on HTTP; a default path.
    home.write(
      'conf/topologies/basic.xml',
      topologyXml({
        providers: [
          {
            role: 'authentication',
            name: 'ShiroProvider',
            params: {
              'main.fileRealm': 'postern.FileRealm',
              'main.fileRealm.usersFile': 'conf/users.yaml',
              'main.securityManager.realms': '$fileRealm',
              'urls./**': 'authcBasic',
            },
          },
          { role: 'identity-assertion', name: 'Default' },
          { role: 'authorization', name: 'AclsAuthz', params: { 'http.acl': '*;users;*' } },
        ],
        services: [
          { role: 'HTTP', urls: [backend.url], params: { 'oauth.client.secret': 'not-shown' } },
          { role: 'WEBHDFS', version: '2.4.0', urls: [`${backend.url}/webhdfs`] },
        ],
        extra: '  <path>http/home</path>',
      }),
    );
    const sink = { write: (line: string) => audit.push(JSON.parse(line)) };
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log: createLogger({ level: 'silent' }),
      audit: auditLogOn(pino({ level: 'info', base: undefined }, sink)),
      watch: false,
    });
    origin = gateway.url.replace(/\/gateway$/, '');
    const problems = [...gateway.status.values()].flatMap((st) => st.diagnostics.map(formatDiagnostic));
    assert.deepEqual([...gateway.server.deployments.keys()].sort(), ['anon', 'basic'], problems.join('\n'));
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  /**
   * Sends the request through the gateway and explains it: the backend must have received exactly the URL and
   * headers explain predicted (less `x-request-id`, whose value is per request, and `connection`, which the
   * HTTP client sets per connection).
   */
  async function predictsReality(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; user?: string; groups?: string[]; basic?: string } = {},
  ): Promise<Explanation> {
    const sent = { ...options.headers };
    if (options.basic) sent.authorization = `Basic ${Buffer.from(options.basic).toString('base64')}`;
    const count = backend.requests.length;
    // node:http, not undici: it sends hop-by-hop headers as given.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${origin}${path}`, { method, headers: sent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    assert.equal(backend.requests.length, count + 1, 'the request reached the backend');
    const got = backend.requests[count];

    const e = await explain(gateway, method, `${origin}${path}`, {
      user: options.user,
      groups: options.groups,
      headers: sent,
    });
    assert.equal(e.outcome, 'proxied', formatExplanation(e));
    const predicted = new URL(e.backend!.url);
    assert.equal(predicted.origin, backend.url);
    assert.equal(predicted.pathname + predicted.search, got.url);
    const real = { ...got.headers } as Record<string, string>;
    delete real.connection;
    delete real['x-request-id'];
    const pred = { ...e.backend!.headers };
    assert.equal(pred['x-request-id'], '<request id>');
    delete pred['x-request-id'];
    assert.deepEqual(pred, real);
    return e;
  }

  it('predicts the backend URL and headers of an anonymous request, identity mapped, actor headers added', async () => {
    const e = await predictsReality('GET', '/gateway/anon/http/items/7?x=1&user.name=mallory&doAs=root', {
      headers: { accept: 'application/json', connection: 'x-trace', 'x-trace': '1', 'keep-alive': '5' },
    });
    assert.equal(e.backend!.url, `${backend.url}/base/items/7?x=1&user.name=webuser`);
    // The actor header names the authenticated user (ConfigurableDispatch), not the asserted one.
    assert.equal(e.backend!.headers['x-knox-actor-id'], 'anonymous');
    assert.deepEqual(
      e.backend!.notForwarded.map((h) => [h.name, h.reason]),
      [
        ['connection', 'hop-by-hop'],
        ['x-trace', 'named by the client’s Connection header (hop-by-hop)'],
        ['keep-alive', 'hop-by-hop'],
      ],
    );
    // The request URL rule with its before and after, then identity assertion's edit of the backend URL.
    const [url, identity] = e.rewrites;
    assert.deepEqual(
      { step: url.step, rule: url.rule, chosen: url.chosen, before: url.before, after: url.after },
      {
        step: 'request.url',
        rule: 'HTTP/postern/in/path',
        chosen: 'bound',
        before: `${origin}/gateway/anon/http/items/7?x=1&user.name=mallory&doAs=root`,
        after: `${backend.url}/base/items/7?x=1&user.name=mallory&doAs=root`,
      },
    );
    assert.match(url.at!, /services\/http\/1\.0\.0\/rewrite\.xml:\d+:\d+$/);
    assert.deepEqual(
      { step: identity.step, by: identity.by, after: identity.after },
      {
        step: 'identity',
        by: 'identity-assertion/Default',
        after: `${backend.url}/base/items/7?x=1&user.name=webuser`,
      },
    );
    assert.deepEqual(
      e.chain.map((s) => [`${s.role}/${s.name}`, s.effect]),
      [
        ['authentication/Anonymous', 'ran'],
        ['rewrite/url-rewrite', 'ran'],
        ['identity-assertion/Default', 'ran'],
        ['dispatch/configurable', 'ran'],
      ],
    );
    assert.match(e.chain[2].note!, /effective user "webuser"/);
  });

  it('predicts what the backend gets for a user who logs in with Basic: user.name, no Authorization', async () => {
    const e = await predictsReality('GET', '/gateway/basic/http/a/b', {
      basic: `guest:${GUEST_PASSWORD}`,
      user: 'guest',
      groups: ['users'],
    });
    assert.equal(e.backend!.url, `${backend.url}/a/b?user.name=guest`);
    assert.equal(e.backend!.headers.authorization, undefined);
    assert.deepEqual(e.backend!.notForwarded.at(-1), {
      name: 'authorization',
      reason: "the client's credentials are not forwarded by dispatch/configurable",
    });
    const shiro = e.chain.find((s) => s.name === 'ShiroProvider')!;
    assert.equal(shiro.effect, 'assumed');
    assert.equal(shiro.params['main.fileRealm.usersFile'], 'conf/users.yaml');
    // A secret-looking param is masked (here a service param, which the dispatch sees).
    assert.equal(e.chain.at(-1)!.params['oauth.client.secret'], '******');
    assert.ok(e.assumptions.some((a) => a.includes('ShiroProvider accepts the credentials of "guest"')));
  });

  it("predicts Knox's WebHDFS definition: route, rule and the namenode URL", async () => {
    const e = await predictsReality('GET', '/gateway/basic/webhdfs/v1/tmp/dir?op=LISTSTATUS', {
      basic: `guest:${GUEST_PASSWORD}`,
      user: 'guest',
      groups: ['users'],
      headers: { accept: '*/*' },
    });
    assert.equal(e.route!.pattern, '/webhdfs/v1/**?**');
    assert.match(e.route!.at, /webhdfs\/2\.4\.0\/service\.xml:50:\d+$/);
    assert.equal(e.rewrites[0].rule, 'WEBHDFS/webhdfs/inbound/namenode/file');
    assert.equal(e.backend!.url, `${backend.url}/webhdfs/v1/tmp/dir?op=LISTSTATUS&user.name=guest`);
    // Routes of the same service that lost: the other WebHDFS routes miss at a segment, with why.
    const root = e.losers.find((l) => l.pattern === '/webhdfs/v1/?**')!;
    assert.equal(root.matched, false);
    assert.equal(root.reason, 'the URL goes on with "/tmp/dir" where the pattern ends');
    const home = e.losers.find((l) => l.pattern === '/webhdfs/v1/~/**?**')!;
    assert.equal(home.reason, 'segment 3 "tmp" is not "~"');
    // The response bindings are listed with their filter.
    const body = e.rewrites.find((r) => r.step === 'response.headers')!;
    assert.equal(body.rule, 'WEBHDFS/webhdfs/outbound/namenode/headers');
    assert.match(body.note!, /Location → WEBHDFS\/webhdfs\/outbound\/namenode\/headers\/location|Location/);
  });

  it('says why a route that also matched lost', async () => {
    const e = await explain(gateway, 'GET', `${origin}/gateway/anon/http/items`);
    assert.equal(e.route!.pattern, '/http/**?**');
    const plain = e.losers.find((l) => l.pattern === '/http/**')!;
    assert.equal(plain.matched, true);
    assert.equal(
      plain.reason,
      'matches too, but on the same path a pattern with a query part wins over one without',
    );
    // Routes that matched come first.
    assert.equal(e.losers[0], plain);
  });

  it("follows the topology's <path> for a URL without a service path", async () => {
    const e = await predictsReality('GET', '/gateway/basic', {
      basic: `guest:${GUEST_PASSWORD}`,
      user: 'guest',
      groups: ['users'],
    });
    assert.equal(e.topology!.defaultPath, 'http/home');
    assert.equal(e.topology!.path, '/http/home');
    assert.equal(e.backend!.url, `${backend.url}/home?user.name=guest`);
    assert.ok(e.notes.some((n) => n.includes("topology's <path>")));
  });

  it('explains a refusal by an ACL, and lets a member of the group through', async () => {
    const denied = await explain(gateway, 'GET', `${origin}/gateway/basic/http/x`, { user: 'bob' });
    assert.equal(denied.outcome, 'refused');
    assert.equal(denied.status, 403);
    assert.equal(denied.backend, undefined);
    assert.equal(denied.chain.find((s) => s.role === 'authorization')!.effect, 'ran');
    // The real gateway agrees: bob is not a user of the file, but the ACL is what explain is asked about.
    const allowed = await explain(gateway, 'GET', `${origin}/gateway/basic/http/x`, {
      user: 'bob',
      groups: ['users'],
    });
    assert.equal(allowed.outcome, 'proxied');
    assert.match(allowed.chain.find((s) => s.role === 'authorization')!.note!, /allows "bob"/);
  });

  it('without --user or credentials, is the 401 the client gets, with the challenge, as the gateway answers', async () => {
    const e = await explain(gateway, 'GET', `${origin}/gateway/basic/http/x`);
    assert.equal(e.outcome, 'refused');
    assert.equal(e.status, 401);
    assert.equal(e.code, 'POSTERN_ERR_UNAUTHENTICATED');
    assert.equal(e.challenge, 'BASIC realm="application"');
    assert.equal(e.backend, undefined);
    assert.equal(e.chain.find((s) => s.role === 'authentication')!.effect, 'ran');
    assert.equal(e.chain.find((s) => s.role === 'identity-assertion')!.effect, 'not-reached');
    assert.ok(e.notes.some((n) => n.includes('--user')));
    const real = await request(`${origin}/gateway/basic/http/x`);
    await real.body.dump();
    assert.equal(real.statusCode, e.status);
    assert.equal(real.headers['www-authenticate'], e.challenge);
  });

  it('without --user, checks credentials given as a header for real', async () => {
    const good = `Basic ${Buffer.from(`guest:${GUEST_PASSWORD}`).toString('base64')}`;
    const e = await explain(gateway, 'GET', `${origin}/gateway/basic/http/x`, {
      headers: { authorization: good },
    });
    assert.equal(e.outcome, 'proxied');
    assert.equal(e.chain.find((s) => s.role === 'authentication')!.note, 'user "guest"');
    const bad = await explain(gateway, 'GET', `${origin}/gateway/basic/http/x`, {
      headers: { authorization: `Basic ${Buffer.from('guest:wrong').toString('base64')}` },
    });
    assert.equal(bad.outcome, 'refused');
    assert.equal(bad.status, 401);
  });

  it('audits nothing: a real request of a mapped user is audited, its explanation is not', async () => {
    const before = audit.length;
    const res = await request(`${origin}/gateway/anon/http/audited`);
    await res.body.dump();
    const real = audit.slice(before).filter((a) => a.action === 'identity-assertion');
    assert.equal(real.length, 1, 'the real request records the principal mapping');
    const after = audit.length;
    await explain(gateway, 'GET', `${origin}/gateway/anon/http/audited`);
    await explain(gateway, 'GET', `${origin}/gateway/basic/http/x`, { user: 'bob' });
    assert.equal(audit.length, after);
  });

  it('names the nearest routes when none matches, and the topologies when the topology is unknown', async () => {
    const noRoute = await explain(gateway, 'GET', `${origin}/gateway/basic/webhdfs/v2/tmp`);
    assert.equal(noRoute.outcome, 'unmatched');
    assert.equal(noRoute.code, 'POSTERN_ERR_NOT_FOUND');
    assert.equal(noRoute.reason, 'no route of topology "basic" matches /webhdfs/v2/tmp');
    const first = noRoute.candidates!.routes![0];
    assert.match(first.pattern, /^\/webhdfs\//);
    assert.equal(first.reason, 'segment 2 "v2" is not "v1"');

    const noTopology = await explain(gateway, 'GET', `${origin}/gateway/anno/http/x`);
    assert.equal(noTopology.outcome, 'unmatched');
    assert.equal(noTopology.code, 'POSTERN_ERR_TOPOLOGY_NOT_FOUND');
    assert.deepEqual(noTopology.candidates!.topologies, ['/gateway/anon/', '/gateway/basic/']);

    const outside = await explain(gateway, 'GET', `${origin}/elsewhere/x`);
    assert.match(outside.reason!, /does not start with the gateway path \/gateway\//);

    const dots = await explain(gateway, 'GET', `${origin}/gateway/anon/http/%2e%2e/x`);
    assert.deepEqual([dots.outcome, dots.status], ['refused', 400]);
  });

  it('reads the normal form of the path, as the gateway does, and predicts the backend path cut after the prefix', async () => {
    const e = await predictsReality('GET', '/gateway/anon/http/public/http//%61dmin;x=1/y');
    assert.equal(e.backend!.url, `${backend.url}/base/public/http/admin/y?user.name=webuser`);
    assert.ok(
      e.notes.includes('the path is read in its normal form: /gateway/anon/http/public/http/admin/y'),
    );
    const params = await explain(gateway, 'GET', `${origin}/gateway/anon/http/public/..;/x`);
    assert.deepEqual([params.outcome, params.status, params.code], ['refused', 400, 'POSTERN_ERR_BAD_PATH']);
    assert.match(params.reason!, /dot segment/);
    const slash = await explain(gateway, 'GET', `${origin}/gateway/anon/http/a%2Fb`);
    assert.deepEqual([slash.outcome, slash.status], ['refused', 400]);
    assert.match(slash.reason!, /postern\.path\.allowEncodedSlash/);
  });

  it('explains a WebSocket URL through the upgrade chain', async () => {
    const e = await explain(gateway, 'GET', `${origin.replace('http:', 'ws:')}/gateway/anon/http/socket`);
    assert.equal(e.request.upgrade, true);
    assert.equal(e.chain.at(-1)!.name, 'websocket');
    assert.equal(e.backend!.url, `${backend.url.replace('http:', 'ws:')}/base/socket?user.name=webuser`);
  });

  it('refuses methods the dispatch never forwards', async () => {
    const e = await explain(gateway, 'TRACE', `${origin}/gateway/anon/http/x`);
    assert.deepEqual([e.outcome, e.status, e.code], ['refused', 405, 'POSTERN_ERR_METHOD_NOT_ALLOWED']);
  });

  it('has a stable JSON shape: version 1, fields in reading order', async () => {
    const e = await explain(gateway, 'GET', `${origin}/gateway/anon/http/x`);
    const json = JSON.parse(JSON.stringify(e));
    assert.deepEqual(Object.keys(json), [
      'version',
      'request',
      'outcome',
      'topology',
      'route',
      'losers',
      'omittedLosers',
      'chain',
      'rewrites',
      'backend',
      'assumptions',
      'notes',
    ]);
    assert.equal(json.version, 1);
  });
});

describe('explain against a single deployment', () => {
  let home: TestHome;
  after(() => home?.remove());

  it('works on a Deployment alone, as the admin API calls it', async () => {
    home = makeHome();
    const file = home.write(
      'conf/topologies/one.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: ['http://backend.example:8080/api'] }] }),
    );
    const loaded = await loadHome(home.dir);
    const { deployment } = compileDeployment({
      topology: readTopologyFile(file).topology!,
      catalog: loaded.catalog,
      settings: loaded.settings,
      registry: loaded.registry,
      masterSecret: new Uint8Array(32),
      home: home.dir,
    });
    assert.ok(deployment);
    try {
      const e = await explain(deployment, 'get', '/gateway/one/http/v/1?q=a%20b');
      assert.equal(e.request.method, 'GET');
      assert.equal(e.backend!.url, 'http://backend.example:8080/api/v/1?q=a+b&user.name=anonymous');
      // The path-only form gets the gateway's own host and port (gateway-site), as a client on localhost would.
      assert.equal(e.backend!.headers['x-forwarded-host'], `localhost:${loaded.settings.port}`);
      const text = formatExplanation(e, { relativeTo: home.dir });
      assert.match(
        text,
        /^GET \/gateway\/one\/http\/v\/1\?q=a%20b\n→ proxied to http:\/\/backend\.example:8080\/api\/v\/1/,
      );
      assert.match(text, /^topology {2}one {2}conf\/topologies\/one\.xml$/m);
    } finally {
      await deployment.retire();
    }
  });
});
