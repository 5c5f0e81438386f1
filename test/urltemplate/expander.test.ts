/**
 * @module test/urltemplate/expander
 * Expansion (spec §4): components, cardinality of path and query parameters, the extra slot, functions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandTemplate, parseTemplate } from '../../src/urltemplate/index.ts';

type P = Map<string, (string | null)[]>;
const params = (o: Record<string, (string | null)[]>): P => new Map(Object.entries(o));
const expand = (t: string, p?: P, ev?: (fn: string, args: string[]) => string[] | undefined) =>
  expandTemplate(parseTemplate(t), p, ev);

describe('expandTemplate: components', () => {
  it('expands a complete URL', () => {
    const p = params({
      scheme: ['http'],
      username: ['horton'],
      password: ['hadoop'],
      host: ['example.com'],
      port: ['8888'],
      path: ['top', 'mid', 'bot', 'file'],
      queryParam: ['new-value'],
      fragment: ['frag'],
    });
    assert.equal(
      expand('{scheme}://{username}:{password}@{host}:{port}/{path=**}?query={queryParam}#{fragment}', p),
      'http://horton:hadoop@example.com:8888/top/mid/bot/file?query=new-value#frag',
    );
  });
  it('expands a naked authority without //', () => {
    assert.equal(expand('{host}:{port}', params({ host: ['h'], port: ['777'] })), 'h:777');
  });
  it('prints static text and keeps slashes', () => {
    assert.equal(expand(''), '');
    assert.equal(expand('/'), '/');
    assert.equal(expand('/path-name/', params({ 'path-name': ['x'] })), '/path-name/');
    assert.equal(expand('/{p}/', params({ p: ['v'] })), '/v/');
    assert.equal(expand('//:port'), '//:port');
  });
  it('prints the pattern text of an unbound parameter segment', () => {
    assert.equal(expand('/a/{x=*}/b'), '/a/*/b');
    assert.equal(expand('*://*:*/x'), '*://*:*/x');
  });
});

describe('expandTemplate: cardinality', () => {
  const ab = params({ middle: ['A', 'B'] });
  it('{x} and {x=**} print every value as a segment, {x=*} only the first', () => {
    assert.equal(expand('/top/{middle}/bottom', ab), '/top/A/B/bottom');
    assert.equal(expand('/top/{middle=**}/bottom', ab), '/top/A/B/bottom');
    assert.equal(expand('/top/{middle=*}/bottom', ab), '/top/A/bottom');
  });
  it('query {p} and {p=**} repeat the name per value, {p=*} prints the first', () => {
    const q = params({ queryParam: ['A', 'B'] });
    assert.equal(expand('?query={queryParam}', q), '?query=A&query=B');
    assert.equal(expand('?query={queryParam=**}', q), '?query=A&query=B');
    assert.equal(expand('?query={queryParam=*}', q), '?query=A');
  });
  it('an unbound query parameter prints its bare name; a static entry prints as written', () => {
    assert.equal(expand('?query={missing}'), '?query');
    assert.equal(expand('?query'), '?query');
    assert.equal(expand('?a=1&c', params({ a: ['x'] })), '?a=1&c');
    // `b=` in a template is Knox's empty (DEFAULT) pattern, a wildcard: unbound, it prints the bare name.
    assert.equal(expand('?a=1&b=', params({ a: ['x'] })), '?a=1&b');
  });
  it('a bare ? with nothing to emit adds no ?', () => {
    assert.equal(expand('?'), '');
    assert.equal(expand('/p?{**}', params({})), '/p');
  });
});

