import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiagnosticSink, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { topologyContent } from '../../src/topology/compare.ts';
import { parseXmlTopology } from '../../src/topology/xml-topology.ts';
import { parseYamlTopology } from '../../src/topology/yaml-topology.ts';
import { SANDBOX_XML, SANDBOX_YAML } from './fixtures.ts';

const FILE = 'conf/topologies/sandbox.yaml';

function read(text: string) {
  const sink = new DiagnosticSink();
  const topology = parseYamlTopology(text, FILE, sink);
  return { topology, messages: sink.items.map(formatDiagnostic) };
}

describe('parseYamlTopology', () => {
  it('gives the same model as the equivalent XML topology', () => {
    const yaml = read(SANDBOX_YAML);
    assert.deepEqual(yaml.messages, []);
    const xmlSink = new DiagnosticSink();
    const xml = parseXmlTopology(SANDBOX_XML, 'conf/topologies/sandbox.xml', xmlSink);
    assert.deepEqual(xmlSink.items, []);
    assert.ok(yaml.topology && xml);
    assert.deepEqual(JSON.parse(topologyContent(yaml.topology)), JSON.parse(topologyContent(xml)));
  });

  it('keeps the position of every element', () => {
    const t = read(SANDBOX_YAML).topology;
    assert.ok(t);
    assert.deepEqual(t.providers[0].pos, { file: FILE, line: 4, column: 5 });
    assert.deepEqual(t.providers[0].params[1].pos, { file: FILE, line: 9, column: 7 });
    assert.deepEqual(t.providers[1].pos, { file: FILE, line: 10, column: 5 });
    assert.deepEqual(t.chains[0].providers[1].pos, { file: FILE, line: 17, column: 9 });
    assert.deepEqual(t.services[0].urls[1].pos, { file: FILE, line: 23, column: 9 });
    assert.deepEqual(t.services[1].urls[0].pos, { file: FILE, line: 32, column: 10 });
    assert.deepEqual(t.services[1].chainRef?.params[0].pos, { file: FILE, line: 36, column: 27 });
  });

  it('reports YAML syntax errors with their position', () => {
    assert.deepEqual(read('services:\n  - role: A\n   bad: [').messages, [
      `${FILE}:3:1: malformed YAML: Sequence item without - indicator`,
      `${FILE}:3:10: malformed YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    ]);
  });

  it('reports a missing role at the entry that lacks it, and a bad enabled at its value', () => {
    assert.deepEqual(
      read(
        [
          'providers:',
          '  - name: ShiroProvider',
          '  - role: authentication',
          '    name: x',
          '    enabled: yes',
          'services:',
          '  - url: http://h:1/',
        ].join('\n'),
      ).messages,
      [
        `${FILE}:2:5: missing key "role"`,
        `${FILE}:5:14: enabled must be true or false, found "yes"`,
        `${FILE}:7:5: missing key "role"`,
      ],
    );
  });

  it('reports a value of the wrong type', () => {
    assert.deepEqual(read('services:\n  - role: A\n    urls: http://h:1/\n').messages, [
      `${FILE}:3:11: "urls" must be a list, found "http://h:1/"`,
    ]);
  });

  it('runs the format-independent checks (bad URL, undeclared chain, duplicate service)', () => {
    assert.deepEqual(
      read(['services:', '  - role: A', '    url: nn:50070', '    chain: nope', '  - role: A'].join('\n'))
        .messages,
      [
        `${FILE}:5:5: duplicate service A, first declared at ${FILE}:2:5`,
        `${FILE}:3:10: url must be an absolute http, https, ws or wss URL, found "nn:50070"`,
        `${FILE}:4:12: service A refers to undeclared chain "nope"`,
      ],
    );
  });

  it('refuses unknown keys with the nearest known one', () => {
    const { topology, messages } = read(
      'servces: []\nservices:\n  - role: A\n    ulr: http://h/\n    dispatch: { clasname: x }\n',
    );
    assert.deepEqual(messages, [
      `${FILE}:1:1: unknown key "servces"; did you mean "services"?`,
      `${FILE}:4:5: unknown key "ulr"; did you mean "url"?`,
      `${FILE}:5:17: unknown key "clasname"; did you mean "classname"?`,
    ]);
    assert.equal(topology, undefined);
  });

  it('reports an empty file', () => {
    assert.deepEqual(read('# nothing\n').messages, [`${FILE}:1:1: empty topology`]);
  });
});
