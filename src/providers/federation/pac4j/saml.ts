/**
 * @module providers/federation/pac4j/saml
 * pac4j's `SAML2Client` with `@node-saml/node-saml`: SP-initiated single sign-on, the AuthnRequest sent with the
 * HTTP-Redirect binding to the IdP's SingleSignOnService, the Response received with the HTTP-POST binding at
 * Knox's callback URL (`…/websso?pac4jCallback=true&client_name=SAML2Client`).
 *
 * The IdP comes from its metadata (`saml.identityProviderMetadataPath`, relative to the gateway home): its
 * entity id (the Response's and Assertion's `Issuer` must be it), its signing certificates (the Assertion must be
 * signed by one of them; with `saml.wantsResponsesSigned` the Response too), its HTTP-Redirect
 * SingleSignOnService. node-saml also checks the audience (`saml.serviceProviderEntityId`, default the callback
 * URL, as pac4j), the Destination/Recipient, the validity window (`saml.acceptedSkew` seconds of clock skew,
 * default 300 as pac4j) and `InResponseTo`, which must be the id of the request this browser was sent with: the
 * id travels in the provider's encrypted login cookie, not in gateway memory, so any node can take the answer.
 *
 * With `saml.serviceProviderMetadataPath` the SP metadata (entity id, the POST assertion consumer service) is
 * written there at deployment, as pac4j does, for the IdP administrator. Not supported (warned): signing
 * AuthnRequests and decrypting assertions with `saml.keystorePath` (requests go unsigned; an IdP that requires
 * signed requests or encrypts assertions cannot be used yet).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { type CacheProvider, SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { XMLParser } from 'fast-xml-parser';
import type { ProviderContext } from '../../../spi/index.ts';
import type { ParamReader } from '../../common/param-reader.ts';
import { clientCallbackUrl, type IdentityClient, LoginRefused, type Profile } from './client.ts';

export const SAML_CLIENT = 'SAML2Client';
const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

export interface IdpMetadata {
  entityId: string;
  ssoUrl: string;
  certificates: string[];
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Reads an IdP's SAML metadata: entity id, HTTP-Redirect SSO location, signing certificates (base64 DER). */
export function readIdpMetadata(xml: string): IdpMetadata {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    removeNSPrefix: true,
    processEntities: false,
  });
  const doc = parser.parse(xml) as Record<string, unknown>;
  type Node = Record<string, unknown>;
  const entities = [
    ...asArray(doc.EntityDescriptor as Node | Node[]),
    ...asArray((doc.EntitiesDescriptor as Node | undefined)?.EntityDescriptor as Node | Node[]),
  ];
  const entity = entities.find((e) => e.IDPSSODescriptor !== undefined);
  if (!entity) throw new Error('no EntityDescriptor with an IDPSSODescriptor');
  const idp = asArray(entity.IDPSSODescriptor as Node | Node[])[0];
  const entityId = String(entity['@entityID'] ?? '');
  if (!entityId) throw new Error('the EntityDescriptor has no entityID');
  const sso = asArray(idp.SingleSignOnService as Node | Node[]).find(
    (s) => s['@Binding'] === REDIRECT_BINDING,
  );
  if (!sso || typeof sso['@Location'] !== 'string') {
    throw new Error('the IdP has no SingleSignOnService with the HTTP-Redirect binding');
  }
  const certificates: string[] = [];
  for (const key of asArray(idp.KeyDescriptor as Node | Node[])) {
    if (key['@use'] !== undefined && key['@use'] !== 'signing') continue;
    const data = asArray((key.KeyInfo as Node | undefined)?.X509Data as Node | Node[]);
    for (const d of data) {
      for (const cert of asArray(d.X509Certificate as string | string[])) {
        const text = String(cert).replace(/\s+/g, '');
        if (text) certificates.push(text);
      }
    }
  }
  if (certificates.length === 0) throw new Error('the IdP metadata names no signing certificate');
  return { entityId, ssoUrl: sso['@Location'], certificates };
}

function homePath(ctx: ProviderContext, path: string): string {
  return isAbsolute(path) ? path : resolve(ctx.home, path);
}