describe('expandTemplate: extra slot', () => {
  const p = params({
    scheme: ['schemeA'],
    host: ['hostA'],
    query: ['queryA', 'queryB'],
    path: ['pathA', 'pathB'],
    extra: ['extraA'],
  });
  it('emits every parameter the template did not consume, in parameter order', () => {
    assert.equal(
      expand('{scheme}://host/{path=**}?{host}&{query=**}&{**}', p),
      'schemeA://host/pathA/pathB?host=hostA&query=queryA&query=queryB&extra=extraA',
    );
    assert.equal(
      expand('{scheme}://host/{path=**}?server={host}&{query=**}&{**}', p),
      'schemeA://host/pathA/pathB?server=hostA&query=queryA&query=queryB&extra=extraA',
    );
  });
  it('leaks a parameter the output does not use (why Knox patterns use anonymous * and **)', () => {
    assert.equal(
      expand('/x/{path=**}?{**}', p),
      '/x/pathA/pathB?scheme=schemeA&host=hostA&query=queryA&query=queryB&extra=extraA',
    );
  });
  it('keeps name= and bare name apart', () => {
    assert.equal(expand('/p?{**}', params({ flag: [''], name: ['value'] })), '/p?flag=&name=value');
    assert.equal(expand('/p?{**}', params({ flag: [null], name: ['value'] })), '/p?flag&name=value');
  });
  it('puts the fragment after the query', () => {
    assert.equal(expand('/p?{**}#{f}', params({ f: ['top'], a: ['1'] })), '/p?a=1#top');
  });
});

describe('expandTemplate: functions', () => {
  const ev = (fn: string, args: string[]): string[] | undefined => {
    if (fn === 'serviceUrl') return args[0] === 'WEBHDFS' ? ['http://nn:50070/webhdfs'] : undefined;
    if (fn === 'hostmap') return args.map((a) => `ext-${a}`);
    if (fn === 'username') return ['alice'];
    if (fn === 'inboundurl') return args[0] === 'host' ? ['in.example'] : undefined;
    return undefined;
  };
  it('passes the literal list of $fn[arg] and inserts a URL result verbatim', () => {
    assert.equal(
      expand('{$serviceUrl[WEBHDFS]}/v1/{path=**}', params({ path: ['a'] }), ev),
      'http://nn:50070/webhdfs/v1/a',
    );
  });
  it('passes the values of $fn(var) and consumes var for the extra slot', () => {
    assert.equal(
      expand(
        '{scheme}://{$hostmap(host)}:{port}/{path=**}?{**}',
        params({ scheme: ['s'], host: ['h1'], port: ['7'], path: ['p'] }),
        ev,
      ),
      's://ext-h1:7/p',
    );
  });
  it('calls $fn with no arguments', () => {
    const seen: [string, string[]][] = [];
    assert.equal(
      expand('/u/{$username}', undefined, (fn, args) => {
        seen.push([fn, args]);
        return ev(fn, args);
      }),
      '/u/alice',
    );
    assert.deepEqual(seen, [['username', []]]);
  });
  it('works in query values', () => {
    assert.equal(expand('/p?host={$inboundurl[host]}', undefined, ev), '/p?host=in.example');
  });
  it('without an evaluator, a call yields its input', () => {
    assert.equal(expand('/{$serviceUrl[WEBHDFS]}/x'), '/WEBHDFS/x');
    assert.equal(expand('/{$hostmap(host)}', params({ host: ['h'] })), '/h');
  });
  it('an undefined result: nothing in a path, bare name in a query, raw statement in a host', () => {
    assert.equal(expand('{$serviceUrl[NOPE]}/x', undefined, ev), '/x');
    assert.equal(expand('/p?host={$inboundurl[port]}', undefined, ev), '/p?host');
    assert.equal(expand('http://{$inboundurl[port]}:1/', undefined, ev), 'http://$inboundurl[port]:1/');
  });
  it('resolves names the params lack through resolve, without emitting them in {**}', () => {
    const t = parseTemplate('{gateway.url}/x?{**}');
    const out = expandTemplate(t, params({ a: ['1'] }), undefined, (n) =>
      n === 'gateway.url' ? ['https://gw/g/t'] : undefined,
    );
    assert.equal(out, 'https://gw/g/t/x?a=1');
  });
});
