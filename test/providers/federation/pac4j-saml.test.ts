/**
 * KnoxSSO with SAML 2.0 (Knox's `pac4j` federation provider, `SAML2Client`, with `@node-saml/node-saml`), scripted
 * end to end: a client of a topology protected by SSOCookieProvider is sent to KNOXSSO, which sends it to the IdP
 * with an AuthnRequest (HTTP-Redirect); the IdP (`samlify`, test/helpers/saml-idp.ts) answers with a signed
 * Response that the client POSTs to Knox's callback URL; KNOXSSO then issues `hadoop-jwt` and the protected
 * backend is reached as the user. Refused, with nothing issued: a Response altered after signing, one signed by
 * a key the IdP metadata does not name, one answering another request (InResponseTo), a replay of a used
 * Response, a callback that is not a POST.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { readIdpMetadata } from '../../../src/providers/federation/pac4j/saml.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { reservePort } from '../../helpers/guarded-process.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import { makeSamlIdp, type SamlIdp } from '../../helpers/saml-idp.ts';
import { ssoProtectedTopology, startDeployed } from '../../helpers/sso.ts';

const IDP_ENTITY = 'https://idp.test.invalid/saml';

interface Answer {
  status: number;
  location?: string;
  body: string;
  setCookie: string[];
}

/** One browser: its cookies for the gateway (paths and attributes ignored; Max-Age=0 removes). */
class Browserish {
  readonly cookies = new Map<string, string>();
  async go(url: string, init: { form?: Record<string, string>; method?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'text/html' };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await request(url, {
      method: (init.method ?? (init.form ? 'POST' : 'GET')) as 'GET' | 'POST',
      headers,
      body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    });
    const raw = res.headers['set-cookie'];
    const setCookie = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    for (const line of setCookie) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      if (attrs.some((a) => /^\s*max-age=0$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1).trim());
    }
    const location = res.headers.location as string | undefined;
    return { status: res.statusCode, location, body: await res.body.text(), setCookie };
  }
}

