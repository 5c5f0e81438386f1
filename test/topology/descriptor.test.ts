import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiagnosticSink, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { topologyContent } from '../../src/topology/compare.ts';
import { resolveProviderConfigRef, toTopologyXml } from '../../src/topology/descriptor.ts';
import { readDescriptorFile } from '../../src/topology/load.ts';
import type { Topology } from '../../src/topology/model.ts';
import { parseXmlTopology } from '../../src/topology/xml-topology.ts';
import { SANDBOX_XML } from './fixtures.ts';

/** Knox's own shared provider JSON writes booleans as strings. */
const PROVIDERS_JSON = `{
  "providers": [
    {
      "role": "authentication",
      "name": "ShiroProvider",
      "enabled": "true",
      "params": {
        "sessionTimeout": "30",
        "main.ldapRealm": "org.apache.knox.gateway.shirorealm.KnoxLdapRealm"
      }
    },
    { "role": "ha", "name": "HaProvider", "enabled": true, "params": { "WEBHDFS": "maxFailoverAttempts=3" } }
  ]
}
`;

const DESCRIPTOR_JSON = `{
  "provider-config-ref": "default-providers",
  "services": [
    { "name": "WEBHDFS", "version": "2.4.0", "urls": ["http://nn1:50070/webhdfs", "http://nn2:50070/webhdfs"],
      "params": { "haEnabled": "true" } },
    { "name": "HIVE", "urls": ["http://hive:10001/cliservice"] }
  ],
  "applications": [ { "name": "knoxauth" } ]
}
`;

function home() {
  const dir = mkdtempSync(join(tmpdir(), 'postern-desc-'));
  const shared = join(dir, 'shared-providers');
  const descriptors = join(dir, 'descriptors');
  mkdirSync(shared);
  mkdirSync(descriptors);
  writeFileSync(join(shared, 'default-providers.json'), PROVIDERS_JSON);
  return { shared, descriptors };
}

function messages(r: { diagnostics: Parameters<typeof formatDiagnostic>[0][] }): string[] {
  return r.diagnostics.map(formatDiagnostic);
}

