/**
 * `postern explain --response-header`: what the route's outbound rules and the leak guard make of a backend's
 * answer, as a real process on a home with Knox's OOZIEUI and YARNUI (nothing is sent anywhere).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Explanation } from '../../src/explain/index.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function postern(...args: string[]) {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/postern.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('postern explain --response-header', () => {
  const homes: TestHome[] = [];
  after(() => {
    for (const h of homes) h.remove();
  });

  function home(mode: string): TestHome {
    const h = makeHome({ 'postern.services.dirs': KNOX_SERVICES, 'postern.rewrite.leak.guard': mode });
    homes.push(h);
    h.write(
      'conf/topologies/ui.xml',
      topologyXml({
        services: [
          { role: 'OOZIEUI', version: '4.2.0', urls: ['http://oozie.internal:11000/oozie'] },
          { role: 'YARNUI', version: '2.7.0', urls: ['http://rm.internal:8088'] },
        ],
      }),
    );
    return h;
  }

  it('shows the Oozie redirect left by the rules, reported, and what rewrite mode makes of it', () => {
    const h = home('report');
    const r = postern(
      'explain',
      '--home',
      h.dir,
      '--response-header',
      'Location: http://oozie.internal:11000/oozie/',
      '--json',
      'http://localhost:8443/gateway/ui/oozie',
    );
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout) as Explanation;
    assert.equal(e.outcome, 'proxied');
    assert.deepEqual(e.response, {
      mode: 'report',
      backend: { location: 'http://oozie.internal:11000/oozie/' },
      afterRules: { location: 'http://oozie.internal:11000/oozie/' },
      client: { location: 'http://oozie.internal:11000/oozie/' },
      leaks: [
        {
          where: 'location',
          origin: 'http://oozie.internal:11000',
          service: 'OOZIEUI',
          url: 'http://oozie.internal:11000/oozie/',
          rewrite: 'http://localhost:8443/gateway/ui/oozie/',
          by: 'service-url',
        },
      ],
    });
  });

  it("in rewrite mode, the YARN proxy's redirect through YARNUI's rule, as text", () => {
    const h = home('rewrite');
    const r = postern(
      'explain',
      '--home',
      h.dir,
      '--response-header',
      'Location: http://rm.internal:8088/proxy/application_1_0001/',
      'http://localhost:8443/gateway/ui/yarn/proxy/application_1_0001/',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /leak guard: location holds http:\/\/rm\.internal:8088 \(YARNUI\): rewrite mode makes it http:\/\/localhost:8443\/gateway\/ui\/yarn\/proxy\/application_1_0001\/ \(YARNUI\/yarn\/outbound\/proxy\)/,
    );
    assert.match(
      r.stdout,
      /the client gets \(postern\.rewrite\.leak\.guard=rewrite\):\n {4}location: http:\/\/localhost:8443\/gateway\/ui\/yarn\/proxy\/application_1_0001\//,
    );
  });

  it('says nothing is left for a header the rules already map, and refuses a header without a colon', () => {
    const h = home('report');
    const r = postern(
      'explain',
      '--home',
      h.dir,
      '--response-header',
      'Location: /oozie/other',
      'http://localhost:8443/gateway/ui/oozie',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /leak guard: no backend address left/);
    const bad = postern('explain', '--home', h.dir, '--response-header', 'nocolon', '/gateway/ui/oozie');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--response-header wants 'Name: value'/);
  });
});
