import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiagnosticSink, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { parseXmlTopology } from '../../src/topology/xml-topology.ts';
import { SANDBOX_XML as SANDBOX } from './fixtures.ts';

const FILE = 'conf/topologies/sandbox.xml';

function read(text: string) {
  const sink = new DiagnosticSink();
  const topology = parseXmlTopology(text, FILE, sink);
  return { topology, messages: sink.items.map(formatDiagnostic) };
}

/** A topology whose body is `lines`, one per line starting at line 2. */
const topo = (...lines: string[]) => ['<topology>', ...lines, '</topology>'].join('\n');

describe('parseXmlTopology', () => {
  it('reads providers, chains, services, dispatch overrides, chain references and applications', () => {
    const { topology: t, messages } = read(SANDBOX);
    assert.deepEqual(messages, []);
    assert.ok(t);
    assert.equal(t.name, 'sandbox');
    assert.equal(t.file, FILE);
    assert.equal(t.defaultPath, 'webhdfs');
    assert.equal(t.generated, false);
    assert.deepEqual(t.pos, { file: FILE, line: 2, column: 1 });

    assert.equal(t.providers.length, 2);
    const [shiro, hostmap] = t.providers;
    assert.equal(shiro.role, 'authentication');
    assert.equal(shiro.name, 'ShiroProvider');
    assert.equal(shiro.enabled, true);
    assert.deepEqual(shiro.pos, { file: FILE, line: 7, column: 9 });
    assert.deepEqual(
      shiro.params.map((p) => [p.name, p.value, p.pos.line, p.pos.column]),
      [
        ['sessionTimeout', '30', 11, 13],
        ['main.ldapRealm', 'org.apache.knox.gateway.shirorealm.KnoxLdapRealm', 15, 13],
      ],
    );
    assert.equal(hostmap.enabled, false);

    assert.equal(t.chains.length, 1);
    assert.equal(t.chains[0].name, 'anonymous');
    assert.deepEqual(t.chains[0].pos, { file: FILE, line: 22, column: 9 });
    assert.deepEqual(
      t.chains[0].providers.map((p) => [p.role, p.name, p.params.map((x) => `${x.name}=${x.value}`)]),
      [
        ['authentication', 'Anonymous', ['realm=open']],
        ['authorization', undefined, []],
      ],
    );

    const [webhdfs, hive] = t.services;
    assert.equal(webhdfs.role, 'WEBHDFS');
    assert.equal(webhdfs.version, '2.4.0');
    assert.equal(webhdfs.name, undefined);
    assert.deepEqual(
      webhdfs.urls.map((u) => [u.url, u.pos.line]),
      [
        ['http://nn1:50070/webhdfs', 37],
        ['http://nn2:50070/webhdfs', 38],
      ],
    );
    assert.deepEqual(
      webhdfs.params.map((p) => [p.name, p.value]),
      [['replayBufferSize', '8']],
    );
    assert.equal(webhdfs.dispatch?.className, 'org.apache.knox.gateway.dispatch.DefaultDispatch');
    assert.equal(webhdfs.dispatch?.useTwoWaySsl, true);
    assert.deepEqual(
      webhdfs.dispatch?.params.map((p) => p.name),
      ['responseExcludeHeaders'],
    );
    assert.equal(webhdfs.chainRef, undefined);

    assert.equal(hive.name, 'hive');
    assert.equal(hive.chainRef?.name, 'anonymous');
    assert.deepEqual(
      hive.chainRef?.params.map((p) => [p.role, p.name, p.value]),
      [['authentication', 'realm', 'hive']],
    );
    assert.deepEqual(
      t.applications.map((a) => [a.name, a.urls.length]),
      [['knoxauth', 0]],
    );
  });

  it('defaults enabled to true and an unnamed chain-ref to the default chain', () => {
    const { topology: t, messages } = read(
      topo(
        '<gateway><provider><role>rewrite</role><name>default</name></provider></gateway>',
        '<service><role>X</role><chain-ref/></service>',
      ),
    );
    assert.deepEqual(messages, []);
    assert.equal(t?.providers[0].enabled, true);
    assert.equal(t?.services[0].chainRef?.name, 'default');
  });

  it('reports a root element that is not topology', () => {
    assert.deepEqual(read('<?xml version="1.0"?>\n<topologies/>').messages, [
      `${FILE}:2:1: root element must be <topology>, found <topologies>`,
    ]);
  });

  it('reports a provider without a role or a name', () => {
    assert.deepEqual(
      read(
        topo(
          '<gateway>',
          '  <provider><name>ShiroProvider</name></provider>',
          '  <provider><role>authentication</role></provider>',
          '</gateway>',
        ),
      ).messages,
      [`${FILE}:3:3: <provider> without a <role>`, `${FILE}:4:3: <provider> without a <name>`],
    );
  });

  it('reports a service without a role', () => {
    assert.deepEqual(read(topo('<service>', '  <url>http://h:1/</url>', '</service>')).messages, [
      `${FILE}:2:1: <service> without a <role>`,
    ]);
  });

  it('reports the same service role and name twice', () => {
    assert.deepEqual(
      read(
        topo(
          '<service><role>WEBHDFS</role></service>',
          '<service><role>WEBHDFS</role><name>a</name></service>',
          '<service><role>WEBHDFS</role></service>',
          '<service><role>WEBHDFS</role><name>a</name></service>',
        ),
      ).messages,
      [
        `${FILE}:4:1: duplicate service WEBHDFS, first declared at ${FILE}:2:1`,
        `${FILE}:5:1: duplicate service WEBHDFS (name a), first declared at ${FILE}:3:1`,
      ],
    );
  });

  it('reports enabled, generated and use-two-way-ssl values that are not true or false', () => {
    assert.deepEqual(
      read(
        topo(
          '<generated>maybe</generated>',
          '<gateway><provider><role>a</role><name>b</name>',
          '  <enabled>yes</enabled></provider>',
          '<provider role="c" name="d" enabled="on"/></gateway>',
          '<service><role>S</role><dispatch use-two-way-ssl="1"/></service>',
        ),
      ).messages,
      [
        `${FILE}:2:1: generated must be true or false, found "maybe"`,
        `${FILE}:4:3: enabled must be true or false, found "yes"`,
        `${FILE}:5:29: enabled must be true or false, found "on"`,
        `${FILE}:6:34: use-two-way-ssl must be true or false, found "1"`,
      ],
    );
  });

  it('reports urls that are not absolute URLs (another scheme, such as ftp://h/x, is registry-only), and application urls that are not paths', () => {
    assert.deepEqual(
      read(
        topo(
          '<service><role>A</role>',
          '  <url>nn:50070/webhdfs</url>',
          '  <url>https://ok:1/</url>',
          '  <url>ftp://h/x</url>',
          '</service>',
          '<application><name>app</name><url>/relative</url><url>/</url><url>https://h/app</url></application>',
        ),
      ).messages,
      [
        `${FILE}:3:3: url must be an absolute http, https, ws or wss URL, found "nn:50070/webhdfs"`,
        `${FILE}:7:62: application url must be a path below the topology (where it is mounted), found "https://h/app"`,
      ],
    );
  });

  it('reports a chain without a name, a duplicate chain and a reference to an undeclared chain', () => {
    assert.deepEqual(
      read(
        topo(
          '<gateway>',
          '  <chain><provider-ref><role>authentication</role></provider-ref></chain>',
          '  <chain><name>a</name></chain>',
          '  <chain><name>a</name></chain>',
          '</gateway>',
          '<service><role>S</role><chain-ref><name>a</name></chain-ref></service>',
          '<service><role>T</role><chain-ref><name>default</name></chain-ref></service>',
          '<service><role>U</role>',
          '  <chain-ref><name>missing</name></chain-ref>',
          '</service>',
        ),
      ).messages,
      [
        `${FILE}:3:3: <chain> without a <name>`,
        `${FILE}:5:3: duplicate chain "a", first declared at ${FILE}:4:3`,
        `${FILE}:10:3: service U refers to undeclared chain "missing"`,
      ],
    );
  });

  it('reports a second chain-ref and a chain-ref param without a role', () => {
    assert.deepEqual(
      read(
        topo(
          '<service><role>S</role>',
          '  <chain-ref><param><name>a</name><value>1</value></param></chain-ref>',
          '  <chain-ref/>',
          '</service>',
        ),
      ).messages,
      [`${FILE}:4:3: a service can refer to one chain only`, `${FILE}:3:14: <param> without a <role>`],
    );
  });

  it('refuses unknown elements with the nearest name; warns about a <name> that differs from the file name', () => {
    const { topology, messages } = read(
      topo(
        '<name>other</name>',
        '<gateway><provider><role>a</role><name>b</name><parm/></provider></gateway>',
        '<service><role>S</role><ulr>http://x/</ulr></service>',
        '<extra/>',
      ),
    );
    assert.ok(topology);
    assert.deepEqual(messages, [
      `${FILE}:3:48: unknown element <parm> in <provider>; did you mean <param>?`,
      `${FILE}:4:24: unknown element <ulr> in <service>; did you mean <url>?`,
      `${FILE}:5:1: unknown element <extra> in <topology>; expected one of <name>, <version>, <path>, <generated>, <redeployTime>, <gateway>, <service>, <application>`,
      `${FILE}:2:1: warning: <name> "other" is ignored; the topology is named "sandbox" after its file`,
    ]);
  });

  it('refuses a misspelt provider (it would deploy without authentication) and unknown attributes', () => {
    const { messages } = read(
      topo(
        '<gateway><provder><role>authentication</role><name>ShiroProvider</name></provder>',
        '<provider role="identity-assertion" nmae="Default"><param name="a" vaule="b"/></provider></gateway>',
        '<service><role>S</role><dispatch><classname>x</classname><use-two-way-sl>true</use-two-way-sl></dispatch></service>',
      ),
    );
    assert.deepEqual(messages, [
      `${FILE}:2:10: unknown element <provder> in <gateway>; did you mean <provider>?`,
      `${FILE}:3:37: unknown attribute nmae on <provider>; did you mean "name"?`,
      `${FILE}:3:68: unknown attribute vaule on <param>; did you mean "value"?`,
      `${FILE}:4:58: unknown element <use-two-way-sl> in <dispatch>; did you mean <use-two-way-ssl>?`,
      `${FILE}:3:1: <provider> without a <name>`,
    ]);
  });
});
