/**
 * @module test/urltemplate/matcher
 * Matching and Knox's precedence rules (spec §3), one test per rule, plus parameter capture.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLiteral, parseTemplate, TemplateMatcher } from '../../src/urltemplate/index.ts';

function matcherOf(...patterns: string[]): TemplateMatcher<string> {
  const m = new TemplateMatcher<string>();
  for (const p of patterns) m.add(parseTemplate(p), p);
  return m;
}

function winner(m: TemplateMatcher<string>, url: string): string | undefined {
  return m.match(parseLiteral(url))?.value;
}

/** Adds the patterns in the given order and in reverse, and expects the same winner both times. */
function bothOrders(patterns: string[], url: string, expected: string | undefined): void {
  assert.equal(winner(matcherOf(...patterns), url), expected, `order ${patterns.join(' , ')}`);
  assert.equal(winner(matcherOf(...[...patterns].reverse()), url), expected, 'reverse order');
}

describe('TemplateMatcher: value types at the same depth', () => {
  it('static beats a simplified regex', () => {
    bothOrders(['/webhdfs/*.jsp', '/webhdfs/other.jsp'], '/webhdfs/other.jsp', '/webhdfs/other.jsp');
  });
  it('a regex (partial glob or {name=regex}) beats *', () => {
    bothOrders(['/static/*', '/static/*.js'], '/static/app.js', '/static/*.js');
    bothOrders(['/static/*', '/static/{f=app.*}'], '/static/app.css', '/static/{f=app.*}');
  });
  it('* beats {name=} beats **', () => {
    bothOrders(['/webhdfs/**', '/webhdfs/*'], '/webhdfs/v1', '/webhdfs/*');
    bothOrders(['/webhdfs/**', '/webhdfs/{x=}'], '/webhdfs/v1', '/webhdfs/{x=}');
    bothOrders(['/webhdfs/{x=}', '/webhdfs/*'], '/webhdfs/v1', '/webhdfs/*');
  });
  it('static beats {name} (a ** parameter)', () => {
    bothOrders(['/a/{name}', '/a/b'], '/a/b', '/a/b');
  });
});

describe('TemplateMatcher: depth', () => {
  it('the deeper template wins, whatever the registration order', () => {
    bothOrders(['/webhdfs/**', '/webhdfs/v1/**'], '/webhdfs/v1/file', '/webhdfs/v1/**');
    bothOrders(
      ['/webhdfs/**', '/webhdfs/**/middle/*.xml'],
      '/webhdfs/path/middle/some.xml',
      '/webhdfs/**/middle/*.xml',
    );
  });
  it('a glob absorbing many segments does not add depth', () => {
    // `/a/**` is 2 levels deep even for /a/b/c/d; `/a/*/*` is 3 levels deep.
    bothOrders(['/a/**', '/a/*/*'], '/a/b/c', '/a/*/*');
    bothOrders(['/a/**', '/a/*/*'], '/a/b/c/d', '/a/**');
  });
  it('a glob must take at least one segment', () => {
    assert.equal(winner(matcherOf('/a/**'), '/a'), undefined);
    assert.equal(winner(matcherOf('{pathA=**}/b'), '/b'), undefined);
    assert.equal(winner(matcherOf('/a/**'), '/a/x'), '/a/**');
  });
});

describe('TemplateMatcher: ties', () => {
  it('same depth and type: the first added wins', () => {
    assert.equal(winner(matcherOf('/a/{x=*}', '/a/{y=*}'), '/a/b'), '/a/{x=*}');
    assert.equal(winner(matcherOf('/a/{y=*}', '/a/{x=*}'), '/a/b'), '/a/{y=*}');
  });
  it('two templates of the same shape: the first added keeps the node', () => {
    const m = new TemplateMatcher<number>();
    m.add(parseTemplate('/a/*'), 1);
    m.add(parseTemplate('/a/*'), 2);
    assert.equal(m.match(parseLiteral('/a/b'))?.value, 1);
  });
  it('only the last segment type counts: earlier wildcards do not lose to earlier statics', () => {
    // Knox compares the winning nodes, not whole routes: `/*/x` and `/a/x` end on static nodes of equal depth,
    // so registration order decides.
    assert.equal(winner(matcherOf('/*/x', '/a/x'), '/a/x'), '/*/x');
    assert.equal(winner(matcherOf('/a/x', '/*/x'), '/a/x'), '/a/x');
  });
});

