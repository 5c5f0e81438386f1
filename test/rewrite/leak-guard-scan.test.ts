/**
 * The leak guard's matching, mapping and streaming scan (rewrite/leak-guard, rewrite/leak-scan), on real compiled
 * rules: origins with and without default ports and in any case, hosts that only start like a backend's, the
 * gateway's own origin, and a body cut at every position giving what the whole body gives.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeakGuard, type LeakGuardMode, type LeakHit, servicePathOf } from '../../src/rewrite/leak-guard.ts';
import { GuardedRewriter, LeakScanner } from '../../src/rewrite/leak-scan.ts';
import { compile, ctx } from './fixtures.ts';

const SERVICES = [
  { role: 'OOZIE', urls: ['https://oozie.internal/oozie'] },
  { role: 'HBASEUI', urls: ['http://hbase.internal:16010', 'http://hbase2.internal:16010'] },
  { role: 'NAMENODE', urls: ['hdfs://nn.internal:8020'] },
  // A service that points back at the gateway itself: its origin is the gateway's, never a leak.
  { role: 'SELF', urls: ['https://localhost:8443/gateway/other/webhdfs'] },
];

function guard(mode: LeakGuardMode = 'report'): LeakGuard {
  const { rules } = compile(`
    <rule dir="OUT" name="HBASEUI/out/master" pattern="*://*:*/master/{**}?{**}">
      <rewrite template="{$frontend[url]}/hbase/webui/master/{**}?{**}"/>
    </rule>`);
  const g = new LeakGuard({ mode, services: SERVICES, rules });
  g.learn('OOZIE', servicePathOf({ metadata: { context: '/oozie/' }, routes: [] }));
  g.learn('HBASEUI', servicePathOf({ routes: [{ path: '/hbase/webui/**' }] }));
  return g;
}

const rc = ctx('/gateway/sandbox/hbase/webui/x');
const GW = 'https://localhost:8443/gateway/sandbox';

function found(g: LeakGuard, text: string): string[] {
  const urls: string[] = [];
  g.scan(text, rc, (_t, url) => {
    urls.push(url);
    return undefined;
  });
  return urls;
}

describe('LeakGuard matching', () => {
  it('finds backend origins with or without the default port, in any case, protocol-relative too', () => {
    const g = guard();
    assert.deepEqual(found(g, 'go to https://OOZIE.internal/oozie/x or https://oozie.internal:443/oozie'), [
      'https://OOZIE.internal/oozie/x',
      'https://oozie.internal:443/oozie',
    ]);
    assert.deepEqual(found(g, '<a href="//hbase2.internal:16010/rs">'), ['//hbase2.internal:16010/rs']);
  });

  it("never reports the gateway's own origin, even when a service points at it", () => {
    const g = guard();
    assert.deepEqual(found(g, `see ${GW}/hbase/webui/ and https://localhost:8443/gateway/other/webhdfs`), []);
    assert.equal(g.targetOf('https', 'localhost', '8443')?.role, 'SELF');
  });

  it('ignores other ports, other schemes, longer hosts, bare host:port, non-http URLs and the gateway', () => {
    const g = guard();
    for (const text of [
      'http://oozie.internal/oozie', // http, not https
      'https://oozie.internal:8443/oozie',
      'http://hbase.internal:160100/',
      'http://hbase.internal.evil.com:16010/',
      'http://xhbase.internal:16010/',
      'hbase.internal:16010 is the master',
      'hdfs://nn.internal:8020/tmp',
      `${GW}/hbase/webui/`,
      'https://LOCALHOST:443/gateway/other/webhdfs',
      'ftp://hbase.internal:16010/',
    ]) {
      assert.deepEqual(found(g, text), [], text);
    }
  });

  it('maps through the service outbound rule, else service URL → gateway path, keeping the query', () => {
    const g = guard('rewrite');
    const hbase = g.targetOf('http', 'hbase.internal', '16010')!;
    assert.deepEqual(g.map('http://hbase.internal:16010/master/status?x=1', hbase, rc), {
      url: `${GW}/hbase/webui/master/status?x=1`,
      by: 'HBASEUI/out/master',
    });
    assert.deepEqual(g.map('http://hbase.internal:16010/logs/', hbase, rc), {
      url: `${GW}/hbase/logs/`,
      by: 'service-url',
    });
    const oozie = g.targetOf('https', 'oozie.internal', undefined)!;
    assert.deepEqual(g.map('https://oozie.internal/oozie/?job=1', oozie, rc), {
      url: `${GW}/oozie/?job=1`,
      by: 'service-url',
    });
    assert.equal(g.map('https://oozie.internal/other', oozie, rc), undefined, 'outside the service path');
  });

  it('maps to gateway.frontend.url when it is set, as $frontend[url] does', () => {
    const { rules } = compile('');
    const g = new LeakGuard({
      mode: 'rewrite',
      services: SERVICES,
      rules,
      frontend: { url: 'https://lb.example.com/gateway/', topology: 'sandbox' },
    });
    g.learn('OOZIE', '/oozie');
    const oozie = g.targetOf('https', 'oozie.internal', undefined)!;
    assert.deepEqual(g.map('https://oozie.internal/oozie/x', oozie, rc), {
      url: 'https://lb.example.com/gateway/sandbox/oozie/x',
      by: 'service-url',
    });
  });

  it('checks Location, Link, Refresh and a Set-Cookie Domain, and leaves other headers alone', () => {
    const g = guard('rewrite');
    const hits: string[] = [];
    const out = g.headers(
      {
        location: 'http://hbase.internal:16010/master/x',
        link: '<http://hbase2.internal:16010/logs/a>; rel=next',
        refresh: '5; url=https://oozie.internal/oozie/',
        'set-cookie': ['a=1; Domain=.hbase.internal; Path=/', 'b=2; Path=/'],
        'x-other': 'http://hbase.internal:16010/master/x',
      },
      rc,
      'HBASEUI',
      (where, hit: LeakHit) => hits.push(`${where} ${hit.target.origin}`),
    );
    assert.deepEqual(hits.sort(), [
      'link http://hbase2.internal:16010',
      'location http://hbase.internal:16010',
      'refresh https://oozie.internal:443',
      'set-cookie http://hbase.internal:16010',
    ]);
    assert.equal(out.location, `${GW}/hbase/webui/master/x`);
    assert.equal(out.link, `<${GW}/hbase/logs/a>; rel=next`);
    assert.equal(out.refresh, `5; url=${GW}/oozie/`);
    assert.deepEqual(out['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    assert.equal(out['x-other'], 'http://hbase.internal:16010/master/x');
  });
});

