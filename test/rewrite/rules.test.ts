/**
 * Compiling a set of rewrite.xml contents and choosing the rule to apply: by name, or Knox's best match with
 * direction and scope; what a broken rule does to itself and to its neighbours.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiagnosticSink } from '../../src/config/diagnostics.ts';
import { compileRewriteRules, defaultRewriteFunctions } from '../../src/rewrite/index.ts';
import { parseRewriteXml } from '../../src/servicedef/rewrite-xml.ts';
import { compile, ctx, env, messages } from './fixtures.ts';

const c = ctx();

describe('direction and best match', () => {
  const xml = `
    <rule dir="IN" name="SVC/in/any" pattern="*://*:*/**/svc/{path=**}?{**}">
      <rewrite template="http://in-any/{path=**}?{**}"/>
    </rule>
    <rule dir="IN" name="SVC/in/v1" pattern="*://*:*/**/svc/v1/{path=**}?{**}">
      <rewrite template="http://in-v1/{path=**}?{**}"/>
    </rule>
    <rule dir="IN" name="SVC/in/star" pattern="*://*:*/**/svc/v1/*">
      <rewrite template="http://in-star"/>
    </rule>
    <rule dir="OUT" name="SVC/out" pattern="*://*:*/**/svc/{path=**}?{**}">
      <rewrite template="http://out/{path=**}?{**}"/>
    </rule>
    <rule name="SVC/both" pattern="*://*:*/both/{path=**}">
      <rewrite template="http://both/{path=**}"/>
    </rule>
    <rule dir="OUT" name="SVC/nopattern"><rewrite template="http://never"/></rule>`;

  it('picks the most specific pattern among the rules of the direction', () => {
    const { rules } = compile(xml);
    assert.equal(rules.rewrite('http://gw:1/g/svc/a/b', { dir: 'IN', ctx: c }), 'http://in-any/a/b');
    assert.equal(rules.rewrite('http://gw:1/g/svc/v1/a/b', { dir: 'IN', ctx: c }), 'http://in-v1/a/b');
    assert.equal(rules.rewrite('http://gw:1/g/svc/v1/a', { dir: 'IN', ctx: c }), 'http://in-star');
    assert.deepEqual(rules.apply('http://gw:1/g/svc/v1/a/b', { rule: '*', dir: 'IN', ctx: c }), {
      status: 'rewritten',
      url: 'http://in-v1/a/b',
      rule: 'SVC/in/v1',
    });
  });

  it('only rules of the requested direction (or of both) take part', () => {
    const { rules } = compile(xml);
    assert.equal(rules.rewrite('http://gw:1/g/svc/v1/a/b', { dir: 'OUT', ctx: c }), 'http://out/v1/a/b');
    assert.equal(rules.rewrite('http://gw:1/both/x', { dir: 'IN', ctx: c }), 'http://both/x');
    assert.equal(rules.rewrite('http://gw:1/both/x', { dir: 'OUT', ctx: c }), 'http://both/x');
    assert.deepEqual(rules.apply('http://gw:1/nothing/here', { dir: 'OUT', ctx: c }), { status: 'no-rule' });
  });

  it('a rule named explicitly runs whatever its dir (as in Knox); unknown and empty names apply nothing', () => {
    const { rules } = compile(xml);
    assert.equal(
      rules.rewrite('http://gw:1/g/svc/a', { rule: 'SVC/out', dir: 'IN', ctx: c }),
      'http://out/a',
    );
    assert.deepEqual(rules.apply('http://gw:1/g/svc/a', { rule: 'nope', dir: 'IN', ctx: c }), {
      status: 'no-rule',
    });
    assert.deepEqual(rules.apply('http://gw:1/g/svc/a', { rule: '', dir: 'IN', ctx: c }), {
      status: 'no-rule',
    });
    assert.equal(rules.hasRule('SVC/in/v1'), true);
    assert.equal(rules.hasRule('nope'), false);
  });
});

describe('scopes', () => {
  const xml = `
    <rule dir="OUT" name="AAA/out" pattern="*://*:*/x/{p=**}"><rewrite template="/aaa/{p}"/></rule>
    <rule dir="OUT" name="BBB/out" pattern="*://*:*/x/{p=**}"><rewrite template="/bbb/{p}"/></rule>
    <rule dir="OUT" name="WEBHDFS/out" pattern="*://*:*/y/{p=**}"><rewrite template="/global/{p}"/></rule>
    <rule dir="OUT" name="CCC/out" pattern="*://*:*/y/{p=**}"><rewrite template="/ccc/{p}"/></rule>
    <rule dir="OUT" name="DDD/out" scope="EEE" pattern="*://*:*/z/{p=**}"><rewrite template="/ddd/{p}"/></rule>
    <rule dir="OUT" name="unscoped" pattern="*://*:*/w/{p=**}"><rewrite template="/unscoped/{p}"/></rule>`;

  it("prefers the caller's scope, then GLOBAL (Knox's global services), then the first", () => {
    const { rules } = compile(xml);
    assert.equal(rules.rewrite('http://h:1/x/q', { dir: 'OUT', ctx: c, scope: 'BBB' }), '/bbb/q');
    assert.equal(rules.rewrite('http://h:1/x/q', { dir: 'OUT', ctx: c }), '/aaa/q');
    assert.equal(rules.rewrite('http://h:1/y/q', { dir: 'OUT', ctx: c, scope: 'ZZZ' }), '/global/q');
    assert.equal(rules.rewrite('http://h:1/y/q', { dir: 'OUT', ctx: c, scope: 'CCC' }), '/ccc/q');
  });

  it("a lone match from another service's scope does not apply; a scope attribute overrides the name", () => {
    const { rules } = compile(xml);
    assert.equal(rules.rewrite('http://h:1/z/q', { dir: 'OUT', ctx: c, scope: 'DDD' }), undefined);
    assert.equal(rules.rewrite('http://h:1/z/q', { dir: 'OUT', ctx: c, scope: 'EEE' }), '/ddd/q');
    assert.equal(rules.rewrite('http://h:1/z/q', { dir: 'OUT', ctx: c }), '/ddd/q');
  });

  it('a rule whose name has no role prefix has no scope and applies for every caller', () => {
    const { rules } = compile(xml);
    assert.equal(rules.rewrite('http://h:1/w/q', { dir: 'OUT', ctx: c, scope: 'AAA' }), '/unscoped/q');
    assert.equal(rules.rewrite('http://h:1/w/q', { dir: 'OUT', ctx: c }), '/unscoped/q');
  });

  it('the global services list comes from the environment', () => {
    const { rules } = compile(xml, { env: env({ globalRulesServices: [] }) });
    // WEBHDFS is now an ordinary scope: neither match belongs to ZZZ or to GLOBAL.
    assert.equal(rules.rewrite('http://h:1/y/q', { dir: 'OUT', ctx: c, scope: 'ZZZ' }), undefined);
    assert.equal(rules.rewrite('http://h:1/y/q', { dir: 'OUT', ctx: c, scope: 'CCC' }), '/ccc/q');
    assert.equal(rules.rewrite('http://h:1/y/q', { dir: 'OUT', ctx: c, scope: 'WEBHDFS' }), '/global/q');
  });
});

describe('problems found at compile time', () => {
  it('a malformed template is an error at its position; only that rule is dropped', () => {
    const { rules, sink } = compile(`
      <rule name="bad"><rewrite template="/x/{path=**"/></rule>
      <rule name="bad-pattern" pattern="/x/{oops"><rewrite template="/y"/></rule>
      <rule name="good"><rewrite template="/ok"/></rule>`);
    const errors = sink.items.filter((d) => d.severity === 'error');
    assert.equal(errors.length, 2);
    assert.match(errors[0].message, /rule "bad"/);
    assert.equal(errors[0].line, 2);
    assert.match(errors[1].message, /rule "bad-pattern"/);
    assert.equal(rules.hasRule('bad'), false);
    assert.equal(rules.hasRule('bad-pattern'), false);
    assert.equal(rules.rewrite('/in', { rule: 'good', dir: 'IN', ctx: c }), '/ok');
  });

  it('an unknown function is a warning; that rule fails when applied, its neighbours work', () => {
    const { rules, sink } = compile(`
      <rule dir="IN" name="typo" pattern="*://*:*/t/{p}"><rewrite template="{$servicScheme[HBASEUI]}://h/{p}"/></rule>
      <rule dir="IN" name="fine" pattern="*://*:*/f/{p}"><rewrite template="{$serviceScheme[HBASEUI]}://h/{p}"/></rule>`);
    assert.deepEqual(messages(sink, 'error'), []);
    assert.match(messages(sink, 'warning')[0], /rule "typo": unknown function \$servicScheme/);
    assert.equal(rules.hasRule('typo'), true);
    assert.deepEqual(rules.apply('http://g:1/t/x', { rule: 'typo', dir: 'IN', ctx: c }), {
      status: 'failed',
      rule: 'typo',
      reason: 'unknown function $servicScheme',
    });
    // Best match still selects it (and fails), instead of silently falling back to another rule.
    assert.equal(rules.apply('http://g:1/t/x', { dir: 'IN', ctx: c }).status, 'failed');
    assert.equal(rules.rewrite('http://g:1/f/x', { dir: 'IN', ctx: c }), 'http://h/x');
  });

  it('a function that cannot answer at run time fails only that application', () => {
    const { rules } = compile(`<rule name="r"><rewrite template="{$serviceUrl[NOSUCH]}/x"/></rule>`);
    const outcome = rules.apply('/a', { rule: 'r', dir: 'IN', ctx: c });
    assert.equal(outcome.status, 'failed');
    assert.match((outcome as { reason: string }).reason, /\$serviceUrl\[NOSUCH\] has no value/);
  });

  it('a step postern does not know is a warning and fails its rule', () => {
    const { rules, sink } = compile(`
      <rule name="r"><match pattern="/a"/><filter type="response"/><rewrite template="/b"/></rule>`);
    assert.ok(messages(sink, 'warning').some((m) => /unsupported step <filter>/.test(m)));
    assert.equal(rules.apply('/a', { rule: 'r', dir: 'OUT', ctx: c }).status, 'failed');
  });

  it('a duplicate rule name warns; by name the first wins, both take part in best match', () => {
    const { rules, sink } = compile(`
      <rule dir="OUT" name="dup" pattern="hdfs://*:*/{p=**}"><rewrite template="/first/{p}"/></rule>
      <rule dir="OUT" name="dup" pattern="webhdfs://*:*/{p=**}"><rewrite template="/second/{p}"/></rule>`);
    assert.match(messages(sink, 'warning')[0], /rule "dup" is already defined at test\/rewrite.xml:2:/);
    assert.equal(rules.rewrite('hdfs://nn:8020/a', { rule: 'dup', dir: 'OUT', ctx: c }), '/first/a');
    assert.equal(rules.rewrite('webhdfs://nn:8020/a', { rule: 'dup', dir: 'OUT', ctx: c }), undefined);
    assert.equal(rules.rewrite('webhdfs://nn:8020/a', { dir: 'OUT', ctx: c }), '/second/a');
  });

  it('rules of several service definitions compile together; a filter may use a rule of another file', () => {
    const sink = new DiagnosticSink();
    const a = parseRewriteXml(
      `<rules><rule name="A/r"><rewrite template="/from-a"/></rule></rules>`,
      'a/rewrite.xml',
      sink,
    );
    const b = parseRewriteXml(
      `<rules><filter name="B/f"><content type="application/x-http-headers">
         <apply path="Location" rule="A/r"/><apply path="X" rule="missing"/></content></filter></rules>`,
      'b/rewrite.xml',
      sink,
    );
    const rules = compileRewriteRules([a, b], { functions: defaultRewriteFunctions(), sink, env: env() });
    assert.deepEqual(messages(sink, 'warning'), [
      'filter "B/f" applies rule "missing", which is not defined',
    ]);
    assert.equal(rules.hasFilter('B/f'), true);
    assert.deepEqual(rules.headers('B/f', 'OUT')({ location: 'http://x' }, c), { location: '/from-a' });
  });

  it('picks the filter content for a MIME type like Knox (exact, then wildcards)', () => {
    const { rules } = compile(`
      <filter name="f">
        <content type="*/json"><apply path="$.a" rule="r"/></content>
        <content type="application/x-http-headers"><apply path="Location" rule="r"/></content>
        <content type="*/*" asType="text/plain"/>
      </filter>`);
    assert.equal(rules.filterContent('f', 'application/json; charset=utf-8')?.type, '*/json');
    assert.equal(rules.filterContent('f', 'application/x-http-headers')?.type, 'application/x-http-headers');
    assert.equal(rules.filterContent('f', 'text/html')?.asType, 'text/plain');
    assert.equal(rules.filterContent('nope', 'text/html'), undefined);
  });
});
