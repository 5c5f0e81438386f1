/**
 * Client-initiated TLS renegotiation (`ssl.renegotiation`, Knox's name; Knox's default is true, postern's false):
 * a TLS 1.2 client that asks to renegotiate is refused by default, and allowed when the site says so.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

/** Connects with TLS 1.2 and asks to renegotiate; resolves with the error code, or 'renegotiated'. */
function renegotiate(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    const done = (outcome: string) => {
      clearTimeout(bound);
      socket.destroy();
      resolve(outcome);
    };
    const bound = setTimeout(() => done('no answer'), 15_000);
    socket.on('error', (err: Error & { code?: string }) => done(err.code ?? err.message));
    socket.once('secureConnect', () => {
      socket.renegotiate({}, (err) =>
        done(err ? ((err as Error & { code?: string }).code ?? 'error') : 'renegotiated'),
      );
    });
  });
}

describe('TLS renegotiation', () => {
  const homes: TestHome[] = [];
  const gateways: Gateway[] = [];

  after(async () => {
    for (const g of gateways) await g.close();
    for (const h of homes) h.remove();
  });

  async function start(site: Record<string, string | boolean>): Promise<number> {
    const home = makeHome({ 'ssl.enabled': true, ...site });
    homes.push(home);
    home.write(
      'conf/topologies/t.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: ['http://127.0.0.1:1'] }] }),
    );
    const gateway = await startGateway(home);
    gateways.push(gateway);
    return Number(new URL(gateway.url).port);
  }

  it('is refused by default', async () => {
    const outcome = await renegotiate(await start({}));
    assert.notEqual(outcome, 'renegotiated');
    assert.equal(outcome, 'ERR_SSL_NO_RENEGOTIATION');
  });

  it('is allowed with ssl.renegotiation=true', async () => {
    assert.equal(await renegotiate(await start({ 'ssl.renegotiation': true })), 'renegotiated');
  });
});
