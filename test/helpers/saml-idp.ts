/**
 * @module test/helpers/saml-idp
 * A SAML 2.0 identity provider for tests, built with `samlify` (a maintained SAML library that can act as the
 * IdP): a fresh RSA key and self-signed certificate (`selfsigned`), its metadata (entity id, the signing
 * certificate, an HTTP-Redirect SingleSignOnService), and the two things an IdP does in SP-initiated SSO: read
 * the AuthnRequest the SP sent the browser with, and answer with a signed Response (HTTP-POST binding) for a
 * user, in response to that request.
 */
import * as samlify from 'samlify';
import { generate } from 'selfsigned';

// samlify asks for an XML schema validator before it parses anything; the fixture parses only the requests of
// the SP under test (node-saml), whose shape the test then checks itself.
samlify.setSchemaValidator({ validate: () => Promise.resolve('skipped') });

export interface SamlIdp {
  entityId: string;
  ssoUrl: string;
  metadata: string;
  /** The id of the AuthnRequest carried by a redirect to the IdP (`SAMLRequest` in its query). */
  requestId(redirectUrl: string): Promise<string>;
  /** A base64 `SAMLResponse` for `user` answering `requestId`, to POST to `acsUrl`. */
  respond(options: { acsUrl: string; spEntityId: string; requestId: string; user: string }): Promise<string>;
}

export async function makeSamlIdp(entityId: string, ssoUrl: string): Promise<SamlIdp> {
  const pems = await generate([{ name: 'commonName', value: 'postern test SAML IdP' }], {
    keySize: 2048,
    algorithm: 'sha256',
  });
  const idp = samlify.IdentityProvider({
    entityID: entityId,
    privateKey: pems.private,
    signingCert: pems.cert,
    singleSignOnService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: ssoUrl }],
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'],
  });
  const spFor = (acsUrl: string, spEntityId: string) =>
    samlify.ServiceProvider({
      entityID: spEntityId,
      wantAssertionsSigned: true,
      assertionConsumerService: [{ Binding: samlify.Constants.namespace.binding.post, Location: acsUrl }],
    });
  return {
    entityId,
    ssoUrl,
    metadata: idp.getMetadata(),
    async requestId(redirectUrl) {
      const url = new URL(redirectUrl);
      const sp = spFor('http://unused.invalid/', 'unused');
      const parsed = await idp.parseLoginRequest(sp, 'redirect', {
        query: Object.fromEntries(url.searchParams),
        octetString: url.search.slice(1),
      });
      return (parsed.extract as { request: { id: string } }).request.id;
    },
    async respond({ acsUrl, spEntityId, requestId, user }) {
      const sp = spFor(acsUrl, spEntityId);
      const answer = await idp.createLoginResponse(sp, { extract: { request: { id: requestId } } }, 'post', {
        email: user,
      });
      return (answer as { context: string }).context;
    },
  };
}
