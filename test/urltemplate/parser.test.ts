/**
 * @module test/urltemplate/parser
 * Grammar: every construct of Knox's template language, flags, defaults, round trips and syntax errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLiteral, parseTemplate, UrlTemplateSyntaxError } from '../../src/urltemplate/index.ts';

describe('parseTemplate: components', () => {
  it('splits a full template into scheme, authority, path, query and fragment', () => {
    const t = parseTemplate('{scheme}://{user}:{pass}@{host}:{port}/{path=**}?query={q}#{frag}');
    assert.equal(t.scheme?.paramName, 'scheme');
    assert.equal(t.scheme?.type, 'star');
    assert.equal(t.username?.paramName, 'user');
    assert.equal(t.password?.paramName, 'pass');
    assert.equal(t.host?.paramName, 'host');
    assert.equal(t.port?.paramName, 'port');
    assert.equal(t.path.length, 1);
    assert.equal(t.path[0].paramName, 'path');
    assert.equal(t.path[0].type, 'doublestar');
    const q = t.query.get('query');
    assert.equal(q?.paramName, 'q');
    assert.equal(q?.type, 'doublestar');
    assert.equal(t.fragment?.paramName, 'frag');
    assert.equal(t.fragment?.type, 'star');
    assert.ok(t.hasScheme && t.hasAuthority && t.isAbsolute && t.hasQuery && t.hasFragment);
    assert.ok(!t.isDirectory && !t.isAuthorityOnly);
  });

  it('gives path and query parameters a ** default and single-valued parts a * default', () => {
    const t = parseTemplate('{s}://{h}:{p}/{pathA}/{pathB}?q={v}#{f}');
    assert.deepEqual(
      [t.scheme, t.host, t.port, t.fragment].map((s) => s?.type),
      ['star', 'star', 'star', 'star'],
    );
    assert.deepEqual(
      t.path.map((s) => s.type),
      ['doublestar', 'doublestar'],
    );
    assert.equal(t.query.get('q')?.type, 'doublestar');
  });

  it('classifies value patterns: static, regex, star, default, doublestar, function', () => {
    const t = parseTemplate('/a/*.jsp/*/{x=}/**/{$serviceUrl[WEBHDFS]}/{y=pre*post}/{z=lit}');
    assert.deepEqual(
      t.path.map((s) => s.kind),
      ['static', 'regex', 'star', 'default', 'doublestar', 'function', 'regex', 'static'],
    );
    assert.equal(t.path[7].paramName, 'z');
    assert.equal(t.path[7].pattern, 'lit');
  });

  it('takes the name up to the first = and the pattern up to the last }', () => {
    const a = parseTemplate('/{root={}}');
    assert.equal(a.path[0].paramName, 'root');
    assert.equal(a.path[0].pattern, '{}');
    const b = parseTemplate('/{root=}}');
    assert.equal(b.path[0].pattern, '}');
    const c = parseTemplate('/{var=\u0024{*}}');
    assert.equal(c.path[0].pattern, '\u0024{*}');
    assert.equal(c.path[0].type, 'regex');
  });

  it('reads {, }, {}, X} and $ alone as plain text', () => {
    for (const seg of ['}', '{}', 'X}', '$']) {
      const t = parseTemplate(`/${seg}`);
      assert.equal(t.path[0].paramName, '', seg);
      assert.equal(t.path[0].pattern, seg, seg);
      assert.equal(t.path[0].type, 'static', seg);
    }
  });

  it('coerces ** to * in the authority but prints it back as written', () => {
    const t = parseTemplate('*://**:**/');
    assert.equal(t.host?.value.effective, '*');
    assert.equal(t.host?.type, 'star');
    assert.equal(t.port?.type, 'star');
    assert.equal(t.toString(), '*://**:**/');
  });

  it('drops empty path segments and records absolute / directory flags', () => {
    const t = parseTemplate('/a//b/');
    assert.deepEqual(
      t.path.map((s) => s.pattern),
      ['a', 'b'],
    );
    assert.ok(t.isAbsolute && t.isDirectory);
    const rel = parseTemplate('druid-broker/druid/v2/**?**');
    assert.ok(!rel.isAbsolute);
    assert.equal(rel.path.length, 4);
  });

  it('treats ; as segment text (no matrix parameters)', () => {
    assert.equal(parseTemplate('/a;b=c/d').path[0].pattern, 'a;b=c');
  });
});

