/**
 * Rewrite functions inside patterns: topology functions (`$serviceUrl[ROLE]` and its parts) are expanded when the
 * rules are compiled and matched literally; functions of the request are a warning at the step and fail the rule.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RewriteEnvironment } from '../../src/rewrite/index.ts';
import { expandPattern } from '../../src/rewrite/pattern.ts';
import { parseTemplate } from '../../src/urltemplate/index.ts';
import { compile, ctx, env, messages } from './fixtures.ts';

const c = ctx();
const GW = 'https://localhost:8443/gateway/sandbox';

function withServices(services: Record<string, string[]>, overrides: Partial<RewriteEnvironment> = {}) {
  return env({ serviceUrls: (role) => services[role], ...overrides });
}

/** HTTP-style Location rule: absolute URLs under the service URL move under the gateway. */
const LOCATION = `
  <rule dir="OUT" name="loc" flow="OR">
    <match pattern="{$serviceUrl[SVC]}/{path=**}?{**}">
      <rewrite template="{$frontend[url]}/svc/{path=**}?{**}"/>
    </match>
    <match pattern="{$serviceUrl[SVC]}/?{**}">
      <rewrite template="{$frontend[url]}/svc/?{**}"/>
    </match>
  </rule>`;

function location(serviceUrls: string[]) {
  const { rules, sink } = compile(LOCATION, { env: withServices({ SVC: serviceUrls }) });
  assert.deepEqual(sink.items, []);
  return (url: string) => rules.rewrite(url, { rule: 'loc', dir: 'OUT', ctx: c });
}

