/**
 * `postern explain` as a real process, on the repository's own sample home and on test homes: the text a
 * person reads, the JSON a machine reads, the exit status, and that it writes nothing into the home.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Explanation } from '../../src/explain/index.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function postern(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/postern.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('postern explain', () => {
  const homes: TestHome[] = [];
  after(() => {
    for (const h of homes) h.remove();
  });

  it('explains a URL of the sample home as text: route, chain, rewrites, backend request', () => {
    const r = postern(
      'explain',
      '--user',
      'guest',
      'GET',
      'https://localhost:8443/gateway/sandbox/http/items?x=1',
    );
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /^GET https:\/\/localhost:8443\/gateway\/sandbox\/http\/items\?x=1 as guest\n/);
    assert.match(out, /^→ proxied to http:\/\/127\.0\.0\.1:18080\/items\?x=1&user\.name=guest$/m);
    assert.match(out, /^topology {2}sandbox {2}conf\/topologies\/sandbox\.xml$/m);
    assert.match(
      out,
      /^route {5}\/http\/\*\*\?\*\* {2}of HTTP \(http\/1\.0\.0\) {2}services\/http\/1\.0\.0\/service\.xml:\d+:\d+$/m,
    );
    assert.match(
      out,
      /^ {2}\/http\/\*\* +HTTP +matches too, but on the same path a pattern with a query part wins over one without$/m,
    );
    assert.match(out, /^ {3}2\. authentication\/ShiroProvider +assumed +assumed to authenticate "guest"$/m);
    assert.match(
      out,
      /^ {2}request\.url {2}HTTP\/postern\/in\/path \(bound\) {2}services\/http\/1\.0\.0\/rewrite\.xml:\d+:\d+$/m,
    );
    assert.match(out, /^ {6}before {2}https:\/\/localhost:8443\/gateway\/sandbox\/http\/items\?x=1$/m);
    assert.match(out, /^ {6}after {3}http:\/\/127\.0\.0\.1:18080\/items\?x=1$/m);
    assert.match(out, /^ {2}x-forwarded-context: \/gateway\/sandbox$/m);
  });

  it('without --user on a secured topology, says the request gets 401 and what credentials it needs, exit 1', () => {
    const r = postern('explain', 'GET', 'https://localhost:8443/gateway/sandbox/http/items');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /proxied/);
    assert.match(
      r.stdout,
      /^→ 401 POSTERN_ERR_UNAUTHENTICATED: authentication\/ShiroProvider: Authentication required$/m,
    );
    assert.match(r.stdout, /^ {2}credentials needed: WWW-Authenticate: BASIC realm="application"$/m);
    assert.match(r.stdout, /give --user NAME to explain an authenticated request/);
  });

  it('prints JSON with --json, and takes a path without scheme and host', () => {
    const r = postern(
      'explain',
      '--json',
      '--user',
      'guest',
      '--group',
      'users',
      '-H',
      'X-Trace: 1',
      '/gateway/sandbox/echo/ws',
    );
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout) as Explanation;
    assert.equal(e.version, 1);
    assert.equal(e.outcome, 'proxied');
    assert.deepEqual(e.request, {
      method: 'GET',
      url: '/gateway/sandbox/echo/ws',
      user: 'guest',
      groups: ['users'],
      upgrade: false,
    });
    assert.equal(e.route?.service, 'ECHOWS');
    assert.equal(e.backend?.headers['x-trace'], '1');
    assert.ok(e.chain.some((s) => s.role === 'authorization' && s.effect === 'ran'));
  });

  it('exits 1 and names the nearest candidates when nothing matches', () => {
    const r = postern('explain', 'GET', 'https://localhost:8443/gateway/sandbox/htp/items');
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /→ 404 POSTERN_ERR_NOT_FOUND: no route of topology "sandbox" matches \/htp\/items/,
    );
    assert.match(r.stdout, /^nearest routes:\n {2}\/http +HTTP +segment 1 "htp" is not "http"$/m);
    const t = postern('explain', '--json', 'https://localhost:8443/gateway/sandbx/http/items');
    assert.equal(t.code, 1);
    const e = JSON.parse(t.stdout) as Explanation;
    // The nearest topology first (the sample home also has `admin`).
    assert.deepEqual(
      [e.outcome, e.code, e.candidates?.topologies?.[0]],
      ['unmatched', 'POSTERN_ERR_TOPOLOGY_NOT_FOUND', '/gateway/sandbox/'],
    );
  });

  it('says why a topology of the home is not deployed, and writes nothing into the home', () => {
    const home = makeHome();
    homes.push(home);
    home.write(
      'conf/topologies/broken.xml',
      topologyXml({
        providers: [{ role: 'authentication', name: 'NoSuchProvider' }],
        services: [{ role: 'HTTP', urls: ['http://127.0.0.1:1'] }],
      }),
    );
    const r = postern('explain', '--home', home.dir, '--json', 'GET', '/gateway/broken/x');
    assert.equal(r.code, 1, r.stderr);
    const e = JSON.parse(r.stdout) as Explanation;
    assert.match(e.reason!, /^topology "broken" \(.*broken\.xml\) is not deployed: 1 error\(s\)$/);
    assert.match(
      e.notes[0],
      /broken\.xml:\d+:\d+: no provider named "NoSuchProvider" for role "authentication"/,
    );
    // No master secret created, no log written.
    assert.equal(existsSync(join(home.dir, 'data', 'security')), false);
    assert.deepEqual(readdirSync(join(home.dir, 'logs')), []);
  });

  it('refuses bad usage with exit 2', () => {
    assert.equal(postern('explain').code, 2);
    assert.equal(postern('explain', '--header', 'no-colon', '/gateway/sandbox/http').code, 2);
    assert.equal(postern('explain', '--nope', '/gateway/sandbox/http').code, 2);
    const help = postern('explain', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: postern explain/);
  });
});
