/**
 * Identity-assertion params that cannot be used stop the topology's deployment with an error at the param's
 * line; params nobody reads, or that have no effect, are warnings. Nothing is silently ignored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConfigError, Diagnostic } from '../../../src/config/diagnostics.ts';
import { parseGatewaySite } from '../../../src/config/gateway-site.ts';
import { siteXml } from '../../helpers/home.ts';
import { type IdentityGateway, lineOf, startIdentityGateway, topology } from './fixture.ts';

type Params = Record<string, string>;

/** name → [provider, params, the param the error must point at (undefined: the provider), message]. */
const BROKEN: Record<string, [string, Params, string | undefined, RegExp]> = {
  'bad-mapping': [
    'Default',
    { 'principal.mapping': 'guest;a=b' },
    'principal.mapping',
    /"guest" is not names=names/,
  ],
  'two-names': ['Default', { 'principal.mapping': 'guest=a,b' }, 'principal.mapping', /more than one name/],
  'bad-groups': [
    'Default',
    { 'group.principal.mapping': '=admin' },
    'group.principal.mapping',
    /not names=names/,
  ],
  'bad-expression': [
    'Default',
    { 'expression.principal.mapping': '(frob username)' },
    'expression.principal.mapping',
    /unknown function "frob"/,
  ],
  'two-expressions': [
    'Default',
    { 'expression.principal.mapping': 'username', 'advanced.principal.mapping': 'username' },
    'advanced.principal.mapping',
    /not both/,
  ],
  'bad-group-mapping': [
    'Default',
    { 'group.mapping.admin': "(member 'x'" },
    'group.mapping.admin',
    /missing closing \)/,
  ],
  'unsupported-fn': [
    'Default',
    { 'group.mapping.admin': "(session 'x')" },
    'group.mapping.admin',
    /not supported/,
  ],
  'bad-flag': [
    'Default',
    { 'hadoop.proxyuser.impersonation.enabled': 'yes please' },
    'hadoop.proxyuser.impersonation.enabled',
    /expected true or false/,
  ],
  'host-name': [
    'Default',
    {
      'hadoop.proxyuser.impersonation.enabled': 'true',
      'hadoop.proxyuser.admin.users': '*',
      'hadoop.proxyuser.admin.hosts': 'knox.example.com',
    },
    'hadoop.proxyuser.admin.hosts',
    /"knox.example.com" is a host name/,
  ],
  'bad-cidr': [
    'Default',
    {
      'hadoop.proxyuser.impersonation.enabled': 'true',
      'hadoop.proxyuser.admin.users': '*',
      'hadoop.proxyuser.admin.hosts': '10.0.0.0/33',
    },
    'hadoop.proxyuser.admin.hosts',
    /not a valid CIDR/,
  ],
  'bad-proxyuser': [
    'Default',
    { 'hadoop.proxyuser.impersonation.enabled': 'true', 'hadoop.proxyuser.admin.colour': 'blue' },
    'hadoop.proxyuser.admin.colour',
    /not hadoop.proxyuser.\{user\}.users, .groups or .hosts/,
  ],
  proxygroup: [
    'Default',
    { 'hadoop.proxygroup.analysts.users': 'bob' },
    'hadoop.proxygroup.analysts.users',
    /not supported yet/,
  ],
  'bad-case': [
    'SwitchCase',
    { 'principal.case': 'title' },
    'principal.case',
    /expected lower, upper or none, found "title"/,
  ],
  'bad-group-case': [
    'SwitchCase',
    { 'group.principal.case': 'x' },
    'group.principal.case',
    /expected lower, upper or none/,
  ],
  'bad-regex': ['Regex', { input: '(.*@', output: '{1}' }, 'input', /not a valid regular expression/],
  'bad-output': [
    'Regex',
    { input: '(.*)@', output: '{1}_{[2]}' },
    'output',
    /uses group 2 but the regex .* has 1 group/,
  ],
  'no-input': ['Regex', { output: '{1}' }, undefined, /the input regex is required/],
  'bad-lookup': [
    'Regex',
    { input: '(.*)', output: '{[1]}', lookup: 'us=USA;ca' },
    'lookup',
    /"ca" is not name=value/,
  ],
  'bad-original': [
    'Regex',
    { input: '(.*)', output: '{1}', 'use.original.on.lookup.failure': 'sometimes' },
    'use.original.on.lookup.failure',
    /expected true or false/,
  ],
};

