/**
 * KnoxSSO with SAML 2.0 in headless Chromium, over real TLS: a browser asks a topology protected by
 * SSOCookieProvider, is sent to KNOXSSO, whose pac4j SAML2Client sends it with a signed AuthnRequest to the IdP
 * fixture (samlify behind a loopback HTTP server, test/helpers/saml-idp.ts) on another site (`localhost` against
 * the gateway's `127.0.0.1`). The IdP checks the request's signature against the SP metadata postern wrote, shows
 * its login form, and answers with an auto-submitting form that POSTs the SAMLResponse (its assertion encrypted
 * for the SP's certificate) to the gateway's callback: a cross-site POST, which carries the login cookie only
 * because it is `SameSite=None; Secure` over https. The browser gets `hadoop-jwt` and sees the backend's answer.
 * A Response altered on its way ends on the gateway's error page, with no `hadoop-jwt`.
 *
 * Screenshots (the IdP's login page, the protected page, the refusal) go to test-artifacts/pac4j-saml/ (or
 * $POSTERN_TEST_ARTIFACTS/pac4j-saml/).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { type Gateway, REPO_ROOT } from '../../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { launchChromium } from '../../helpers/browser.ts';
import { reservePort } from '../../helpers/guarded-process.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import { makeSamlIdp, type SamlIdpServer, serveSamlIdp } from '../../helpers/saml-idp.ts';
import { ssoProtectedTopology, startDeployed } from '../../helpers/sso.ts';

const KEYTOOL = process.env.KEYTOOL_BIN ?? '/usr/bin/keytool';
const ARTIFACTS = join(process.env.POSTERN_TEST_ARTIFACTS ?? join(REPO_ROOT, 'test-artifacts'), 'pac4j-saml');

describe('SAML login in Chromium: SSOCookieProvider → KNOXSSO → IdP login form → POST back over https', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let idpServer: SamlIdpServer;
  let browser: Browser;
  let gatewayUrl: string;
  let callback: string;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // Held until the gateway listens: the fixtures' listen(0) below must not be handed it.
    const reserved = await reservePort();
    const { port } = reserved;
    gatewayUrl = `https://127.0.0.1:${port}/gateway`;
    callback = `${gatewayUrl}/knoxsso/api/v1/websso?pac4jCallback=true&client_name=SAML2Client`;
    home = makeHome({ 'ssl.enabled': true });
    const keystore = join(home.dir, 'conf', 'sp.p12');
    execFileSync(
      KEYTOOL,
      [
        '-genkeypair',
        '-alias',
        'knoxsso-sp',
        '-keyalg',
        'RSA',
        '-keysize',
        '2048',
        '-dname',
        'CN=knoxsso-sp',
        '-validity',
        '2',
        '-keystore',
        keystore,
        '-storetype',
        'PKCS12',
        '-storepass',
        'sp-store-pass',
      ],
      { stdio: 'pipe' },
    );
    const spMetadata = () => readFileSync(join(home.dir, 'data', 'sp-metadata.xml'), 'utf8');
    ({ server: idpServer } = await serveSamlIdp({
      makeIdp: (ssoUrl) =>
        makeSamlIdp('https://idp.test.invalid/saml', ssoUrl, { wantAuthnRequestsSigned: true }),
      acsUrl: callback,
      spEntityId: callback,
      users: { carol: 'carol-password' },
      spMetadata,
      encryptFor: () =>
        /<KeyDescriptor use="encryption">[\s\S]*?<ds:X509Certificate>([^<]+)</.exec(spMetadata())?.[1] ?? '',
    }).then(async (served) => {
      home.write('conf/idp-metadata.xml', served.idp.metadata);
      return served;
    }));
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!doctype html><title>Protected</title><h1>The protected backend</h1><p id="url">${req.url}</p>`,
      );
    });
    home.write(
      'conf/topologies/knoxsso.xml',
      topologyXml({
        providers: [
          {
            role: 'federation',
            name: 'pac4j',
            params: {
              'pac4j.callbackUrl': `${gatewayUrl}/knoxsso/api/v1/websso`,
              clientName: 'SAML2Client',
              'saml.identityProviderMetadataPath': 'conf/idp-metadata.xml',
              'saml.serviceProviderMetadataPath': 'data/sp-metadata.xml',
              'saml.keystorePath': 'conf/sp.p12',
              'saml.keyStoreType': 'PKCS12',
              'saml.keystorePassword': 'sp-store-pass',
            },
          },
          { role: 'identity-assertion', name: 'Default' },
        ],
        // The IdP's answer is a cross-site POST, and browsers send no SameSite=Strict cookie (Knox's default for
        // hadoop-jwt) along the redirects that follow it: Lax lets the protected page see the token.
        services: [{ role: 'KNOXSSO', urls: [], params: { 'knoxsso.cookie.samesite': 'Lax' } }],
      }),
    );
    home.write(
      'conf/topologies/sandbox.xml',
      ssoProtectedTopology(`${gatewayUrl}/knoxsso/api/v1/websso`, backend.url),
    );
    await reserved.release();
    gateway = await startDeployed(home.dir, port, ['knoxsso', 'sandbox']);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
    await backend?.close();
    await idpServer?.close();
    home?.remove();
  });

  /** A fresh browser profile; the gateway's certificate is self-signed. */
  async function newContext(): Promise<BrowserContext> {
    return browser.newContext({ ignoreHTTPSErrors: true });
  }

  it('logs in at the IdP and reaches the protected page with hadoop-jwt', async (t) => {
    const context = await newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    const visited: string[] = [];
    page.on('request', (r) => {
      if (r.isNavigationRequest()) visited.push(`${r.method()} ${r.url()}`);
    });
    const protectedUrl = `${gatewayUrl}/sandbox/http/report?q=1`;
    await page.goto(protectedUrl);
    await page.waitForSelector('input[name="username"]');
    assert.ok(page.url().startsWith(`${idpServer.origin}/idp/sso?SAMLRequest=`), page.url());
    assert.match(page.url(), /&SigAlg=.*&Signature=/);
    await page.screenshot({ path: join(ARTIFACTS, '1-idp-login.png') });
    // The login in progress: a cookie the IdP's cross-site POST back will carry.
    const pending = (await context.cookies()).find((c) => c.name === 'pac4j.session.pac4jRequest');
    assert.ok(pending, 'the login in progress is kept in a cookie');
    assert.equal(pending.sameSite, 'None');
    assert.equal(pending.secure, true);
    assert.equal(pending.httpOnly, true);

    await page.fill('input[name="username"]', 'carol');
    await page.fill('input[name="password"]', 'carol-password');
    await page.click('button[type="submit"]');
    await page.waitForURL(protectedUrl);
    await page.waitForSelector('h1');
    await page.screenshot({ path: join(ARTIFACTS, '2-protected-page.png') });
    assert.equal(await page.textContent('h1'), 'The protected backend');
    // The backend is reached as the IdP's user (the HTTP service's pseudo identity).
    assert.equal(await page.textContent('#url'), '/report?q=1&user.name=carol');

    // The way: the protected page, KNOXSSO, the IdP, its form POSTed to Knox's callback, KNOXSSO, the page.
    const sso = `${gatewayUrl}/knoxsso/api/v1/websso?originalUrl=${encodeURIComponent(protectedUrl)}`;
    const steps = visited.map((v) => v.split('?')[0]);
    assert.deepEqual(
      steps,
      [
        `GET ${gatewayUrl}/sandbox/http/report`,
        `GET ${gatewayUrl}/knoxsso/api/v1/websso`,
        `GET ${idpServer.origin}/idp/sso`,
        `POST ${idpServer.origin}/idp/login`,
        `POST ${gatewayUrl}/knoxsso/api/v1/websso`,
        `GET ${gatewayUrl}/knoxsso/api/v1/websso`,
        `GET ${gatewayUrl}/sandbox/http/report`,
      ],
      visited.join('\n'),
    );
    assert.equal(visited[4], `POST ${callback}`);
    assert.equal(visited[5], `GET ${sso}`);

    const cookies = await context.cookies();
    const jwt = cookies.find((c) => c.name === 'hadoop-jwt');
    assert.ok(jwt, cookies.map((c) => c.name).join());
    const claims = JSON.parse(Buffer.from(jwt.value.split('.')[1], 'base64url').toString()) as {
      sub: string;
    };
    assert.equal(claims.sub, 'carol');
    assert.deepEqual(
      cookies.filter((c) => c.name.startsWith('pac4j.session.')).map((c) => c.name),
      [],
      'the pac4j session is used once and cleared',
    );
  });

  it('ends a Response altered on its way on the error page, with no hadoop-jwt', async (t) => {
    const context = await newContext();
    t.after(() => context.close());
    idpServer.alter = (xml) => {
      // The encrypted assertion's data (the last CipherValue): a few bytes changed in its middle.
      const at = xml.lastIndexOf('<xenc:CipherValue>');
      assert.ok(at > 0, 'the assertion is encrypted');
      const mid = at + 200;
      return xml.slice(0, mid) + (xml[mid] === 'A' ? 'B' : 'A') + xml.slice(mid + 1);
    };
    t.after(() => {
      idpServer.alter = undefined;
    });
    const page = await context.newPage();
    let callbackStatus = 0;
    page.on('response', (r) => {
      if (r.request().method() === 'POST' && r.url() === callback) callbackStatus = r.status();
    });
    await page.goto(`${gatewayUrl}/sandbox/http/report`);
    await page.waitForSelector('input[name="username"]');
    await page.fill('input[name="username"]', 'carol');
    await page.fill('input[name="password"]', 'carol-password');
    await page.click('button[type="submit"]');
    await page.waitForURL(callback);
    await page.waitForLoadState();
    await page.screenshot({ path: join(ARTIFACTS, '3-refused.png') });
    assert.equal(callbackStatus, 401);
    assert.match((await page.textContent('body')) ?? '', /refused/i);
    const names = (await context.cookies()).map((c) => c.name);
    assert.ok(!names.includes('hadoop-jwt'), names.join());
    assert.ok(!names.includes('pac4j.session.pac4jUserProfiles'), names.join());
  });
});
