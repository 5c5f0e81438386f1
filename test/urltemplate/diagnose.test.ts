/**
 * urltemplate/diagnose: the words for why a template does not match a URL, why a matching one loses, and the
 * witness URLs `postern check` uses. The diagnosis must never disagree with the real matcher: checked over every
 * route template of Knox's own service definitions against URLs made from all of them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadServiceDefinitions } from '../../src/servicedef/catalog.ts';
import {
  diagnoseMatch,
  matchesAlone,
  parseLiteral,
  parseTemplate,
  type Template,
  TemplateMatcher,
  whyLost,
  witnessInputs,
} from '../../src/urltemplate/index.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

const t = parseTemplate;
const u = parseLiteral;

function reason(template: string, url: string): string {
  const d = diagnoseMatch(t(template), u(url));
  assert.equal(d.matches, false, `${template} should not match ${url}`);
  return d.matches ? '' : d.reason;
}

describe('diagnoseMatch', () => {
  it('says where a path stops matching', () => {
    assert.equal(reason('/webhdfs/v1/**?{**}', '/webhdfs/v2/tmp'), 'segment 2 "v2" is not "v1"');
    assert.equal(reason('/a/b', '/a/b/c/d'), 'the URL goes on with "/c/d" where the pattern ends');
    assert.equal(reason('/http/**', '/http'), 'the URL ends where the pattern expects "/**"');
    assert.equal(reason('/a/{id}/x', '/a/1/y'), 'segment 3 "y" is not "x"');
    assert.equal(reason('/a/ab*', '/a/c'), 'segment 2 "c" is not ab*');
  });

  it('says what is wrong with the query', () => {
    assert.equal(reason('/x/?op={op}', '/x?foo=1'), 'query parameter "op" is missing');
    assert.equal(reason('/x/?op=GET', '/x?op=PUT'), 'query parameter op=PUT is not op=GET');
    assert.equal(
      reason('/x/?op=GET&{*}', '/x?op=GET'),
      'the pattern wants one more query parameter than the URL has',
    );
  });

  it('counts how far into the path the URL got, for "nearest" lists', () => {
    const d = diagnoseMatch(t('/webhdfs/v1/~/**'), u('/webhdfs/v1/tmp/a'));
    assert.deepEqual(d, { matches: false, reason: 'segment 3 "tmp" is not "~"', progress: 2 });
    const q = diagnoseMatch(t('/x/y?op=A'), u('/x/y?op=B'));
    assert.equal(q.matches ? -1 : q.progress, 2);
  });

  it('agrees with the real matcher on every Knox route template against URLs made from all of them', () => {
    const templates = loadServiceDefinitions([{ dir: KNOX_SERVICES, source: 'other' }])
      .catalog.all()
      .flatMap((d) => d.routes.map((r) => (r.path.startsWith('/') ? r.path : `/${r.path}`)));
    const parsed: Template[] = [];
    for (const p of new Set(templates)) {
      try {
        parsed.push(t(p));
      } catch {
        // A template Knox ships with a syntax error is deployment's business, not this test's.
      }
    }
    // URLs: each template's witness (a URL it matches), plus that URL with one more or one less segment.
    const urls = new Set<string>();
    let n = 0;
    for (const p of parsed) {
      for (const w of witnessInputs(p, { fresh: () => `w${n++}`, globLengths: [1, 2] }) ?? []) {
        urls.add(w.original);
        const [path, query] = w.original.split('?');
        urls.add(`${path}/extra${query ? `?${query}` : ''}`);
        urls.add(path.split('/').slice(0, -1).join('/') || '/');
      }
    }
    assert.ok(parsed.length > 300 && urls.size > 900, `${parsed.length} templates, ${urls.size} URLs`);
    let mismatches = 0;
    for (const url of urls) {
      const input = u(url);
      for (const p of parsed) {
        const d = diagnoseMatch(p, input);
        assert.equal(d.matches, matchesAlone(p, input), `${p} vs ${url}`);
        if (!d.matches) {
          mismatches++;
          assert.ok(
            d.reason.length > 0 && d.reason !== 'the URL does not match the pattern',
            `${p} vs ${url}: ${d.reason}`,
          );
        }
      }
    }
    assert.ok(mismatches > 100_000);
  });
});

describe('whyLost', () => {
  /** The two templates in a real matcher, loser registered first: the winner must still win. */
  function lost(winner: string, loser: string, url: string): string {
    const m = new TemplateMatcher<string>();
    m.add(t(loser), loser);
    m.add(t(winner), winner);
    assert.equal(m.match(u(url))?.value, winner, `${winner} wins ${url}`);
    assert.ok(matchesAlone(t(loser), u(url)), `${loser} matches ${url} too`);
    return whyLost(t(winner), t(loser));
  }

  it('names the rule of the matcher that decided', () => {
    assert.equal(
      lost('/a/b/**', '/a/**', '/a/b/c'),
      'matches too, but the winner is more specific: 3 segments against 2',
    );
    assert.equal(
      lost('/a/b', '/a/*', '/a/b'),
      'matches too, but the winner\'s last segment "b" (a literal) is more specific than * (a one-segment wildcard)',
    );
    assert.equal(
      lost('/http/**?**', '/http/**', '/http/x'),
      'matches too, but on the same path a pattern with a query part wins over one without',
    );
    assert.equal(
      lost('/x/?op={op}&user={u}', '/x/?op={op}', '/x?op=1&user=2'),
      'matches too, but the winner names more query parameters (2 against 1)',
    );
  });

  it('falls back on registration order when nothing else decides', () => {
    const m = new TemplateMatcher<string>();
    m.add(t('/a/{x}'), 'first');
    m.add(t('/a/{y}'), 'second');
    assert.equal(m.match(u('/a/1'))?.value, 'first');
    assert.equal(
      whyLost(t('/a/{x}'), t('/a/{y}')),
      'matches too and is as specific; the winner was registered first',
    );
  });
});

describe('witnessInputs', () => {
  it('makes URLs the template matches, a glob taking each length asked for', () => {
    let n = 0;
    const ws = witnessInputs(t('/a/*/**?op=GET&{*}'), { fresh: () => `f${n++}`, globLengths: [1, 3] })!;
    assert.deepEqual(
      ws.map((w) => w.original),
      ['/a/f2/f3?op=GET&f0=f1', '/a/f4/f5/f6/f7?op=GET&f0=f1'],
    );
    for (const w of ws) assert.ok(matchesAlone(t('/a/*/**?op=GET&{*}'), w));
  });

  it('declines what it cannot cover', () => {
    const options = { fresh: () => 'x', globLengths: [1] };
    assert.equal(witnessInputs(t('/a/b*'), options), undefined);
    assert.equal(witnessInputs(t('/a/**/b/**'), options), undefined);
    assert.equal(witnessInputs(t('http://h/a'), options), undefined);
  });
});