describe('parseTemplate: query', () => {
  it('puts {**}, {*}, **, *, *={*} and **={**} in the extra slot; only the braced forms capture', () => {
    for (const [q, name, param] of [
      ['{**}', '**', '**'],
      ['{*}', '*', '*'],
      ['**', '**', ''],
      ['*', '*', ''],
      ['*={*}', '*', '*'],
      ['**={**}', '**', '**'],
    ] as const) {
      const t = parseTemplate(`/p?${q}`);
      assert.equal(t.query.size, 0, q);
      assert.equal(t.extra?.queryName, name, q);
      assert.equal(t.extra?.paramName, param, q);
    }
  });

  it('ignores a second extra slot', () => {
    const t = parseTemplate('/p?{*}&{**}');
    assert.equal(t.extra?.queryName, '*');
  });

  it('reads the {name} shorthand as query name = parameter name', () => {
    const t = parseTemplate('/p?{host}&{port=*}');
    assert.equal(t.query.get('host')?.paramName, 'host');
    assert.equal(t.query.get('host')?.type, 'doublestar');
    assert.equal(t.query.get('port')?.type, 'star');
  });

  it('distinguishes ?name (null value) from ?name= (empty value)', () => {
    const t = parseTemplate('/p?a&b=');
    assert.equal(t.query.get('a')?.pattern, null);
    assert.equal(t.query.get('b')?.pattern, '');
    assert.equal(t.toString(), '/p?a&b=');
  });

  it('accepts &, ? and &amp; as separators', () => {
    const t = parseTemplate('/p?{scheme}?host={$hostmap(host)}&amp;{port}&{**}');
    assert.deepEqual([...t.query.keys()], ['scheme', 'host', 'port']);
    assert.equal(t.query.get('host')?.paramName, '$hostmap(host)');
    assert.equal(t.extra?.queryName, '**');
  });

  it('keeps a repeated query name as one entry with several values', () => {
    const t = parseLiteral('/p?q=1&q=2&q=1');
    assert.deepEqual(
      t.query.get('q')?.values.map((v) => v.pattern),
      ['1', '2', '1'],
    );
  });

  it('records hasQuery for a bare ?', () => {
    const t = parseTemplate('/p?');
    assert.ok(t.hasQuery);
    assert.equal(t.toString(), '/p?');
  });
});

describe('parseTemplate: naked authority', () => {
  it('reads host:42 and {host}:{port} as authority only', () => {
    for (const text of ['host:42', '{host}:{port}']) {
      const t = parseTemplate(text);
      assert.ok(t.isAuthorityOnly && t.hasAuthority && !t.hasScheme, text);
      assert.equal(t.path.length, 0);
      assert.equal(t.toString(), text);
    }
    assert.equal(parseTemplate('{host}:{port}').port?.type, 'star');
  });

  it('keeps a scheme when there is more than one segment, a slash or a query', () => {
    assert.ok(parseTemplate('mailto:a/b').hasScheme);
    assert.ok(parseTemplate('x:y?z').hasScheme);
  });
});

describe('parseTemplate: round trip', () => {
  const canonical = [
    '',
    '/',
    '/webhdfs/v1/**?**',
    '{path=**}',
    '/webhdfs/v1/{path=**}?{**}',
    '{scheme}://{host}:{port}/{path=**}?{**}',
    '{$serviceUrl[WEBHDFS]}/{path=**}?{**}',
    '*://*:*/**/webhdfs/v1/{path=**}?{**}',
    '*://*:*/**/webhdfs/data/v1/{path=**}?host={host}&port={port}&{**}',
    '{gateway.url}/hbase/{path=**}',
    '{$frontend[url]}/ambari/{**}?{**}',
    'http://{host}:{port}/',
    '/a/*.jsp',
    '//:port',
    '//username@',
    '//:password@',
    'foo://u:p@example.com:8042/over/there/index.dtb?type=animal&name=narwhal#nose',
    '/{x=*}/{y=**}/{z=a*b}#{f=*}',
  ];
  for (const text of canonical) {
    it(`prints ${JSON.stringify(text)} back unchanged`, () => {
      assert.equal(parseTemplate(text).toString(), text);
    });
  }

  it('normalises doubled slashes, && and the query shorthand', () => {
    assert.equal(parseTemplate('/a//b').toString(), '/a/b');
    assert.equal(parseTemplate('/p?a=1&&b=2').toString(), '/p?a=1&b=2');
    assert.equal(parseTemplate('/p?{host}').toString(), '/p?host={host}');
    assert.equal(parseTemplate('/p?*={*}').toString(), '/p?{*}');
  });

  it('defines equality on the printed form', () => {
    assert.ok(parseTemplate('/a//b').equals(parseTemplate('/a/b')));
    assert.ok(!parseTemplate('/a/{x}').equals(parseTemplate('/a/{y}')));
  });
});