describe('pac4j federation with SAML 2.0 (SAML2Client) against a samlify IdP', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let idp: SamlIdp;
  let rogue: SamlIdp;
  let gatewayUrl: string;
  let callback: string;

  before(async () => {
    // Held until the gateway listens: the fixtures' listen(0) below must not be handed it.
    const reserved = await reservePort();
    const { port } = reserved;
    gatewayUrl = `http://127.0.0.1:${port}/gateway`;
    callback = `${gatewayUrl}/samlsso/api/v1/websso?pac4jCallback=true&client_name=SAML2Client`;
    idp = await makeSamlIdp(IDP_ENTITY, 'http://127.0.0.1:9/idp/sso');
    // Same entity id, another key: what an attacker without the IdP's key can sign.
    rogue = await makeSamlIdp(IDP_ENTITY, 'http://127.0.0.1:9/idp/sso');
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ backend: 'echo', url: req.url }));
    });
    home = makeHome();
    home.write('conf/idp-metadata.xml', idp.metadata);
    home.write(
      'conf/topologies/samlsso.xml',
      topologyXml({
        providers: [
          {
            role: 'federation',
            name: 'pac4j',
            params: {
              'pac4j.callbackUrl': `${gatewayUrl}/samlsso/api/v1/websso`,
              clientName: 'SAML2Client',
              'saml.identityProviderMetadataPath': 'conf/idp-metadata.xml',
              'saml.serviceProviderMetadataPath': 'data/sp-metadata.xml',
            },
          },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'KNOXSSO', urls: [] }],
      }),
    );
    home.write(
      'conf/topologies/sandbox.xml',
      ssoProtectedTopology(`${gatewayUrl}/samlsso/api/v1/websso`, backend.url),
    );
    await reserved.release();
    gateway = await startDeployed(home.dir, port, ['samlsso', 'sandbox']);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  /** Starts a login at KNOXSSO; returns the browser and the AuthnRequest's id. */
  async function startLogin(original: string): Promise<{ browser: Browserish; requestId: string }> {
    const browser = new Browserish();
    const start = await browser.go(
      `${gatewayUrl}/samlsso/api/v1/websso?originalUrl=${encodeURIComponent(original)}`,
    );
    assert.equal(start.status, 302, start.body);
    assert.ok(start.location?.startsWith('http://127.0.0.1:9/idp/sso?SAMLRequest='), start.location);
    const pending = start.setCookie.find((c) => c.startsWith('pac4j.session.pac4jRequest='));
    assert.ok(pending, 'the login in progress is kept in a cookie');
    // The IdP's POST back is cross-site: only a SameSite=None (hence Secure) cookie goes with it, which browsers
    // keep only over https; over this plain-http gateway the cookie is the configured Lax (the Chromium test,
    // pac4j-saml-browser.test.ts, logs in over https).
    assert.match(pending, /; HttpOnly; SameSite=Lax$/);
    return { browser, requestId: await idp.requestId(start.location as string) };
  }

  const noToken = (a: Answer) =>
    assert.ok(a.setCookie.every((c) => !c.startsWith('hadoop-jwt=') && !c.includes('pac4jUserProfiles=s')));

  it('reads the IdP metadata: entity id, redirect SSO location, signing certificate', () => {
    const meta = readIdpMetadata(idp.metadata);
    assert.equal(meta.entityId, IDP_ENTITY);
    assert.equal(meta.ssoUrl, 'http://127.0.0.1:9/idp/sso');
    assert.equal(meta.certificates.length, 1);
  });

  it('writes the SP metadata with the callback URL as entity id and POST assertion consumer service', () => {
    const xml = readFileSync(join(home.dir, 'data/sp-metadata.xml'), 'utf8');
    const escaped = callback.replaceAll('&', '&amp;');
    assert.ok(xml.includes(`entityID="${escaped}"`), xml);
    assert.ok(xml.includes(`Location="${escaped}"`), xml);
  });

  it('logs in through the IdP and KNOXSSO, and reaches the protected backend as the user', async () => {
    const page = `${gatewayUrl}/sandbox/http/report?q=1`;
    const browser = new Browserish();
    const first = await browser.go(page);
    assert.equal(first.status, 302);
    const sso = first.location as string;
    const { browser: b, requestId } = await startLogin(page);
    assert.equal(sso, `${gatewayUrl}/samlsso/api/v1/websso?originalUrl=${encodeURIComponent(page)}`);
    const SAMLResponse = await idp.respond({
      acsUrl: callback,
      spEntityId: callback,
      requestId,
      user: 'carol',
    });
    const back = await b.go(callback, { form: { SAMLResponse, RelayState: '' } });
    assert.equal(back.status, 302, back.body);
    assert.equal(back.location, sso);
    const issued = await b.go(back.location as string);
    assert.equal(issued.status, 307, issued.body);
    assert.equal(issued.location, page);
    const jwt = b.cookies.get('hadoop-jwt') as string;
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { sub: string };
    assert.equal(claims.sub, 'carol');
    assert.ok(
      ![...b.cookies.keys()].some((n) => n.startsWith('pac4j.session.')),
      [...b.cookies.keys()].join(),
    );
    const reached = await b.go(page);
    assert.equal(reached.status, 200, reached.body);
    assert.match(reached.body, /"backend":"echo"/);

    // The same Response again, in the same browser: the login it answered is over.
    const replay = await b.go(callback, { form: { SAMLResponse, RelayState: '' } });
    assert.equal(replay.status, 400, replay.body);
    noToken(replay);
  });

  it('refuses a Response altered after signing: 401, nothing issued', async () => {
    const { browser, requestId } = await startLogin(`${gatewayUrl}/sandbox/http/x`);
    const signed = await idp.respond({ acsUrl: callback, spEntityId: callback, requestId, user: 'carol' });
    const xml = Buffer.from(signed, 'base64').toString('utf8');
    assert.ok(xml.includes('>carol<'));
    const altered = Buffer.from(xml.replace('>carol<', '>admin<')).toString('base64');
    const answer = await browser.go(callback, { form: { SAMLResponse: altered } });
    assert.equal(answer.status, 401, answer.body);
    assert.match(answer.body, /POSTERN_ERR_UNAUTHENTICATED/);
    assert.match(answer.body, /SAML response refused/);
    noToken(answer);
  });

  it('refuses a Response signed with a key the IdP metadata does not name: 401', async () => {
    const { browser, requestId } = await startLogin(`${gatewayUrl}/sandbox/http/x`);
    const forged = await rogue.respond({ acsUrl: callback, spEntityId: callback, requestId, user: 'admin' });
    const answer = await browser.go(callback, { form: { SAMLResponse: forged } });
    assert.equal(answer.status, 401, answer.body);
    assert.match(answer.body, /signature/i);
    noToken(answer);
  });

  it('refuses a Response to another AuthnRequest (InResponseTo): 401', async () => {
    const { browser } = await startLogin(`${gatewayUrl}/sandbox/http/x`);
    const other = await idp.respond({
      acsUrl: callback,
      spEntityId: callback,
      requestId: '_a-request-this-browser-never-sent',
      user: 'carol',
    });
    const answer = await browser.go(callback, { form: { SAMLResponse: other } });
    assert.equal(answer.status, 401, answer.body);
    assert.match(answer.body, /InResponseTo/);
    noToken(answer);
  });

  it('refuses a Response for another audience: 401', async () => {
    const { browser, requestId } = await startLogin(`${gatewayUrl}/sandbox/http/x`);
    const other = await idp.respond({
      acsUrl: callback,
      spEntityId: 'https://another-sp.example.com/',
      requestId,
      user: 'carol',
    });
    const answer = await browser.go(callback, { form: { SAMLResponse: other } });
    assert.equal(answer.status, 401, answer.body);
    assert.match(answer.body, /audience/i);
    noToken(answer);
  });

  it('refuses a Response without a login in progress (400) and a callback that is not a POST (400)', async () => {
    const { requestId } = await startLogin(`${gatewayUrl}/sandbox/http/x`);
    const SAMLResponse = await idp.respond({
      acsUrl: callback,
      spEntityId: callback,
      requestId,
      user: 'carol',
    });
    const stranger = await new Browserish().go(callback, { form: { SAMLResponse } });
    assert.equal(stranger.status, 400, stranger.body);
    // Over plain http, the answer says why a browser would come without the login cookie.
    assert.match(stranger.body, /over plain http .* must be served over https/);
    noToken(stranger);
    const get = await new Browserish().go(callback);
    assert.equal(get.status, 400, get.body);
  });
});
