/**
 * @module test/urltemplate/fuzz
 * Property test: random hostile strings through parseLiteral + match (and printing) never throw, and a literal
 * always matches a catch-all of its own shape.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLiteral, parseTemplate, TemplateMatcher } from '../../src/urltemplate/index.ts';

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  '/',
  '//',
  '?',
  '#',
  '&',
  '&amp;',
  '=',
  ':',
  '@',
  '%',
  '%2F',
  '%zz',
  '..',
  '.',
  '*',
  '**',
  '{',
  '}',
  '{x}',
  '$',
  '[',
  ']',
  '(',
  ')',
  '+',
  ' ',
  'a',
  'b',
  'webhdfs',
  'v1',
  'é',
  '\uD800',
  '\u0000',
  'http:',
  'https://',
  '[::1]',
];

function hostile(next: () => number): string {
  let s = '';
  const n = Math.floor(next() * 40);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(next() * PIECES.length)];
  return s;
}

describe('fuzz: parseLiteral + match', () => {
  const m = new TemplateMatcher<string>();
  for (const p of [
    '/webhdfs/v1/{path=**}?{**}',
    '/webhdfs/v1/**?**',
    '/*/x/{y=*.js}',
    '/a/**/b/**',
    '*://*:*/**/webhdfs/v1/{path=**}?{**}',
    '{scheme}://{host}:{port}/{path=**}?{**}',
    '/p?{q}&{*}',
    '/{v=(a|b)*}',
    '',
    '/',
  ]) {
    m.add(parseTemplate(p), p);
  }

  it('never throws on 20,000 random hostile strings', () => {
    const next = rng(0xc0ffee);
    for (let i = 0; i < 20_000; i++) {
      const s = hostile(next);
      try {
        const t = parseLiteral(s);
        t.toString();
        const r = m.match(t);
        if (r) r.template.toString();
      } catch (e) {
        assert.fail(`threw on ${JSON.stringify(s)}: ${(e as Error).message}`);
      }
    }
  });

  it('a path-only literal always matches /** when it has a segment', () => {
    const glob = new TemplateMatcher<true>();
    glob.add(parseTemplate('/**'), true);
    const next = rng(42);
    for (let i = 0; i < 5_000; i++) {
      const s = `/${hostile(next).replace(/[?#:]/g, '')}`;
      const t = parseLiteral(s);
      if (t.hasAuthority || t.hasScheme) continue;
      assert.equal(glob.match(t)?.value === true, t.path.length > 0, s);
    }
  });

  it('parseTemplate throws only UrlTemplateSyntaxError', () => {
    const next = rng(7);
    for (let i = 0; i < 20_000; i++) {
      const s = hostile(next);
      try {
        parseTemplate(s).toString();
      } catch (e) {
        assert.equal((e as Error).name, 'UrlTemplateSyntaxError', s);
      }
    }
  });
});
