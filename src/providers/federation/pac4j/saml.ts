/**
 * @module providers/federation/pac4j/saml
 * pac4j's `SAML2Client` with `@node-saml/node-saml`: SP-initiated single sign-on, the AuthnRequest sent with the
 * HTTP-Redirect binding to the IdP's SingleSignOnService, the Response received with the HTTP-POST binding at
 * Knox's callback URL (`…/websso?pac4jCallback=true&client_name=SAML2Client`).
 *
 * The IdP comes from its metadata (`saml.identityProviderMetadataPath`, relative to the gateway home): its
 * entity id (the Response's and Assertion's `Issuer` must be it), its signing certificates (the Assertion must be
 * signed by one of them; with `saml.wantsResponsesSigned` the Response too), its HTTP-Redirect
 * SingleSignOnService, and whether it wants signed AuthnRequests. node-saml also checks the audience
 * (`saml.serviceProviderEntityId`, default the callback URL), the Destination/Recipient, the validity window
 * (`saml.acceptedSkew` seconds of clock skew, default 300 as pac4j) and `InResponseTo`, which must be the id of
 * the request this browser was sent with: the id travels in the provider's encrypted login cookie, not in
 * gateway memory, so any node can take the answer.
 *
 * **The SP's key pair** (pac4j's `SAML2Configuration` keystore): `saml.keystorePath` (JKS or PKCS12, relative to
 * the home; `saml.keyStoreType` as Knox's decorator, JCEKS refused with the command that converts it),
 * `saml.keystorePassword` and `saml.privateKeyPassword` (`${ALIAS=name}` resolved as every pac4j param in Knox),
 * the entry `saml.keystoreAlias`, else the keystore's only key entry. Without `saml.keystorePath`, as Knox's
 * `Pac4jDispatcherFilter.addDefaultConfig`, the gateway's identity keystore when it has one
 * (`gateway.tls.keystore.*`, Knox's `data/security/keystores/gateway.jks`) with its passwords and key alias. The
 * passwords default, as Knox's, to the gateway identity keystore's (its password alias, then its key passphrase
 * alias, else the store password). The key must be RSA. With it:
 * - the AuthnRequest is signed (HTTP-Redirect binding: `SigAlg` RSA-SHA256 and `Signature` over the query), unless
 *   `saml.authnRequestSigned=false` and the IdP does not want signed requests (pac4j's rule);
 * - an `EncryptedAssertion` is decrypted with the key (an assertion encrypted for another key is refused);
 * - the SP metadata names the certificate for signing and for encryption.
 * A configured keystore that cannot be read (missing file, wrong password, no private key, not RSA) fails the
 * topology with an error at the param naming the file; the gateway's default keystore only warns (and requests
 * then go unsigned). An IdP whose metadata wants signed requests without any SP key fails the topology.
 *
 * With `saml.serviceProviderMetadataPath` the SP metadata (entity id, the POST assertion consumer service,
 * `AuthnRequestsSigned`, the key descriptors) is written there at deployment, as pac4j does, for the IdP
 * administrator.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { CacheProvider, SAML } from '@node-saml/node-saml';
import { XMLParser } from 'fast-xml-parser';
import { AliasResolver, keystorePassword, readMasterSecret } from '../../../config/aliases.ts';
import { DEFAULT_KEYSTORE, type KeyPair, readKeyPair } from '../../../config/keystore.ts';
import { lazyRequire } from '../../../lazy-require.ts';
import type { ProviderContext } from '../../../spi/index.ts';
import type { ParamReader } from '../../common/param-reader.ts';
import { clientCallbackUrl, type IdentityClient, LoginRefused, type Profile } from './client.ts';

/** node-saml (with its XML signature and encryption stack) is loaded by the first SAML topology only. */
const nodeSaml = lazyRequire<typeof import('@node-saml/node-saml')>('@node-saml/node-saml');

export const SAML_CLIENT = 'SAML2Client';
const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

export interface IdpMetadata {
  entityId: string;
  ssoUrl: string;
  certificates: string[];
  /** The IDPSSODescriptor's `WantAuthnRequestsSigned`. */
  wantsSignedRequests: boolean;
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
  const wantsSignedRequests = String(idp['@WantAuthnRequestsSigned'] ?? '').trim() === 'true';
  return { entityId, ssoUrl: sso['@Location'], certificates, wantsSignedRequests };
}

function homePath(ctx: ProviderContext, path: string): string {
  return isAbsolute(path) ? path : resolve(ctx.home, path);
}

/** The SP's key pair and where it came from (for messages). */
interface SpKey extends KeyPair {
  readonly file: string;
}

/** Resolves a password param (`${ALIAS=name}` as Knox resolves every pac4j param); undefined when absent. */
function passwordParam(params: ParamReader, ctx: ProviderContext, name: string): string | undefined {
  const value = params.raw(name);
  if (value === undefined || value === '') return undefined;
  try {
    return ctx.secret(value);
  } catch (err) {
    params.error(name, (err as Error).message);
    return undefined;
  }
}

/** Checks the key can do what SAML asks of it here (RSA-SHA256, RSA-OAEP) and belongs to the certificate. */
function keyProblem(pair: KeyPair): string | undefined {
  const key = createPrivateKey(pair.key);
  if (key.asymmetricKeyType !== 'rsa') {
    return `the entry "${pair.alias}" holds an ${String(key.asymmetricKeyType).toUpperCase()} key: SAML signing (RSA-SHA256) and decryption (RSA-OAEP) need an RSA key`;
  }
  const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const fromCert = createPublicKey(pair.cert).export({ type: 'spki', format: 'der' });
  if (!fromKey.equals(fromCert)) return `the entry "${pair.alias}": the certificate is not the key's`;
  return undefined;
}

