import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultRewriteFunctions } from '../../../src/rewrite/index.ts';
import { compile, ctx } from '../fixtures.ts';

describe('$username', () => {
  it('inserts the effective user and fails the rule without one', () => {
    const { rules } = compile(`
      <rule name="home" pattern="*://*:*/**/webhdfs/{version}/~/{path=**}?{**}">
        <rewrite template="http://nn:50070/webhdfs/{version}/user/{$username}/{path=**}?{**}"/>
      </rule>`);
    const url = 'https://gw:8443/gateway/sandbox/webhdfs/v1/~/a/b?op=OPEN';
    assert.equal(
      rules.rewrite(url, { rule: 'home', dir: 'IN', ctx: ctx('/x', '', 'alice') }),
      'http://nn:50070/webhdfs/v1/user/alice/a/b?op=OPEN',
    );
    assert.equal(rules.rewrite(url, { rule: 'home', dir: 'IN', ctx: ctx('/x', '') }), undefined);
  });
});

describe('$inboundurl', () => {
  const xml = `
    <rule dir="OUT" name="r" pattern="/logLevel?{**}">
      <rewrite template="{$frontend[url]}/hbase/webui/logLevel?host={$inboundurl[host]}?port={$inboundurl[port]}?{**}"/>
    </rule>`;

  it('in responses, copies query parameters of the inbound request', () => {
    const { rules } = compile(xml);
    const c = ctx('/gateway/sandbox/hbase/webui/rs', 'host=rs1.internal&port=16030');
    assert.equal(
      rules.rewrite('/logLevel?log=x', { rule: 'r', dir: 'OUT', ctx: c }),
      'https://localhost:8443/gateway/sandbox/hbase/webui/logLevel?host=rs1.internal&port=16030&log=x',
    );
  });

  it('inserts nothing when the inbound request lacks the parameter, or in requests', () => {
    const { rules } = compile(xml);
    assert.equal(
      rules.rewrite('/logLevel', { rule: 'r', dir: 'OUT', ctx: ctx('/p', 'port=1') }),
      'https://localhost:8443/gateway/sandbox/hbase/webui/logLevel?host&port=1',
    );
    assert.equal(
      rules.rewrite('/logLevel', { rule: 'r', dir: 'IN', ctx: ctx('/p', 'host=h&port=1') }),
      'https://localhost:8443/gateway/sandbox/hbase/webui/logLevel?host&port',
    );
  });
});

describe('the registry', () => {
  it('holds every function Knox service definitions call, and the rest of the service family', () => {
    const names = [...defaultRewriteFunctions().keys()].sort();
    for (const fn of [
      'frontend',
      'serviceUrl',
      'inboundurl',
      'serviceScheme',
      'hostmap',
      'prefix',
      'serviceMappedAddr',
      'username',
      'postfix',
      'serviceMappedUrl',
      'import',
      'serviceAddr',
      'serviceHost',
      'servicePort',
      'servicePath',
      'serviceMappedHost',
      'infix',
    ]) {
      assert.ok(names.includes(fn), fn);
    }
  });

  it('can be extended with a function of the deployment', () => {
    const functions = defaultRewriteFunctions();
    functions.set('upper', (args) => args.map((a) => a.toUpperCase()));
    const { rules, sink } = compile(`<rule name="r"><rewrite template="/{$upper[abc]}"/></rule>`, {
      functions,
    });
    assert.equal(sink.items.length, 0);
    assert.equal(rules.rewrite('/x', { rule: 'r', dir: 'IN', ctx: ctx() }), '/ABC');
  });
});
