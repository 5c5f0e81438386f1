/**
 * Steps and flows, driven through compiled rules: what each step kind does and how AND / OR / ALL combine them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RewriteDecryptError } from '../../src/rewrite/index.ts';
import { compile, ctx, messages } from './fixtures.ts';

const IN = { dir: 'IN' as const, ctx: ctx() };
const OUT = { dir: 'OUT' as const, ctx: ctx() };

describe('match and rewrite steps', () => {
  it('a match step binds parameters that the rewrite uses', () => {
    const { rules } = compile(`
      <rule name="r">
        <match pattern="*://*:*/**/files/{path=**}?{**}"/>
        <rewrite template="http://backend:1/data/{path=**}?{**}"/>
      </rule>`);
    assert.equal(
      rules.rewrite('https://gw:8443/gateway/sandbox/files/a/b.txt?op=OPEN&x=1', { rule: 'r', ...IN }),
      'http://backend:1/data/a/b.txt?op=OPEN&x=1',
    );
  });

  it('a failing match fails the rule (AND)', () => {
    const { rules } = compile(`
      <rule name="r">
        <match pattern="*://*:*/**/files/{path=**}"/>
        <rewrite template="http://backend:1/{path=**}"/>
      </rule>`);
    const outcome = rules.apply('https://gw:8443/other/thing', { rule: 'r', ...IN });
    assert.equal(outcome.status, 'failed');
    assert.equal(rules.rewrite('https://gw:8443/other/thing', { rule: 'r', ...IN }), undefined);
  });

  it('nested steps run inside their match; later matches see the rewritten URL', () => {
    const { rules } = compile(`
      <rule name="r">
        <match pattern="*://*:*/**/a/{x}">
          <rewrite template="/stage/{x}"/>
        </match>
        <match pattern="/stage/{y}">
          <rewrite template="/final/{y}/{x}"/>
        </match>
      </rule>`);
    assert.equal(rules.rewrite('http://h:1/p/a/v', { rule: 'r', ...IN }), '/final/v/v');
  });

  it('a rule pattern is itself a condition that binds parameters', () => {
    const { rules } = compile(`
      <rule name="r" pattern="*://*:*/**/svc/{rest=**}?{**}">
        <rewrite template="http://backend:9/{rest=**}?{**}"/>
      </rule>`);
    assert.equal(
      rules.rewrite('http://h:1/gw/svc/x/y?q=1', { rule: 'r', ...IN }),
      'http://backend:9/x/y?q=1',
    );
    assert.equal(rules.apply('http://h:1/gw/other/x', { rule: 'r', ...IN }).status, 'failed');
  });

  it('a rewrite with no match needs nothing but variables and functions', () => {
    const { rules } = compile(
      `<rule name="r"><rewrite template="{gateway.url}/x?topo={$frontend[topology]}"/></rule>`,
    );
    assert.equal(
      rules.rewrite('anything', { rule: 'r', ...OUT }),
      'https://localhost:8443/gateway/sandbox/x?topo=sandbox',
    );
  });

  it('query values are decoded once when bound, so expansion does not encode them twice', () => {
    const { rules } = compile(`
      <rule name="r" pattern="*://*:*/**/svc/{path=**}?{**}">
        <rewrite template="http://b:1/{path=**}?{**}"/>
      </rule>`);
    assert.equal(
      rules.rewrite('http://h:1/gw/svc/a%20b?addr=nn%3A8020&msg=a+b&raw=x:y', { rule: 'r', ...IN }),
      'http://b:1/a%20b?addr=nn%3A8020&msg=a+b&raw=x%3Ay',
    );
  });
});

describe('flows', () => {
  const or = `
    <rule name="r" flow="OR">
      <match pattern="*://*:*/one/{x}"><rewrite template="/first/{x}"/></match>
      <match pattern="*://*:*/{y=*}/{x=*}"><rewrite template="/second/{y}/{x}"/></match>
    </rule>`;

  it('OR runs the first alternative that matches and skips the rest', () => {
    const { rules } = compile(or);
    assert.equal(rules.rewrite('http://h:1/one/v', { rule: 'r', ...IN }), '/first/v');
    assert.equal(rules.rewrite('http://h:1/two/v', { rule: 'r', ...IN }), '/second/two/v');
  });

  it('OR fails when no alternative matches (Knox would hand back the input)', () => {
    const { rules } = compile(or);
    assert.equal(rules.apply('http://h:1/a/b/c', { rule: 'r', ...IN }).status, 'failed');
  });

  it('AND (the default) requires every condition of a group', () => {
    const { rules } = compile(`
      <rule name="r">
        <match pattern="*://*:*/{a}/{b}"/>
        <match pattern="*://*:*/one/{b}"/>
        <rewrite template="/ok/{a}/{b}"/>
      </rule>`);
    assert.equal(rules.rewrite('http://h:1/one/two', { rule: 'r', ...IN }), '/ok/one/two');
    assert.equal(rules.rewrite('http://h:1/uno/two', { rule: 'r', ...IN }), undefined);
  });

  it('ALL runs every step and ignores failures', () => {
    const { rules } = compile(`
      <rule name="r" flow="ALL">
        <match pattern="*://*:*/nomatch/{a}"><rewrite template="/never"/></match>
        <match pattern="*://*:*/{a}/{b}"/>
        <rewrite template="/all/{a}/{b}"/>
      </rule>`);
    assert.equal(rules.rewrite('http://h:1/x/y', { rule: 'r', ...IN }), '/all/x/y');
  });

  it('check and control steps never succeed, as in Knox, and are reported', () => {
    const { rules, sink } = compile(`
      <rule name="c"><check input="x" value="y"/><rewrite template="/no"/></rule>
      <rule name="k"><control/><rewrite template="/no"/></rule>`);
    assert.equal(rules.apply('/x', { rule: 'c', ...IN }).status, 'failed');
    assert.equal(rules.apply('/x', { rule: 'k', ...IN }).status, 'failed');
    assert.equal(messages(sink, 'warning').filter((m) => m.includes('never succeeds')).length, 2);
  });
});

describe('encrypt-query / decrypt-query', () => {
  const xml = `
    <rule dir="OUT" name="out">
      <match pattern="{scheme}://{host}:{port}/{path=**}?{**}"/>
      <rewrite template="{$frontend[url]}/data/{path=**}?{scheme}?{host}?{port}?{**}"/>
      <encrypt-query/>
    </rule>
    <rule dir="IN" name="in">
      <decrypt-query/>
      <match pattern="*://*:*/**/data/{path=**}?{scheme}?{host}?{port}?{**}"/>
      <rewrite template="{scheme}://{host}:{port}/{path=**}?{**}"/>
    </rule>`;

  it('hides the whole query in one parameter `_` and restores it', () => {
    const { rules } = compile(xml);
    const out = rules.rewrite('http://dn1:50075/f/g?op=OPEN&offset=0', { rule: 'out', ...OUT })!;
    assert.match(out, /^https:\/\/localhost:8443\/gateway\/sandbox\/data\/f\/g\?_=[A-Za-z0-9_-]+$/);
    assert.ok(!out.includes('dn1'), out);
    assert.equal(rules.rewrite(out, { rule: 'in', ...IN }), 'http://dn1:50075/f/g?op=OPEN&offset=0');
  });

  it('encrypted parameters override clear ones of the same name; other clear ones are kept', () => {
    const { rules } = compile(xml);
    const out = rules.rewrite('http://dn1:50075/f?op=OPEN', { rule: 'out', ...OUT })!;
    assert.equal(
      rules.rewrite(`${out}&host=evil&user.name=alice`, { rule: 'in', ...IN }),
      'http://dn1:50075/f?user.name=alice&op=OPEN',
    );
  });

  it('a tampered, missing or foreign token throws the typed 400 error', () => {
    const { rules } = compile(xml);
    const out = rules.rewrite('http://dn1:50075/f?op=OPEN', { rule: 'out', ...OUT })!;
    const tampered = out.replace(/_=(.)/, (_m, c: string) => `_=${c === 'A' ? 'B' : 'A'}`);
    for (const url of [
      tampered,
      'https://gw/gateway/sandbox/data/f',
      'https://gw/gateway/sandbox/data/f?_=abc',
    ]) {
      assert.throws(
        () => rules.rewrite(url, { rule: 'in', ...IN }),
        (err: unknown) =>
          err instanceof RewriteDecryptError &&
          err.status === 400 &&
          err.code === 'POSTERN_ERR_REWRITE_DECRYPT',
      );
    }
    const other = compile(xml, { env: { ...compile('').rules.env, topology: 'other' } }).rules;
    assert.throws(() => other.rewrite(out, { rule: 'in', ...IN }), RewriteDecryptError);
  });

  it('a URL without a query is left as it is by encrypt-query', () => {
    const { rules } = compile(`<rule name="e"><encrypt-query/></rule>`);
    assert.equal(rules.rewrite('http://h:1/a/b', { rule: 'e', ...OUT }), 'http://h:1/a/b');
  });

  it('no usable secret is a deployment error', () => {
    const { sink, rules } = compile(xml, { env: { ...compile('').rules.env, secret: new Uint8Array(4) } });
    assert.equal(messages(sink, 'error').length, 1);
    assert.match(messages(sink, 'error')[0], /secret/);
    assert.equal(rules.hasRule('out'), false);
  });
});

describe('encrypt / decrypt (one parameter)', () => {
  const xml = `
    <rule dir="OUT" name="out">
      <match pattern="{host=*}:{port=*}"/>
      <encrypt template="{host}:{port}" param="enc"/>
      <rewrite template="{enc}"/>
    </rule>
    <rule dir="IN" name="in">
      <match pattern="*://*:*/**/nodes/{addr=*}?{**}"/>
      <decrypt param="addr"/>
      <rewrite template="http://rm:8088/nodes/{addr}?{**}"/>
    </rule>`;

  it('encrypts one value into a parameter and decrypts it back', () => {
    const { rules } = compile(xml);
    const token = rules.rewrite('node1:8042', { rule: 'out', ...OUT })!;
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    assert.equal(
      rules.rewrite(`https://gw/gateway/sandbox/nodes/${token}?x=1`, { rule: 'in', ...IN }),
      'http://rm:8088/nodes/node1:8042?x=1',
    );
    assert.throws(
      () => rules.rewrite('https://gw/gateway/sandbox/nodes/node1', { rule: 'in', ...IN }),
      RewriteDecryptError,
    );
  });
});