describe('topology functions in patterns', () => {
  it('a service URL with a path: only URLs under it move, and keep what follows the service path', () => {
    const rewrite = location(['http://api.internal:8080/v2']);
    assert.equal(rewrite('http://api.internal:8080/v2/items/1'), `${GW}/svc/items/1`);
    assert.equal(rewrite('http://api.internal:8080/v2/items/1?x=1&y=a%20b'), `${GW}/svc/items/1?x=1&y=a+b`);
    assert.equal(rewrite('http://api.internal:8080/v2'), `${GW}/svc/`);
    assert.equal(rewrite('http://api.internal:8080/v2/'), `${GW}/svc/`);
    assert.equal(rewrite('http://api.internal:8080/v1/items/1'), undefined, 'outside the service path');
    assert.equal(rewrite('http://api.internal:8080/items/1'), undefined);
    assert.equal(rewrite('https://idp.example.com/login?next=/v2'), undefined, 'another site');
    assert.equal(rewrite('http://other.internal:8080/v2/items/1'), undefined, 'another host');
    assert.equal(rewrite('https://api.internal:8080/v2/items/1'), undefined, 'another scheme');
    assert.equal(rewrite('/v2/items/1'), undefined, 'relative');
  });

  it('ports: another port does not match; a default port matches written or left out', () => {
    const explicit = location(['http://api.internal:8080']);
    assert.equal(explicit('http://api.internal:8080/a'), `${GW}/svc/a`);
    assert.equal(explicit('http://api.internal:8081/a'), undefined);
    assert.equal(explicit('http://api.internal:80/a'), undefined);

    const implicit = location(['https://api.internal/base']);
    assert.equal(implicit('https://api.internal/base/a'), `${GW}/svc/a`);
    assert.equal(implicit('https://api.internal:443/base/a'), `${GW}/svc/a`);
    assert.equal(implicit('https://api.internal:8443/base/a'), undefined);

    const written = location(['http://api.internal:80/']);
    assert.equal(written('http://api.internal/a'), `${GW}/svc/a`);
    assert.equal(written('http://api.internal:80/a'), `${GW}/svc/a`);
  });

  it('characters special in templates are matched literally: * { } and a space (as sent on the wire)', () => {
    const rewrite = location(['http://api.internal:8080/a*/{id}/my files/100%']);
    const base = 'http://api.internal:8080/a*/%7Bid%7D/my%20files/100%25';
    assert.equal(rewrite(`${base}/x`), `${GW}/svc/x`);
    assert.equal(
      rewrite('http://api.internal:8080/abc/%7Bid%7D/my%20files/100%25/x'),
      undefined,
      '* is no wildcard',
    );
    assert.equal(
      rewrite('http://api.internal:8080/a*/7/my%20files/100%25/x'),
      undefined,
      '{id} is no parameter',
    );
    // Percent-escapes already in the service URL are kept as written.
    const encoded = location(['http://api.internal:8080/my%20files']);
    assert.equal(encoded('http://api.internal:8080/my%20files/x'), `${GW}/svc/x`);
  });

  it('scheme and host compare without regard to case; IPv6 hosts work', () => {
    const rewrite = location(['http://API.Internal:8080']);
    assert.equal(rewrite('HTTP://api.internal:8080/a'), `${GW}/svc/a`);
    const v6 = location(['http://[fd00::1]:8080/x']);
    assert.equal(v6('http://[fd00::1]:8080/x/a'), `${GW}/svc/a`);
    assert.equal(v6('http://[fd00::2]:8080/x/a'), undefined);
  });

  it('HA: the active (first) URL is the one matched', () => {
    const rewrite = location(['http://api1.internal:8080', 'http://api2.internal:8080']);
    assert.equal(rewrite('http://api1.internal:8080/a'), `${GW}/svc/a`);
    assert.equal(rewrite('http://api2.internal:8080/a'), undefined);
  });

  it('functions in any position: scheme, host, port, a path, a query value', () => {
    const services = { SVC: ['https://svc.internal/base path'], BARE: ['https://bare.internal'] };
    const { rules, sink } = compile(
      `
      <rule dir="OUT" name="scheme"><match pattern="{$serviceScheme[SVC]}://{host}:{port}/logs/{p=**}"/>
        <rewrite template="/logs/{host}/{p}"/></rule>
      <rule dir="OUT" name="host"><match pattern="{$serviceScheme[SVC]}://{$serviceHost[SVC]}:{$servicePort[SVC]}/{p=**}"/>
        <rewrite template="/host/{p}"/></rule>
      <rule dir="OUT" name="path"><match pattern="{$servicePath[SVC]}/{p=**}"/><rewrite template="/path/{p}"/></rule>
      <rule dir="OUT" name="bare"><match pattern="{$servicePath[BARE]}/{p=**}"/><rewrite template="/bare/{p}"/></rule>
      <rule dir="OUT" name="query"><match pattern="/q?host={$serviceHost[SVC]}&amp;{**}"/><rewrite template="/ok?{**}"/></rule>`,
      { env: withServices(services) },
    );
    assert.deepEqual(sink.items, []);
    const out = (rule: string, url: string) => rules.rewrite(url, { rule, dir: 'OUT', ctx: c });
    assert.equal(out('scheme', 'https://rs1:16030/logs/a/b'), '/logs/rs1/a/b');
    assert.equal(out('scheme', 'http://rs1:16030/logs/a/b'), undefined);
    assert.equal(out('host', 'https://svc.internal/x'), '/host/x');
    assert.equal(out('host', 'https://svc.internal:443/x'), '/host/x');
    assert.equal(out('host', 'https://svc.internal:8443/x'), undefined);
    assert.equal(out('host', 'https://evil.example/x'), undefined);
    assert.equal(out('path', '/base%20path/a/b'), '/path/a/b');
    assert.equal(out('path', '/elsewhere/a/b'), undefined);
    assert.equal(out('bare', '/a/b'), '/bare/a/b', 'an empty service path adds nothing');
    assert.equal(out('query', '/q?host=svc.internal&z=1'), '/ok?host=svc.internal&z=1');
    assert.equal(out('query', '/q?host=other&z=1'), undefined);
  });

  it('a rule pattern with a function takes part in best match', () => {
    const { rules, sink } = compile(
      `<rule dir="OUT" name="mine" pattern="{$serviceUrl[SVC]}/{p=**}"><rewrite template="/mine/{p}"/></rule>
       <rule dir="OUT" name="any" pattern="*://*:*/{p=**}"><rewrite template="/any/{p}"/></rule>`,
      { env: withServices({ SVC: ['http://svc.internal:8080/api'] }) },
    );
    assert.deepEqual(sink.items, []);
    assert.deepEqual(rules.apply('http://svc.internal:8080/api/x', { dir: 'OUT', ctx: c }), {
      status: 'rewritten',
      url: '/mine/x',
      rule: 'mine',
    });
    assert.equal(rules.rewrite('http://elsewhere:8080/api/x', { dir: 'OUT', ctx: c }), '/any/api/x');
  });

  it('$frontend parts fixed by gateway.frontend.url and $serviceMappedUrl (per dir) are topology functions', () => {
    const e = withServices(
      { NN: ['http://nn.internal:50070/webhdfs'] },
      { frontendUrl: 'https://lb.example.com/gateway' },
    );
    const { rules, sink } = compile(
      `<rule dir="IN" name="front"><match pattern="{$frontend[url]}/x/{p=**}"/><rewrite template="/x/{p}"/></rule>
       <rule dir="OUT" name="mapped"><match pattern="{$serviceMappedUrl[NN]}/{p=**}"/><rewrite template="/m/{p}"/></rule>`,
      { env: e },
    );
    assert.deepEqual(sink.items, []);
    assert.equal(
      rules.rewrite('https://lb.example.com/gateway/sandbox/x/a', { rule: 'front', dir: 'IN', ctx: c }),
      '/x/a',
    );
    // OUT: the hostmap's external name (fixtures map nn.internal to nn.example.com).
    assert.equal(
      rules.rewrite('http://nn.example.com:50070/webhdfs/a', { rule: 'mapped', dir: 'OUT', ctx: c }),
      '/m/a',
    );
    assert.equal(
      rules.rewrite('http://nn.internal:50070/webhdfs/a', { rule: 'mapped', dir: 'OUT', ctx: c }),
      undefined,
    );
  });

  it('a pattern without functions is left exactly as parsed', () => {
    const t = parseTemplate('*://*:*/**/svc/{path=**}?{**}');
    const expanded = expandPattern(t, { env: env(), functions: new Map(), dirs: ['IN'] });
    assert.ok('template' in expanded && expanded.template === t);
  });
});

