/**
 * The SAML2Client's own key pair (pac4j's keystore params, as Knox passes them): keystores made by the JDK's
 * `keytool`, the passwords as a `${ALIAS=…}` and as a plain value, against a real samlify IdP
 * (test/helpers/saml-idp.ts):
 * - an IdP that wants signed AuthnRequests (`WantAuthnRequestsSigned`) verifies the redirect binding's RSA-SHA256
 *   signature with the certificate from the SP metadata postern wrote, and the login completes; the same request
 *   unsigned, or with the signature of another request, is refused by the IdP;
 * - an IdP that encrypts its assertions for the SP's certificate (read from that metadata): the login completes;
 *   an assertion encrypted for another key is refused (401), nothing issued;
 * - the SP metadata says `AuthnRequestsSigned="true"` and names the keystore's certificate for signing and for
 *   encryption;
 * - a wrong keystore password, a missing file, a keystore without a private key, a non-RSA key, an IdP that wants
 *   signed requests without any SP key: each a deployment error at the param naming the file, the topology not
 *   deployed, and a working deployment stays when its file is changed to one of these.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { CredentialStore, masterSecretFile } from '../../../src/config/aliases.ts';
import { loadOrCreateMasterSecret } from '../../../src/deploy/secrets.ts';
import { Gateway } from '../../../src/gateway/gateway.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { reservePort } from '../../helpers/guarded-process.ts';
import { makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import { makeSamlIdp, type SamlIdp } from '../../helpers/saml-idp.ts';
import { ssoProtectedTopology, startDeployed } from '../../helpers/sso.ts';

const KEYTOOL = process.env.KEYTOOL_BIN ?? '/usr/bin/keytool';
const IDP_ENTITY = 'https://idp.test.invalid/saml';
const SSO = 'http://127.0.0.1:9/idp/sso';

/** A keystore made by keytool with one key entry; returns its certificate (PEM). */
function keytool(
  file: string,
  options: { type: 'JKS' | 'PKCS12'; alias: string; storepass: string; keypass?: string; ec?: boolean },
): string {
  const common = ['-keystore', file, '-storetype', options.type, '-storepass', options.storepass];
  execFileSync(
    KEYTOOL,
    [
      '-genkeypair',
      '-alias',
      options.alias,
      ...(options.ec ? ['-keyalg', 'EC', '-groupname', 'secp256r1'] : ['-keyalg', 'RSA', '-keysize', '2048']),
      '-dname',
      `CN=${options.alias}`,
      '-validity',
      '2',
      '-keypass',
      options.keypass ?? options.storepass,
      ...common,
    ],
    { stdio: 'pipe' },
  );
  return execFileSync(KEYTOOL, ['-exportcert', '-rfc', '-alias', options.alias, ...common], {
    encoding: 'utf8',
    stdio: 'pipe',
  });
}

const bare = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '');

interface Answer {
  status: number;
  location?: string;
  body: string;
  setCookie: string[];
}

/** One browser's cookies for the gateway (paths and attributes ignored; Max-Age=0 removes). */
class Browserish {
  readonly cookies = new Map<string, string>();
  async go(url: string, form?: Record<string, string>): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'text/html' };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await request(url, {
      method: form ? 'POST' : 'GET',
      headers,
      body: form ? new URLSearchParams(form).toString() : undefined,
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
    return {
      status: res.statusCode,
      location: res.headers.location as string | undefined,
      body: await res.body.text(),
      setCookie,
    };
  }
}

const noToken = (a: Answer) =>
  assert.ok(a.setCookie.every((c) => !c.startsWith('hadoop-jwt=') && !c.includes('pac4jUserProfiles=s')));

