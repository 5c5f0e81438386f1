/**
 * KNOX-METADATA behind TLS, with the knox.homepage.* properties: the public certificate is the one the listener
 * presents, pinned topologies come first, hidden ones are left out, UI services are grouped on request, and a
 * profile can be redefined (Knox's KnoxMetadataResource and GatewayConfigImpl).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { request } from 'undici';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { insecureAgent, makeHome, startGateway, type TestHome } from '../../helpers/home.ts';

const ANONYMOUS = `<gateway><provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider></gateway>`;

describe('KNOX-METADATA with TLS and the home page properties', () => {
  let home: TestHome;
  let gateway: Gateway;
  const agent = insecureAgent();

  before(async () => {
    home = makeHome({
      'ssl.enabled': true,
      'knox.homepage.hidden.topologies': 'meta,secret',
      'knox.homepage.pinned.topologies': 'zeta',
      'knox.homepage.group.ui.services': true,
      'knox.homepage.profile.mine': 'gpi_version, top_alpha, top_zeta',
    });
    home.write(
      'conf/topologies/meta.xml',
      `<topology>${ANONYMOUS}<service><role>KNOX-METADATA</role></service></topology>`,
    );
    for (const name of ['alpha', 'zeta', 'secret']) {
      home.write(
        `conf/topologies/${name}.xml`,
        `<topology>${ANONYMOUS}<service><role>HTTP</role><url>http://127.0.0.1:1/a</url><url>http://127.0.0.1:2/b</url></service></topology>`,
      );
    }
    gateway = await startGateway(home);
  });

  after(async () => {
    await gateway?.close();
    await agent.close();
    home?.remove();
  });

  const get = (path: string) => request(`${gateway.url}/meta/api/v1/metadata/${path}`, { dispatcher: agent });

  it('gives the certificate the TLS listener presents, as a PEM attachment', async () => {
    const r = await get('publicCert?type=pem');
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-disposition'], 'attachment;filename=gateway-client-trust.pem');
    const pem = await r.body.text();
    const { port, hostname } = new URL(gateway.url);
    const presented = await new Promise<X509Certificate>((resolve, reject) => {
      const socket = tls.connect({ port: Number(port), host: hostname, rejectUnauthorized: false }, () => {
        resolve(new X509Certificate(socket.getPeerCertificate().raw));
        socket.end();
      });
      socket.on('error', reject);
    });
    assert.equal(new X509Certificate(pem).fingerprint256, presented.fingerprint256);
    const jks = await get('publicCert?type=jks');
    assert.equal(jks.statusCode, 501);
    await jks.body.dump();
  });

  it('lists pinned topologies first, leaves hidden ones out, and groups a service’s URLs', async () => {
    const body = (await (await get('topologies')).body.json()) as {
      topologyInformations: {
        topologyInformation: {
          topology: string;
          pinned: boolean;
          apiServices: { service: { serviceUrls: string[] }[] };
        }[];
      };
    };
    const list = body.topologyInformations.topologyInformation;
    assert.deepEqual(
      list.map((t) => [t.topology, t.pinned]),
      [
        ['zeta', true],
        ['alpha', false],
      ],
    );
    // Grouped: one HTTP entry for its two backend URLs (the same gateway URL).
    assert.equal(list[1].apiServices.service.length, 1);
    assert.match(list[1].apiServices.service[0].serviceUrls[0], /^https:\/\/.*\/gateway\/alpha\/http$/);
  });

  it('answers a profile defined in gateway-site', async () => {
    const profile = (await (await get('profiles/mine')).body.json()) as Record<string, string>;
    assert.equal(profile.gpi_version, 'true');
    assert.equal(profile.gpi_cert, 'false');
    assert.deepEqual(profile.topologies.split(',').sort(), ['alpha', 'zeta']);
  });
});