describe('identity-assertion deployment diagnostics', () => {
  let gw: IdentityGateway;
  const texts = new Map<string, string>();

  before(async () => {
    const topologies: Record<string, (b: string) => string> = {};
    for (const [name, [provider, params]] of Object.entries(BROKEN)) {
      topologies[name] = (b) => {
        const text = topology(b, [{ role: 'identity-assertion', name: provider, params }]);
        texts.set(name, text);
        return text;
      };
    }
    topologies.typo = (b) =>
      topology(b, [{ role: 'identity-assertion', name: 'Default', params: { 'principle.mapping': 'a=b' } }]);
    topologies.inert = (b) =>
      topology(b, [
        { role: 'identity-assertion', name: 'Default', params: { 'hadoop.proxyuser.admin.users': '*' } },
      ]);
    topologies.concat = (b) => topology(b, [{ role: 'identity-assertion', name: 'Concat' }]);
    topologies.nohosts = (b) =>
      topology(b, [
        {
          role: 'identity-assertion',
          name: 'Default',
          params: { 'hadoop.proxyuser.impersonation.enabled': 'true', 'hadoop.proxyuser.admin.users': '*' },
        },
      ]);
    gw = await startIdentityGateway(topologies);
  });

  after(async () => {
    await gw?.close();
  });

  const errors = (g: IdentityGateway, name: string): Diagnostic[] => {
    const status = g.gateway.status.get(name)!;
    assert.equal(status.deployed, false, `${name} must not deploy`);
    return status.diagnostics.filter((d) => d.severity === 'error');
  };

  for (const [name, [provider, , param, message]] of Object.entries(BROKEN)) {
    it(`${name}: ${provider} ${param ?? '(the provider)'} is an error at its line`, () => {
      const found = errors(gw, name);
      assert.equal(found.length, 1, JSON.stringify(found));
      const [d] = found;
      assert.match(d.message, message);
      assert.match(d.message, new RegExp(`identity-assertion/${provider}`));
      assert.ok(d.file.endsWith(`${name}.xml`), d.file);
      const text = texts.get(name)!;
      const expected = param
        ? lineOf(text, param)
        : text.split('\n').findIndex((l) => l.includes(`<name>${provider}</name>`)) - 1;
      // A param's position is its <param> element, the line before its <name>.
      if (param) assert.equal(d.line, expected - 1, d.message);
      else assert.ok(d.line >= expected && d.line <= expected + 1, `line ${d.line}, provider at ${expected}`);
    });
  }

  it('an unreadable gateway.hadoop.kerberos.secured is an error in gateway-site', () => {
    // A gateway-site setting (config/settings-table.ts): the gateway does not start with it.
    const site = siteXml({ 'gateway.hadoop.kerberos.secured': 'sometimes' });
    assert.throws(
      () => parseGatewaySite(site, '/home/conf/gateway-site.xml'),
      (err: ConfigError) => {
        const [d] = err.diagnostics;
        assert.match(d.message, /gateway.hadoop.kerberos.secured: expected true or false, found "sometimes"/);
        assert.equal(d.file, '/home/conf/gateway-site.xml');
        assert.equal(d.line, 3);
        return true;
      },
    );
  });

  it('an unknown param, proxyuser rules without the flag, an empty Concat and rules without hosts are warnings', async () => {
    const warning = (name: string) => {
      const status = gw.gateway.status.get(name)!;
      assert.equal(status.deployed, true, name);
      return status.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message);
    };
    assert.ok(warning('typo').some((m) => /principle.mapping: is not a parameter of this provider/.test(m)));
    assert.ok(
      warning('inert').some((m) => /no effect without hadoop.proxyuser.impersonation.enabled=true/.test(m)),
    );
    assert.ok(warning('concat').some((m) => /neither concat.prefix nor concat.suffix/.test(m)));
    assert.ok(warning('nohosts').some((m) => /hadoop.proxyuser.admin.hosts is not set/.test(m)));
    // They still serve: the unknown param is not applied.
    assert.equal((await gw.get('typo', '/p', 'a')).query.get('user.name'), 'a');
  });
});
