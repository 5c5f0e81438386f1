/**
 * `postern topology new` and `postern service new` as real processes: what they write passes `postern check`
 * without an error or a warning (for each kind of authentication), routes where it says it does (`postern
 * explain` on the result), and an existing file is never overwritten.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Explanation } from '../../src/explain/index.ts';
import { makeHome, type TestHome } from '../helpers/home.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function postern(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/postern.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function checkClean(home: string): void {
  const r = postern('check', '--home', home);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, '', 'no warning either');
}

describe('postern topology new / service new', () => {
  const homes: TestHome[] = [];
  const fresh = () => {
    const h = makeHome();
    homes.push(h);
    return h;
  };
  after(() => {
    for (const h of homes) h.remove();
  });

  it('writes a service definition and a topology using it that check accepts, routed as explain says', () => {
    const home = fresh();
    const s = postern(
      'service',
      'new',
      'INVENTORY',
      '--home',
      home.dir,
      '--version',
      '2.1.0',
      '--path',
      '/api/inventory',
    );
    assert.equal(s.code, 0, s.stderr);
    const dir = join(home.dir, 'data/services/inventory/2.1.0');
    assert.equal(s.stdout, `wrote ${dir}/service.xml\nwrote ${dir}/rewrite.xml\n`);
    const t = postern(
      'topology',
      'new',
      'shop',
      '--home',
      home.dir,
      '--service',
      'INVENTORY=http://inventory.internal:8080/v2',
      '--service',
      'HTTP=http://127.0.0.1:9000',
    );
    assert.equal(t.code, 0, t.stderr);
    assert.equal(t.stdout, `wrote ${home.dir}/conf/topologies/shop.xml\n`);
    checkClean(home.dir);

    const e = JSON.parse(
      postern('explain', '--home', home.dir, '--json', 'GET', '/gateway/shop/api/inventory/items/3?sort=asc')
        .stdout,
    ) as Explanation;
    assert.equal(e.outcome, 'proxied');
    assert.equal(e.route?.service, 'INVENTORY');
    assert.equal(e.backend?.url, 'http://inventory.internal:8080/v2/items/3?sort=asc&user.name=anonymous');
    const root = JSON.parse(
      postern('explain', '--home', home.dir, '--json', '/gateway/shop/api/inventory').stdout,
    ) as Explanation;
    assert.equal(root.backend?.url, 'http://inventory.internal:8080/v2/?user.name=anonymous');
  });

  for (const auth of ['anonymous', 'file', 'ldap']) {
    it(`writes a topology with --auth ${auth} that check accepts`, () => {
      const home = fresh();
      const r = postern(
        'topology',
        'new',
        `t-${auth}`,
        '--home',
        home.dir,
        '--auth',
        auth,
        '--service',
        'HTTP=http://127.0.0.1:9000',
      );
      assert.equal(r.code, 0, r.stderr);
      checkClean(home.dir);
      const xml = readFileSync(join(home.dir, `conf/topologies/t-${auth}.xml`), 'utf8');
      const chain = JSON.parse(
        postern('explain', '--home', home.dir, '--json', '--user', 'alice', `/gateway/t-${auth}/http/x`)
          .stdout,
      ) as Explanation;
      const authentication = chain.chain.find((s) => s.role === 'authentication')!;
      assert.equal(authentication.name, auth === 'anonymous' ? 'Anonymous' : 'ShiroProvider');
      if (auth === 'file') {
        assert.match(xml, /<value>postern\.FileRealm<\/value>/);
        // The users file did not exist: an empty one is written beside the topology, with how to fill it.
        assert.match(r.stdout, /wrote .*conf\/users\.yaml/);
        assert.match(
          readFileSync(join(home.dir, 'conf/users.yaml'), 'utf8'),
          /postern hash-password[\s\S]*users: \{\}/,
        );
      }
      if (auth === 'ldap') assert.match(xml, /KnoxLdapRealm[\s\S]*ldap:\/\/localhost:389/);
    });
  }

  it('refuses to overwrite, and leaves the file as it was', () => {
    const home = fresh();
    const file = home.write('conf/topologies/taken.xml', '<topology/>\n');
    const r = postern('topology', 'new', 'taken', '--home', home.dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /taken\.xml exists; not overwritten/);
    assert.equal(readFileSync(file, 'utf8'), '<topology/>\n');

    assert.equal(postern('service', 'new', 'MINE', '--home', home.dir).code, 0);
    const again = postern('service', 'new', 'MINE', '--home', home.dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /service\.xml exists; not overwritten/);
  });

  it('refuses a role without a definition, and bad arguments', () => {
    const home = fresh();
    const r = postern(
      'topology',
      'new',
      'x',
      '--home',
      home.dir,
      '--service',
      'WEBHDFZ=http://nn:50070/webhdfs',
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no service definition for role "WEBHDFZ"; did you mean WEBHDFS\?/);
    assert.equal(postern('topology', 'new', 'x', '--home', home.dir, '--service', 'HTTP=not a url').code, 2);
    assert.equal(postern('topology', 'new', 'x', '--home', home.dir, '--auth', 'kerberos').code, 2);
    assert.equal(postern('topology', 'new', '../escape', '--home', home.dir).code, 2);
    assert.equal(postern('service', 'new', 'X', '--home', home.dir, '--path', '/a/{b}').code, 2);
    assert.equal(postern('service', 'remove', 'X').code, 2);
  });
});