describe('LeakScanner across chunks', () => {
  const body =
    '<html><a href="http://hbase.internal:16010/master/status?a=1">m</a> text http://hbase.internal.example.org:16010/x ' +
    "<img src='//hbase2.internal:16010/logs/l.png'> https://oozie.internal/oozie/v1 and http://hbase.internal:16010</html>";

  function run(mode: LeakGuardMode, cuts: number[]): { out: string; hits: string[] } {
    const g = guard(mode);
    const hits: string[] = [];
    const scan = new LeakScanner({
      guard: g,
      rc,
      scope: 'HBASEUI',
      onHits: (h) => hits.push(...h.map((x) => x.url)),
    });
    const r = new GuardedRewriter(undefined, scan);
    let out = '';
    let at = 0;
    for (const c of [...cuts, body.length]) {
      const piece = body.slice(at, c);
      out += r.write(piece, Buffer.from(piece, 'latin1'));
      at = c;
    }
    out += r.end();
    return { out, hits };
  }

  it('finds the same leaks and writes the same output whatever the chunking', () => {
    for (const mode of ['report', 'rewrite'] as const) {
      const whole = run(mode, []);
      assert.equal(whole.hits.length, 4, mode);
      if (mode === 'report') assert.equal(whole.out, body);
      else {
        assert.ok(whole.out.includes(`${GW}/hbase/webui/master/status?a=1`), whole.out);
        assert.ok(whole.out.includes(`'${GW}/hbase/logs/l.png'`), whole.out);
        assert.ok(whole.out.includes(`${GW}/oozie/v1 `), whole.out);
        assert.ok(whole.out.includes('http://hbase.internal.example.org:16010/x'), 'not a backend');
      }
      for (let i = 1; i < body.length; i++) {
        assert.deepEqual(run(mode, [i]), whole, `${mode}, cut at ${i}`);
      }
      for (let i = 1; i + 7 < body.length; i += 3) {
        assert.deepEqual(run(mode, [i, i + 2, i + 7]), whole, `${mode}, cuts at ${i}, ${i + 2}, ${i + 7}`);
      }
    }
  });

  it('in rewrite mode holds back only an end that could begin a backend URL', () => {
    const g = guard('rewrite');
    const scan = new LeakScanner({ guard: g, rc, scope: 'HBASEUI', onHits: () => {} });
    assert.equal(scan.push('data: hello world\n\n'), 'data: hello world\n\n', 'an event goes out whole');
    assert.equal(scan.push('see http://hbase.inter'), 'see ');
    assert.equal(scan.held(), 'http://hbase.inter');
    assert.equal(scan.push('nal:16010/master/x done'), `${GW}/hbase/webui/master/x done`);
    assert.equal(scan.push('at http://www.example.org/ ok'), 'at http://www.example.org/ ok');
    assert.equal(scan.push(' //'), ' ');
    assert.equal(scan.end(), '//');
  });

  it('holds no more than the longest origin in report mode between chunks', () => {
    const g = guard('report');
    let hits = 0;
    const scan = new LeakScanner({ guard: g, rc, scope: 'HBASEUI', onHits: (h) => (hits += h.length) });
    const filler = 'x'.repeat(100_000);
    assert.equal(scan.push(filler), filler, 'report mode sends what it is given at once');
    assert.equal(scan.held(), '');
    scan.push(' http://hbase.inter');
    scan.push('nal:16010/y ');
    scan.end();
    assert.equal(hits, 1);
  });
});
