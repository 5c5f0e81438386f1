import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiagnosticSink, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { parseRewriteXml, readRewriteXml } from '../../src/servicedef/rewrite-xml.ts';

const FILE = 'svc/rewrite.xml';

function read(...lines: string[]) {
  const sink = new DiagnosticSink();
  const rules = parseRewriteXml(lines.join('\n'), FILE, sink);
  return { rules, messages: sink.items.map(formatDiagnostic) };
}

describe('parseRewriteXml', () => {
  it('keeps steps in document order, with nested match steps and their own rewrites', () => {
    const { rules, messages } = read(
      '<rules>',
      '  <rule name="r" dir="out" flow="or">',
      '    <match pattern="a/{x}"><rewrite template="b/{x}"/></match>',
      '    <match pattern="c" flow="AND"><check input="x" value="y"/><control flow="z"/></match>',
      '    <rewrite template="d"/>',
      '  </rule>',
      '</rules>',
    );
    assert.deepEqual(messages, []);
    assert.deepEqual(rules.rules, [
      {
        name: 'r',
        dir: 'OUT',
        flow: 'OR',
        steps: [
          {
            kind: 'match',
            pattern: 'a/{x}',
            steps: [{ kind: 'rewrite', template: 'b/{x}', pos: { file: FILE, line: 3, column: 28 } }],
            pos: { file: FILE, line: 3, column: 5 },
          },
          {
            kind: 'match',
            pattern: 'c',
            flow: 'AND',
            steps: [
              { kind: 'check', attrs: { input: 'x', value: 'y' }, pos: { file: FILE, line: 4, column: 35 } },
              { kind: 'control', attrs: { flow: 'z' }, pos: { file: FILE, line: 4, column: 63 } },
            ],
            pos: { file: FILE, line: 4, column: 5 },
          },
          { kind: 'rewrite', template: 'd', pos: { file: FILE, line: 5, column: 5 } },
        ],
        pos: { file: FILE, line: 2, column: 3 },
      },
    ]);
  });

  it('reads dir as Knox does: case-insensitive, in/out words, both meaning either way', () => {
    const { rules } = read(
      '<rules><rule name="a" dir="inbound"/><rule name="b" dir="Response"/><rule name="c" dir="IN,OUT"/></rules>',
    );
    assert.deepEqual(
      rules.rules.map((r) => r.dir),
      ['IN', 'OUT', undefined],
    );
  });

  it('reports a rule without a name, a bad dir or flow and steps without their attribute', () => {
    assert.deepEqual(
      read(
        '<rules>',
        '  <rule dir="IN"><rewrite template="x"/></rule>',
        '  <rule name="r" dir="sideways" flow="XOR">',
        '    <match/><rewrite/>',
        '  </rule>',
        '</rules>',
      ).messages,
      [
        `${FILE}:2:3: <rule> without the name attribute`,
        `${FILE}:4:5: <match> without the pattern attribute`,
        `${FILE}:4:13: <rewrite> without the template attribute`,
        `${FILE}:3:18: dir must be IN or OUT, found "sideways"`,
        `${FILE}:3:33: flow must be ALL, AND or OR, found "XOR"`,
      ],
    );
  });

  it('keeps an unknown step as such and warns', () => {
    const { rules, messages } = read('<rules>', '  <rule name="r"><hostmap file="x"/></rule>', '</rules>');
    assert.deepEqual(messages, [`${FILE}:2:18: warning: unknown rewrite step <hostmap> in rule "r"`]);
    assert.deepEqual(rules.rules[0].steps, [
      { kind: 'unknown', element: 'hostmap', attrs: { file: 'x' }, pos: { file: FILE, line: 2, column: 18 } },
    ]);
  });

  it('reads filters with content, apply, buffer and detect', () => {
    const { rules, messages } = read(
      '<rules>',
      '  <filter name="f">',
      '    <content type="*/json" asType="application/json">',
      '      <apply path="$.a" rule="r1"/>',
      '      <buffer path="$.b[*]">',
      '        <apply path="$.c" rule="r2"/>',
      '        <detect path="$.d" value="v"><apply path="$.e" rule="r3"/></detect>',
      '      </buffer>',
      '    </content>',
      '  </filter>',
      '</rules>',
    );
    assert.deepEqual(messages, []);
    const [content] = rules.filters[0].contents;
    assert.equal(content.type, '*/json');
    assert.equal(content.asType, 'application/json');
    assert.deepEqual(
      content.applies.map((a) => [a.path, a.rule]),
      [['$.a', 'r1']],
    );
    const [buffer] = content.buffers;
    assert.equal(buffer.path, '$.b[*]');
    assert.deepEqual(
      buffer.applies.map((a) => a.rule),
      ['r2'],
    );
    assert.deepEqual(
      buffer.detects.map((d) => [d.path, d.value, d.applies.map((a) => a.rule), d.pos.line]),
      [['$.d', 'v', ['r3'], 7]],
    );
  });

  it('reports filter parts missing their attributes and unknown filter children', () => {
    assert.deepEqual(
      read(
        '<rules>',
        '  <filter><content><apply path="p"/><script/></content></filter>',
        '  <other/>',
        '</rules>',
      ).messages,
      [
        `${FILE}:3:3: warning: unknown element <other> in <rules>`,
        `${FILE}:2:3: <filter> without the name attribute`,
        `${FILE}:2:37: warning: unknown element <script> in <content>`,
        `${FILE}:2:11: <content> without the type attribute`,
        `${FILE}:2:20: <apply> without the rule attribute`,
      ],
    );
  });

  it('reports a wrong root', () => {
    assert.deepEqual(read('<service/>').messages, [
      `${FILE}:1:1: root element must be <rules>, found <service>`,
    ]);
  });
});

describe('readRewriteXml', () => {
  it('gives empty rules for a missing file', () => {
    const sink = new DiagnosticSink();
    const file = join(tmpdir(), 'postern-no-such-dir', 'rewrite.xml');
    assert.deepEqual(readRewriteXml(file, sink), { file, rules: [], filters: [] });
    assert.deepEqual(sink.items, []);
  });
});
