/**
 * ConfigurableDispatch's actor headers (KNOX-3023): `shouldIncludePrincipalAndGroups` adds `X-Knox-Actor-ID` and
 * `X-Knox-Actor-Groups-1..n` (values of at most 1000 characters), renamed by `actorIdHeaderName` and
 * `actorGroupsHeaderPrefix`, groups filtered by `groupFilterPattern`; PassAllHeadersDispatch inherits them,
 * DefaultDispatch does not. A client's own copies never reach a backend, whatever the dispatch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GROUP_HEADER_MAX_LENGTH, splitGroups } from '../../src/dispatch/actor-headers.ts';
import { forwardRequestHeaders } from '../../src/dispatch/headers.ts';
import {
  actorGroups,
  type IdentityGateway,
  startIdentityGateway,
  topology,
} from '../providers/identity-assertion/fixture.ts';

const SPOOF = {
  'X-Knox-Actor-ID': 'root',
  'X-Knox-Actor-Groups-1': 'admin',
  'X-Knox-Actor-Groups-9': 'admin',
  'x-knox-actor-groups': 'admin',
};

const dispatch = (className: string) => (text: string) =>
  text.replace(
    '</service>',
    `<dispatch><classname>org.apache.knox.gateway.dispatch.${className}</classname></dispatch></service>`,
  );

describe('actor headers', () => {
  let gw: IdentityGateway;

  before(async () => {
    const ia = [
      { role: 'identity-assertion', name: 'Default', params: { 'group.principal.mapping': 'alice=mapped' } },
    ];
    gw = await startIdentityGateway({
      on: (b) => topology(b, ia, { shouldIncludePrincipalAndGroups: 'true' }),
      off: (b) => topology(b, ia, {}),
      renamed: (b) =>
        topology(b, ia, {
          shouldIncludePrincipalAndGroups: 'true',
          actorIdHeaderName: 'X-Actor',
          actorGroupsHeaderPrefix: 'X-Actor-Groups',
          groupFilterPattern: 'team-.*|mapped',
        }),
      // Renamed but off: the renamed client copies are still dropped.
      renamedoff: (b) =>
        topology(b, ia, { actorIdHeaderName: 'X-Actor', actorGroupsHeaderPrefix: 'X-Actor-Groups' }),
      passall: (b) =>
        dispatch('PassAllHeadersDispatch')(topology(b, ia, { shouldIncludePrincipalAndGroups: 'true' })),
      passalloff: (b) => dispatch('PassAllHeadersDispatch')(topology(b, ia, {})),
      plain: (b) => dispatch('DefaultDispatch')(topology(b, ia, { shouldIncludePrincipalAndGroups: 'true' })),
      badpattern: (b) =>
        topology(b, ia, { shouldIncludePrincipalAndGroups: 'true', groupFilterPattern: '(' }),
      badflag: (b) => topology(b, ia, { shouldIncludePrincipalAndGroups: 'yes please' }),
      badname: (b) =>
        topology(b, ia, { shouldIncludePrincipalAndGroups: 'true', actorIdHeaderName: 'X Actor' }),
    });
  });

  after(async () => {
    await gw?.close();
  });

  it('splits groups into values of at most 1000 characters, in order', () => {
    const groups = Array.from({ length: 400 }, (_, i) => `group-${String(i).padStart(4, '0')}`);
    const values = splitGroups(groups);
    assert.ok(values.length > 1);
    for (const v of values) assert.ok(v.length <= GROUP_HEADER_MAX_LENGTH, `${v.length}`);
    assert.deepEqual(values.join(',').split(','), groups);
    // 91 ten-character names and 90 commas make exactly 1000; the 92nd goes to the next header.
    const ten = Array.from({ length: 92 }, (_, i) => `g${String(i).padStart(9, '0')}`);
    const full = splitGroups(ten);
    assert.deepEqual(
      full.map((v) => v.split(',').length),
      [91, 1],
    );
    assert.equal(full[0].length, 1000);
    const long = 'x'.repeat(1500);
    assert.deepEqual(splitGroups(['a', long, 'b']), ['a', long, 'b']);
    assert.deepEqual(splitGroups([]), []);
  });

  it('adds the authenticated user and the effective groups', async () => {
    const echo = await gw.get('on', '/p', 'alice', { groups: ['staff', 'dev'], headers: SPOOF });
    assert.equal(echo.status, 200);
    assert.equal(echo.headers['x-knox-actor-id'], 'alice');
    assert.equal(echo.headers['x-knox-actor-groups-1'], 'staff,dev,mapped');
    assert.equal(echo.headers['x-knox-actor-groups-9'], undefined);
    assert.equal(echo.headers['x-knox-actor-groups'], undefined);
  });

  it('spreads many groups over numbered headers', async () => {
    const groups = Array.from({ length: 300 }, (_, i) => `department-${i}`);
    const echo = await gw.get('on', '/p', 'bob', { groups });
    assert.ok(echo.headers['x-knox-actor-groups-3'] !== undefined);
    for (let i = 1; echo.headers[`x-knox-actor-groups-${i}`]; i++) {
      assert.ok(echo.headers[`x-knox-actor-groups-${i}`].length <= 1000);
    }
    assert.deepEqual(actorGroups(echo.headers), groups);
  });

  it('renamed headers with a group filter', async () => {
    const echo = await gw.get('renamed', '/p', 'alice', {
      groups: ['team-a', 'staff', 'team-b'],
      headers: { ...SPOOF, 'X-Actor': 'root', 'X-Actor-Groups-1': 'admin', 'X-Actor-Groups-5': 'admin' },
    });
    assert.equal(echo.headers['x-actor'], 'alice');
    assert.equal(echo.headers['x-actor-groups-1'], 'team-a,team-b,mapped');
    assert.equal(echo.headers['x-actor-groups-5'], undefined);
    for (const name of Object.keys(SPOOF)) assert.equal(echo.headers[name.toLowerCase()], undefined, name);
  });

  it('client copies never reach the backend, whether the headers are on or off and whatever the dispatch', async () => {
    for (const t of ['off', 'passalloff', 'plain', 'renamedoff']) {
      const echo = await gw.get(t, '/p', 'alice', {
        headers: { ...SPOOF, 'X-Actor': 'root', 'X-Actor-Groups-2': 'admin', 'X-Other': 'kept' },
      });
      assert.equal(echo.status, 200, t);
      assert.equal(echo.headers['x-other'], 'kept', t);
      for (const name of Object.keys(SPOOF)) {
        assert.equal(echo.headers[name.toLowerCase()], undefined, `${t} ${name}`);
      }
      // Only the topology that renamed them knows X-Actor and X-Actor-Groups-* as identity headers.
      const renamed = t === 'renamedoff';
      assert.equal(echo.headers['x-actor'], renamed ? undefined : 'root', t);
      assert.equal(echo.headers['x-actor-groups-2'], renamed ? undefined : 'admin', t);
    }
  });

  it('PassAllHeadersDispatch adds them (it is a ConfigurableDispatch); DefaultDispatch does not, with a warning', async () => {
    const pass = await gw.get('passall', '/p', 'alice', {
      headers: { ...SPOOF, Authorization: 'Basic eDp5' },
    });
    assert.equal(pass.headers['x-knox-actor-id'], 'alice');
    assert.equal(pass.headers['x-knox-actor-groups-1'], 'mapped');
    assert.equal(pass.headers.authorization, 'Basic eDp5');
    const plain = await gw.get('plain', '/p', 'alice');
    assert.equal(plain.headers['x-knox-actor-id'], undefined);
    const warnings = gw.gateway.status.get('plain')!.diagnostics.filter((d) => d.severity === 'warning');
    assert.ok(warnings.some((d) => /DefaultDispatch adds no actor headers/.test(d.message)));
  });

  it('unreadable params are deployment errors (of the service: it answers 503, the topology deploys)', () => {
    const error = (name: string) => {
      const status = gw.gateway.status.get(name)!;
      const failed = gw.gateway.server.deployments.get(name)?.failed ?? [];
      assert.equal(failed.length, 1, name);
      return status.diagnostics.find((d) => d.severity === 'error' && d.service !== undefined)!.message;
    };
    assert.match(error('badpattern'), /groupFilterPattern: "\(" is not a valid regular expression/);
    assert.match(
      error('badflag'),
      /shouldIncludePrincipalAndGroups: expected true or false, found "yes please"/,
    );
    assert.match(error('badname'), /actorIdHeaderName: "X Actor" is not a header name/);
  });

  it('the header filter every dispatch (and the WebSocket handshake) uses drops them', () => {
    const out = forwardRequestHeaders(
      [
        'X-Knox-Actor-ID',
        'root',
        'X-KNOX-ACTOR-GROUPS-1',
        'admin',
        'X-Custom-Groups-1',
        'a',
        'Accept',
        '*/*',
      ],
      {
        requestExclude: new Set(),
        requestExcludePrefixes: ['x-custom-groups'],
        requestAppend: [],
        responseExclude: new Set(),
        responseCookieBlock: 'none',
      },
    );
    assert.deepEqual({ ...out }, { accept: '*/*' });
  });
});