describe('functions a pattern cannot use', () => {
  it('a request function in a match step: warning at the step, the rule fails, its neighbours work', () => {
    const { rules, sink } = compile(`
      <rule dir="OUT" name="user">
        <match pattern="/home/{$username}/{p=**}"/>
        <rewrite template="/u/{p}"/>
      </rule>
      <rule dir="OUT" name="ok"><match pattern="/home/{p=**}"/><rewrite template="/ok/{p}"/></rule>`);
    assert.deepEqual(messages(sink, 'error'), []);
    const [warning, ...rest] = sink.items;
    assert.deepEqual(rest, []);
    assert.equal(warning.severity, 'warning');
    assert.equal(warning.line, 3, 'the position of the match step');
    assert.match(warning.message, /^rule "user": match pattern: \$username depends on the request/);
    const outcome = rules.apply('/home/guest/a', { rule: 'user', dir: 'OUT', ctx: ctx('/', '', 'guest') });
    assert.equal(outcome.status, 'failed');
    assert.match((outcome as { reason: string }).reason, /\$username depends on the request/);
    assert.equal(rules.rewrite('/home/a', { rule: 'ok', dir: 'OUT', ctx: c }), '/ok/a');
  });

  it('$frontend[url] without gateway.frontend.url, $inboundurl out, $hostmap(var), unknown and missing roles', () => {
    const cases: [string, RegExp][] = [
      ['{$frontend[url]}/{p=**}', /\$frontend\[url\] depends on the request/],
      ['/a?h={$inboundurl[host]}', /\$inboundurl\[host\] depends on the request/],
      ['*://{$hostmap(host)}:*/{p=**}', /\$hostmap\(host\) in a pattern reads parameter "host"/],
      ['{$nosuch[X]}/{p=**}', /unknown function \$nosuch/],
      ['{$serviceUrl[NOSUCH]}/{p=**}', /\$serviceUrl\[NOSUCH\] has no value in topology "sandbox"/],
      ['{$serviceUrl[WEBHDFS,OOZIE]}/{p=**}', /gives 2 values, and a pattern needs exactly one/],
      [
        '/x/{$serviceUrl[WEBHDFS]}/{p=**}',
        /gives a URL \("http:\/\/nn.internal:50070\/webhdfs"\), which can only start/,
      ],
    ];
    for (const [pattern, reason] of cases) {
      const { rules, sink } = compile(
        `<rule dir="OUT" name="r"><match pattern="${pattern}"/><rewrite template="/x"/></rule>`,
      );
      assert.equal(sink.items.length, 1, pattern);
      assert.equal(sink.items[0].severity, 'warning', pattern);
      assert.match(sink.items[0].message, reason, pattern);
      assert.equal(rules.hasRule('r'), true);
      assert.equal(
        rules.apply('http://nn.internal:50070/webhdfs/a', { rule: 'r', dir: 'OUT', ctx: c }).status,
        'failed',
      );
    }
  });

  it('a rule pattern that cannot be expanded is left out of best match', () => {
    const { rules, sink } = compile(
      `<rule dir="OUT" name="broken" pattern="{$serviceUrl[NOSUCH]}/{p=**}"><rewrite template="/b/{p}"/></rule>
       <rule dir="OUT" name="any" pattern="*://*:*/{p=**}"><rewrite template="/any/{p}"/></rule>`,
    );
    assert.equal(sink.items.length, 1);
    assert.equal(sink.items[0].line, 1);
    assert.equal(rules.rewrite('http://h:1/a', { dir: 'OUT', ctx: c }), '/any/a');
    assert.equal(rules.apply('http://h:1/a', { rule: 'broken', dir: 'OUT', ctx: c }).status, 'failed');
  });

  it('a direction-dependent value in a rule without dir: warning, give the rule a dir', () => {
    const { rules, sink } = compile(
      `<rule name="r"><match pattern="{$serviceMappedUrl[WEBHDFS]}/{p=**}"/><rewrite template="/x/{p}"/></rule>`,
      { env: withServices({ WEBHDFS: ['http://nn.internal:50070/webhdfs'] }) },
    );
    assert.equal(sink.items.length, 1);
    assert.match(
      sink.items[0].message,
      /gives "http:\/\/nn.internal:50070\/webhdfs" for requests but "http:\/\/nn.example.com:50070\/webhdfs" for responses; give the rule a dir/,
    );
    assert.equal(
      rules.apply('http://nn.internal:50070/webhdfs/a', { rule: 'r', dir: 'IN', ctx: c }).status,
      'failed',
    );
  });

  it('a value that is no scheme, host or port for the place it stands in', () => {
    const { sink } = compile(
      `<rule dir="OUT" name="r"><match pattern="{$serviceUrl[WEBHDFS]}://{host}/{p=**}"/><rewrite template="/x"/></rule>`,
    );
    assert.match(sink.items[0].message, /gives "http:\/\/nn.internal:50070\/webhdfs", which is not a scheme/);
  });
});