describe('TemplateMatcher: components', () => {
  it('ignores absolute and directory flags', () => {
    assert.equal(winner(matcherOf('/webhdfs/*'), '/webhdfs/path/'), '/webhdfs/*');
    assert.equal(
      winner(matcherOf('druid-broker/druid/v2/**'), '/druid-broker/druid/v2/x'),
      'druid-broker/druid/v2/**',
    );
    assert.equal(winner(matcherOf('*://*:*'), 'http://h:42/'), '*://*:*');
    assert.equal(winner(matcherOf('*://*:*/'), 'http://h:42'), '*://*:*/');
  });
  it('a missing input port is accepted by any template port', () => {
    assert.equal(winner(matcherOf('*://*:*/a1/**'), 'https://127.0.0.1/a1/b'), '*://*:*/a1/**');
    assert.equal(winner(matcherOf('{scheme}://{host}:{port}/x'), 'http://h/x'), '{scheme}://{host}:{port}/x');
  });
  it('a template without a port level cannot match a port-less input (Knox)', () => {
    assert.equal(winner(matcherOf('*://*/a/b'), 'http://h/a/b'), undefined);
  });
  it('a template with a scheme does not match a path-only input, and vice versa', () => {
    assert.equal(winner(matcherOf('*://*:*/**'), '/a/b'), undefined);
    assert.equal(winner(matcherOf('/a/**'), 'http://h:1/a/b'), undefined);
  });
  it('an input * is literal text, not a wildcard', () => {
    const m = matcherOf('*://*:*/**/webhdfs/{version}/{path=**}?{**}', '*://*:*/**/hbase/{path=**}?{**}');
    assert.equal(winner(m, 'http://h:8080/gw/hbase/*/x'), '*://*:*/**/hbase/{path=**}?{**}');
    assert.equal(winner(m, 'http://h:8080/gw/webhdfs/*/x'), '*://*:*/**/webhdfs/{version}/{path=**}?{**}');
    const only = matcherOf('/a/{x=b}');
    assert.equal(winner(only, '/a/*'), undefined);
  });
  it('matches the fragment as a level after the path', () => {
    const m = matcherOf('/p#{f}', '/p#top');
    assert.equal(winner(m, '/p#top'), '/p#top');
    assert.deepEqual(m.match(parseLiteral('/p#other'))?.params.get('f'), ['other']);
  });
  it('escapes . { } $ in a simplified regex and keeps other regex syntax', () => {
    assert.equal(winner(matcherOf('/{var=\u0024{*}}'), '/\u0024{app.dir}'), '/{var=\u0024{*}}');
    assert.equal(winner(matcherOf('/{var=\u0024{*}}'), '/$app.dir'), undefined);
    assert.equal(winner(matcherOf('/*.js'), '/appXjs'), undefined);
    assert.equal(winner(matcherOf('/v(1|2)*'), '/v2beta'), '/v(1|2)*');
    assert.equal(winner(matcherOf('/(*'), '/(x'), '/(*');
  });
  it('compares static text case-sensitively', () => {
    assert.equal(winner(matcherOf('/WebHdfs/**'), '/webhdfs/x'), undefined);
  });
});

