/**
 * Knox's signing keystore (`gateway.signing.keystore.name` and its siblings): KNOXTOKEN signs with the RSA key of a
 * keytool-made keystore in `data/security/keystores/`, its password from the gateway alias Knox names
 * (`signing.keystore.password`); JWTProvider verifies with it; postern's own token key file is never made.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importX509, jwtVerify } from 'jose';
import { request } from 'undici';
import { CredentialStore, GATEWAY_CLUSTER, masterSecretFile } from '../../../src/config/aliases.ts';
import { loadOrCreateMasterSecret } from '../../../src/deploy/secrets.ts';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';

const KEYTOOL = process.env.KEYTOOL_BIN ?? '/usr/bin/keytool';

describe('KNOXTOKEN with a signing keystore (gateway.signing.*)', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  let certificate: string;

  before(async () => {
    backend = await startBackend((_req, res) => res.end('reached'));
    home = makeHome({
      'gateway.signing.keystore.name': 'signing.p12',
      'gateway.signing.key.alias': 'signer',
    });
    const dir = join(home.dir, 'data/security/keystores');
    mkdirSync(dir, { recursive: true });
    const common = ['-keystore', join(dir, 'signing.p12'), '-storetype', 'PKCS12', '-storepass', 'sign-pass'];
    execFileSync(
      KEYTOOL,
      [
        '-genkeypair',
        '-alias',
        'signer',
        '-keyalg',
        'RSA',
        '-keysize',
        '2048',
        '-dname',
        'CN=signer',
        ...common,
      ],
      { stdio: 'pipe' },
    );
    certificate = execFileSync(KEYTOOL, ['-exportcert', '-rfc', '-alias', 'signer', ...common], {
      encoding: 'utf8',
    });
    new CredentialStore(home.dir, loadOrCreateMasterSecret(masterSecretFile(home.dir)), GATEWAY_CLUSTER).set(
      'signing.keystore.password',
      'sign-pass',
    );
    home.write(
      'conf/topologies/tokens.xml',
      topologyXml({
        providers: [
          { role: 'federation', name: 'HeaderPreAuth', params: { 'preauth.ip.addresses': '127.0.0.1' } },
          { role: 'identity-assertion', name: 'Default' },
        ],
        services: [{ role: 'KNOXTOKEN', urls: [], params: { 'knox.token.ttl': '60000' } }],
      }),
    );
    home.write(
      'conf/topologies/api.xml',
      topologyXml({
        providers: [{ role: 'federation', name: 'JWTProvider' }],
        services: [{ role: 'HTTP', urls: [backend.url] }],
      }),
    );
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  it("signs with the keystore's key, which JWTProvider verifies; no token key file is made", async () => {
    const res = await request(`${gateway.url}/tokens/knoxtoken/api/v1/token`, {
      headers: { SM_USER: 'alice' },
    });
    assert.equal(res.statusCode, 200);
    const { access_token: token } = (await res.body.json()) as { access_token: string };
    const { payload } = await jwtVerify(token, await importX509(certificate, 'RS256'));
    assert.equal(payload.sub, 'alice');
    const api = await request(`${gateway.url}/api/http/x`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(api.statusCode, 200);
    assert.equal(await api.body.text(), 'reached');
    assert.equal(existsSync(join(home.dir, 'data/security/token-signing-key.pem')), false);
  });
});