describe('SAML2Client with the SP key pair from a keystore (keytool-made, samlify IdP)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  /** Wants signed AuthnRequests. */
  let strictIdp: SamlIdp;
  /** Encrypts when asked to; does not check request signatures. */
  let idp: SamlIdp;
  let gatewayUrl: string;
  let jksCert: string;
  let otherCert: string;

  const callbackOf = (t: string) =>
    `${gatewayUrl}/${t}/api/v1/websso?pac4jCallback=true&client_name=SAML2Client`;
  const status = (t: string) => gateway.status.get(t);
  const errorsOf = (t: string) =>
    (status(t)?.diagnostics ?? []).filter((d) => d.severity === 'error').map((d) => d.message);

  const samlTopology = (t: string, params: Record<string, string>) =>
    topologyXml({
      providers: [
        {
          role: 'federation',
          name: 'pac4j',
          params: {
            'pac4j.callbackUrl': `${gatewayUrl}/${t}/api/v1/websso`,
            clientName: 'SAML2Client',
            'saml.identityProviderMetadataPath': 'conf/idp.xml',
            ...params,
          },
        },
        { role: 'identity-assertion', name: 'Default' },
      ],
      services: [{ role: 'KNOXSSO', urls: [] }],
    });

  const JKS = {
    'saml.keystorePath': 'conf/sp.jks',
    'saml.keyStoreType': 'JKS',
    'saml.keystorePassword': `\${ALIAS=saml.keystore.password}`,
    'saml.privateKeyPassword': 'sp-key-pass',
  };
  const P12 = {
    'saml.keystorePath': 'conf/sp.p12',
    'saml.keyStoreType': 'PKCS12',
    'saml.keystorePassword': 'p12-store-pass',
    'saml.keystoreAlias': 'SAML-SP',
  };

  before(async () => {
    // Held until the gateway listens: the fixtures' listen(0) below must not be handed it.
    const reserved = await reservePort();
    const { port } = reserved;
    gatewayUrl = `http://127.0.0.1:${port}/gateway`;
    strictIdp = await makeSamlIdp(IDP_ENTITY, SSO, { wantAuthnRequestsSigned: true });
    idp = await makeSamlIdp(IDP_ENTITY, SSO);
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ backend: 'echo', url: req.url }));
    });
    home = makeHome();
    const conf = (f: string) => join(home.dir, 'conf', f);
    jksCert = keytool(conf('sp.jks'), {
      type: 'JKS',
      alias: 'saml-sp',
      storepass: 'jks-store-pass',
      keypass: 'sp-key-pass',
    });
    keytool(conf('sp.p12'), { type: 'PKCS12', alias: 'saml-sp', storepass: 'p12-store-pass' });
    otherCert = keytool(conf('other.p12'), { type: 'PKCS12', alias: 'other', storepass: 'p12-store-pass' });
    keytool(conf('ec.p12'), { type: 'PKCS12', alias: 'ec', storepass: 'p12-store-pass', ec: true });
    // A truststore: the SP's certificate, no private key.
    execFileSync(
      KEYTOOL,
      [
        '-importcert',
        '-noprompt',
        '-alias',
        'idp',
        '-file',
        home.write('conf/sp.crt', jksCert),
        '-keystore',
        conf('trust.jks'),
        '-storetype',
        'JKS',
        '-storepass',
        'p12-store-pass',
      ],
      { stdio: 'pipe' },
    );
    const master = loadOrCreateMasterSecret(masterSecretFile(home.dir));
    new CredentialStore(home.dir, master, '__gateway').set('saml.keystore.password', 'jks-store-pass');
    home.write('conf/idp.xml', idp.metadata);
    home.write('conf/idp-strict.xml', strictIdp.metadata);

    const strict = { 'saml.identityProviderMetadataPath': 'conf/idp-strict.xml' };
    home.write(
      'conf/topologies/samljks.xml',
      samlTopology('samljks', { ...JKS, ...strict, 'saml.serviceProviderMetadataPath': 'data/sp-jks.xml' }),
    );
    home.write(
      'conf/topologies/samlp12.xml',
      samlTopology('samlp12', { ...P12, 'saml.serviceProviderMetadataPath': 'data/sp-p12.xml' }),
    );
    home.write('conf/topologies/samlkeep.xml', samlTopology('samlkeep', P12));
    home.write('conf/topologies/nokey.xml', samlTopology('nokey', strict));
    home.write(
      'conf/topologies/badpass.xml',
      samlTopology('badpass', { ...JKS, 'saml.keystorePassword': 'not-the-password' }),
    );
    home.write(
      'conf/topologies/badkeypass.xml',
      samlTopology('badkeypass', { ...JKS, 'saml.privateKeyPassword': 'not-the-key-password' }),
    );
    home.write(
      'conf/topologies/missing.xml',
      samlTopology('missing', { ...P12, 'saml.keystorePath': 'conf/no-such.p12' }),
    );
    home.write(
      'conf/topologies/nokeyentry.xml',
      samlTopology('nokeyentry', {
        'saml.keystorePath': 'conf/trust.jks',
        'saml.keystorePassword': 'p12-store-pass',
      }),
    );
    home.write(
      'conf/topologies/eckey.xml',
      samlTopology('eckey', {
        'saml.keystorePath': 'conf/ec.p12',
        'saml.keystorePassword': 'p12-store-pass',
      }),
    );
    home.write(
      'conf/topologies/sandbox.xml',
      ssoProtectedTopology(`${gatewayUrl}/samlp12/api/v1/websso`, backend.url),
    );
    await reserved.release();
    gateway = await startDeployed(home.dir, port, ['samljks', 'samlp12', 'samlkeep', 'sandbox']);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  /** Starts a login at a topology's KNOXSSO; returns the browser and where it is sent (the IdP with the request). */
  async function startLogin(topology: string): Promise<{ browser: Browserish; redirect: string }> {
    const browser = new Browserish();
    const original = `${gatewayUrl}/sandbox/http/report`;
    const start = await browser.go(
      `${gatewayUrl}/${topology}/api/v1/websso?originalUrl=${encodeURIComponent(original)}`,
    );
    assert.equal(start.status, 302, start.body);
    assert.ok(start.location?.startsWith(`${SSO}?SAMLRequest=`), start.location);
    return { browser, redirect: start.location as string };
  }

  /** Posts the IdP's answer to the callback, then follows to KNOXSSO; returns the hadoop-jwt subject. */
  async function finish(browser: Browserish, topology: string, SAMLResponse: string): Promise<string> {
    const back = await browser.go(callbackOf(topology), { SAMLResponse, RelayState: '' });
    assert.equal(back.status, 302, back.body);
    const issued = await browser.go(back.location as string);
    assert.equal(issued.status, 307, issued.body);
    const jwt = browser.cookies.get('hadoop-jwt') as string;
    return (JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { sub: string }).sub;
  }

  const spMetadata = (name: string) => readFileSync(join(home.dir, 'data', name), 'utf8');

  it('writes SP metadata with AuthnRequestsSigned and the keystore certificate for signing and encryption', () => {
    const xml = spMetadata('sp-jks.xml');
    assert.match(xml, /AuthnRequestsSigned="true"/);
    assert.match(xml, /WantAssertionsSigned="true"/);
    for (const use of ['signing', 'encryption']) {
      const descriptor = new RegExp(`<KeyDescriptor use="${use}">[\\s\\S]*?</KeyDescriptor>`).exec(xml)?.[0];
      assert.ok(descriptor, `a ${use} KeyDescriptor in\n${xml}`);
      const cert = /<ds:X509Certificate>([^<]+)</.exec(descriptor)?.[1];
      assert.equal(bare(cert ?? ''), bare(jksCert), `the ${use} certificate is the keystore's`);
    }
  });

  it('signs the AuthnRequest: an IdP that wants signed requests accepts it, and the login completes', async () => {
    const { browser, redirect } = await startLogin('samljks');
    const query = new URL(redirect).searchParams;
    assert.equal(query.get('SigAlg'), 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    assert.ok(query.get('Signature'));
    // The IdP verifies with the certificate of the metadata postern wrote.
    const requestId = await strictIdp.requestId(redirect, spMetadata('sp-jks.xml'));
    const SAMLResponse = await strictIdp.respond({
      acsUrl: callbackOf('samljks'),
      spEntityId: callbackOf('samljks'),
      requestId,
      user: 'dave',
    });
    assert.equal(await finish(browser, 'samljks', SAMLResponse), 'dave');
  });

  it('the IdP refuses the request unsigned, with another request’s signature, or under another certificate', async () => {
    const metadata = spMetadata('sp-jks.xml');
    const one = new URL((await startLogin('samljks')).redirect);
    const two = new URL((await startLogin('samljks')).redirect);
    const unsigned = new URL(one);
    unsigned.searchParams.delete('Signature');
    unsigned.searchParams.delete('SigAlg');
    await assert.rejects(strictIdp.requestId(unsigned.href, metadata), /ERR_MISSING_SIG_ALG/);
    const swapped = new URL(one);
    swapped.searchParams.set('Signature', two.searchParams.get('Signature') as string);
    await assert.rejects(strictIdp.requestId(swapped.href, metadata), /SIGNATURE_VERIFICATION/);
    const otherMetadata = metadata.replace(
      /(<KeyDescriptor use="signing">[\s\S]*?<ds:X509Certificate>)[^<]+/,
      `$1${bare(otherCert)}`,
    );
    assert.notEqual(otherMetadata, metadata);
    await assert.rejects(strictIdp.requestId(one.href, otherMetadata), /SIGNATURE_VERIFICATION/);
    // And the untouched request passes, so the refusals above are the tampering's.
    assert.ok(await strictIdp.requestId(one.href, metadata));
  });

  it('decrypts an assertion encrypted for its certificate (PKCS12, alias given): the login completes', async () => {
    const { browser, redirect } = await startLogin('samlp12');
    const encryptFor = /<KeyDescriptor use="encryption">[\s\S]*?<ds:X509Certificate>([^<]+)</.exec(
      spMetadata('sp-p12.xml'),
    )?.[1] as string;
    const SAMLResponse = await idp.respond({
      acsUrl: callbackOf('samlp12'),
      spEntityId: callbackOf('samlp12'),
      requestId: await idp.requestId(redirect),
      user: 'erin',
      encryptFor,
    });
    const xml = Buffer.from(SAMLResponse, 'base64').toString('utf8');
    assert.match(xml, /EncryptedAssertion/);
    assert.doesNotMatch(xml, />erin</, 'the user is not readable in the response');
    assert.equal(await finish(browser, 'samlp12', SAMLResponse), 'erin');
    const reached = await browser.go(`${gatewayUrl}/sandbox/http/report`);
    assert.equal(reached.status, 200, reached.body);
  });

  it('refuses an assertion encrypted for another key: 401, nothing issued', async () => {
    const { browser, redirect } = await startLogin('samlp12');
    const SAMLResponse = await idp.respond({
      acsUrl: callbackOf('samlp12'),
      spEntityId: callbackOf('samlp12'),
      requestId: await idp.requestId(redirect),
      user: 'erin',
      encryptFor: otherCert,
    });
    const answer = await browser.go(callbackOf('samlp12'), { SAMLResponse, RelayState: '' });
    assert.equal(answer.status, 401, answer.body);
    assert.match(answer.body, /SAML response refused/);
    noToken(answer);
    assert.ok(!browser.cookies.has('hadoop-jwt'));
  });

  it('warns, over plain http and with KNOXSSO keeping hadoop-jwt Strict, that browser logins cannot complete', () => {
    const warnings = (status('samlp12')?.diagnostics ?? [])
      .filter((d) => d.severity === 'warning')
      .map((d) => d.message);
    assert.ok(
      warnings.some((w) =>
        /param pac4j\.callbackUrl: SAML2Client over plain http: .*SameSite=None; Secure, which needs https/.test(
          w,
        ),
      ),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) => /SameSite=Strict .* set KNOXSSO's param knoxsso\.cookie\.samesite=Lax/.test(w)),
      warnings.join('\n'),
    );
  });

  it('fails the topology, at the param and naming the file, for keystores it cannot use', () => {
    const cases: [string, string, RegExp][] = [
      ['badpass', 'saml.keystorePassword', /sp\.jks: wrong keystore password/],
      ['badkeypass', 'saml.privateKeyPassword', /sp\.jks: wrong private key password/],
      ['missing', 'saml.keystorePath', /no-such\.p12: the file does not exist/],
      ['nokeyentry', 'saml.keystorePath', /trust\.jks: it holds no private key entry/],
      ['eckey', 'saml.keystorePath', /ec\.p12: the entry "ec" holds an EC key: .* need an RSA key/],
      [
        'nokey',
        'saml.identityProviderMetadataPath',
        /the IdP wants signed AuthnRequests .* set saml\.keystorePath/,
      ],
    ];
    for (const [topology, param, message] of cases) {
      assert.equal(status(topology)?.deployed, false, topology);
      const errors = errorsOf(topology);
      assert.ok(
        errors.some((e) => e.includes(`param ${param}:`) && message.test(e)),
        `${topology}: ${errors.join('\n')}`,
      );
      assert.ok(!errors.join('\n').includes('jks-store-pass'), 'no password in a diagnostic');
    }
  });

  it('defaults, as Knox, to the gateway identity keystore (gateway.jks, its alias passwords and key alias)', async (t) => {
    const reserved = await reservePort();
    const { port } = reserved;
    const url = `http://127.0.0.1:${port}/gateway`;
    const other = makeHome();
    t.after(() => other.remove());
    const gatewayJks = join(other.dir, 'data/security/keystores/gateway.jks');
    mkdirSync(join(other.dir, 'data/security/keystores'), { recursive: true });
    const cert = keytool(gatewayJks, { type: 'JKS', alias: 'gateway-identity', storepass: 'gw-store-pass' });
    const master = loadOrCreateMasterSecret(masterSecretFile(other.dir));
    new CredentialStore(other.dir, master, '__gateway').set(
      'gateway-identity-keystore-password',
      'gw-store-pass',
    );
    other.write('conf/idp-strict.xml', strictIdp.metadata);
    other.write(
      'conf/topologies/knoxsso.xml',
      topologyXml({
        providers: [
          {
            role: 'federation',
            name: 'pac4j',
            params: {
              'pac4j.callbackUrl': `${url}/knoxsso/api/v1/websso`,
              clientName: 'SAML2Client',
              'saml.identityProviderMetadataPath': 'conf/idp-strict.xml',
              'saml.serviceProviderMetadataPath': 'data/sp.xml',
            },
          },
        ],
        services: [{ role: 'KNOXSSO', urls: [] }],
      }),
    );
    await reserved.release();
    const second = await Gateway.start({
      home: other.dir,
      port,
      host: '127.0.0.1',
      log: createLogger({ level: 'silent' }),
      watch: false,
    });
    t.after(() => second.close());
    assert.equal(second.status.get('knoxsso')?.deployed, true, JSON.stringify(second.status.get('knoxsso')));
    const metadata = readFileSync(join(other.dir, 'data/sp.xml'), 'utf8');
    assert.equal(bare(/<ds:X509Certificate>([^<]+)</.exec(metadata)?.[1] ?? ''), bare(cert));
    const start = await new Browserish().go(
      `${url}/knoxsso/api/v1/websso?originalUrl=${encodeURIComponent(url)}`,
    );
    assert.equal(start.status, 302, start.body);
    assert.ok(await strictIdp.requestId(start.location as string, metadata));
  });

  it('keeps the working deployment when its keystore param breaks', async () => {
    const before = await startLogin('samlkeep');
    assert.ok(before.redirect);
    const file = home.write(
      'conf/topologies/samlkeep.xml',
      samlTopology('samlkeep', { ...P12, 'saml.keystorePassword': 'wrong' }),
    );
    assert.equal(gateway.deployFile(file), false);
    assert.equal(status('samlkeep')?.deployed, false);
    assert.ok(errorsOf('samlkeep').some((e) => /sp\.p12: wrong keystore password/.test(e)));
    // The previous deployment still answers, with its keystore.
    const { redirect } = await startLogin('samlkeep');
    assert.ok(new URL(redirect).searchParams.get('Signature'));
  });
});
