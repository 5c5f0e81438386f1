/**
 * Knox's expression language (plang) for `expression.principal.mapping` and `group.mapping.{group}`: the
 * language on its own (the documented examples, errors found at deployment, errors at evaluation), then both
 * params end to end.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  compileExpression,
  ExpressionError,
  type Scope,
  type Value,
} from '../../../src/providers/identity-assertion/expression.ts';
import { actorGroups, type IdentityGateway, startIdentityGateway, topology } from './fixture.ts';

const req = { headers: { 'user-agent': 'curl/8', 'x-team': 'blue' } } as unknown as IncomingMessage;

function run(text: string, username = 'sam', groups: string[] = ['analyst', 'scientist']): Value {
  const scope: Scope = { username, groups, req };
  return compileExpression(text).evaluate(scope);
}

describe('expression language', () => {
  it("evaluates Knox's documented examples", () => {
    assert.equal(run("'bob'"), 'bob');
    assert.equal(run("(if (or (= username 'sam') (= username 'tom')) 'bob')"), 'bob');
    assert.equal(run("(if (or (= username 'sam') (= username 'tom')) 'bob')", 'ann'), null);
    const branch = "(if (< (strlen username) 5) (concat username '_suffix') (concat 'prefix_' username))";
    assert.equal(run(branch, 'admin'), 'prefix_admin');
    assert.equal(run(branch, 'sam'), 'sam_suffix');
    assert.equal(
      run('(concat (uppercase (substr username 0 1)) (lowercase (substr username 1)))', 'jOHN'),
      'John',
    );
    assert.equal(
      run(
        "(regex-template username '(.*)@(.*?)\\..*' '{1}_{[2]}' (hash 'us' 'USA' 'ca' 'CANADA') true)",
        'nobody@us.imaginary.tld',
      ),
      'nobody_USA',
    );
    assert.equal(
      run("(regex-template username '(.*)@(.*?)\\..*' '{1}_{[2]}' (hash 'us' 'USA') true)", 'x@uk.y.z'),
      'x_uk',
    );
    assert.equal(run("(regex-template username '(.*)@(.*)' '{1}')", 'plain'), null);
  });

  it('evaluates the predicates of the group-mapping documentation', () => {
    assert.equal(run("(or (username 'guest') (member 'analyst'))"), true);
    assert.equal(run("(or (username 'guest') (member 'analyst'))", 'sam', []), false);
    assert.equal(
      run("(or (and (member 'admin') (member 'scientist')) (or (username 'tom') (username 'sam')))"),
      true,
    );
    assert.equal(run('(!= (size groups) 0)'), true);
    assert.equal(run('(not (empty groups))', 'x', []), false);
    assert.equal(run("(match groups '.*')", 'x', []), false);
    assert.equal(run("(match username 'tom|sam')"), true);
    assert.equal(run("(match username 'sa')"), false, 'match is a whole-string match');
    assert.equal(run("(match groups 'analyst|scientist')"), true);
    assert.equal(run("(= (lowercase username) 'bob')", 'BoB'), true);
    assert.equal(run("(= (request-header 'X-Team') 'blue')"), true);
    assert.equal(run("(request-header 'X-Missing')"), '');
    assert.equal(run('(and true (not false))'), true);
    assert.equal(run('(= 2 2.0)'), true);
    assert.equal(run('(>= (strlen username) 3)'), true);
    assert.equal(run('(substr username 5 99)'), '');
  });

  it('short-circuits or, and and if', () => {
    // The unevaluated branch would be a type error.
    assert.equal(run("(or true (not 'x'))"), true);
    assert.equal(run("(and false (not 'x'))"), false);
    assert.equal(run("(if true 'a' (not 'x'))"), 'a');
  });

  it('finds syntax, name, arity and regex errors before any request', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ["(concat 'a'", /missing closing/],
      ["(concat 'a'))", /unexpected "\)"/],
      ["'open", /unterminated string/],
      ['()', /empty list/],
      ["('or' true)", /function name/],
      ['(frobnicate 1)', /unknown function "frobnicate"/],
      ['(= nobody 1)', /unknown symbol "nobody"/],
      ['(not true false)', /"not" takes 1 argument/],
      ['(if true)', /"if" takes 2 to 3/],
      ["(hash 'a')", /even number/],
      ["(match username '(')", /not a valid regular expression/],
      ["(regex-template username '(a)' '{2}')", /group 2/],
      ["(request-attribute 'x')", /not supported: postern has no servlet request attributes/],
      ["(session 'x')", /not supported/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => compileExpression(text),
        (err: Error) => err instanceof ExpressionError && message.test(err.message),
        text,
      );
    }
  });

  it('reports type errors when evaluating', () => {
    assert.throws(() => run("(not 'x')"), /not: expected a boolean, got string/);
    assert.throws(() => run('(member groups)'), /member: expected a string, got list/);
    assert.throws(() => run("(size 'abc')"), /size: expected a list/);
  });
});

describe('expression.principal.mapping and group.mapping end to end', () => {
  let gw: IdentityGateway;

  before(async () => {
    const ia = (params: Record<string, string>) => ({ role: 'identity-assertion', name: 'Default', params });
    gw = await startIdentityGateway({
      expr: (b) =>
        topology(b, [
          ia({
            'principal.mapping': 'sam=samuel',
            'expression.principal.mapping': "(if (member 'ops') (concat username '_ops'))",
            'group.mapping.admin': "(or (username 'samuel_ops') (member 'analyst'))",
            'group.mapping.blue-team': "(= (request-header 'X-Team') 'blue')",
            'group.mapping.never': '(empty groups)',
          }),
        ]),
      advanced: (b) => topology(b, [ia({ 'advanced.principal.mapping': '(uppercase username)' })]),
      broken: (b) =>
        topology(b, [ia({ 'expression.principal.mapping': "(if (member 'ops') (not username))" })]),
    });
  });

  after(async () => {
    await gw?.close();
  });

  it('maps the name after principal.mapping; a non-string result keeps the name', async () => {
    assert.equal(
      (await gw.get('expr', '/p', 'sam', { groups: ['ops'] })).query.get('user.name'),
      'samuel_ops',
    );
    assert.equal((await gw.get('expr', '/p', 'sam', { groups: ['dev'] })).query.get('user.name'), 'samuel');
    assert.equal((await gw.get('advanced', '/p', 'sam')).query.get('user.name'), 'SAM');
  });

  it('adds the groups whose predicate holds, seeing the mapped name and the request', async () => {
    const mapped = await gw.get('expr', '/p', 'sam', { groups: ['ops'] });
    assert.deepEqual(actorGroups(mapped.headers), ['ops', 'admin']);
    const analyst = await gw.get('expr', '/p', 'ann', { groups: ['analyst'], headers: { 'x-team': 'blue' } });
    assert.deepEqual(actorGroups(analyst.headers), ['analyst', 'admin', 'blue-team']);
    const none = await gw.get('expr', '/p', 'ann', { groups: ['dev'], headers: { 'x-team': 'red' } });
    assert.deepEqual(actorGroups(none.headers), ['dev']);
  });

  it('an expression failing on a request is a 500 that names nothing of it, and nothing is forwarded', async () => {
    const seen = gw.backend.requests.length;
    const echo = await gw.get('broken', '/p', 'sam', { groups: ['ops'] });
    assert.equal(echo.status, 500);
    assert.equal(echo.code, 'POSTERN_ERR_INTERNAL');
    assert.equal(gw.backend.requests.length, seen);
    assert.equal((await gw.get('broken', '/p', 'sam')).query.get('user.name'), 'sam');
  });
});
