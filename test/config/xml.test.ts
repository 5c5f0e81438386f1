import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DiagnosticSink, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { parseXml, warnUnknownChildren } from '../../src/config/xml.ts';

function errorOf(text: string): string {
  try {
    parseXml(text, 'f.xml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('parseXml', () => {
  it('records the position of the < of each start tag, 1-based', () => {
    const root = parseXml(
      '<?xml version="1.0"?>\n<a>\n  <b x="1"\n     y = \'2\'/>\n\t<c>t</c></a>',
      'f.xml',
    );
    assert.deepEqual(root.pos, { file: 'f.xml', line: 2, column: 1 });
    const [b, c] = root.children;
    assert.deepEqual(b.pos, { file: 'f.xml', line: 3, column: 3 });
    assert.deepEqual(b.attrPos.x, { file: 'f.xml', line: 3, column: 6 });
    assert.deepEqual(b.attrPos.y, { file: 'f.xml', line: 4, column: 6 });
    assert.deepEqual(b.attrs, { x: '1', y: '2' });
    assert.deepEqual(c.pos, { file: 'f.xml', line: 5, column: 2 });
  });

  it('counts columns after a byte-order mark and CRLF line ends as in the file', () => {
    const root = parseXml('\uFEFF<a>\r\n  <b/>\r\n</a>', 'f.xml');
    assert.deepEqual(root.pos, { file: 'f.xml', line: 1, column: 1 });
    assert.deepEqual(root.children[0].pos, { file: 'f.xml', line: 2, column: 3 });
  });

  it('joins text and CDATA, decodes entities, skips comments and trims', () => {
    const root = parseXml('<a>\n  one &amp; <!-- no --><![CDATA[<two>]]> &#x41;&lt;\n</a>', 'f.xml');
    assert.equal(root.text, 'one & <two> A<');
  });

  it('does not mix a child element text into its parent', () => {
    const root = parseXml('<a>x<b>y</b>z</a>', 'f.xml');
    assert.equal(root.text, 'xz');
    assert.equal(root.childText('b'), 'y');
  });

  it('finds children by name and reads fields from child elements or attributes', () => {
    const root = parseXml('<p role="r1"><name>n1</name><param/><param/></p>', 'f.xml');
    assert.equal(root.child('name')?.text, 'n1');
    assert.equal(root.childrenNamed('param').length, 2);
    assert.equal(root.childText('missing'), undefined);
    assert.deepEqual(root.field('role'), { value: 'r1', pos: { file: 'f.xml', line: 1, column: 4 } });
    assert.deepEqual(root.field('name'), { value: 'n1', pos: { file: 'f.xml', line: 1, column: 14 } });
    assert.equal(root.field('other'), undefined);
  });

  it('reports a mismatched close tag at its position', () => {
    assert.equal(errorOf('<a>\n  <b></c>\n</a>'), 'f.xml:2:9: malformed XML: unexpected close tag.');
  });

  it('reports an undefined entity, a duplicate attribute and an unclosed tag', () => {
    assert.equal(errorOf('<a>&foo;</a>'), 'f.xml:1:8: malformed XML: undefined entity.');
    assert.equal(errorOf('<a x="1" x="2"/>'), 'f.xml:1:16: malformed XML: duplicate attribute: x.');
    assert.equal(errorOf('<a>'), 'f.xml:1:3: malformed XML: unclosed tag: a');
  });

  it('reports an empty document', () => {
    assert.match(errorOf(''), /^f\.xml:1:1: malformed XML: document must contain a root element\.$/);
  });

  it('warns about unknown children at their position', () => {
    const sink = new DiagnosticSink();
    warnUnknownChildren(parseXml('<a>\n <b/><c/></a>', 'f.xml'), ['b'], sink);
    assert.deepEqual(sink.items.map(formatDiagnostic), ['f.xml:2:6: warning: unknown element <c> in <a>']);
  });
});