export function createSamlClient(
  params: ParamReader,
  callbackBase: string,
  ctx: ProviderContext,
): IdentityClient | undefined {
  const metadataPath = params.text('saml.identityProviderMetadataPath');
  let idp: IdpMetadata | undefined;
  if (!metadataPath) {
    params.error('saml.identityProviderMetadataPath', 'the IdP metadata file is required');
  } else if (/^https?:/.test(metadataPath)) {
    params.error(
      'saml.identityProviderMetadataPath',
      'postern reads the IdP metadata from a file, not a URL',
    );
  } else {
    const file = homePath(ctx, metadataPath);
    if (!existsSync(file)) {
      params.error('saml.identityProviderMetadataPath', `${file} does not exist`);
    } else {
      try {
        idp = readIdpMetadata(readFileSync(file, 'utf8'));
      } catch (err) {
        params.error('saml.identityProviderMetadataPath', `${file}: ${(err as Error).message}`);
      }
    }
  }
  const callbackUrl = clientCallbackUrl(callbackBase, SAML_CLIENT);
  const entityId = params.text('saml.serviceProviderEntityId') || callbackUrl;
  const skewSeconds = params.int('saml.acceptedSkew', 300, 0, { max: 3600 });
  const wantResponseSigned = params.bool('saml.wantsResponsesSigned', false);
  for (const name of ['saml.keystorePath', 'saml.keystorePassword', 'saml.privateKeyPassword']) {
    if (params.has(name)) {
      params.warn(
        name,
        'postern does not sign AuthnRequests or decrypt assertions yet: requests go unsigned',
      );
    }
  }
  if (params.failed || !idp) return undefined;

  const base = {
    callbackUrl,
    entryPoint: idp.ssoUrl,
    issuer: entityId,
    audience: entityId,
    idpCert: idp.certificates,
    idpIssuer: idp.entityId,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: wantResponseSigned,
    acceptedClockSkewMs: skewSeconds * 1000,
    identifierFormat: null,
    disableRequestedAuthnContext: true,
    validateInResponseTo: ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: 10 * 60_000,
  };

  const spMetadataPath = params.text('saml.serviceProviderMetadataPath');
  if (spMetadataPath) {
    try {
      const xml = new SAML({ ...base }).generateServiceProviderMetadata(null);
      writeFileSync(homePath(ctx, spMetadataPath), xml);
    } catch (err) {
      params.warn('saml.serviceProviderMetadataPath', `not written: ${(err as Error).message}`);
    }
  }

  /** node-saml keeps request ids in a cache; here the cache is the one id of this browser's login. */
  const oneRequest = (id: string, instant: string): CacheProvider => ({
    saveAsync: async () => null,
    getAsync: async (key) => (key === id ? instant : null),
    removeAsync: async () => null,
  });

  return {
    name: SAML_CLIENT,
    callbackUrl,
    postCallback: true,
    async start() {
      const id = `_${randomBytes(20).toString('hex')}`;
      const saml = new SAML({ ...base, generateUniqueId: () => id });
      const location = await saml.getAuthorizeUrlAsync('', undefined, {});
      return { location, pending: { requestId: id, instant: new Date().toISOString() } };
    },
    async callback(_ex, pending, form) {
      const response = form?.get('SAMLResponse');
      if (!response) throw new LoginRefused('no SAMLResponse in the callback');
      const saml = new SAML({ ...base, cacheProvider: oneRequest(pending.requestId, pending.instant) });
      let profile: Awaited<ReturnType<SAML['validatePostResponseAsync']>>['profile'];
      try {
        ({ profile } = await saml.validatePostResponseAsync({
          SAMLResponse: response,
          RelayState: form?.get('RelayState') ?? '',
        }));
      } catch (err) {
        throw new LoginRefused(`SAML response refused: ${(err as Error).message}`, { cause: err });
      }
      if (!profile?.nameID) throw new LoginRefused('the SAML assertion names no subject');
      const attributes: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(profile)) {
        if (typeof v !== 'function') attributes[k] = v;
      }
      return { client: SAML_CLIENT, id: profile.nameID, attributes } satisfies Profile;
    },
  };
}
