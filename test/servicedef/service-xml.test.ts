import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiagnosticSink, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { parseServiceXml } from '../../src/servicedef/service-xml.ts';

const FILE = 'svc/service.xml';

function read(...lines: string[]) {
  const sink = new DiagnosticSink();
  const def = parseServiceXml(lines.join('\n'), FILE, sink);
  return { def, messages: sink.items.map(formatDiagnostic) };
}

describe('parseServiceXml', () => {
  it('reads role, name, version, routes, dispatch params and route policies', () => {
    const { def, messages } = read(
      '<service role="X" name="x" version="1.0.0">',
      '  <routes>',
      '    <route path="/x/**">',
      '      <rewrite apply="X/in"/>',
      '      <policies><policy role="webappsec"/><policy role="authentication" name="Anonymous"/></policies>',
      '    </route>',
      '  </routes>',
      '  <dispatch classname="C" ha-classname="H" use-two-way-ssl="TRUE">',
      '    <param><name>replayBufferSize</name><value>65</value></param>',
      '  </dispatch>',
      '</service>',
    );
    assert.deepEqual(messages, []);
    assert.ok(def);
    assert.deepEqual([def.role, def.name, def.version], ['X', 'x', '1.0.0']);
    // A binding without `to` applies to the request URL.
    assert.deepEqual(def.routes[0].rewrites, [
      { apply: 'X/in', to: 'request.url', pos: { file: FILE, line: 4, column: 7 } },
    ]);
    assert.deepEqual(
      def.routes[0].policies?.map((p) => [p.role, p.name]),
      [
        ['webappsec', undefined],
        ['authentication', 'Anonymous'],
      ],
    );
    assert.equal(def.dispatch?.useTwoWaySsl, true);
    assert.deepEqual(
      def.dispatch?.params.map((p) => [p.name, p.value, p.pos.line]),
      [['replayBufferSize', '65', 9]],
    );
    assert.equal(def.metadata, undefined);
  });

  it('reports a missing role, name or version at the service element', () => {
    const { def, messages } = read('<!-- x -->', '<service name="x">', '</service>');
    assert.equal(def, undefined);
    assert.deepEqual(messages, [
      `${FILE}:2:1: <service> without the role attribute`,
      `${FILE}:2:1: <service> without the version attribute`,
    ]);
  });

  it('reports a route without a path, a rewrite without apply and a bad use-two-way-ssl', () => {
    assert.deepEqual(
      read(
        '<service role="X" name="x" version="1">',
        '  <routes><route><rewrite to="request.url"/></route></routes>',
        '  <dispatch use-two-way-ssl="sometimes"/>',
        '</service>',
      ).messages,
      [
        `${FILE}:2:11: <route> without the path attribute`,
        `${FILE}:2:18: <rewrite> without the apply attribute`,
        `${FILE}:3:13: use-two-way-ssl must be true or false, found "sometimes"`,
      ],
    );
  });

  it('refuses unknown elements and attributes with the nearest name, and reports a wrong root', () => {
    assert.deepEqual(
      read('<service role="X" name="x" version="1">', '  <route path="/x"/>', '</service>').messages,
      [`${FILE}:2:3: unknown element <route> in <service>; did you mean <routes>?`],
    );
    assert.deepEqual(
      read(
        '<service role="X" name="x" version="1" rol="Y">',
        '  <routes><route path="/x"><rewrite aply="r" to="request.url"/></route></routes>',
        '  <dispatch clasname="a.B"><param><name>n</name><valeu>v</valeu></param></dispatch>',
        '  <metadata><shortdesc>x</shortdesc></metadata>',
        '</service>',
      ).messages,
      [
        `${FILE}:1:40: unknown attribute rol on <service>; did you mean "role"?`,
        `${FILE}:2:37: unknown attribute aply on <rewrite>; did you mean "apply"?`,
        `${FILE}:3:13: unknown attribute clasname on <dispatch>; did you mean "classname"?`,
        `${FILE}:3:49: unknown element <valeu> in <param>; did you mean <value>?`,
        `${FILE}:4:13: unknown element <shortdesc> in <metadata>; did you mean <shortDesc>?`,
        `${FILE}:2:28: <rewrite> without the apply attribute`,
      ],
    );
    assert.deepEqual(read('<rules/>').messages, [
      `${FILE}:1:1: root element must be <service>, found <rules>`,
    ]);
  });
});
