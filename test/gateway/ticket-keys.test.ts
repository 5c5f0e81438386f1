/**
 * The TLS session ticket key of a single-process gateway (gateway/ticket-keys): a session resumes, the key is
 * replaced every `postern.tls.ticket.key.rotation` (then a ticket sealed before is no longer read, and new ones
 * are), and with 0 it stays. Workers: test/cluster/tls-sessions.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type tls from 'node:tls';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { type Authority, makeAuthority } from '../helpers/pki.ts';
import { resumesSession, sessionTicket } from '../helpers/tls-session.ts';

describe('the TLS session ticket key of one process', () => {
  let dir: string;
  let ca: Authority;
  const homes: TestHome[] = [];
  const gateways: Gateway[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'postern-ticket-keys-'));
    ca = makeAuthority(dir, 'corp');
  });

  after(async () => {
    for (const g of gateways) await g.close();
    for (const h of homes) h.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gateway(rotation: string): Promise<{ port: number; keys: () => Buffer }> {
    const server = ca.issue({ name: `server-${homes.length}`, cn: 'gateway', ips: ['127.0.0.1'] });
    const home = makeHome({
      'ssl.enabled': true,
      'gateway.tls.certificate.path': server.certFile,
      'gateway.tls.key.path': server.keyFile,
      'postern.tls.ticket.key.rotation': rotation,
    });
    home.write(
      'conf/topologies/t.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: ['http://127.0.0.1:9'] }] }),
    );
    homes.push(home);
    const g = await startGateway(home);
    gateways.push(g);
    const listener = g.server.server as tls.Server;
    return { port: g.port, keys: () => listener.getTicketKeys() };
  }

  it('replaces the key on its timer: an older ticket is not read after it, a new one is', async () => {
    const g = await gateway('1s');
    /** Whether a new session resumes, made and offered under one key (tried again when a rotation came between). */
    const freshResumes = async () => {
      for (let i = 0; i < 5; i++) {
        const keys = g.keys();
        const resumed = await resumesSession(g.port, ca.cert, await sessionTicket(g.port, ca.cert));
        if (g.keys().equals(keys)) return resumed;
      }
      throw new Error('a rotation came during each of five tries');
    };
    assert.equal(await freshResumes(), true);
    // A ticket sealed under the key of now (taken again if a rotation came while it was).
    let first = g.keys();
    let session = await sessionTicket(g.port, ca.cert);
    for (let i = 0; !g.keys().equals(first); i++) {
      if (i === 5) throw new Error('a rotation came during each of five tries');
      first = g.keys();
      session = await sessionTicket(g.port, ca.cert);
    }
    const deadline = Date.now() + 5000;
    while (g.keys().equals(first)) {
      if (Date.now() > deadline) throw new Error('the key was not replaced within 5 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(
      await resumesSession(g.port, ca.cert, session),
      false,
      'a ticket sealed under the key before',
    );
    assert.equal(await freshResumes(), true, 'a ticket sealed under the new key');
  });

  it('keeps the key with a rotation of 0', async () => {
    const g = await gateway('0');
    const first = g.keys();
    const session = await sessionTicket(g.port, ca.cert);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(g.keys().equals(first));
    assert.equal(await resumesSession(g.port, ca.cert, session), true);
  });
});
