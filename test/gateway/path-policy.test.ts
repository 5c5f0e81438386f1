/**
 * Issue 14, items 1–5: a path policy holds for the path the backend receives. Each case goes through a real
 * gateway (undici sends the request target verbatim) to a real backend on loopback that records the request
 * target of every request line it receives; the policies are ShiroProvider `urls.*` rules (anonymous everywhere
 * but `/http/admin/**`) and PathAclsAuthz rules (bob's WebHDFS home for bob only, `/http/admin/**` for root).
 *
 * Before the fix (commit f5396eb), every "refused" case here reached the backend with a path that resolves into
 * what the policy protects, and the "anchored" cases sent the part after the last service segment.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { hashPassword } from '../../src/providers/authentication/shiro/password-hash.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { type AuditEvent, startAuditedGateway } from '../providers/security-helpers.ts';

interface Answer {
  status: number;
  code?: string;
  /**
   * The paths (request targets without the query, which identity assertion extends with `user.name`) the
   * backend received for this request: none or one.
   */
  received: string[];
  /** The same with the query. */
  targets: string[];
}

describe('path policies hold for the path the backend receives', () => {
  let home: TestHome;
  let gateway: Gateway;
  let events: (AuditEvent & { path?: string; resource?: string; backendPath?: string })[];
  let backend: Backend;
  let pool: Pool;
  let n = 0;

  before(async () => {
    backend = await startBackend((req, res) => {
      req.resume();
      res.setHeader('content-type', 'text/plain');
      res.end('ok');
    });
    home = makeHome();
    home.write(
      'conf/users.yaml',
      `users:\n  root:\n    password: '${await hashPassword('root-password-1')}'\n`,
    );
    home.write(
      'conf/topologies/shiro.xml',
      topologyXml({
        providers: [
          {
            role: 'authentication',
            name: 'ShiroProvider',
            params: {
              'main.fileRealm': 'postern.FileRealm',
              'main.fileRealm.usersFile': 'conf/users.yaml',
              'urls./http/admin/**': 'authcBasic',
              'urls./**': 'anon',
            },
          },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'HTTP', urls: [`${backend.url}/api`] }],
      }),
    );
    home.write(
      'conf/topologies/acl.xml',
      topologyXml({
        providers: [
          { role: 'federation', name: 'HeaderPreAuth', params: { 'preauth.custom.header': 'X-User' } },
          { role: 'identity-assertion', name: 'Default' },
          {
            role: 'authorization',
            name: 'PathAclsAuthz',
            params: {
              // Knox's shorthand, fixed to this topology: it never matches a path with more in front.
              'webhdfs.bob.path.acl': '/gateway/acl/webhdfs/v1/user/bob/**;bob;*;*',
              'webhdfs.path.acl': '*://*:*/**/webhdfs/v1/**;*;*;*',
              'http.admin.path.acl': '*://*:*/**/http/admin/**;root;*;*',
              'http.path.acl': '*://*:*/**/http/**;*;*;*',
            },
          },
        ],
        services: [
          { role: 'WEBHDFS', urls: [`${backend.url}/webhdfs`] },
          { role: 'HTTP', urls: [`${backend.url}/api`] },
        ],
      }),
    );
    home.write(
      'conf/topologies/slash.xml',
      topologyXml({
        services: [
          {
            role: 'HTTP',
            urls: [`${backend.url}/api`],
            params: { 'postern.path.allowEncodedSlash': 'true' },
          },
        ],
      }),
    );
    ({ gateway, events } = await startAuditedGateway(home));
    pool = new Pool(new URL(gateway.url).origin, { connections: 2 });
  });

  after(async () => {
    await pool?.close();
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  /** GET with the request target exactly as given; what came back and what the backend received for it. */
  const get = async (target: string, headers: Record<string, string> = {}): Promise<Answer> => {
    const id = `c${++n}`;
    const res = await pool.request({ method: 'GET', path: target, headers: { ...headers, 'x-case': id } });
    const text = await res.body.text();
    const targets = backend.requests.filter((r) => r.headers['x-case'] === id).map((r) => r.url);
    const received = targets.map((t) => t.split('?', 1)[0]);
    let code: string | undefined;
    if (res.statusCode >= 400) code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    return { status: res.statusCode, code, received, targets };
  };

  describe('1. the rewrite cuts the path where the route and the policies cut it', () => {
    it('Shiro: a second service segment further along is path, not a new anchor', async () => {
      // Before: 200 and the backend got /api/admin/x (the part after the last "http"), past urls./http/admin/**.
      const a = await get('/gateway/shiro/http/public/http/admin/x');
      assert.equal(a.status, 200);
      assert.deepEqual(a.received, ['/api/public/http/admin/x']);
      // The protected path itself still needs authentication.
      const b = await get('/gateway/shiro/http/admin/x');
      assert.equal(b.status, 401);
      assert.deepEqual(b.received, []);
    });

    it("PathAcls: /webhdfs/v1/tmp/webhdfs/v1/user/bob/... is a file under /tmp, not bob's", async () => {
      // Before: 200 and the backend got /webhdfs/v1/user/bob/private, past bob's ACL.
      const a = await get('/gateway/acl/webhdfs/v1/tmp/webhdfs/v1/user/bob/private?op=OPEN', {
        'X-User': 'alice',
      });
      assert.equal(a.status, 200);
      assert.deepEqual(a.received, ['/webhdfs/v1/tmp/webhdfs/v1/user/bob/private']);
      const b = await get('/gateway/acl/webhdfs/v1/user/bob/private?op=OPEN', { 'X-User': 'alice' });
      assert.equal(b.status, 403);
      assert.deepEqual(b.received, []);
      const c = await get('/gateway/acl/webhdfs/v1/user/bob/private?op=OPEN', { 'X-User': 'bob' });
      assert.deepEqual(c.received, ['/webhdfs/v1/user/bob/private']);
    });

    it("a path ACL's leading ** is the gateway path and topology too: the rule for the path sent decides", async () => {
      // Before: 403: the root-only rule matched further along (its ** floated past /http/public) and decided for a
      // request that the rewrite then sent to /api/admin/x; now the rule for what is sent, /api/public/..., decides.
      const a = await get('/gateway/acl/http/public/http/admin/x', { 'X-User': 'alice' });
      assert.equal(a.status, 200);
      assert.deepEqual(a.received, ['/api/public/http/admin/x']);
      const b = await get('/gateway/acl/http/admin/x', { 'X-User': 'alice' });
      assert.equal(b.status, 403);
    });

    it("the audit line records the client's path, the normalised one decided on and the one sent", async () => {
      await get('/gateway/shiro/http/public//http/%61dmin;v=1/x');
      const dispatch = events.findLast((e) => e.action === 'dispatch' && e.topology === 'shiro');
      assert.ok(dispatch);
      assert.equal(dispatch.path, '/gateway/shiro/http/public//http/%61dmin;v=1/x');
      assert.equal(dispatch.resource, '/http/public/http/admin/x');
      assert.equal(dispatch.backendPath, '/api/public/http/admin/x');
    });
  });

  describe('2. a request target has no fragment', () => {
    for (const target of [
      '/gateway/shiro/http/public/a#/b',
      '/gateway/shiro/http/admin#/x',
      '/gateway/shiro/http/public?q=1#/admin',
      '/gateway/acl/http/x#',
    ]) {
      it(`400 for ${target}`, async () => {
        // Before: 200 for the anonymous ones (the fragment became part of the forwarded path or was dropped).
        const a = await get(target, { 'X-User': 'alice' });
        assert.equal(a.status, 400);
        assert.equal(a.code, 'POSTERN_ERR_BAD_PATH');
        assert.deepEqual(a.received, []);
      });
    }
  });

  describe('3. empty segments are merged before the policies, and the merged path is sent', () => {
    for (const target of [
      '/gateway/shiro/http//admin/x',
      '/gateway/shiro//http/admin/x',
      '/gateway/shiro/http/admin//x',
    ]) {
      it(`${target} needs authentication like /http/admin/x`, async () => {
        // Before: /http//admin/x passed urls./** (anon) and the backend got /api/admin/x.
        const a = await get(target);
        assert.equal(a.status, 401);
        assert.deepEqual(a.received, []);
      });
    }

    it('an anonymous path with empty segments is forwarded merged', async () => {
      const a = await get('/gateway/shiro/http//public///x');
      assert.equal(a.status, 200);
      assert.deepEqual(a.received, ['/api/public/x']);
    });
  });

  describe('4. the policies match decoded unreserved characters and no path parameters', () => {
    for (const target of [
      '/gateway/shiro/http/%61dmin/x',
      '/gateway/shiro/http/%61%64%6D%69%6E/x',
      '/gateway/shiro/%68ttp/admin/x',
      '/gateway/shiro/http/admin;x=1/x',
      '/gateway/shiro/http/admin;/x',
      '/gateway/shiro/http;a=b/admin/x',
      '/gateway/shiro/http/;x/admin/x',
    ]) {
      it(`${target} needs authentication like /http/admin/x`, async () => {
        // Before: 200, and the backend decoded %61 or stripped ;x=1 into /api/admin/x.
        const a = await get(target);
        assert.equal(a.status, 401);
        assert.deepEqual(a.received, []);
      });
    }

    it('sends the normal form: unreserved escapes decoded, other escapes upper-cased, parameters gone', async () => {
      const a = await get('/gateway/shiro/http/%7Euser/a%2dz/%c3%a9;jsessionid=1/b%3bc?x=%2e;1');
      assert.equal(a.status, 200);
      assert.deepEqual(a.received, ['/api/~user/a-z/%C3%A9/b%3Bc']);
      // The query is not the path: its `;` and escapes are the rewrite's (form) business, not cut or refused.
      assert.match(a.targets[0], /\?x=\.%3B1(&|$)/);
    });

    it('sends characters that are never raw in a URL ("<>`{}|^) percent-encoded', async () => {
      // undici refuses to send such a target; a raw socket does, as a hostile client would.
      const target = '/gateway/shiro/http/a"b/<script>/{x}|^`?q=<img/src="x">&j={"a":1}';
      const port = Number(new URL(gateway.url).port);
      const status = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () =>
          socket.write(
            Buffer.from(
              `GET ${target} HTTP/1.1\r\nHost: x\r\nX-Case: raw\r\nConnection: close\r\n\r\n`,
              'latin1',
            ),
          ),
        );
        let got = '';
        socket.setEncoding('latin1');
        socket.on('data', (c: string) => {
          got += c;
        });
        socket.on('end', () => resolve(got.slice(0, got.indexOf('\r\n'))));
        socket.on('error', reject);
      });
      assert.equal(status, 'HTTP/1.1 200 OK');
      const sent = backend.requests.filter((r) => r.headers['x-case'] === 'raw').map((r) => r.url);
      assert.deepEqual(sent, [
        '/api/a%22b/%3Cscript%3E/%7Bx%7D%7C%5E%60?q=%3Cimg%2Fsrc%3D%22x%22%3E&j=%7B%22a%22%3A1%7D&user.name=anonymous',
      ]);
    });

    it('PathAcls reads the same normal form', async () => {
      const a = await get('/gateway/acl/webhdfs/v1/user/%62ob;x/private?op=OPEN', { 'X-User': 'alice' });
      assert.equal(a.status, 403);
      assert.deepEqual(a.received, []);
    });
  });

  describe('5. dot segments are refused in every spelling, path parameters included', () => {
    for (const target of [
      '/gateway/shiro/http/public/..;/admin/x',
      '/gateway/shiro/http/public/.;/x',
      '/gateway/shiro/http/public/%2e%2e;/admin/x',
      '/gateway/shiro/http/public/%2E%2e;x=1/admin/x',
      '/gateway/shiro/http/..;/secret',
      '/gateway/shiro/http/public/..%3b/admin/x',
      '/gateway/shiro/http/public/%252e%252e;/admin/x',
      '/gateway/shiro/http/public\\..\\admin/x',
      '/gateway/shiro/http/public/..%5cadmin/x',
    ]) {
      it(`400 for ${target}`, async () => {
        // Before: 200 for the `;` forms; a backend that strips path parameters first climbed to /api/admin/x.
        const a = await get(target);
        assert.equal(a.status, 400);
        assert.equal(a.code, 'POSTERN_ERR_BAD_PATH');
        assert.deepEqual(a.received, []);
      });
    }
  });

  describe('encoded separators', () => {
    it('are refused unless the service accepts them (postern.path.allowEncodedSlash)', async () => {
      const a = await get('/gateway/shiro/http/public/a%2Fb');
      assert.equal(a.status, 400);
      assert.deepEqual(a.received, []);
      const b = await get('/gateway/shiro/http/public/a%5cb');
      assert.equal(b.status, 400);
      const c = await get('/gateway/slash/http/rows/a%2fb');
      assert.equal(c.status, 200);
      assert.deepEqual(c.received, ['/api/rows/a%2Fb']);
      // Opting in does not let dot segments through.
      const d = await get('/gateway/slash/http/rows/..%2fsecret');
      assert.equal(d.status, 400);
    });
  });
});