describe('simple descriptors', () => {
  it('turns a JSON descriptor and its provider configuration into a generated topology', () => {
    const { shared, descriptors } = home();
    const file = join(descriptors, 'sandbox.json');
    writeFileSync(file, DESCRIPTOR_JSON);
    const r = readDescriptorFile(file, shared);
    assert.deepEqual(messages(r), []);
    const t = r.topology;
    assert.ok(t);
    const providersFile = join(shared, 'default-providers.json');
    assert.equal(r.providerConfigFile, providersFile);
    assert.equal(t.name, 'sandbox');
    assert.equal(t.file, file);
    assert.equal(t.generated, true);
    assert.deepEqual(
      t.providers.map((p) => [p.role, p.name, p.enabled, p.params.map((x) => `${x.name}=${x.value}`)]),
      [
        [
          'authentication',
          'ShiroProvider',
          true,
          ['sessionTimeout=30', 'main.ldapRealm=org.apache.knox.gateway.shirorealm.KnoxLdapRealm'],
        ],
        ['ha', 'HaProvider', true, ['WEBHDFS=maxFailoverAttempts=3']],
      ],
    );
    // Providers point into the provider file, services into the descriptor.
    assert.deepEqual(t.providers[0].pos, { file: providersFile, line: 3, column: 5 });
    assert.deepEqual(t.providers[0].params[1].pos, { file: providersFile, line: 9, column: 9 });
    assert.deepEqual(
      t.services.map((s) => [s.role, s.version, s.urls.map((u) => u.url), s.params.map((p) => p.name)]),
      [
        ['WEBHDFS', '2.4.0', ['http://nn1:50070/webhdfs', 'http://nn2:50070/webhdfs'], ['haEnabled']],
        ['HIVE', undefined, ['http://hive:10001/cliservice'], []],
      ],
    );
    assert.deepEqual(t.services[1].pos, { file, line: 6, column: 5 });
    assert.deepEqual(t.services[0].urls[1].pos, { file, line: 4, column: 83 });
    assert.deepEqual(
      t.applications.map((a) => a.name),
      ['knoxauth'],
    );
  });

  it('reads YAML descriptors and references with an extension', () => {
    const { shared, descriptors } = home();
    writeFileSync(join(shared, 'ldap.yml'), 'providers:\n  - role: authentication\n    name: Anonymous\n');
    const file = join(descriptors, 'dev.yaml');
    writeFileSync(
      file,
      'provider-config-ref: ldap.yml\nservices:\n  - name: WEBHDFS\n    urls: [http://nn:50070/webhdfs]\n',
    );
    const r = readDescriptorFile(file, shared);
    assert.deepEqual(messages(r), []);
    assert.equal(r.topology?.providers[0].enabled, true);
    assert.equal(r.topology?.name, 'dev');
  });

  it('resolves provider-config-ref with or without extension, or as an absolute path', () => {
    const { shared } = home();
    assert.equal(
      resolveProviderConfigRef('default-providers', shared),
      join(shared, 'default-providers.json'),
    );
    assert.equal(
      resolveProviderConfigRef('default-providers.json', shared),
      join(shared, 'default-providers.json'),
    );
    assert.equal(
      resolveProviderConfigRef(join(shared, 'default-providers.json'), '/elsewhere'),
      join(shared, 'default-providers.json'),
    );
    assert.equal(resolveProviderConfigRef('default-providers.yaml', shared), undefined);
    assert.equal(resolveProviderConfigRef('missing', shared), undefined);
  });

  it('reports a missing provider configuration at the reference', () => {
    const { shared, descriptors } = home();
    const file = join(descriptors, 'a.json');
    writeFileSync(file, '{\n  "provider-config-ref": "nope",\n  "services": []\n}\n');
    const r = readDescriptorFile(file, shared);
    assert.equal(r.topology, undefined);
    assert.deepEqual(messages(r), [`${file}:2:26: provider configuration "nope" not found in ${shared}`]);
  });

  it('reports a service without urls, since cluster discovery is not supported', () => {
    const { shared, descriptors } = home();
    const file = join(descriptors, 'a.json');
    writeFileSync(
      file,
      [
        '{',
        '  "discovery-type": "AMBARI",',
        '  "discovery-address": "http://ambari:8080",',
        '  "cluster": "Sandbox",',
        '  "provider-config-ref": "default-providers",',
        '  "services": [ { "name": "WEBHDFS" } ]',
        '}',
      ].join('\n'),
    );
    const r = readDescriptorFile(file, shared);
    assert.equal(r.topology, undefined);
    assert.deepEqual(messages(r), [
      `${file}:2:3: warning: "discovery-type" is ignored: postern does not support cluster discovery`,
      `${file}:3:3: warning: "discovery-address" is ignored: postern does not support cluster discovery`,
      `${file}:4:3: warning: "cluster" is ignored: postern does not support cluster discovery`,
      `${file}:6:17: service WEBHDFS has no "urls"; postern does not support cluster discovery, list the URLs`,
    ]);
  });

  it('reports problems in the provider configuration at their place in that file', () => {
    const { shared, descriptors } = home();
    const providers = join(shared, 'bad.json');
    writeFileSync(
      providers,
      '{\n  "providers": [\n    { "role": "authentication", "enabled": "sometimes" }\n  ]\n}\n',
    );
    const file = join(descriptors, 'a.json');
    writeFileSync(file, '{ "provider-config-ref": "bad", "services": [] }');
    assert.deepEqual(messages(readDescriptorFile(file, shared)), [
      `${providers}:3:5: missing key "name"`,
      `${providers}:3:44: enabled must be true or false, found "sometimes"`,
    ]);
  });

  it('reports malformed JSON with its position', () => {
    const { shared, descriptors } = home();
    const file = join(descriptors, 'a.json');
    writeFileSync(file, '{\n  "provider-config-ref": "default-providers",\n  "services": [ }\n');
    const r = readDescriptorFile(file, shared);
    assert.equal(r.topology, undefined);
    assert.match(messages(r)[0], new RegExp(`^${file}:3:\\d+: malformed YAML: `));
  });
});

describe('toTopologyXml', () => {
  function roundTrip(t: Topology): Topology {
    const sink = new DiagnosticSink();
    const back = parseXmlTopology(toTopologyXml(t), `conf/topologies/${t.name}.xml`, sink);
    assert.deepEqual(sink.items.map(formatDiagnostic), []);
    assert.ok(back);
    return back;
  }

  it('writes a generated topology that reads back to the same model', () => {
    const { shared, descriptors } = home();
    const file = join(descriptors, 'sandbox.json');
    writeFileSync(file, DESCRIPTOR_JSON);
    const t = readDescriptorFile(file, shared).topology;
    assert.ok(t);
    const xml = toTopologyXml(t);
    assert.match(
      xml,
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<topology>\n {4}<generated>true<\/generated>\n/,
    );
    assert.equal(topologyContent(roundTrip(t)), topologyContent(t));
  });

  it('round-trips chains, chain references, dispatch overrides and text that needs escaping', () => {
    const sink = new DiagnosticSink();
    const source = SANDBOX_XML.replace('<value>30</value>', '<value>a &lt;b&gt; &amp; "c"</value>');
    const t = parseXmlTopology(source, 'conf/topologies/sandbox.xml', sink);
    assert.ok(t);
    assert.equal(t.providers[0].params[0].value, 'a <b> & "c"');
    assert.equal(topologyContent(roundTrip(t)), topologyContent(t));
  });
});
