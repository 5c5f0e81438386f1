import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyLimitError, BodyParseError } from '../../../src/rewrite/body/values.ts';
import { compileXmlContent, XmlRewriter } from '../../../src/rewrite/body/xml.ts';
import { matchesElement, parseXmlPath } from '../../../src/rewrite/body/xml-path.ts';
import { runChunks, runEverySplit, testContext } from './helpers.ts';

const pos = { file: 'r.xml', line: 1, column: 1 };

describe('XPath subset of Knox filters', () => {
  it('parses element, attribute and text paths, absolute or relative, and refuses the rest', () => {
    assert.deepEqual(parseXmlPath('/ClusterStatus/LiveNodes/Node/@name'), {
      source: '/ClusterStatus/LiveNodes/Node/@name',
      absolute: true,
      steps: [
        { descendant: false, name: 'ClusterStatus' },
        { descendant: false, name: 'LiveNodes' },
        { descendant: false, name: 'Node' },
      ],
      attribute: 'name',
    });
    assert.equal(parseXmlPath('value').absolute, false);
    assert.equal(parseXmlPath('/app/trackingUrl/text()').text, true);
    for (const bad of ['/a[1]/b', '/a/@b/c', 'count(/a)', '/a/child::b', '']) {
      assert.throws(() => parseXmlPath(bad), /XPath/, bad);
    }
  });

  it('matches the element stack, with * and //', () => {
    const m = (p: string, stack: string[]) => matchesElement(parseXmlPath(p), stack);
    assert.ok(m('/apps/app/trackingUrl', ['apps', 'app', 'trackingUrl']));
    assert.ok(!m('/apps/app/trackingUrl', ['apps', 'app', 'x', 'trackingUrl']));
    assert.ok(m('/apps/*/trackingUrl', ['apps', 'app', 'trackingUrl']));
    assert.ok(m('//trackingUrl', ['apps', 'app', 'trackingUrl']));
    assert.ok(m('/apps//trackingUrl', ['apps', 'a', 'b', 'trackingUrl']));
    assert.ok(!m('/apps//trackingUrl', ['other', 'trackingUrl']));
  });
});

