/**
 * The pac4j provider's configuration at deployment: Knox's required `pac4j.callbackUrl`, clients postern does not
 * have, plain http to a non-loopback OpenID Provider, a missing SAML metadata file and an undefined alias each fail
 * the topology with a diagnostic at the param; params postern ignores are warned. Nothing is contacted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';

const OIDC = {
  'pac4j.callbackUrl': 'https://gw.example.com:8443/gateway/knoxsso/api/v1/websso',
  clientName: 'OidcClient',
  'oidc.id': 'knox',
  'oidc.secret': 'secret',
  'oidc.discoveryUri': 'https://idp.example.com/.well-known/openid-configuration',
};

const CASES: Record<string, [Record<string, string>, RegExp, 'error' | 'warning']> = {
  nocallback: [{ ...OIDC, 'pac4j.callbackUrl': '' }, /pac4j\.callbackUrl is required/, 'error'],
  cas: [{ ...OIDC, clientName: 'CasClient' }, /CasClient is not supported/, 'error'],
  testbasic: [{ ...OIDC, clientName: 'testBasicAuth' }, /testBasicAuth is not supported/, 'error'],
  cleartext: [
    { ...OIDC, 'oidc.discoveryUri': 'http://idp.example.com/.well-known/openid-configuration' },
    /plain http is accepted only to a loopback address/,
    'error',
  ],
  nosecret: [{ ...OIDC, 'oidc.secret': '' }, /client secret is required/, 'error'],
  alias: [{ ...OIDC, 'oidc.secret': `\${ALIAS=no.such.alias}` }, /no\.such\.alias/, 'error'],
  symmetric: [{ ...OIDC, 'oidc.preferredJwsAlgorithm': 'HS256' }, /asymmetric JWS algorithm/, 'error'],
  samlfile: [
    {
      'pac4j.callbackUrl': OIDC['pac4j.callbackUrl'],
      clientName: 'SAML2Client',
      'saml.identityProviderMetadataPath': 'conf/missing-idp.xml',
    },
    /missing-idp\.xml does not exist/,
    'error',
  ],
  azure: [{ ...OIDC, 'oidc.type': 'azure' }, /oidc\.type: not supported/, 'warning'],
};

describe('pac4j provider configuration', () => {
  let home: TestHome;
  let gateway: Gateway;

  before(async () => {
    home = makeHome();
    for (const [name, [params]] of Object.entries(CASES)) {
      home.write(
        `conf/topologies/${name}.xml`,
        topologyXml({
          providers: [{ role: 'federation', name: 'pac4j', params }],
          services: [{ role: 'KNOXSSO', urls: [] }],
        }),
      );
    }
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    home?.remove();
  });

  for (const [name, [, message, severity]] of Object.entries(CASES)) {
    it(`${name}: ${severity} ${message}`, () => {
      const status = gateway.status.get(name);
      assert.ok(status, name);
      assert.equal(status.deployed, severity === 'warning', JSON.stringify(status.diagnostics));
      const found = status.diagnostics.filter((d) => d.severity === severity && message.test(d.message));
      assert.equal(found.length, 1, JSON.stringify(status.diagnostics));
    });
  }
});