describe('parseTemplate: errors', () => {
  it('rejects an unclosed { with its column', () => {
    assert.throws(
      () => parseTemplate('/webhdfs/{path=**'),
      (e: unknown) =>
        e instanceof UrlTemplateSyntaxError &&
        e.column === 10 &&
        /unclosed '\{' at column 10/.test(e.message),
    );
    assert.throws(
      () => parseTemplate('/a?q={v'),
      (e: unknown) => e instanceof UrlTemplateSyntaxError && e.column === 6,
    );
    assert.throws(
      () => parseTemplate('/a/{b{c'),
      (e: unknown) => e instanceof UrlTemplateSyntaxError && e.column === 4,
    );
  });

  it('keeps a { closed only beyond a / as text, as Knox does (two Knox rewrite.xml files rely on it)', () => {
    const t = parseTemplate('{$serviceUrl[HBASEUI]/{host}/{port}/logs/{**}');
    assert.equal(t.path[0].pattern, '{$serviceUrl[HBASEUI]');
    assert.equal(t.path[0].type, 'static');
    assert.equal(t.path[1].paramName, 'host');
  });

  it('accepts an unclosed { as text in lenient (Knox) mode', () => {
    const t = parseTemplate('/a/{x', { lenient: true });
    assert.equal(t.path[1].pattern, '{x');
    assert.equal(t.path[1].type, 'static');
  });
});

describe('parseLiteral', () => {
  it('makes every value static: * and {..} are text', () => {
    const t = parseLiteral('/a/*/{x}/**?q={v}&*=1');
    assert.deepEqual(
      t.path.map((s) => [s.type, s.paramName, s.pattern]),
      [
        ['static', '', 'a'],
        ['static', '', '*'],
        ['static', '', '{x}'],
        ['static', '', '**'],
      ],
    );
    assert.equal(t.query.get('q')?.pattern, '{v}');
    assert.equal(t.query.get('*')?.pattern, '1');
    assert.equal(t.extra, null);
  });

  it('parses an absolute URL with user info, port and fragment', () => {
    const t = parseLiteral('https://u:p@host.example:8443/gateway/x?a=b#top');
    assert.equal(t.scheme?.pattern, 'https');
    assert.equal(t.username?.pattern, 'u');
    assert.equal(t.password?.pattern, 'p');
    assert.equal(t.host?.pattern, 'host.example');
    assert.equal(t.port?.pattern, '8443');
    assert.equal(t.fragment?.pattern, 'top');
    assert.equal(t.toString(), 'https://u:p@host.example:8443/gateway/x?a=b#top');
  });

  it('keeps the colons of an IPv6 host', () => {
    const t = parseLiteral('http://[::1]:8080/x');
    assert.equal(t.host?.pattern, '[::1]');
    assert.equal(t.port?.pattern, '8080');
    assert.equal(parseLiteral('http://[fe80::1]/x').port, null);
  });

  it('never throws on hostile text and prints canonical input back', () => {
    for (const s of [
      '',
      '?',
      '#',
      '//',
      '///',
      '/..%/%zz/%',
      '{',
      '}{',
      'a:',
      ':a',
      '?&&&=&=',
      'http://',
      'x'.repeat(100_000),
    ]) {
      assert.doesNotThrow(() => parseLiteral(s).toString(), s.slice(0, 20));
    }
    assert.equal(parseLiteral('/a/../b/%2F?x=%ZZ').toString(), '/a/../b/%2F?x=%ZZ');
  });
});
