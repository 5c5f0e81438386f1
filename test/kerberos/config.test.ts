/**
 * The Kerberos configuration readers, without a KDC: Knox's JAAS file (kerberos/jaas) with file:line:column
 * errors, keytabs (kerberos/keytab), krb5.conf (kerberos/krb5-conf), Hadoop's auth_to_local rules
 * (kerberos/name-rules) and signed tokens (kerberos/auth-token).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type ConfigError, DiagnosticSink } from '../../src/config/diagnostics.ts';
import { signToken, verifyToken } from '../../src/kerberos/auth-token.ts';
import { parseJaas, readKerberosLogin } from '../../src/kerberos/jaas.ts';
import { parseKeytab } from '../../src/kerberos/keytab.ts';
import { parseKrb5Conf } from '../../src/kerberos/krb5-conf.ts';
import { checkKerberosLogin } from '../../src/kerberos/login.ts';
import { NoMatchingRule, parseNameRules, shortName } from '../../src/kerberos/name-rules.ts';
import { keytabBytes } from '../helpers/kerberos.ts';

const dir = mkdtempSync(join(tmpdir(), 'postern-krbconf-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const at = { file: 'gateway-site.xml', line: 1, column: 1 };

/** Knox's template, as its docs give it. */
const KNOX_JAAS = `com.sun.security.jgss.initiate {
    com.sun.security.auth.module.Krb5LoginModule required
    renewTGT=false
    doNotPrompt=true
    useKeyTab=true
    keyTab="/etc/knox/conf/knox.service.keytab"
    principal="knox/host.example.com@EXAMPLE.COM"
    storeKey=true
    useTicketCache=false;
};
`;

describe('JAAS login configuration', () => {
  it("reads Knox's krb5JAASLogin.conf", () => {
    const file = join(dir, 'knox.conf');
    writeFileSync(
      file,
      `// Knox's template\n${KNOX_JAAS}\n/* another entry */\nClient { x.Y optional a=b; };\n`,
    );
    const sink = new DiagnosticSink();
    const login = readKerberosLogin(file, sink, at);
    assert.deepEqual(sink.items, []);
    assert.equal(login?.principal, 'knox/host.example.com@EXAMPLE.COM');
    assert.equal(login?.keytab, '/etc/knox/conf/knox.service.keytab');
    assert.deepEqual(login?.keytabPos, { file, line: 7, column: 12 });
  });

  it('reports syntax errors at file:line:column', () => {
    const cases: [string, number, number, RegExp][] = [
      ['a {\n  m.M required x=1\n};\n', 3, 1, /expected an option name, found "}"/],
      ['a {\n  m.M mandatory;\n};\n', 2, 7, /expected a control flag/],
      ['a {\n  m.M required k="v\n;};\n', 2, 18, /string is not closed/],
      ['a {\n  m.M required;\n}\n', 3, 1, /the file ends where ";" after the "}" of a was expected/],
      ['/* open\n', 1, 1, /comment is not closed/],
    ];
    for (const [text, line, column, message] of cases) {
      assert.throws(
        () => parseJaas(text, 'j.conf'),
        (err: ConfigError) => {
          const [d] = err.diagnostics;
          assert.match(d.message, message);
          assert.deepEqual([d.file, d.line, d.column], ['j.conf', line, column], d.message);
          return true;
        },
      );
    }
  });

  it('refuses what postern cannot honour, at its position', () => {
    const file = join(dir, 'cache.conf');
    writeFileSync(
      file,
      'com.sun.security.jgss.initiate {\n  com.sun.security.auth.module.Krb5LoginModule required\n  useTicketCache=true useKeyTab=false principal="knox@R" colour=blue;\n};\n',
    );
    const sink = new DiagnosticSink();
    assert.equal(readKerberosLogin(file, sink, at), undefined);
    const messages = sink.items.map((d) => `${d.line}:${d.column}: ${d.severity}: ${d.message}`);
    assert.ok(
      messages.some((m) => /^3:33: error: useKeyTab must be true/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /^3:18: error: useTicketCache=true is not supported/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /^2:3: error: .*keyTab is missing/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /^3:\d+: warning: colour is not understood/.test(m)),
      messages.join('\n'),
    );
    const none = join(dir, 'none.conf');
    writeFileSync(none, 'Client {\n  x.Y required;\n};\n');
    const sink2 = new DiagnosticSink();
    readKerberosLogin(none, sink2, at);
    assert.match(
      sink2.items[0].message,
      /no com.sun.security.jgss.initiate entry: .*\(entries found: Client\)/,
    );
  });

  it('checks that the keytab holds the principal and that krb5.conf parses, without a KDC', () => {
    const keytab = join(dir, 'knox.keytab');
    writeFileSync(keytab, keytabBytes('knox/host.example.com@EXAMPLE.COM'));
    const good = join(dir, 'good.conf');
    writeFileSync(good, KNOX_JAAS.replace('/etc/knox/conf/knox.service.keytab', keytab));
    const krb5 = join(dir, 'krb5.conf');
    writeFileSync(
      krb5,
      '[libdefaults]\n  default_realm = EXAMPLE.COM\n[realms]\n  EXAMPLE.COM = {\n    kdc = kdc:88\n  }\n',
    );
    const settings = { secured: true, loginConfig: good, krb5Conf: krb5, debug: false };
    const sink = new DiagnosticSink();
    assert.ok(checkKerberosLogin(settings, sink, at));
    assert.deepEqual(sink.items, []);

    const wrong = join(dir, 'wrong.conf');
    writeFileSync(
      wrong,
      KNOX_JAAS.replace('/etc/knox/conf/knox.service.keytab', keytab).replace('knox/host', 'hdfs/host'),
    );
    const sink2 = new DiagnosticSink();
    assert.equal(checkKerberosLogin({ ...settings, loginConfig: wrong }, sink2, at), undefined);
    assert.match(
      sink2.items[0].message,
      /does not hold hdfs\/host.example.com@EXAMPLE.COM \(it holds knox\/host.example.com@EXAMPLE.COM\)/,
    );
    assert.equal(sink2.items[0].line, 7);

    const missing = new DiagnosticSink();
    checkKerberosLogin({ ...settings, loginConfig: good.replace('good', 'absent') }, missing, at);
    assert.match(missing.items[0].message, /cannot read .*absent.conf: ENOENT/);
    const noFile = new DiagnosticSink();
    checkKerberosLogin({ ...settings, loginConfig: undefined }, noFile, at);
    assert.match(noFile.items[0].message, /java.security.auth.login.config names no JAAS file/);
    const badConf = join(dir, 'bad-krb5.conf');
    writeFileSync(badConf, '[realms]\n  R = {\n    kdc = x\n');
    const badSink = new DiagnosticSink();
    checkKerberosLogin({ ...settings, krb5Conf: badConf }, badSink, at);
    assert.match(badSink.items[0].message, /bad-krb5.conf:2:1: the \{ … \} block opened here is not closed/);
  });
});