/**
 * The SP's key pair: `saml.keystorePath`, else (Knox's default) the gateway's identity keystore when it has one.
 * A configured keystore that cannot be used is an error at its param; the default one only a warning.
 */
function readSpKey(params: ParamReader, ctx: ProviderContext): SpKey | undefined {
  const configured = params.text('saml.keystorePath');
  const type = params.text('saml.keyStoreType');
  const alias = params.text('saml.keystoreAlias') || undefined;
  const storePassword = passwordParam(params, ctx, 'saml.keystorePassword');
  const keyPassword = passwordParam(params, ctx, 'saml.privateKeyPassword');
  if (params.failed) return undefined;
  const ssl = ctx.settings.ssl;
  const aliases = () => new AliasResolver(ctx.home, readMasterSecret(ctx.home));
  // Knox: the gateway identity keystore's password and key passphrase unless the topology gives its own.
  const password = () => storePassword ?? keystorePassword(ctx.settings, ctx.home);
  const passphrase = (pw: string) => keyPassword ?? aliases().lookup(ssl.keyPassphraseAlias) ?? pw;

  if (configured) {
    if (/^(https?|classpath|resource):/i.test(configured)) {
      params.error('saml.keystorePath', `"${configured}": postern reads the keystore from a file`);
      return undefined;
    }
    const file = homePath(ctx, configured.replace(/^file:/i, ''));
    const pw = password();
    if (pw === undefined) {
      params.error(
        'saml.keystorePath',
        `no password for ${file}: set saml.keystorePassword (a \${ALIAS=name} keeps it out of the topology)`,
      );
      return undefined;
    }
    let pair: KeyPair;
    try {
      pair = readKeyPair(file, { type: type || 'JKS', password: pw, keyPassword: passphrase(pw), alias });
    } catch (err) {
      const why = (err as Error).message;
      const param =
        /^wrong keystore password/.test(why) && storePassword !== undefined
          ? 'saml.keystorePassword'
          : /^wrong private key password/.test(why) && keyPassword !== undefined
            ? 'saml.privateKeyPassword'
            : /^no (entry|private key in the entry)/.test(why) && alias
              ? 'saml.keystoreAlias'
              : 'saml.keystorePath';
      const hint = /several key entries/.test(why) ? ' with saml.keystoreAlias' : '';
      params.error(param, `cannot use keystore ${file}: ${why}${hint}`);
      return undefined;
    }
    const problem = keyProblem(pair);
    if (problem) {
      params.error(
        alias ? 'saml.keystoreAlias' : 'saml.keystorePath',
        `cannot use keystore ${file}: ${problem}`,
      );
      return undefined;
    }
    return { ...pair, file };
  }

  const gatewayPath = ssl.keystorePath ?? DEFAULT_KEYSTORE;
  const file = homePath(ctx, gatewayPath);
  if (!existsSync(file)) return undefined;
  const pw = password();
  const skip = (why: string) => {
    params.warn(
      'clientName',
      `SAML2Client: the gateway identity keystore ${file} (Knox's default SP keystore) cannot be used: ${why}; AuthnRequests go unsigned and encrypted assertions cannot be read (set saml.keystorePath)`,
    );
    return undefined;
  };
  if (pw === undefined) return skip(`no password (alias ${ssl.keystorePasswordAlias})`);
  let pair: KeyPair;
  try {
    pair = readKeyPair(file, {
      type: type || ssl.keystoreType,
      password: pw,
      keyPassword: passphrase(pw),
      alias: alias ?? ssl.keyAlias,
    });
  } catch (err) {
    return skip((err as Error).message);
  }
  const problem = keyProblem(pair);
  if (problem) return skip(problem);
  return { ...pair, file };
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
  const spKey = readSpKey(params, ctx);
  const signRequests =
    params.bool('saml.authnRequestSigned', spKey !== undefined) || idp?.wantsSignedRequests === true;
  if (signRequests && !spKey && !params.failed) {
    params.error(
      idp?.wantsSignedRequests && !params.has('saml.authnRequestSigned')
        ? 'saml.identityProviderMetadataPath'
        : 'saml.authnRequestSigned',
      `${idp?.wantsSignedRequests ? 'the IdP wants signed AuthnRequests (WantAuthnRequestsSigned)' : 'signed AuthnRequests'} need the SP's key: set saml.keystorePath`,
    );
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
    validateInResponseTo: nodeSaml().ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: 10 * 60_000,
    ...(spKey && { decryptionPvk: spKey.key }),
    ...(spKey &&
      signRequests && {
        privateKey: spKey.key,
        publicCert: spKey.cert,
        signatureAlgorithm: 'sha256' as const,
      }),
  };

  const spMetadataPath = params.text('saml.serviceProviderMetadataPath');
  if (spMetadataPath) {
    try {
      const xml = new (nodeSaml().SAML)({ ...base }).generateServiceProviderMetadata(
        spKey?.cert ?? null,
        spKey && signRequests ? spKey.cert : undefined,
      );
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
      const saml = new (nodeSaml().SAML)({ ...base, generateUniqueId: () => id });
      const location = await saml.getAuthorizeUrlAsync('', undefined, {});
      return { location, pending: { requestId: id, instant: new Date().toISOString() } };
    },
    async callback(_ex, pending, form) {
      const response = form?.get('SAMLResponse');
      if (!response) throw new LoginRefused('no SAMLResponse in the callback');
      const saml = new (nodeSaml().SAML)({
        ...base,
        cacheProvider: oneRequest(pending.requestId, pending.instant),
      });
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
