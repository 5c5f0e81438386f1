/**
 * @module test/helpers/saml-idp
 * A SAML 2.0 identity provider for tests, built with `samlify` (a maintained SAML library that can act as the
 * IdP): a fresh RSA key and self-signed certificate (`selfsigned`), its metadata (entity id, the signing
 * certificate, an HTTP-Redirect SingleSignOnService, optionally `WantAuthnRequestsSigned`), and the two things an
 * IdP does in SP-initiated SSO: read the AuthnRequest the SP sent the browser with (verifying its redirect-binding
 * signature against the SP's metadata when the IdP wants signed requests), and answer with a signed Response
 * (HTTP-POST binding) for a user, in response to that request, its assertion optionally encrypted for a
 * certificate.
 *
 * `serveSamlIdp` puts it on a loopback HTTP server for a browser: the SingleSignOnService answers with an HTML
 * login form, and a login with the right password with an auto-submitting form that POSTs the SAMLResponse to
 * the SP's assertion consumer service, as IdPs do.
 */
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as samlify from 'samlify';
import { generate } from 'selfsigned';

// samlify asks for an XML schema validator before it parses anything; the fixture parses only the requests of
// the SP under test (node-saml), whose shape the test then checks itself.
samlify.setSchemaValidator({ validate: () => Promise.resolve('skipped') });

export interface SamlIdp {
  entityId: string;
  ssoUrl: string;
  metadata: string;
  /**
   * The id of the AuthnRequest carried by a redirect to the IdP (`SAMLRequest` in its query). An IdP that wants
   * signed requests verifies the redirect's `Signature` with the signing certificate of `spMetadata` (the SP's
   * metadata) and refuses the request without one.
   */
  requestId(redirectUrl: string, spMetadata?: string): Promise<string>;
  /**
   * A base64 `SAMLResponse` for `user` answering `requestId`, to POST to `acsUrl`; with `encryptFor` (a PEM or
   * base64 certificate) its assertion is encrypted for that certificate's key (AES-256-CBC, RSA-OAEP).
   */
  respond(options: {
    acsUrl: string;
    spEntityId: string;
    requestId: string;
    user: string;
    encryptFor?: string;
  }): Promise<string>;
}

const bare = (cert: string) => cert.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '');

export async function makeSamlIdp(
  entityId: string,
  ssoUrl: string,
  options: { wantAuthnRequestsSigned?: boolean } = {},
): Promise<SamlIdp> {
  const pems = await generate([{ name: 'commonName', value: 'postern test SAML IdP' }], {
    keySize: 2048,
    algorithm: 'sha256',
  });
  const settings = {
    entityID: entityId,
    privateKey: pems.private,
    signingCert: pems.cert,
    singleSignOnService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: ssoUrl }],
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'],
    wantAuthnRequestsSigned: options.wantAuthnRequestsSigned ?? false,
  };
  const idp = samlify.IdentityProvider(settings);
  // The same IdP, encrypting its assertions for the SP it answers.
  const encrypting = samlify.IdentityProvider({ ...settings, isAssertionEncrypted: true });
  const spFor = (acsUrl: string, spEntityId: string, encryptCert?: string) =>
    samlify.ServiceProvider({
      entityID: spEntityId,
      wantAssertionsSigned: true,
      assertionConsumerService: [{ Binding: samlify.Constants.namespace.binding.post, Location: acsUrl }],
      ...(encryptCert && { encryptCert: bare(encryptCert) }),
    });
  return {
    entityId,
    ssoUrl,
    metadata: idp.getMetadata(),
    async requestId(redirectUrl, spMetadata) {
      const url = new URL(redirectUrl);
      const sp = spMetadata
        ? samlify.ServiceProvider({ metadata: spMetadata })
        : spFor('http://unused.invalid/', 'unused');
      // The redirect binding signs the query as sent, without the Signature parameter.
      const octetString = url.search
        .slice(1)
        .split('&')
        .filter((p) => !p.startsWith('Signature='))
        .join('&');
      const parsed = await idp.parseLoginRequest(sp, 'redirect', {
        query: Object.fromEntries(url.searchParams),
        octetString,
      });
      return (parsed.extract as { request: { id: string } }).request.id;
    },
    async respond({ acsUrl, spEntityId, requestId, user, encryptFor }) {
      const sp = spFor(acsUrl, spEntityId, encryptFor);
      const answer = await (encryptFor ? encrypting : idp).createLoginResponse(
        sp,
        { extract: { request: { id: requestId } } },
        'post',
        { email: user },
      );
      return (answer as { context: string }).context;
    },
  };
}

