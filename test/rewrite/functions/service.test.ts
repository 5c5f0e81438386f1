import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compile, ctx } from '../fixtures.ts';

/** Templates are written here as they read, not XML-escaped. */
function xmlAttr(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('"', '&quot;');
}

function expand(template: string, dir: 'IN' | 'OUT' = 'IN', url = 'http://gw:1/x'): string | undefined {
  const { rules } = compile(`<rule name="r"><rewrite template="${xmlAttr(template)}"/></rule>`);
  return rules.rewrite(url, { rule: 'r', dir, ctx: ctx() });
}

describe('service registry functions', () => {
  it('$serviceUrl and its parts', () => {
    assert.equal(expand('{$serviceUrl[WEBHDFS]}/v1/x'), 'http://nn.internal:50070/webhdfs/v1/x');
    assert.equal(expand('/p?a={$serviceAddr[WEBHDFS]}'), '/p?a=nn.internal%3A50070');
    assert.equal(
      expand('/p?h={$serviceHost[WEBHDFS]}&o={$servicePort[WEBHDFS]}'),
      '/p?h=nn.internal&o=50070',
    );
    assert.equal(expand('{$servicePath[WEBHDFS]}/x'), '/webhdfs/x');
    assert.equal(expand('{$serviceScheme[OOZIE]}://h/x'), 'https://h/x');
  });

  it('a URL without a port has an empty port and a bare address', () => {
    assert.equal(expand('/p?a={$serviceAddr[OOZIE]}&o={$servicePort[OOZIE]}'), '/p?a=oozie.internal&o=');
  });

  it('mapped variants pass the host through the hostmap by direction', () => {
    assert.equal(expand('{$serviceMappedUrl[WEBHDFS]}/x', 'OUT'), 'http://nn.example.com:50070/webhdfs/x');
    assert.equal(expand('{$serviceMappedUrl[WEBHDFS]}/x', 'IN'), 'http://nn.internal:50070/webhdfs/x');
    assert.equal(expand('/p?a={$serviceMappedAddr[NAMENODE]}', 'OUT'), '/p?a=nn.example.com%3A8020');
    assert.equal(expand('/p?h={$serviceMappedHost[OOZIE]}', 'OUT'), '/p?h=oozie.internal');
  });

  it('an unknown role fails the rule instead of producing a URL made of the role name', () => {
    assert.equal(expand('{$serviceUrl[NOSUCH]}/x'), undefined);
    assert.equal(expand('{$serviceScheme[NOSUCH]}://h/x'), undefined);
  });
});

describe('$hostmap', () => {
  it('maps a matched host outward for responses and inward for requests; unknown hosts stay', () => {
    const { rules } = compile(`
      <rule name="r">
        <match pattern="{scheme}://{host}:{port}/{path=**}"/>
        <rewrite template="{scheme}://{$hostmap(host)}:{port}/{path=**}"/>
      </rule>`);
    const c = ctx();
    assert.equal(
      rules.rewrite('http://dn1.internal:1/a', { rule: 'r', dir: 'OUT', ctx: c }),
      'http://dn1.example.com:1/a',
    );
    assert.equal(
      rules.rewrite('http://dn1.example.com:1/a', { rule: 'r', dir: 'IN', ctx: c }),
      'http://dn1.internal:1/a',
    );
    assert.equal(rules.rewrite('http://other:1/a', { rule: 'r', dir: 'OUT', ctx: c }), 'http://other:1/a');
  });
});
