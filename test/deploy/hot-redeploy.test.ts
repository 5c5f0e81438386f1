/**
 * Hot redeploy through the file watcher: create, change and delete a topology file; a broken file keeps the
 * previous deployment serving; a request in flight finishes on the deployment it started on.
 */
import assert from 'node:assert/strict';
import { renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../helpers/home.ts';

/** Polls until `check` passes or 2 s (the bound) are over. */
async function within2s(check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < 2000) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('not within 2 s');
}

async function whoAnswers(url: string): Promise<string | number> {
  const res = await request(url);
  const text = await res.body.text();
  return res.statusCode === 200 ? text : res.statusCode;
}

describe('hot redeploy', () => {
  let home: TestHome;
  let gateway: Gateway;
  let one: Backend;
  let two: Backend;
  let releaseSlow: () => void = () => {};

  before(async () => {
    one = await startBackend((req, res) => {
      if (req.url?.startsWith('/slow')) {
        res.writeHead(200);
        res.write('one-slow-');
        releaseSlow = () => res.end('done');
        return;
      }
      res.end('one');
    });
    two = await startBackend((_req, res) => res.end('two'));
    home = makeHome();
    gateway = await startGateway(home, { watch: true });
  });

  after(async () => {
    releaseSlow();
    await gateway?.close();
    await one?.close();
    await two?.close();
    home?.remove();
  });

  it('deploys a new file, redeploys a changed one and undeploys a deleted one, each within 2 s', async () => {
    const url = `${gateway.url}/live/http/x`;
    assert.equal(await whoAnswers(url), 404);
    const file = home.write(
      'conf/topologies/live.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: [one.url] }] }),
    );
    await within2s(async () => (await whoAnswers(url)) === 'one');
    home.write('conf/topologies/live.xml', topologyXml({ services: [{ role: 'HTTP', urls: [two.url] }] }));
    await within2s(async () => (await whoAnswers(url)) === 'two');
    unlinkSync(file);
    await within2s(async () => (await whoAnswers(url)) === 404);
  });

  it('keeps the previous deployment serving when the new file is broken, and says where', async () => {
    const url = `${gateway.url}/keep/http/x`;
    home.write('conf/topologies/keep.xml', topologyXml({ services: [{ role: 'HTTP', urls: [one.url] }] }));
    await within2s(async () => (await whoAnswers(url)) === 'one');
    const file = home.write(
      'conf/topologies/keep.xml',
      '<topology>\n  <gateway>\n    <provider><role>authentication</role>\n  </gateway>\n</topology>\n',
    );
    await within2s(async () => gateway.status.get('keep')?.deployed === false);
    assert.equal(await whoAnswers(url), 'one');
    const diagnostics = gateway.status.get('keep')!.diagnostics;
    assert.ok(diagnostics.length > 0);
    assert.equal(diagnostics[0].file, file);
    assert.ok(diagnostics[0].line >= 3, `line ${diagnostics[0].line}`);

    // A file that parses but names a service without a definition deploys without that service: the others
    // serve, the broken one answers 503 with its code, and the diagnostic names the service's line.
    home.write(
      'conf/topologies/keep.xml',
      topologyXml({
        services: [
          { role: 'HTTP', urls: [two.url] },
          { role: 'NO-SUCH-ROLE', urls: [two.url] },
        ],
      }),
    );
    await within2s(async () =>
      (gateway.status.get('keep')?.diagnostics ?? []).some((d) => d.message.includes('NO-SUCH-ROLE')),
    );
    assert.equal(gateway.status.get('keep')?.deployed, true);
    assert.equal(await whoAnswers(url), 'two');
    const broken = await request(`${gateway.url}/keep/no-such-role/x`);
    assert.equal(broken.statusCode, 503);
    const body = (await broken.body.json()) as { error: { code: string }; service: string };
    assert.equal(body.error.code, 'POSTERN_ERR_SERVICE_NO_DEFINITION');
    assert.equal(body.service, 'NO-SUCH-ROLE');
    const d = gateway.status.get('keep')!.diagnostics.find((x) => x.message.includes('NO-SUCH-ROLE'))!;
    assert.equal(d.message, 'no service definition for role "NO-SUCH-ROLE"');
    assert.equal(d.severity, 'error');
    assert.ok(d.line > 1);
  });

  it('keeps a topology deployed while its directory or file cannot be read (not while it is gone)', async () => {
    const dir = join(home.dir, 'conf/topologies');
    home.write('conf/topologies/steady.xml', topologyXml({ services: [{ role: 'HTTP', urls: [one.url] }] }));
    const url = `${gateway.url}/steady/http/x`;
    await within2s(async () => (await whoAnswers(url)) === 'one');
    // The directory cannot be listed (ENOTDIR, as EMFILE or EIO would): nothing is undeployed.
    renameSync(dir, `${dir}.away`);
    writeFileSync(dir, 'not a directory');
    await gateway.rescan();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await whoAnswers(url), 'one');
    rmSync(dir);
    renameSync(`${dir}.away`, dir);
    // The file cannot be read for a while (ELOOP: a symbolic link to itself): still deployed.
    const file = join(dir, 'steady.xml');
    renameSync(file, `${file}.away`);
    symlinkSync(file, file);
    await gateway.rescan();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await whoAnswers(url), 'one');
    // Gone for good: undeployed.
    unlinkSync(file);
    await within2s(async () => (await whoAnswers(url)) === 404);
  });

  it('lets a request in flight finish on the deployment it started on', async () => {
    const base = `${gateway.url}/flight/http`;
    home.write('conf/topologies/flight.xml', topologyXml({ services: [{ role: 'HTTP', urls: [one.url] }] }));
    await within2s(async () => (await whoAnswers(`${base}/x`)) === 'one');
    const slow = request(`${base}/slow`);
    const res = await slow;
    home.write('conf/topologies/flight.xml', topologyXml({ services: [{ role: 'HTTP', urls: [two.url] }] }));
    await within2s(async () => (await whoAnswers(`${base}/x`)) === 'two');
    releaseSlow();
    assert.equal(await res.body.text(), 'one-slow-done');
  });

  it('redeploys the topologies that use a service definition when the definition changes', async () => {
    const def = (rule: string) => `<service role="ECHOTAIL" name="echotail" version="1.0.0">
  <routes><route path="/tail/**"><rewrite apply="${rule}" to="request.url"/></route></routes>
</service>
`;
    const rules = `<rules>
  <rule dir="IN" name="ECHOTAIL/a" pattern="*://*:*/**/tail/{path=**}"><rewrite template="{$serviceUrl[ECHOTAIL]}/a/{path=**}"/></rule>
  <rule dir="IN" name="ECHOTAIL/b" pattern="*://*:*/**/tail/{path=**}"><rewrite template="{$serviceUrl[ECHOTAIL]}/b/{path=**}"/></rule>
</rules>
`;
    home.write('data/services/echotail/1.0.0/service.xml', def('ECHOTAIL/a'));
    home.write('data/services/echotail/1.0.0/rewrite.xml', rules);
    const echo = await startBackend((req, res) => res.end(req.url?.split('?')[0]));
    try {
      home.write(
        'conf/topologies/tail.xml',
        topologyXml({ services: [{ role: 'ECHOTAIL', urls: [echo.url] }] }),
      );
      const url = `${gateway.url}/tail/tail/x`;
      await within2s(async () => (await whoAnswers(url)) === '/a/x');
      home.write('data/services/echotail/1.0.0/service.xml', def('ECHOTAIL/b'));
      await within2s(async () => (await whoAnswers(url)) === '/b/x');
    } finally {
      await echo.close();
    }
  });
});
