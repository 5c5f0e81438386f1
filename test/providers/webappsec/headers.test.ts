/**
 * WebAppSec response security headers end to end: X-Frame-Options, X-XSS-Protection, X-Content-Type-Options and
 * Strict-Transport-Security with Knox's defaults and custom values; the configured value replaces the backend's;
 * the headers are on the gateway's own error responses too; HSTS only over TLS (with a deployment warning when
 * enabled on a plain-HTTP gateway), and gateway-site's global HSTS applying unless the topology decides.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Agent } from 'undici';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../../helpers/backend.ts';
import { insecureAgent, makeHome, type TestHome, topologyXml } from '../../helpers/home.ts';
import { call, paramLine, startAuditedGateway } from '../security-helpers.ts';

const ALL_ON = {
  'xframe.options.enabled': 'true',
  'xss.protection.enabled': 'true',
  'xcontent-type.options.enabled': 'true',
  'strict.transport.enabled': 'true',
};

describe('WebAppSec security headers', () => {
  let plainHome: TestHome;
  let tlsHome: TestHome;
  let plain: Gateway;
  let tls: Gateway;
  let backend: Backend;
  let agent: Agent;
  const files: Record<string, string> = {};

  const write = (home: TestHome, name: string, params: Record<string, string>, preauth = false) => {
    files[name] = topologyXml({
      providers: [
        { role: 'webappsec', name: 'WebAppSec', params },
        preauth
          ? { role: 'federation', name: 'HeaderPreAuth' }
          : { role: 'authentication', name: 'Anonymous' },
        { role: 'identity-assertion', name: 'Default' },
      ],
      services: [{ role: 'HTTP', urls: [backend.url] }],
    });
    home.write(`conf/topologies/${name}.xml`, files[name]);
  };

  before(async () => {
    // The backend tries to set each header itself: the gateway's configured value must win.
    backend = await startBackend((req, res) => {
      req.resume();
      res.setHeader('x-frame-options', 'ALLOWALL');
      res.setHeader('x-xss-protection', '0');
      res.setHeader('x-content-type-options', 'sniff');
      res.setHeader('strict-transport-security', 'max-age=1');
      res.setHeader('x-backend', 'yes');
      res.end('ok');
    });
    agent = insecureAgent();
    plainHome = makeHome();
    write(plainHome, 'all', ALL_ON);
    write(plainHome, 'auth', ALL_ON, true);
    write(plainHome, 'custom', {
      'xframe.options.enabled': 'true',
      'xframe.options.value': 'SAMEORIGIN',
      'xss.protection.enabled': 'true',
      'xss.protection': '0',
      'xcontent-type.options.enabled': 'true',
      'xcontent-type.options': 'nosniff',
    });
    write(plainHome, 'knox-name', { 'xframe.options.enabled': 'true', 'xframe.options': 'SAMEORIGIN' });
    write(plainHome, 'odd-value', { 'xframe.options.enabled': 'true', 'xframe.options.value': 'ALLOWALL' });
    write(plainHome, 'off', { 'xframe.options.enabled': 'false' });
    write(plainHome, 'bad-value', {
      'xss.protection.enabled': 'true',
      'xss.protection': '1;mode=block&#13;&#10;X-Injected: yes',
    });
    ({ gateway: plain } = await startAuditedGateway(plainHome));

    tlsHome = makeHome({
      'ssl.enabled': true,
      'gateway.strict.transport.enabled': true,
      'gateway.strict.transport.option': 'max-age=100',
    });
    write(
      tlsHome,
      'hsts',
      {
        'strict.transport.enabled': 'true',
        'strict.transport': 'max-age=600; includeSubDomains',
      },
      true,
    );
    write(tlsHome, 'global', { 'xframe.options.enabled': 'true' });
    write(tlsHome, 'optout', { 'xframe.options.enabled': 'true', 'strict.transport.enabled': 'false' });
    ({ gateway: tls } = await startAuditedGateway(tlsHome));
  });

  after(async () => {
    await plain?.close();
    await tls?.close();
    await agent?.close();
    await backend?.close();
    plainHome?.remove();
    tlsHome?.remove();
  });

  it("sets Knox's default values in place of the backend's", async () => {
    const res = await call(`${plain.url}/all/http/x`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['x-xss-protection'], '1;mode=block');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-backend'], 'yes');
  });

  it('sends no Strict-Transport-Security over plain HTTP (RFC 6797 §7.2), and warns at deployment', async () => {
    const res = await call(`${plain.url}/all/http/x`);
    assert.equal(res.headers['strict-transport-security'], undefined);
    const warning = plain.status.get('all')!.diagnostics.find((d) => d.severity === 'warning')!;
    assert.match(warning.message, /only over TLS .* ssl\.enabled=false/);
    assert.equal(warning.line, paramLine(files.all, 'strict.transport.enabled'));
  });

  it("puts the headers on the gateway's own error responses", async () => {
    const res = await call(`${plain.url}/auth/http/x`);
    assert.equal(res.status, 401);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['x-xss-protection'], '1;mode=block');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });

  it('uses the configured values (xframe.options.value, or Knox code name xframe.options)', async () => {
    const res = await call(`${plain.url}/custom/http/x`);
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(res.headers['x-xss-protection'], '0');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['strict-transport-security'], 'max-age=1');
    const knox = await call(`${plain.url}/knox-name/http/x`);
    assert.equal(knox.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(knox.headers['x-xss-protection'], '0');
  });

  it('warns about an X-Frame-Options value browsers ignore; refuses a value a header cannot carry', () => {
    const odd = plain.status.get('odd-value')!;
    assert.equal(odd.deployed, true);
    assert.match(
      odd.diagnostics.find((d) => d.severity === 'warning')!.message,
      /neither DENY nor SAMEORIGIN/,
    );
    const bad = plain.status.get('bad-value')!;
    assert.equal(bad.deployed, false);
    const error = bad.diagnostics.find((d) => d.severity === 'error')!;
    assert.match(error.message, /xss\.protection: the value holds characters a header cannot carry/);
    assert.equal(error.line, paramLine(files['bad-value'], 'xss.protection'));
  });

  it('adds no filter when nothing is enabled', async () => {
    const chain = plain.server.deployments.get('off')!.routes[0].chain;
    assert.ok(!chain.some((c) => c.startsWith('webappsec/')), chain.join(' → '));
    const res = await call(`${plain.url}/off/http/x`);
    assert.equal(res.headers['x-frame-options'], 'ALLOWALL');
  });

  it('sends HSTS over TLS, on proxied and error responses, with the configured value', async () => {
    const ok = await call(`${tls.url}/hsts/http/x`, { headers: { SM_USER: 'alice' }, dispatcher: agent });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['strict-transport-security'], 'max-age=600; includeSubDomains');
    const denied = await call(`${tls.url}/hsts/http/x`, { dispatcher: agent });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['strict-transport-security'], 'max-age=600; includeSubDomains');
    // Nothing but HeaderPreAuth's own warning about its default validator.
    const others = tls.status.get('hsts')!.diagnostics.filter((d) => !/from any address/.test(d.message));
    assert.deepEqual(others, []);
  });

  it("applies gateway-site's global HSTS unless the topology's WebAppSec sets strict.transport.enabled", async () => {
    const global = await call(`${tls.url}/global/http/x`, { dispatcher: agent });
    assert.equal(global.headers['strict-transport-security'], 'max-age=100');
    assert.equal(global.headers['x-frame-options'], 'DENY');
    const optout = await call(`${tls.url}/optout/http/x`, { dispatcher: agent });
    // Not the gateway's: the backend's own header passes when the topology turns HSTS off.
    assert.equal(optout.headers['strict-transport-security'], 'max-age=1');
  });
});