describe('TemplateMatcher: query', () => {
  it('?{query} requires the parameter', () => {
    const m = matcherOf('/p?{query}');
    assert.equal(winner(m, '/p'), undefined);
    assert.equal(winner(m, '/p?query=1'), '/p?{query}');
  });
  it('?{**} and ?** make the query optional', () => {
    for (const p of ['/p?{**}', '/p?**']) {
      assert.equal(winner(matcherOf(p), '/p'), p);
      assert.equal(winner(matcherOf(p), '/p?a=1'), p);
    }
  });
  it('?{*} and ?* require at least one parameter', () => {
    for (const p of ['/p?{*}', '/p?*']) {
      assert.equal(winner(matcherOf(p), '/p'), undefined);
      assert.equal(winner(matcherOf(p), '/p?a=1'), p);
    }
  });
  it('?{query}&{*} requires one more parameter', () => {
    const m = matcherOf('/p?{query}&{*}');
    assert.equal(winner(m, '/p?query=1'), undefined);
    assert.equal(winner(m, '/p?query=1&b=2'), '/p?{query}&{*}');
  });
  it('distinguishes templates by query name only', () => {
    const m = matcherOf('/p?one={p}', '/p?two={p}');
    assert.equal(winner(m, '/p?one=1'), '/p?one={p}');
    assert.equal(winner(m, '/p?two=2'), '/p?two={p}');
    assert.equal(winner(m, '/p?three=value'), undefined);
    assert.equal(winner(m, '/p?'), undefined);
  });
  it('applies value patterns to query values', () => {
    const m = matcherOf('/p?op={op=CREATE}', '/p?op={op=*}');
    assert.equal(winner(m, '/p?op=CREATE'), '/p?op={op=CREATE}');
    assert.equal(winner(m, '/p?op=OPEN'), '/p?op={op=*}');
  });
  it('a qualifying query template beats the plain template at the same node, else the plain one is used', () => {
    const m = matcherOf('/p', '/p?{doAs}');
    assert.equal(winner(m, '/p?doAs=x'), '/p?{doAs}');
    assert.equal(winner(m, '/p?other=x'), '/p');
  });
  it('the query template with most matched named entries wins', () => {
    const m = matcherOf('/p?{a}&{**}', '/p?{a}&{b}&{**}');
    assert.equal(winner(m, '/p?a=1&b=2'), '/p?{a}&{b}&{**}');
    assert.equal(winner(m, '/p?a=1'), '/p?{a}&{**}');
  });
  it('unnamed input parameters never block a match', () => {
    assert.equal(winner(matcherOf('/p?{a}'), '/p?a=1&zzz=2'), '/p?{a}');
  });
});

describe('TemplateMatcher: parameters', () => {
  it('binds a glob parameter to its segments in order', () => {
    const m = matcherOf('/webhdfs/v1/{path=**}');
    assert.deepEqual(m.match(parseLiteral('/webhdfs/v1/a/b/c'))?.params.get('path'), ['a', 'b', 'c']);
  });
  it('binds scheme, host and port, and nothing for anonymous segments', () => {
    const r = matcherOf('{scheme}://{host}:{port}/*/{path=**}').match(
      parseLiteral('https://h.example:8443/gateway/a/b'),
    );
    assert.deepEqual(
      [...(r?.params ?? [])],
      [
        ['path', ['a', 'b']],
        ['port', ['8443']],
        ['host', ['h.example']],
        ['scheme', ['https']],
      ],
    );
  });
  it('binds named query entries first, then the extra parameters, then the path (Knox name order)', () => {
    const r = matcherOf('/p/{path=**}?{host}&{**}').match(parseLiteral('/p/x/y?op=LS&host=h&flag&e='));
    assert.deepEqual(
      [...(r?.params ?? [])],
      [
        ['host', ['h']],
        ['op', ['LS']],
        ['flag', [null]],
        ['e', ['']],
        ['path', ['x', 'y']],
      ],
    );
  });
  it('?** matches extra parameters but captures none', () => {
    const r = matcherOf('/p?**').match(parseLiteral('/p?a=1'));
    assert.equal(r?.params.size, 0);
  });
  it('keeps every value of a repeated query parameter in order', () => {
    const r = matcherOf('/p?{q}').match(parseLiteral('/p?q=2&q=1&q=2'));
    assert.deepEqual(r?.params.get('q'), ['2', '1', '2']);
  });
  it('returns the matched template', () => {
    const r = matcherOf('/a/{x}').match(parseLiteral('/a/b'));
    assert.equal(r?.template.toString(), '/a/{x}');
  });
});

