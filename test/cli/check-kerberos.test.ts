/**
 * `postern check` validates the Kerberos settings as a real process, without a KDC: with
 * `gateway.hadoop.kerberos.secured=true` the JAAS file, the keytab holding its principal and the krb5.conf; a
 * HadoopAuth provider's keytab and principal. Each problem is one `path:line:column: message` line, exit 1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeHome, siteXml, type TestHome, topologyXml } from '../helpers/home.ts';
import { GATEWAY_PRINCIPAL, keytabBytes, offlineKerberosSite } from '../helpers/kerberos.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function check(
  home: string,
  env: NodeJS.ProcessEnv = {},
): { code: number | null; lines: string[]; stderr: string } {
  const args = [join(REPO, 'bin/postern.js'), 'check', '--home', home];
  // No KDC anywhere: check must not need one.
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, lines: r.stdout.split('\n').filter(Boolean), stderr: r.stderr };
}

const BASE = { 'gateway.port': 0, 'gateway.host': '127.0.0.1', 'ssl.enabled': false };

describe('postern check: Kerberos', () => {
  const homes: TestHome[] = [];
  after(() => {
    for (const h of homes) h.remove();
  });
  const home = () => {
    const h = makeHome();
    homes.push(h);
    h.write(
      'conf/topologies/t.xml',
      topologyXml({ services: [{ role: 'HTTP', urls: ['http://localhost:9'] }] }),
    );
    return h;
  };

  it('passes a valid login', () => {
    const h = home();
    h.write(
      'conf/gateway-site.xml',
      siteXml({ ...BASE, ...offlineKerberosSite(join(h.dir, 'conf', 'krb')) }),
    );
    const r = check(h.dir);
    assert.equal(r.code, 0, r.lines.join('\n') + r.stderr);
  });

  it('names libkrb5-dev and the rebuild command when the GSSAPI binding does not load', () => {
    const h = home();
    h.write(
      'conf/gateway-site.xml',
      siteXml({ ...BASE, ...offlineKerberosSite(join(h.dir, 'conf', 'krb')) }),
    );
    // As on a machine where `npm ci` could not build the optional binding.
    const r = check(h.dir, { POSTERN_GSSAPI_MODULE: join(h.dir, 'no-such-binding.node') });
    assert.equal(r.code, 1, r.lines.join('\n') + r.stderr);
    assert.ok(
      r.lines.some((l) =>
        /gateway-site.xml:\d+:\d+: gateway.hadoop.kerberos.secured is true but the GSSAPI binding \(npm package kerberos\) is not installed or was not built: install Debian's libkrb5-dev \(apt-get install libkrb5-dev\) and build the binding: npm rebuild kerberos/.test(
          l,
        ),
      ),
      r.lines.join('\n'),
    );
  });

  it('reports a keytab without the principal at the JAAS line, once', () => {
    const h = home();
    const site = offlineKerberosSite(join(h.dir, 'conf', 'krb'));
    writeFileSync(join(h.dir, 'conf', 'krb', 'knox.keytab'), keytabBytes('hdfs/other@POSTERN.TEST'));
    h.write('conf/gateway-site.xml', siteXml({ ...BASE, ...site }));
    const r = check(h.dir);
    assert.equal(r.code, 1, r.stderr);
    const jaas = String(site['java.security.auth.login.config']);
    const mine = r.lines.filter((l) => l.includes('does not hold'));
    assert.equal(mine.length, 1, r.lines.join('\n'));
    assert.match(
      mine[0],
      new RegExp(
        `^${jaas}:2:\\d+: the keytab .*knox.keytab does not hold ${GATEWAY_PRINCIPAL} \\(it holds hdfs/other@POSTERN.TEST\\)`,
      ),
    );
  });

  it('reports secured=true without a JAAS file, and a JAAS file that does not exist, at the gateway-site line', () => {
    const h = home();
    // No topology: the settings are checked for themselves, not only through a service's dispatch.
    rmSync(join(h.dir, 'conf', 'topologies', 't.xml'));
    h.write('conf/gateway-site.xml', siteXml({ ...BASE, 'gateway.hadoop.kerberos.secured': true }));
    const r = check(h.dir);
    assert.equal(r.code, 1);
    assert.ok(
      r.lines.some((l) =>
        /gateway-site.xml:\d+:\d+: gateway.hadoop.kerberos.secured is true but java.security.auth.login.config names no JAAS file/.test(
          l,
        ),
      ),
      r.lines.join('\n'),
    );
    h.write(
      'conf/gateway-site.xml',
      siteXml({
        ...BASE,
        'gateway.hadoop.kerberos.secured': true,
        'java.security.auth.login.config': '/nonexistent/jaas.conf',
      }),
    );
    const r2 = check(h.dir);
    assert.equal(r2.code, 1);
    assert.ok(
      r2.lines.some((l) =>
        /gateway-site.xml:7:13: java.security.auth.login.config: cannot read \/nonexistent\/jaas.conf: ENOENT/.test(
          l,
        ),
      ),
      r2.lines.join('\n'),
    );
  });

  it("reports a HadoopAuth keytab that lacks the provider's principal at its param", () => {
    const h = home();
    const keytab = join(h.dir, 'conf', 'http.keytab');
    writeFileSync(keytab, keytabBytes('HTTP/gw.example.com@POSTERN.TEST'));
    const krb5 = h.write('conf/krb5.conf', '[libdefaults]\n  default_realm = POSTERN.TEST\n');
    h.write('conf/gateway-site.xml', siteXml({ ...BASE, 'java.security.krb5.conf': krb5 }));
    h.write(
      'conf/topologies/t.xml',
      topologyXml({
        providers: [
          {
            role: 'authentication',
            name: 'HadoopAuth',
            params: {
              'hadoop.auth.config.kerberos.principal': 'HTTP/other.example.com@POSTERN.TEST',
              'hadoop.auth.config.kerberos.keytab': keytab,
            },
          },
        ],
        services: [{ role: 'HTTP', urls: ['http://localhost:9'] }],
      }),
    );
    const r = check(h.dir);
    assert.equal(r.code, 1);
    assert.ok(
      r.lines.some((l) =>
        /t.xml:\d+:\d+: .*does not hold HTTP\/other.example.com@POSTERN.TEST \(it holds HTTP\/gw.example.com@POSTERN.TEST\)/.test(
          l,
        ),
      ),
      r.lines.join('\n'),
    );
  });
});
