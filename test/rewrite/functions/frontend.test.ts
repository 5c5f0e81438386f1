import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RewriteEnvironment } from '../../../src/rewrite/index.ts';
import { compile, ctx, env } from '../fixtures.ts';

/** Templates are written here as they read, not XML-escaped. */
function xmlAttr(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('"', '&quot;');
}

/** Expands one template in the OUT direction. */
function expand(template: string, e: RewriteEnvironment = env(), c = ctx()): string | undefined {
  const { rules } = compile(`<rule name="r"><rewrite template="${xmlAttr(template)}"/></rule>`, { env: e });
  return rules.rewrite('http://backend:1/x', { rule: 'r', dir: 'OUT', ctx: c });
}

describe('$frontend from the request', () => {
  it('answers every part from the public URL the client used', () => {
    assert.equal(expand('{$frontend[url]}/a'), 'https://localhost:8443/gateway/sandbox/a');
    assert.equal(expand('{$frontend}/a'), 'https://localhost:8443/gateway/sandbox/a');
    assert.equal(
      expand('/p?s={$frontend[scheme]}&h={$frontend[host]}&o={$frontend[port]}'),
      '/p?s=https&h=localhost&o=8443',
    );
    assert.equal(
      expand('/p?a={$frontend[addr]}&b={$frontend[address]}'),
      '/p?a=localhost%3A8443&b=localhost%3A8443',
    );
    assert.equal(expand('{$frontend[path]}/ambari'), '/gateway/sandbox/ambari');
    assert.equal(expand('/gateway/{$frontend[topology]}/x'), '/gateway/sandbox/x');
    assert.equal(expand('/{$frontend[gateway.name]}/x'), '/gateway/x');
    assert.equal(expand('{$frontend[ URL ]}/a'), 'https://localhost:8443/gateway/sandbox/a');
  });

  it('fills in the default port of the scheme', () => {
    const c = { ...ctx(), gatewayUrl: 'https://knox.example.com/gateway/sandbox' };
    assert.equal(expand('/p?o={$frontend[port]}', env(), c), '/p?o=443');
  });

  it('an unknown part fails the rule', () => {
    assert.equal(expand('{$frontend[nonsense]}/a'), undefined);
  });
});

describe('$frontend from gateway.frontend.url', () => {
  const e = env({ frontendUrl: 'https://lb.example.com/knox/gateway' });
  it('answers from the configured URL plus the topology', () => {
    assert.equal(expand('{$frontend[url]}/a', e), 'https://lb.example.com/knox/gateway/sandbox/a');
    assert.equal(expand('{$frontend[path]}/a', e), '/knox/gateway/sandbox/a');
    assert.equal(
      expand('/p?h={$frontend[host]}&o={$frontend[port]}&s={$frontend[scheme]}', e),
      '/p?h=lb.example.com&o=443&s=https',
    );
    assert.equal(expand('/p?a={$frontend[addr]}', e), '/p?a=lb.example.com%3A443');
  });

  it('does not append the topology twice', () => {
    const e2 = env({ frontendUrl: 'http://lb:8080/gateway/sandbox/' });
    assert.equal(expand('{$frontend[url]}/a', e2), 'http://lb:8080/gateway/sandbox/a');
  });
});

describe('$prefix, $postfix, $infix, $import', () => {
  it('wrap the frontend URL', () => {
    assert.equal(expand("{$prefix[',url]}/x"), "'https://localhost:8443/gateway/sandbox/x");
    assert.equal(
      expand('/logout?originalUrl={$postfix[url,/atlas/]}'),
      '/logout?originalUrl=https%3A%2F%2Flocalhost%3A8443%2Fgateway%2Fsandbox%2Fatlas%2F',
    );
    assert.equal(expand("{$infix[',url,']}"), "'https://localhost:8443/gateway/sandbox'");
    assert.equal(
      expand('{$import[", url]}/a.css";'),
      '@import "https://localhost:8443/gateway/sandbox/a.css";',
    );
    assert.equal(expand('{$prefix[url]}/x'), 'https://localhost:8443/gateway/sandbox/x');
  });
});