describe('TemplateMatcher: scale', () => {
  it('keeps glob chains linear on long inputs', () => {
    const m = matcherOf('/a/**/**/**/z', '/a/**');
    const url = `/a/${'s/'.repeat(5000)}z`;
    const start = performance.now();
    assert.equal(winner(m, url), '/a/**/**/**/z');
    assert.ok(performance.now() - start < 2000);
  });
  it('finds the right template among thousands', () => {
    const m = new TemplateMatcher<number>();
    for (let i = 0; i < 5000; i++) m.add(parseTemplate(`/svc${i}/v1/{path=**}?{**}`), i);
    m.add(parseTemplate('/svc42/v1/special'), -1);
    assert.equal(m.match(parseLiteral('/svc4321/v1/a/b?x=1'))?.value, 4321);
    assert.equal(m.match(parseLiteral('/svc42/v1/special'))?.value, -1);
    assert.equal(m.size, 5001);
  });
});

describe('TemplateMatcher: anchored matching (postern, issue 14)', () => {
  const IN = '*://*:*/**/http/{path=**}?{**}';
  const params = (m: TemplateMatcher<string>, url: string, anchor?: number) =>
    m.match(parseLiteral(url), anchor === undefined ? undefined : { anchor })?.params.get('path');

  it("Knox's semantics: the leading ** floats to the last service segment", () => {
    // Knox's Matcher keeps the glob's own candidate first, so the route that leaves it last wins.
    assert.deepEqual(params(matcherOf(IN), 'http://h:1/gateway/t/http/public/http/admin/x'), ['admin', 'x']);
  });

  it('anchored, the leading ** is the prefix and the path is everything after the first service segment', () => {
    const m = matcherOf(IN);
    const url = 'http://h:1/gateway/t/http/public/http/admin/x';
    assert.deepEqual(params(m, url, 2), ['public', 'http', 'admin', 'x']);
    assert.deepEqual(params(m, 'http://h:1/gateway/t/http/a', 2), ['a']);
    // A multi-segment gateway path: the prefix is longer.
    assert.deepEqual(params(m, 'http://h:1/a/b/t/http/http/x', 3), ['http', 'x']);
  });

  it('the leading ** takes at least the prefix: a topology named like the service is not the service', () => {
    const m = matcherOf(IN);
    assert.deepEqual(params(m, 'http://h:1/gateway/http/http/x', 2), ['x']);
    assert.equal(m.match(parseLiteral('http://h:1/gateway/http/x'), { anchor: 2 }), undefined);
  });

  it('a pattern that cannot match right after the prefix matches at its first place further on', () => {
    const m = matcherOf('*://*:*/**/api/{path=**}');
    assert.deepEqual(params(m, 'http://h:1/gateway/t/cm-ui/api/x/api/y', 2), ['x', 'api', 'y']);
  });

  it('among several patterns, one matching right after the prefix beats a deeper one found further on', () => {
    const m = matcherOf('*://*:*/**/webhdfs/v1/tmp/**', '*://*:*/**/webhdfs/v1/user/bob/**');
    const url = 'http://h:1/gateway/t/webhdfs/v1/tmp/webhdfs/v1/user/bob/f';
    assert.equal(winner(m, url), '*://*:*/**/webhdfs/v1/user/bob/**');
    assert.equal(m.match(parseLiteral(url), { anchor: 2 })?.value, '*://*:*/**/webhdfs/v1/tmp/**');
    // Without a second occurrence, precedence is Knox's: the deeper pattern wins.
    const direct = 'http://h:1/gateway/t/webhdfs/v1/user/bob/f';
    assert.equal(m.match(parseLiteral(direct), { anchor: 2 })?.value, '*://*:*/**/webhdfs/v1/user/bob/**');
  });

  it("where nothing floats, the winner is Knox's, ties included", () => {
    const patterns = ['*://*:*/gateway/t/http/**', '*://*:*/**/http/admin/**', '*://*:*/**/http/{p=*}/x'];
    for (const order of [patterns, [...patterns].reverse()]) {
      const m = matcherOf(...order);
      for (const url of [
        'http://h:1/gateway/t/http/admin/x',
        'http://h:1/gateway/t/http/a/x',
        'http://h:1/gateway/t/http/a',
      ]) {
        assert.equal(
          m.match(parseLiteral(url), { anchor: 2 })?.value,
          winner(m, url),
          `${order[0]} first, ${url}`,
        );
      }
    }
  });
});
