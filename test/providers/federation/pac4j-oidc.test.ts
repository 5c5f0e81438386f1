/**
 * KnoxSSO with OpenID Connect (Knox's `pac4j` federation provider, `OidcClient`), end to end against a real,
 * certified OpenID Provider (`oidc-provider`, test/helpers/oidc-op.ts) on loopback:
 *
 * - in headless Chromium: a browser asks a topology protected by SSOCookieProvider, is sent to KNOXSSO, which
 *   (pac4j) sends it to the provider's login page; it logs in, comes back to Knox's callback URL
 *   (`…/knoxsso/api/v1/websso?pac4jCallback=true&client_name=OidcClient`), gets `hadoop-jwt` and reaches the
 *   backend and KNOX-SESSION's sessioninfo as the user (screenshots in a temp dir, named by t.diagnostic);
 * - refusals, each 401 (or 400/503) with nothing issued: a tampered `state`, a tampered and a missing `nonce`
 *   (the authorization request altered on its way to the provider), a wrong issuer (a discovery document naming
 *   another issuer than the provider's), an expired ID token (a provider whose clock is 5 minutes behind), a
 *   callback without a login in progress, a provider that is down (503, logged once, no redirect).
 *
 * The negative flows that tamper with a request are scripted with undici (a browser follows the provider's
 * redirects without letting a test change them); the rest run in Chromium.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { request } from 'undici';
import { CredentialStore, masterSecretFile } from '../../../src/config/aliases.ts';
import { loadOrCreateMasterSecret } from '../../../src/deploy/secrets.ts';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { auditLogOn } from '../../../src/observability/audit.ts';
import { type Backend, closedPort, startBackend } from '../../helpers/backend.ts';
import { launchChromium } from '../../helpers/browser.ts';
import { reservePort } from '../../helpers/guarded-process.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import { type OpFixture, startOp } from '../../helpers/oidc-op.ts';
import { startDeployed } from '../../helpers/sso.ts';

const CLIENT_ID = 'postern-knoxsso';
const CLIENT_SECRET = 'a-test-client-secret-of-some-length';

/** A minimal cookie jar for the scripted flows: name → value per origin (paths ignored). */
class Jar {
  readonly #byOrigin = new Map<string, Map<string, string>>();
  header(url: string): string {
    const jar = this.#byOrigin.get(new URL(url).origin);
    return jar ? [...jar].map(([n, v]) => `${n}=${v}`).join('; ') : '';
  }
  store(url: string, setCookie: string | string[] | undefined): void {
    const origin = new URL(url).origin;
    const jar = this.#byOrigin.get(origin) ?? new Map<string, string>();
    this.#byOrigin.set(origin, jar);
    for (const line of setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (attrs.some((a) => /^\s*max-age=0$/i.test(a)) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }
  names(url: string): string[] {
    return [...(this.#byOrigin.get(new URL(url).origin)?.keys() ?? [])];
  }
}

interface Hop {
  status: number;
  location?: string;
  body: string;
  setCookie: string[];
}

async function hop(
  jar: Jar,
  url: string,
  init: { method?: string; form?: URLSearchParams } = {},
): Promise<Hop> {
  const headers: Record<string, string> = { accept: 'text/html' };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await request(url, {
    method: (init.method ?? (init.form ? 'POST' : 'GET')) as 'GET' | 'POST',
    headers,
    body: init.form?.toString(),
  });
  const raw = res.headers['set-cookie'];
  const setCookie = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  jar.store(url, setCookie);
  const location = res.headers.location as string | undefined;
  return {
    status: res.statusCode,
    location: location ? new URL(location, url).href : undefined,
    body: await res.body.text(),
    setCookie,
  };
}

describe('pac4j federation with OpenID Connect (OidcClient) against oidc-provider', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let op: OpFixture;
  let lateOp: OpFixture;
  let fakeDiscovery: http.Server;
  let browser: Browser;
  let gatewayUrl: string;
  const shots = mkdtempSync(join(tmpdir(), 'postern-pac4j-oidc-'));
  const audit: Record<string, unknown>[] = [];
  const logs: Record<string, unknown>[] = [];

  const callbackOf = (topology: string) =>
    `${gatewayUrl}/${topology}/api/v1/websso?pac4jCallback=true&client_name=OidcClient`;
  const ssoUrl = (topology: string, original: string) =>
    `${gatewayUrl}/${topology}/api/v1/websso?originalUrl=${encodeURIComponent(original)}`;

  before(async () => {
    // The gateway's port goes into the provider's client registration and the topologies before the gateway
    // starts; it is held meanwhile, so that the listen(0) of the fixtures below cannot be handed it.
    const reserved = await reservePort();
    const { port } = reserved;
    gatewayUrl = `http://127.0.0.1:${port}/gateway`;
    const redirectUris = ['knoxsso', 'ssoiss', 'ssolate', 'ssodown'].map(callbackOf);
    const users = {
      alice: { email: 'alice@example.com', name: 'Alice', groups: ['analysts', 'admins'] },
      bob: { email: 'bob@example.com', name: 'Bob' },
    };
    const clients = [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: redirectUris }];
    op = await startOp({ clients, users });
    // A provider whose clock is 5 minutes behind: its 60-second ID tokens are expired when they arrive.
    lateOp = await startOp({ clients, users, clockSkewMs: -5 * 60_000, idTokenTtl: 60 });
    // A discovery document for op's endpoints that names another issuer: what the relying party trusts is not
    // what answers.
    const metadata = (await (await fetch(op.discoveryUri)).json()) as Record<string, unknown>;
    fakeDiscovery = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...metadata, issuer: 'http://127.0.0.1:9/not-this-provider' }));
    });
    await new Promise<void>((resolve) => fakeDiscovery.listen(0, '127.0.0.1', resolve));
    const fakeUri = `http://127.0.0.1:${(fakeDiscovery.address() as AddressInfo).port}/.well-known/openid-configuration`;

    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ backend: 'echo', url: req.url }));
    });
    home = makeHome();
    const ssoTopology = (topology: string, discoveryUri: string, extra: Record<string, string> = {}) =>
      topologyXml({
        providers: [
          {
            role: 'federation',
            name: 'pac4j',
            params: {
              'pac4j.callbackUrl': `${gatewayUrl}/${topology}/api/v1/websso`,
              clientName: 'OidcClient',
              'oidc.id': CLIENT_ID,
              'oidc.secret': CLIENT_SECRET,
              'oidc.discoveryUri': discoveryUri,
              ...extra,
            },
          },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'KNOXSSO', urls: [], params: { 'knoxsso.token.ttl': '120000' } }],
      });
    // The client secret as Knox admins keep it: an alias of the topology's credential store.
    const master = loadOrCreateMasterSecret(masterSecretFile(home.dir));
    new CredentialStore(home.dir, master, 'knoxsso').set('oidc.client.secret', CLIENT_SECRET);
    home.write(
      'conf/topologies/knoxsso.xml',
      ssoTopology('knoxsso', op.discoveryUri, { 'oidc.secret': `\${ALIAS=oidc.client.secret}` }),
    );
    home.write('conf/topologies/ssoiss.xml', ssoTopology('ssoiss', fakeUri));
    home.write('conf/topologies/ssolate.xml', ssoTopology('ssolate', lateOp.discoveryUri));
    home.write(
      'conf/topologies/ssodown.xml',
      ssoTopology('ssodown', `http://127.0.0.1:${await closedPort()}/.well-known/openid-configuration`),
    );
    home.write(
      'conf/topologies/sandbox.xml',
      topologyXml({
        providers: [
          { role: 'federation', name: 'SSOCookieProvider' },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [
          { role: 'HTTP', urls: [backend.url] },
          { role: 'KNOX-SESSION', urls: [] },
        ],
      }),
    );
    const sink = (into: Record<string, unknown>[]) => ({
      write: (line: string) => into.push(JSON.parse(line)),
    });
    await reserved.release();
    gateway = await startDeployed(home.dir, port, ['knoxsso', 'ssoiss', 'ssolate', 'ssodown', 'sandbox'], {
      log: pino({ level: 'info', base: undefined }, sink(logs)),
      audit: auditLogOn(pino({ level: 'info', base: undefined }, sink(audit))),
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
    await backend?.close();
    await op?.close();
    await lateOp?.close();
    await new Promise((resolve) => fakeDiscovery?.close(resolve));
    home?.remove();
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    return { context, page };
  }

  /** Fills oidc-provider's login page. */
  async function logInAtProvider(page: Page, login: string, shot?: string): Promise<void> {
    await page.waitForSelector('input[name="login"]');
    if (shot) await page.screenshot({ path: join(shots, shot) });
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', 'any-password');
    await page.click('button[type="submit"]');
  }

  const auditSince = (n: number) => audit.slice(n).filter((e) => e.provider === 'pac4j');

  it('logs a browser in at the OpenID Provider and back through KNOXSSO to the protected service (Chromium)', async (t) => {
    t.diagnostic(`screenshots: ${shots}`);
    const { context, page } = await newPage();
    t.after(() => context.close());
    const visited: string[] = [];
    page.on('request', (r) => visited.push(r.url()));
    const protectedUrl = `${gatewayUrl}/sandbox/http/hello?x=1`;
    await page.goto(protectedUrl);
    // SSOCookieProvider → KNOXSSO → pac4j → the provider's login page.
    assert.ok(page.url().startsWith(`${op.issuer}/interaction/`), page.url());
    await logInAtProvider(page, 'alice', '1-provider-login.png');
    await page.waitForURL(protectedUrl);
    await page.screenshot({ path: join(shots, '2-protected-service.png') });
    const echoed = JSON.parse((await page.textContent('body')) ?? '{}') as { backend: string; url: string };
    assert.equal(echoed.backend, 'echo');
    assert.match(echoed.url, /^\/hello\?x=1/);
    // The way back went through Knox's callback URL, then KNOXSSO with the original URL.
    const callback = visited.find((u) => u.startsWith(callbackOf('knoxsso')));
    assert.ok(callback, visited.join('\n'));
    assert.match(callback, /[?&]code=/);
    assert.ok(visited.some((u) => u.startsWith(ssoUrl('knoxsso', protectedUrl))));

    const cookies = await context.cookies();
    const jwt = cookies.find((c) => c.name === 'hadoop-jwt');
    assert.ok(jwt?.httpOnly, 'hadoop-jwt is set, HttpOnly');
    assert.deepEqual(
      cookies.filter((c) => c.name.startsWith('pac4j.session.')).map((c) => c.name),
      [],
      'the pac4j session is used once and cleared',
    );
    const [, payload] = jwt.value.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.iss, 'KNOXSSO');

    await page.goto(`${gatewayUrl}/sandbox/session/api/v1/sessioninfo`);
    await page.screenshot({ path: join(shots, '3-sessioninfo.png') });
    const info = JSON.parse((await page.textContent('body')) ?? '{}') as { sessioninfo: { user: string } };
    assert.equal(info.sessioninfo.user, 'alice');
    // No token, code or state in any log line.
    const text = JSON.stringify(logs);
    assert.ok(!text.includes(jwt.value) && !/code=|state=/.test(text), 'no secrets in logs');
  });

  it('takes the user from pac4j.id_attribute when set (Knox falls back to the profile id)', async () => {
    const { principalOf } = await import('../../../src/providers/federation/pac4j/index.ts');
    const profile = { client: 'OidcClient', id: 'sub-1', attributes: { email: 'a@example.com', n: 7 } };
    assert.deepEqual(principalOf(profile, undefined), { name: 'sub-1', fellBack: false });
    assert.deepEqual(principalOf(profile, 'email'), { name: 'a@example.com', fellBack: false });
    assert.deepEqual(principalOf(profile, 'nickname'), { name: 'sub-1', fellBack: true });
  });

  /**
   * A scripted login at `topology` as `login`: `alterAuth` may change the authorization request on its way to
   * the provider, `alterCallback` the provider's answer on its way back. Returns the callback's answer.
   */
  async function scriptedLogin(
    topology: string,
    options: { alterAuth?: (u: URL) => void; alterCallback?: (u: URL) => void } = {},
  ): Promise<{ answer: Hop; jar: Jar }> {
    const jar = new Jar();
    const original = `${gatewayUrl}/sandbox/http/scripted`;
    const start = await hop(jar, ssoUrl(topology, original));
    assert.equal(start.status, 302, start.body);
    assert.ok(jar.names(gatewayUrl).includes('pac4j.session.pac4jRequest'));
    const auth = new URL(start.location as string);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    options.alterAuth?.(auth);
    let step = await hop(jar, auth.href);
    for (let i = 0; i < 8 && step.status >= 300 && step.status < 400; i++) {
      const next = step.location as string;
      if (next.startsWith(callbackOf(topology))) break;
      step = await hop(jar, next);
      const action = /<form[^>]*action="([^"]+)"/.exec(step.body)?.[1];
      if (step.status === 200 && action) {
        const form = new URLSearchParams({ prompt: 'login', login: 'alice', password: 'any-password' });
        step = await hop(jar, new URL(action, next).href, { form });
      }
    }
    assert.ok(step.location?.startsWith(callbackOf(topology)), `${step.status} ${step.body}`);
    const callback = new URL(step.location as string);
    options.alterCallback?.(callback);
    return { answer: await hop(jar, callback.href), jar };
  }

  function assertNothingIssued(answer: Hop): void {
    assert.ok(
      answer.setCookie.every(
        (c) => !c.startsWith('hadoop-jwt=') && !c.startsWith('pac4j.session.pac4jUserProfiles='),
      ),
      answer.setCookie.join('\n'),
    );
  }

  it('completes a scripted login (the baseline the refusals below alter)', async () => {
    const { answer, jar } = await scriptedLogin('knoxsso');
    assert.equal(answer.status, 302, answer.body);
    assert.ok(jar.names(gatewayUrl).includes('pac4j.session.pac4jUserProfiles'));
    const back = await hop(jar, answer.location as string);
    assert.equal(back.status, 307);
    assert.ok(back.setCookie.some((c) => c.startsWith('hadoop-jwt=')));
  });

  it('refuses a tampered state: 401, nothing issued, audited', async () => {
    const n = audit.length;
    const { answer } = await scriptedLogin('knoxsso', {
      alterCallback: (u) => u.searchParams.set('state', `${u.searchParams.get('state')}x`),
    });
    assert.equal(answer.status, 401, answer.body);
    assert.match(answer.body, /POSTERN_ERR_UNAUTHENTICATED/);
    assert.match(answer.body, /\\"state\\" response parameter/);
    assertNothingIssued(answer);
    const events = auditSince(n);
    assert.ok(
      events.some((e) => e.outcome === 'failure' && /"state"/.test(String(e.reason))),
      JSON.stringify(events),
    );
  });

  it('refuses a tampered nonce: 401, nothing issued', async () => {
    const { answer } = await scriptedLogin('knoxsso', {
      alterAuth: (u) => u.searchParams.set('nonce', 'an-attackers-nonce-value'),
    });
    assert.equal(answer.status, 401, answer.body);
    assert.match(answer.body, /unexpected ID Token \\"nonce\\" claim value/);
    assertNothingIssued(answer);
  });

  it('refuses an ID token without the nonce: 401, nothing issued', async () => {
    const { answer } = await scriptedLogin('knoxsso', { alterAuth: (u) => u.searchParams.delete('nonce') });
    assert.equal(answer.status, 401, answer.body);
    assert.match(answer.body, /\\"nonce\\" \(nonce\) claim missing/);
    assertNothingIssued(answer);
  });

  it('refuses a code replayed in a browser with no login in progress: 400', async () => {
    const { answer } = await scriptedLogin('knoxsso', {
      alterCallback: () => {},
    });
    assert.equal(answer.status, 302);
    // The same callback URL again, in a fresh browser (an attacker's copy): no login in progress there.
    const fresh = new Jar();
    const replay = await hop(fresh, callbackOf('knoxsso').concat('&code=abc&state=def'));
    assert.equal(replay.status, 400, replay.body);
    assertNothingIssued(replay);
  });

  it('refuses an answer from another issuer than the discovered one (Chromium): 401, nothing issued', async (t) => {
    const { context, page } = await newPage();
    t.after(() => context.close());
    const n = audit.length;
    await page.goto(ssoUrl('ssoiss', `${gatewayUrl}/sandbox/http/iss`));
    await logInAtProvider(page, 'alice');
    await page.waitForURL((u) => u.href.startsWith(callbackOf('ssoiss')));
    await page.screenshot({ path: join(shots, '4-wrong-issuer.png') });
    assert.match((await page.textContent('body')) ?? '', /POSTERN_ERR_UNAUTHENTICATED/);
    assert.ok(!(await context.cookies()).some((c) => c.name === 'hadoop-jwt'));
    const events = auditSince(n);
    assert.ok(
      events.some((e) => e.outcome === 'failure' && /"iss" \(issuer\)/.test(String(e.reason))),
      JSON.stringify(events),
    );
  });

  it('refuses an expired ID token (a provider whose clock is behind) (Chromium): 401, nothing issued', async (t) => {
    const { context, page } = await newPage();
    t.after(() => context.close());
    const n = audit.length;
    await page.goto(ssoUrl('ssolate', `${gatewayUrl}/sandbox/http/late`));
    assert.ok(page.url().startsWith(`${lateOp.issuer}/interaction/`), page.url());
    await logInAtProvider(page, 'alice');
    await page.waitForURL((u) => u.href.startsWith(callbackOf('ssolate')));
    await page.screenshot({ path: join(shots, '5-expired-id-token.png') });
    assert.match((await page.textContent('body')) ?? '', /POSTERN_ERR_UNAUTHENTICATED/);
    assert.ok(!(await context.cookies()).some((c) => c.name === 'hadoop-jwt'));
    const events = auditSince(n);
    assert.ok(
      events.some((e) => e.outcome === 'failure' && /"exp" \(expiration time\)/.test(String(e.reason))),
      JSON.stringify(events),
    );
  });

  it('answers 503 when the provider is down, logs it once, and never redirects', async () => {
    const before = logs.length;
    for (let i = 0; i < 3; i++) {
      const res = await request(ssoUrl('ssodown', `${gatewayUrl}/sandbox/http/down`), {
        headers: { accept: 'text/html' },
      });
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers.location, undefined);
      assert.match(await res.body.text(), /POSTERN_ERR_UNAVAILABLE/);
    }
    const lines = logs.slice(before).filter((l) => l.msg === 'pac4j: the identity provider is unavailable');
    assert.equal(lines.length, 1, JSON.stringify(logs.slice(before)));
  });
});