describe('XML filter (streaming)', () => {
  const hbaseStatus =
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
    '<ClusterStatus requests="0" regions="3"><LiveNodes>' +
    '<Node startCode="1" requests="0" name="http://backend:8080/rs1" heapSizeMB="16"><Region name="aGJhc2U6bWV0YQ=="/></Node>' +
    '<Node name="http://backend:8080/rs2"/></LiveNodes><DeadNodes/></ClusterStatus>\n';

  it('rewrites the attributes an apply selects with its rule and nothing else (WEBHBASE status)', () => {
    const ctx = testContext();
    const content = compileXmlContent([{ path: '/ClusterStatus/LiveNodes/Node/@name', rule: 'ADDR' }], []);
    const out = runEverySplit(() => new XmlRewriter(content, ctx), hbaseStatus);
    assert.equal(
      out,
      hbaseStatus
        .replace('"http://backend:8080/rs1"', '"https://gw/gateway/t/rs1#ADDR"')
        .replace('"http://backend:8080/rs2"', '"https://gw/gateway/t/rs2#ADDR"'),
    );
  });

  it('rewrites the text of the elements an apply selects', () => {
    const doc =
      '<apps><app><id>1</id><trackingUrl>http://backend:8080/proxy/1/</trackingUrl>' +
      '<diagnostics>http://backend:8080/not/selected</diagnostics></app></apps>';
    const ctx = testContext();
    const content = compileXmlContent([{ path: '/apps/app/trackingUrl', rule: 'T' }], []);
    const out = runEverySplit(() => new XmlRewriter(content, ctx), doc);
    assert.equal(
      out,
      '<apps><app><id>1</id><trackingUrl>https://gw/gateway/t/proxy/1/#T</trackingUrl>' +
        '<diagnostics>http://backend:8080/not/selected</diagnostics></app></apps>',
    );
  });

  it('with no selectors, hands every attribute and every one-word text to best match', () => {
    const doc =
      '<?xml version="1.0"?>\n<!DOCTYPE conf>\n<!-- http://backend:8080/comment -->\n<conf a="http://backend:8080/a">' +
      '<p>http://backend:8080/p</p><q>two words http://backend:8080/q</q><![CDATA[/static/c]]><?pi data?></conf>';
    const ctx = testContext();
    const out = runEverySplit(() => new XmlRewriter(compileXmlContent([], []), ctx), doc);
    assert.equal(
      out,
      '<?xml version="1.0"?>\n<!DOCTYPE conf>\n<!-- http://backend:8080/comment -->\n<conf a="https://gw/gateway/t/a">' +
        '<p>https://gw/gateway/t/p</p><q>two words http://backend:8080/q</q><![CDATA[/gateway/t/static/c]]><?pi data?></conf>',
    );
  });

  it('buffers each <property> and rewrites its value when a detect matches its name (Oozie configuration)', () => {
    const conf =
      '<configuration>\n' +
      '  <property><name>user.name</name><value>hdfs</value></property>\n' +
      '  <property><name>nameNode</name><value>http://backend:8080/nn</value></property>\n' +
      '  <property><name>oozie.wf.application.path</name><value>/static/apps/wf</value></property>\n' +
      '  <property><name>other</name><value>http://backend:8080/untouched</value></property>\n' +
      '</configuration>\n';
    const detect = (name: string, rule: string) => ({
      path: 'name',
      value: name,
      applies: [{ path: 'value', rule, pos }],
      pos,
    });
    const content = compileXmlContent(
      [],
      [
        {
          path: '/configuration/property',
          applies: [],
          detects: [detect('user.name', 'USER'), detect('nameNode', 'NN'), detect('oozie\\..*path', 'PATH')],
          pos,
        },
      ],
    );
    const ctx = testContext({ rewrite: (v, rule) => (rule === undefined ? undefined : `${rule}(${v})`) });
    const out = runEverySplit(() => new XmlRewriter(content, ctx), conf);
    assert.equal(
      out,
      '<configuration>\n' +
        '  <property><name>user.name</name><value>USER(hdfs)</value></property>\n' +
        '  <property><name>nameNode</name><value>NN(http://backend:8080/nn)</value></property>\n' +
        '  <property><name>oozie.wf.application.path</name><value>PATH(/static/apps/wf)</value></property>\n' +
        '  <property><name>other</name><value>http://backend:8080/untouched</value></property>\n' +
        '</configuration>\n',
    );
  });

  it('rewrites an attribute of a buffered element by a relative path (WEBHBASE regions)', () => {
    const doc =
      '<TableInfo name="t"><Region name="r1" location="http://backend:8080/rs1"/><Region name="r2" location="http://backend:8080/rs2"/></TableInfo>';
    const content = compileXmlContent(
      [],
      [{ path: '/TableInfo/Region', applies: [{ path: '@location', rule: 'LOC', pos }], detects: [], pos }],
    );
    const out = runEverySplit(() => new XmlRewriter(content, testContext()), doc);
    assert.equal(
      out,
      '<TableInfo name="t"><Region name="r1" location="https://gw/gateway/t/rs1#LOC"/><Region name="r2" location="https://gw/gateway/t/rs2#LOC"/></TableInfo>',
    );
  });

  it('keeps a UTF-8 byte order mark and escapes what it writes', () => {
    const doc = '\xef\xbb\xbf<a t="x &amp; &lt;y&gt; &quot;z&quot;">1 &lt; 2 &amp;&amp; 3 &gt; 2</a>';
    const out = runEverySplit(() => new XmlRewriter(compileXmlContent([], []), testContext()), doc);
    assert.equal(out, '\xef\xbb\xbf<a t="x &amp; &lt;y> &quot;z&quot;">1 &lt; 2 &amp;&amp; 3 &gt; 2</a>');
  });

  it('fails on a body that is not well-formed XML (or declares entities), so the driver passes it through', () => {
    for (const bad of [
      '<a><b></a>',
      '<html><br></html>',
      'not xml at all',
      '<a>&nbsp;</a>',
      '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
      '<a></a><b></b>',
    ]) {
      assert.throws(
        () => runChunks(() => new XmlRewriter(compileXmlContent([], []), testContext()), bad, 4),
        BodyParseError,
        bad,
      );
    }
  });

  it('refuses to hold a buffered element larger than the limit', () => {
    const ctx = testContext({ limit: 4096 });
    const content = compileXmlContent([], [{ path: '/r/big', applies: [], detects: [], pos }]);
    const doc = `<r><big>${'<x>y</x>'.repeat(2000)}</big></r>`;
    assert.throws(() => runChunks(() => new XmlRewriter(content, ctx), doc, 1000), BodyLimitError);
  });
});