export interface SamlIdpServer {
  /** http://localhost:port (another site than a gateway on 127.0.0.1). */
  readonly origin: string;
  /** Alters the next Responses after signing (a tampering network, for a refusal in the browser). */
  alter?: (xml: string) => string;
  close(): Promise<void>;
}

const html = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title><style>body{font-family:sans-serif;margin:3em}label{display:block;margin:.5em 0}</style></head><body>${body}</body></html>`;
const attr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/**
 * Serves `makeIdp(origin)`'s SingleSignOnService at `/idp/sso` on a loopback port: a login form, then for a user
 * of `users` with the right password an auto-submitting form POSTing the SAMLResponse to `acsUrl`.
 */
export async function serveSamlIdp(options: {
  makeIdp: (ssoUrl: string) => Promise<SamlIdp>;
  acsUrl: string;
  spEntityId: string;
  users: Record<string, string>;
  /** The SP's metadata (for a signed-request check) and the certificate to encrypt for, read when needed. */
  spMetadata?: () => string;
  encryptFor?: () => string;
}): Promise<{ server: SamlIdpServer; idp: SamlIdp }> {
  let idp: SamlIdp | undefined;
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, page: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
    };
    if (!idp) return send(503, html('Starting', '<p>starting</p>'));
    if (req.method === 'GET' && url.pathname === '/idp/sso') {
      let requestId: string;
      try {
        requestId = await idp.requestId(`http://localhost${req.url}`, options.spMetadata?.());
      } catch (err) {
        return send(400, html('Refused', `<h1>Request refused</h1><p>${attr(String(err))}</p>`));
      }
      return send(
        200,
        html(
          'Test IdP: sign in',
          `<h1>Test IdP</h1><p>Sign in to continue to the gateway</p><form method="post" action="/idp/login">
<input type="hidden" name="request" value="${attr(requestId)}">
<label>User <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>`,
        ),
      );
    }
    if (req.method === 'POST' && url.pathname === '/idp/login') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const user = form.get('username') ?? '';
      if (!Object.hasOwn(options.users, user) || options.users[user] !== form.get('password')) {
        return send(401, html('Test IdP: sign in', '<h1>Wrong user or password</h1>'));
      }
      let response = await idp.respond({
        acsUrl: options.acsUrl,
        spEntityId: options.spEntityId,
        requestId: form.get('request') ?? '',
        user,
        encryptFor: options.encryptFor?.(),
      });
      if (server.alter) {
        response = Buffer.from(server.alter(Buffer.from(response, 'base64').toString('utf8'))).toString(
          'base64',
        );
      }
      return send(
        200,
        html(
          'Test IdP: signing you in',
          `<form method="post" action="${attr(options.acsUrl)}"><input type="hidden" name="SAMLResponse" value="${attr(response)}"><input type="hidden" name="RelayState" value=""><noscript><button>Continue</button></noscript></form><script>document.forms[0].submit()</script>`,
        ),
      );
    }
    send(404, html('Not found', '<p>not found</p>'));
  };
  const httpServer: Server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const origin = `http://localhost:${(httpServer.address() as AddressInfo).port}`;
  idp = await options.makeIdp(`${origin}/idp/sso`);
  const server: SamlIdpServer = {
    origin,
    close: () => new Promise((resolve) => httpServer.close(() => resolve())),
  };
  return { server, idp };
}
