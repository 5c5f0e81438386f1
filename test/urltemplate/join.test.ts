/**
 * @module test/urltemplate/join
 * joinLiteral gives exactly what parseLiteral gives for the whole inbound URL: the same components, values and
 * flags, printed the same, for request targets of every shape the gateway passes on (and random ones).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinLiteral, parseLiteral, type Template } from '../../src/urltemplate/index.ts';

/** Every field a matcher, expander or printer reads, as plain data. */
function shape(t: Template): unknown {
  const seg = (s: Template['host']) =>
    s && { component: s.component, paramName: s.paramName, queryName: s.queryName, values: s.values };
  return {
    original: t.original,
    literal: t.literal,
    scheme: seg(t.scheme),
    hasScheme: t.hasScheme,
    username: seg(t.username),
    password: seg(t.password),
    host: seg(t.host),
    port: seg(t.port),
    hasAuthority: t.hasAuthority,
    isAuthorityOnly: t.isAuthorityOnly,
    path: t.path.map(seg),
    isAbsolute: t.isAbsolute,
    isDirectory: t.isDirectory,
    query: [...t.query].map(([k, s]) => [k, seg(s)]),
    extra: seg(t.extra),
    hasQuery: t.hasQuery,
    fragment: seg(t.fragment),
    hasFragment: t.hasFragment,
    printed: t.toString(),
  };
}

function same(origin: string, prefix: string, tail: string): void {
  const url = origin + prefix + tail;
  const joined = joinLiteral(url, origin, prefix, parseLiteral(tail));
  // `//x` at the start of a request target reads as an authority: declined, the whole URL is parsed.
  if (tail.startsWith('//')) {
    assert.equal(joined, undefined, url);
    return;
  }
  assert.ok(joined, `${url}: joined`);
  assert.deepEqual(shape(joined), shape(parseLiteral(url)), url);
}

const ORIGINS = [
  'https://localhost:8443',
  'http://127.0.0.1:80',
  'https://[::1]:8443',
  'http://gw.example.com',
];
const PREFIXES = ['/gateway/sandbox', '/gateway/a-b_c', '/knox/gw/prod'];
const TAILS = [
  '/',
  '/webhdfs/v1/tmp',
  '/webhdfs/v1/tmp/',
  '/webhdfs/v1/tmp?op=LISTSTATUS',
  '/webhdfs/v1/tmp?op=LISTSTATUS&user.name=x&op=2',
  '/a//b///c/',
  '/yarn/cluster/app/application_1?x=%2F&y=&z',
  '/hbase/table/row?&amp;a=1&&b=2?c=3',
  '/p%20q/%E2%82%AC/*/{x}',
  '/x?',
  '/x?=1',
  '/a:b/c:d',
];

describe('joinLiteral', () => {
  it('is parseLiteral of the whole URL for every shape of request target', () => {
    for (const o of ORIGINS) for (const p of PREFIXES) for (const t of TAILS) same(o, p, t);
  });

  it('is parseLiteral of the whole URL for random request targets', () => {
    const pieces = [
      '/',
      '//',
      '?',
      '&',
      '&amp;',
      '=',
      ':',
      '%2F',
      'a',
      'bc',
      '*',
      '{',
      '}',
      '.',
      '..',
      ';',
      '@',
    ];
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let i = 0; i < 2000; i++) {
      let tail = '/';
      const n = Math.floor(rand() * 10);
      for (let k = 0; k < n; k++) tail += pieces[Math.floor(rand() * pieces.length)];
      if (tail.includes('#')) continue;
      same('https://localhost:8443', '/gateway/sandbox', tail);
    }
  });

  it('declines parts of another shape (the caller then parses the whole URL)', () => {
    const tail = parseLiteral('/a?b=1');
    assert.equal(joinLiteral('x', 'https://h', '/gateway/t/', tail), undefined, 'prefix ending in /');
    assert.equal(joinLiteral('x', 'https://h/p', '/gateway/t', tail), undefined, 'origin with a path');
    assert.equal(joinLiteral('x', 'h:1', '/gateway/t', tail), undefined, 'naked authority');
    assert.equal(
      joinLiteral('x', 'https://h', '/gateway/t', parseLiteral('a/b')),
      undefined,
      'relative tail',
    );
    assert.equal(joinLiteral('x', 'https://h', '/gateway/t', parseLiteral('/a#f')), undefined, 'fragment');
    assert.equal(joinLiteral('x', 'https://h', '/gateway/t', parseLiteral('//h2/a')), undefined, 'authority');
  });
});
