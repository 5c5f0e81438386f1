/**
 * Knox's HadoopAuth provider (front-door SPNEGO, providers/authentication/hadoop-auth) with a real MIT KDC
 * (test/helpers/kerberos.ts) and a real SPNEGO client, `curl --negotiate -u :` after `kinit`: no ticket → 401
 * Negotiate; a ticket → the backend sees the short name, the response sets the signed hadoop.auth cookie; the cookie
 * alone authenticates the next request (no second Negotiate); a cookie signed as Hadoop signs it with the same
 * secret is accepted; auth_to_local rules map principals; a bad token or a tampered cookie → 401, audited, nothing
 * forwarded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { Gateway } from '../../../src/gateway/gateway.ts';
import { auditLogOn } from '../../../src/observability/audit.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import { type KerberosFixture, REALM, startKerberos } from '../../helpers/kerberos.ts';

const SECRET = 'hadoop-auth-test-secret';

interface Audit {
  outcome: string;
  user?: string;
  reason?: string;
  provider?: string;
}

describe('HadoopAuth (front-door SPNEGO)', () => {
  let krb: KerberosFixture;
  let backend: Backend;
  let home: TestHome;
  let gateway: Gateway;
  let base: string;
  const seen: { url?: string; headers: Record<string, unknown> }[] = [];
  const audit: Audit[] = [];

  before(async () => {
    krb = await startKerberos({ noHttpd: true });
    backend = await startBackend((req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    });
    home = makeHome({ 'java.security.krb5.conf': krb.krb5Conf });
    home.write(
      'conf/topologies/t.xml',
      topologyXml({
        providers: [
          {
            role: 'authentication',
            name: 'HadoopAuth',
            params: {
              'config.prefix': 'hadoop.auth.config',
              'hadoop.auth.config.type': 'kerberos',
              'hadoop.auth.config.kerberos.principal': `HTTP/localhost@${REALM}`,
              'hadoop.auth.config.kerberos.keytab': krb.keytabs.http,
              'hadoop.auth.config.kerberos.name.rules': `RULE:[1:$1@$0](bob@${REALM})s/.*/robert/ DEFAULT`,
              'hadoop.auth.config.signature.secret': SECRET,
              'hadoop.auth.config.token.validity': '3600',
              'hadoop.auth.config.cookie.path': '/',
              'hadoop.auth.config.simple.anonymous.allowed': 'false',
              // Knox's proxy-user rules, unprefixed: alice may act as carol.
              'hadoop.proxyuser.alice.users': 'carol',
              'hadoop.proxyuser.alice.hosts': '*',
            },
          },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    const lines = pino(
      { level: 'info', base: undefined },
      { write: (l: string) => audit.push(JSON.parse(l)) },
    );
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log: createLogger({
        level: process.env.POSTERN_TEST_LOG ?? 'silent',
        stdout: !!process.env.POSTERN_TEST_LOG,
      }),
      watch: false,
      audit: auditLogOn(lines),
    });
    assert.equal(
      gateway.status.get('t')?.deployed,
      true,
      JSON.stringify(gateway.status.get('t')?.diagnostics),
    );
    // curl asks for HTTP@<the URL's host>: the gateway is reached as localhost.
    base = gateway.url.replace('127.0.0.1', 'localhost');
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
    await krb?.close();
  });

  /**
   * curl --negotiate -u : with the ticket cache `ccache` and cookie jar `jar`: status, body and stderr (-v). Run
   * asynchronously: the gateway answering it runs in this process.
   */
  function curl(path: string, ccache: string, jar?: string) {
    const args = ['-sS', '-v', '--negotiate', '-u', ':', '-w', '\n%{http_code}'];
    if (jar) args.push('-b', jar, '-c', jar);
    return new Promise<{ status: number; body: string; verbose: string }>((resolve) => {
      execFile(
        'curl',
        [...args, `${base}/t/http${path}`],
        { env: krb.env(ccache) },
        (_err, stdout, stderr) => {
          const nl = stdout.lastIndexOf('\n');
          resolve({ status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl), verbose: stderr });
        },
      );
    });
  }

  it('answers 401 Negotiate without a ticket, audited, and forwards nothing', async () => {
    const before = seen.length;
    const r = await request(`${gateway.url}/t/http/x`);
    assert.equal(r.statusCode, 401);
    assert.equal(r.headers['www-authenticate'], 'Negotiate');
    await r.body.text();
    const none = await curl('/x', join(krb.dir, 'nobody.cc'));
    assert.equal(none.status, 401);
    assert.equal(seen.length, before, 'the backend was reached');
    assert.ok(audit.some((a) => a.outcome === 'failure' && a.reason === 'no credentials'));
  });

  it('authenticates a kinit-ed curl, sets the hadoop.auth cookie, and the cookie alone serves the next request', async () => {
    const cc = join(krb.dir, 'alice.cc');
    const jar = join(krb.dir, 'alice.jar');
    krb.kinit('alice', cc);
    const first = await curl('/one?a=1', cc, jar);
    assert.equal(first.status, 200, first.verbose);
    assert.match(first.verbose, /> Authorization: Negotiate /);
    assert.match(
      first.verbose,
      /< Set-Cookie: hadoop\.auth="u=alice&p=alice@POSTERN\.TEST&t=kerberos&e=\d+&s=[^"]+"; Path=\/; HttpOnly/i,
    );
    const echo = JSON.parse(first.body) as { url: string; headers: Record<string, string> };
    assert.equal(new URL(echo.url, 'http://x').searchParams.get('user.name'), 'alice');
    assert.equal(echo.headers.authorization, undefined, 'the Negotiate token reached the backend');
    // No ticket at all now, only the cookie: no Negotiate round trip.
    const second = await curl('/two', join(krb.dir, 'empty.cc'), jar);
    assert.equal(second.status, 200, second.verbose);
    assert.doesNotMatch(second.verbose, /Authorization: Negotiate/);
    const echo2 = JSON.parse(second.body) as { url: string; headers: Record<string, string> };
    assert.equal(new URL(echo2.url, 'http://x').searchParams.get('user.name'), 'alice');
    assert.doesNotMatch(String(echo2.headers.cookie ?? ''), /hadoop\.auth/, 'the cookie reached the backend');
    assert.ok(
      audit.some((a) => a.outcome === 'success' && a.user === 'alice' && a.reason === 'hadoop.auth cookie'),
    );
  });

  it('maps the principal with the name rules', async () => {
    const cc = join(krb.dir, 'bob.cc');
    krb.kinit('bob', cc);
    const r = await curl('/who', cc);
    assert.equal(r.status, 200, r.verbose);
    const echo = JSON.parse(r.body) as { url: string };
    assert.equal(new URL(echo.url, 'http://x').searchParams.get('user.name'), 'robert');
  });

  it('accepts a cookie signed as Hadoop signs it with the same secret', async () => {
    const text = `u=carol&p=carol@${REALM}&t=kerberos&e=${Date.now() + 60_000}`;
    const sig = createHmac('sha256', SECRET).update(text).digest('base64');
    const r = await request(`${gateway.url}/t/http/hadoop`, {
      headers: { cookie: `hadoop.auth="${text}&s=${sig}"` },
    });
    assert.equal(r.statusCode, 200);
    const echo = (await r.body.json()) as { url: string };
    assert.equal(new URL(echo.url, 'http://x').searchParams.get('user.name'), 'carol');
  });

  it('honours a doAs the proxy-user rules allow, and refuses one they do not with 403', async () => {
    const cookie = (user: string) => {
      const text = `u=${user}&p=${user}@${REALM}&t=kerberos&e=${Date.now() + 60_000}`;
      return `hadoop.auth="${text}&s=${createHmac('sha256', SECRET).update(text).digest('base64')}"`;
    };
    const allowed = await request(`${gateway.url}/t/http/as?doAs=carol`, {
      headers: { cookie: cookie('alice') },
    });
    assert.equal(allowed.statusCode, 200);
    const echo = (await allowed.body.json()) as { url: string };
    const query = new URL(echo.url, 'http://x').searchParams;
    assert.equal(query.get('user.name'), 'carol');
    assert.equal(query.get('doAs'), null, "the client's doAs reached the backend");
    const before = seen.length;
    const denied = await request(`${gateway.url}/t/http/as?doAs=admin`, {
      headers: { cookie: cookie('alice') },
    });
    assert.equal(denied.statusCode, 403);
    await denied.body.text();
    const noRules = await request(`${gateway.url}/t/http/as?doAs=carol`, {
      headers: { cookie: cookie('bob') },
    });
    assert.equal(noRules.statusCode, 403);
    await noRules.body.text();
    assert.equal(seen.length, before, 'a refused doAs reached the backend');
    assert.ok(
      audit.some(
        (a) => a.outcome === 'success' && a.user === 'carol' && /doAs by alice/.test(a.reason ?? ''),
      ),
    );
    assert.ok(
      audit.some(
        (a) => a.outcome === 'denied' && a.reason === 'User: alice is not allowed to impersonate admin',
      ),
    );
  });

  it('refuses a tampered or expired cookie and a bad token with 401, audited, and forwards nothing', async () => {
    const before = seen.length;
    const text = `u=admin&p=admin@${REALM}&t=kerberos&e=${Date.now() + 60_000}`;
    const sig = createHmac('sha256', 'another-secret').update(text).digest('base64');
    const tampered = await request(`${gateway.url}/t/http/x`, {
      headers: { cookie: `hadoop.auth="${text}&s=${sig}"` },
    });
    assert.equal(tampered.statusCode, 401);
    assert.match(String(tampered.headers['set-cookie']), /^hadoop\.auth=; Max-Age=0/);
    await tampered.body.text();
    const old = `u=alice&p=alice@${REALM}&t=kerberos&e=${Date.now() - 1000}`;
    const oldSig = createHmac('sha256', SECRET).update(old).digest('base64');
    const expired = await request(`${gateway.url}/t/http/x`, {
      headers: { cookie: `hadoop.auth="${old}&s=${oldSig}"` },
    });
    assert.equal(expired.statusCode, 401);
    await expired.body.text();
    const bad = await request(`${gateway.url}/t/http/x`, {
      headers: { authorization: 'Negotiate YIIBBQYJKoZIhvcSAQICAQBu' },
    });
    assert.equal(bad.statusCode, 401);
    assert.equal(bad.headers['www-authenticate'], 'Negotiate');
    await bad.body.text();
    assert.equal(seen.length, before, 'the backend was reached');
    assert.ok(audit.some((a) => a.reason === 'hadoop.auth cookie refused: invalid signature'));
    assert.ok(audit.some((a) => a.reason === 'hadoop.auth cookie refused: expired token'));
    assert.ok(audit.some((a) => a.reason === 'invalid Negotiate token'));
  });
});
