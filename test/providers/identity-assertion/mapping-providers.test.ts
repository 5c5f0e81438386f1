/**
 * Knox's mapping identity assertions end to end: Concat (`concat.prefix`, `concat.suffix`), SwitchCase
 * (`principal.case`, `group.principal.case`), Regex (`input`, `output` with `{n}` and `{[n]}`, `lookup`,
 * `use.original.on.lookup.failure`), each on the common base (impersonation scrubbing, principal.mapping first).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileRegexTemplate, parseLookup } from '../../../src/providers/identity-assertion/template.ts';
import { actorGroups, type IdentityGateway, startIdentityGateway, topology } from './fixture.ts';

describe('Concat, SwitchCase and Regex', () => {
  let gw: IdentityGateway;

  before(async () => {
    const ia = (name: string, params?: Record<string, string>) => ({
      role: 'identity-assertion',
      name,
      params,
    });
    gw = await startIdentityGateway({
      concat: (b) =>
        topology(b, [
          ia('Concat', {
            'concat.prefix': 'ten1_',
            'concat.suffix': '_domain1',
            'principal.mapping': 'guest=hdfs',
          }),
        ]),
      suffix: (b) => topology(b, [ia('Concat', { 'concat.suffix': '@EXAMPLE' })]),
      lower: (b) => topology(b, [ia('SwitchCase')]),
      upper: (b) =>
        topology(b, [ia('SwitchCase', { 'principal.case': 'UPPER', 'group.principal.case': 'lower' })]),
      keep: (b) => topology(b, [ia('SwitchCase', { 'principal.case': 'none' })]),
      groupsonly: (b) =>
        topology(b, [
          ia('SwitchCase', {
            'principal.case': 'none',
            'group.principal.case': 'upper',
            'group.principal.mapping': '*=mixedCase',
          }),
        ]),
      regex: (b) =>
        topology(b, [
          ia('Regex', { input: '(.*)@(.*?)\\..*', output: '{1}_{[2]}', lookup: 'us=USA; ca = CANADA' }),
        ]),
      original: (b) =>
        topology(b, [
          ia('Regex', {
            input: '(.*)@(.*?)\\..*',
            output: '{1}_{[2]}',
            lookup: 'us=USA',
            'use.original.on.lookup.failure': 'true',
          }),
        ]),
      direct: (b) => topology(b, [ia('Regex', { input: '^([^@]+)@(.+)$', output: '{2}-{1}' })]),
    });
  });

  after(async () => {
    await gw?.close();
  });

  it('Concat adds the prefix and suffix after principal.mapping', async () => {
    assert.equal((await gw.get('concat', '/p?user.name=x', 'alice')).url, '/p?user.name=ten1_alice_domain1');
    assert.equal((await gw.get('concat', '/p', 'guest')).query.get('user.name'), 'ten1_hdfs_domain1');
    assert.equal((await gw.get('suffix', '/p', 'alice')).query.get('user.name'), 'alice@EXAMPLE');
  });

  it('SwitchCase lowers the user and the groups by default', async () => {
    const echo = await gw.get('lower', '/p?DoAs=x', 'Member@US.Apache.org', { groups: ['Admin', 'user'] });
    assert.equal(echo.url, '/p?user.name=member%40us.apache.org');
    assert.deepEqual(actorGroups(echo.headers), ['admin', 'user']);
  });

  it('SwitchCase with principal.case and group.principal.case', async () => {
    const upper = await gw.get('upper', '/p', 'Member', { groups: ['Admin'] });
    assert.equal(upper.query.get('user.name'), 'MEMBER');
    assert.deepEqual(actorGroups(upper.headers), ['admin']);
    // group.principal.case follows principal.case when absent.
    const keep = await gw.get('keep', '/p', 'MiXed', { groups: ['GrOuP'] });
    assert.equal(keep.query.get('user.name'), 'MiXed');
    assert.deepEqual(actorGroups(keep.headers), ['GrOuP']);
    // Mapped groups are added after the switch, as they are written.
    const groups = await gw.get('groupsonly', '/p', 'MiXed', { groups: ['GrOuP'] });
    assert.equal(groups.query.get('user.name'), 'MiXed');
    assert.deepEqual(actorGroups(groups.headers), ['GROUP', 'mixedCase']);
  });

  it('Regex turns nobody@us.imaginary.tld into nobody_USA through the lookup table', async () => {
    assert.equal(
      (await gw.get('regex', '/p', 'nobody@us.imaginary.tld')).query.get('user.name'),
      'nobody_USA',
    );
    // Lookup keys compare case-insensitively, and are trimmed.
    assert.equal(
      (await gw.get('regex', '/p', 'member@CA.imaginary.tld')).query.get('user.name'),
      'member_CANADA',
    );
    // A failed lookup gives '' by default, the group text with use.original.on.lookup.failure.
    assert.equal((await gw.get('regex', '/p', 'nobody@uk.imaginary.tld')).query.get('user.name'), 'nobody_');
    assert.equal(
      (await gw.get('original', '/p', 'nobody@uk.imaginary.tld')).query.get('user.name'),
      'nobody_uk',
    );
    assert.equal(
      (await gw.get('original', '/p', 'nobody@us.imaginary.tld')).query.get('user.name'),
      'nobody_USA',
    );
    assert.equal((await gw.get('direct', '/p', 'jdoe@corp')).query.get('user.name'), 'corp-jdoe');
  });

  it('Regex refuses a user its input does not match (403)', async () => {
    const seen = gw.backend.requests.length;
    const before = gw.audit.length;
    const echo = await gw.get('regex', '/p', 'no-at-sign');
    assert.equal(echo.status, 403);
    assert.equal(gw.backend.requests.length, seen);
    const event = gw.audit.slice(before).find((e) => e.action === 'identity-assertion')!;
    assert.equal(event.outcome, 'denied');
    assert.equal(event.user, 'no-at-sign');
  });

  it('the template expands each placeholder once and checks its groups at compile time', () => {
    const t = compileRegexTemplate('(.*)@(.*)', '{1}:{2}:{[2]}', parseLookup('x=Y'), false);
    assert.equal(t.groupCount, 2);
    assert.equal(t.apply('{2}@x'), '{2}:x:Y');
    assert.equal(t.apply('none'), undefined);
    assert.throws(() => compileRegexTemplate('(a)', '{2}', new Map(), false), /group 2/);
    assert.throws(
      () => compileRegexTemplate('(a', '{1}', new Map(), false),
      /not a valid regular expression/,
    );
    assert.throws(() => compileRegexTemplate('(a)', '{[1}', new Map(), false), /neither/);
    assert.throws(() => parseLookup('us=USA;broken'), /broken/);
  });
});