describe('keytabs and krb5.conf', () => {
  it('lists the principals of a keytab and refuses what is not one', () => {
    const two = Buffer.concat([keytabBytes('HTTP/a.example.com@R', 3), keytabBytes('knox@R').subarray(2)]);
    assert.deepEqual(
      parseKeytab(two).map((e) => [e.principal, e.kvno]),
      [
        ['HTTP/a.example.com@R', 3],
        ['knox@R', 1],
      ],
    );
    assert.throws(() => parseKeytab(Buffer.from('not a keytab')), /not a keytab/);
    assert.throws(() => parseKeytab(keytabBytes('a@R').subarray(0, 20)), /truncated/);
  });

  it('finds default_realm and reports where krb5.conf does not parse', () => {
    const conf = parseKrb5Conf(
      '# c\n[libdefaults]\n default_realm = EXAMPLE.COM\n[realms]\n EXAMPLE.COM = {\n  kdc = k\n }\n',
      'k.conf',
    );
    assert.equal(conf.defaultRealm, 'EXAMPLE.COM');
    assert.throws(
      () => parseKrb5Conf('default_realm = X\n', 'k.conf'),
      /^Error: k.conf:1:1: a relation before any \[section\]/,
    );
    assert.throws(() => parseKrb5Conf('[a]\n}\n', 'k.conf'), /k.conf:2:1: "}" closes nothing/);
  });
});

describe("Hadoop's auth_to_local rules", () => {
  const rules = parseNameRules(`
    RULE:[2:$1/$2@$0](nn/.*@EXAMPLE.COM)s/.*/hdfs/
    RULE:[1:$1@$0](.*@PARTNER.COM)s/@.*//L
    RULE:[2:$1](HTTP)s/HTTP/web/g
    DEFAULT`);

  it('maps principals as Hadoop does', () => {
    assert.equal(shortName('nn/host1.example.com@EXAMPLE.COM', rules, 'EXAMPLE.COM'), 'hdfs');
    assert.equal(shortName('Carol@PARTNER.COM', rules, 'EXAMPLE.COM'), 'carol');
    assert.equal(shortName('HTTP/h@OTHER.COM', rules, 'EXAMPLE.COM'), 'web');
    assert.equal(shortName('alice@EXAMPLE.COM', rules, 'EXAMPLE.COM'), 'alice');
    assert.equal(shortName('knox/gw.example.com@EXAMPLE.COM', rules, 'EXAMPLE.COM'), 'knox');
    assert.equal(shortName('plain', rules, 'EXAMPLE.COM'), 'plain');
  });

  it('refuses a principal no rule maps, a non-simple result and a rule it cannot read', () => {
    assert.throws(() => shortName('alice@ELSEWHERE.COM', rules, 'EXAMPLE.COM'), NoMatchingRule);
    const keepRealm = parseNameRules('RULE:[1:$1@$0](.*)');
    assert.throws(
      () => shortName('alice@EXAMPLE.COM', keepRealm, 'EXAMPLE.COM'),
      /non-simple name alice@EXAMPLE.COM/,
    );
    assert.throws(() => parseNameRules('RULE:1:$1'), /invalid rule: RULE:1:\$1/);
    assert.throws(() => parseNameRules('RULE:[1:$1](a[)'), /invalid regular expression/);
  });
});

describe('signed hadoop.auth tokens', () => {
  const secret = Buffer.from('s3cret');

  it("signs as hadoop-auth's Signer (HMAC-SHA256, base64) and verifies in constant time", () => {
    const token = { user: 'alice', principal: 'alice@R', type: 'kerberos', expires: 1700000000000 };
    const signed = signToken(token, secret);
    const text = 'u=alice&p=alice@R&t=kerberos&e=1700000000000';
    assert.equal(signed, `${text}&s=${createHmac('sha256', secret).update(text).digest('base64')}`);
    assert.deepEqual(verifyToken(`"${signed}"`, [secret]), token);
    assert.equal(verifyToken(signed, [Buffer.from('other')]), 'invalid signature');
    assert.equal(verifyToken(signed.replace('alice&', 'admin&'), [secret]), 'invalid signature');
    assert.equal(verifyToken('u=a&p=b', [secret]), 'not a signed token');
    const odd = 'u=a&p=b&t=kerberos&x=1&e=1';
    assert.equal(
      verifyToken(`${odd}&s=${createHmac('sha256', secret).update(odd).digest('base64')}`, [secret]),
      'malformed token',
    );
  });
});
