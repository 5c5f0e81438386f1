/**
 * The leak guard's findings in the admin API (`GET /api/v1/leaks`, admin only) and on the console's Leaks page,
 * in headless Chromium: a gateway with the stock admin topology and Knox's OOZIEUI in front of a fake Oozie whose
 * `/oozie` redirects to its own origin.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { writeAdminHome } from '../helpers/admin-home.ts';
import { launchChromium } from '../helpers/browser.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ADMIN = basic('admin', 'admin-password');
const GUEST = basic('guest', 'guest-password');

describe('leak list: admin API and console page', () => {
  let home: TestHome;
  let gateway: Gateway;
  let oozie: Server;
  let origin: string;
  let browser: Browser;

  before(async () => {
    oozie = createServer((_req, res) => {
      res.writeHead(302, { location: `${origin}/oozie/`, 'content-length': 0 });
      res.end();
    });
    await new Promise<void>((r) => oozie.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(oozie.address() as AddressInfo).port}`;
    home = makeHome({ 'postern.services.dirs': KNOX_SERVICES });
    await writeAdminHome(home, { admin: ['admin', 'users'], guest: ['users'] });
    home.write(
      'conf/topologies/ui.xml',
      topologyXml({ services: [{ role: 'OOZIEUI', version: '4.2.0', urls: [`${origin}/oozie`] }] }),
    );
    gateway = await startGateway(home);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
    oozie?.close();
    home?.remove();
  });

  it('lists the route that leaked, for the admin only, without the query', async () => {
    const leak = await fetch(`${gateway.url}/ui/oozie?token=s3cret`, { redirect: 'manual' });
    assert.equal(leak.status, 302);
    await leak.arrayBuffer();
    const guest = await fetch(`${gateway.url}/admin/api/v1/leaks`, { headers: { authorization: GUEST } });
    assert.equal(guest.status, 403);
    await guest.arrayBuffer();
    const res = await fetch(`${gateway.url}/admin/api/v1/leaks`, { headers: { authorization: ADMIN } });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes('s3cret'), text);
    const body = JSON.parse(text) as { mode: string; leaks: Record<string, unknown>[] };
    assert.equal(body.mode, 'report');
    assert.equal(body.leaks.length, 1);
    const { firstSeen, lastSeen, ...entry } = body.leaks[0];
    assert.ok(typeof firstSeen === 'string' && typeof lastSeen === 'string');
    assert.deepEqual(entry, {
      topology: 'ui',
      service: 'OOZIEUI',
      route: '/oozie?**',
      where: 'location',
      origin,
      count: 1,
      examplePath: '/gateway/ui/oozie',
      action: 'reported',
    });
  });

  it('shows it on the console Leaks page', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: 'admin', password: 'admin-password' },
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(`${gateway.url}/admin/console/`);
      await page.click('#nav a[data-page="leaks"]');
      const row = page.locator('#leaks tbody tr', { hasText: 'OOZIEUI' });
      await row.waitFor({ timeout: 10_000 });
      const cells = await row.locator('td').allTextContents();
      assert.deepEqual(
        [cells[0], cells[1], cells[2], cells[3], cells[5], cells[7]],
        ['ui / OOZIEUI', '/oozie?**', 'location', origin, 'reported', '/gateway/ui/oozie'],
      );
      assert.match((await page.locator('#leaks-mode').textContent()) ?? '', /= report/);
      assert.equal(await page.locator('.page[data-page="leaks"]').isVisible(), true);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
