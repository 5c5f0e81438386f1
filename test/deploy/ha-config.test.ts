/**
 * HaProvider configuration at deployment: Knox's `ROLE = key=value;...` grammar and postern's health keys, every
 * unknown key or bad value an error at the `<param>` that holds it; service-level overrides (`haEnabled`,
 * Knox's key names); `enabled=auto`; and which dispatch a route gets with HA on (Knox's `ha-classname`s, the
 * default HA dispatch, a plain `ha-classname` meaning no failover).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Diagnostic, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { type CompileResult, compileDeployment } from '../../src/deploy/compile.ts';
import { type LoadedHome, loadHome } from '../../src/gateway/gateway.ts';
import { readTopologyFile } from '../../src/topology/load.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

const MASTER = new Uint8Array(32).fill(7);
const URLS = ['http://127.0.0.1:1', 'http://127.0.0.1:2'];

describe('HaProvider configuration', () => {
  let home: TestHome;
  let loaded: LoadedHome;
  let count = 0;
  const retired: Promise<void>[] = [];

  before(async () => {
    home = makeHome({ 'postern.services.dirs': KNOX_SERVICES });
    loaded = await loadHome(home.dir);
  });

  after(async () => {
    await Promise.all(retired);
    home?.remove();
  });

  /** Compiles `xml`; returns the result, the file's lines and the dispatch of each route (by path). */
  function compile(xml: string): CompileResult & { lines: string[]; dispatch: Map<string, string> } {
    const file = home.write(`conf/topologies/t${count++}.xml`, xml);
    const read = readTopologyFile(file);
    assert.ok(read.topology, read.diagnostics.map(formatDiagnostic).join('\n'));
    const { catalog, settings, registry } = loaded;
    const result = compileDeployment({
      topology: read.topology,
      catalog,
      settings,
      registry,
      masterSecret: MASTER,
    });
    if (result.deployment) retired.push(result.deployment.retire());
    const dispatch = new Map(
      (result.deployment?.routes ?? []).map((r) => [r.path, r.chain.at(-1)!.replace(/^dispatch\//, '')]),
    );
    return { ...result, lines: xml.split('\n'), dispatch };
  }

  function ha(value: string, service: Record<string, string> = {}, urls = URLS, role = 'HTTP') {
    return topologyXml({
      providers: [
        { role: 'authentication', name: 'Anonymous' },
        { role: 'ha', name: 'HaProvider', params: { [role]: value } },
      ],
      services: [{ role: 'HTTP', urls, params: service }],
    });
  }

  /** The 1-based line of the first line of `lines` containing `text`. */
  const lineOf = (lines: string[], text: string) => lines.findIndex((l) => l.includes(text)) + 1;
  const errors = (r: CompileResult) => r.diagnostics.filter((d) => d.severity === 'error');
  const at = (d: Diagnostic) => `${d.line}: ${d.message}`;

  it('turns HA on for a role its param names: the route gets the HA dispatch', () => {
    const r = compile(ha('maxFailoverAttempts=5;failoverSleep=200;enableLoadBalancing=true'));
    assert.deepEqual(errors(r), []);
    assert.equal(r.dispatch.get('/http/**'), 'ha');
  });

  for (const [value, message] of [
    ['enabled=true;maxFailoverAttempt=3', 'unknown HA key "maxFailoverAttempt"'],
    ['enabled=maybe', 'enabled: expected true, false or auto, found "maybe"'],
    ['maxFailoverAttempts=-1', 'maxFailoverAttempts: expected a non-negative integer, found "-1"'],
    ['failoverSleep=soon', 'failoverSleep: expected milliseconds (or a duration such as 5s), found "soon"'],
    ['enableLoadBalancing=yes', 'enableLoadBalancing: expected true or false, found "yes"'],
    ['stickySessionCookieName=a b', 'stickySessionCookieName: expected a cookie name'],
    ['healthCheckPath=health', 'healthCheckPath: expected a path starting with /, found "health"'],
    ['healthCheckInterval=0', 'healthCheckInterval: expected a duration above 0, found "0"'],
    ['enabled=true;noFallback', '"noFallback" is not a key=value pair'],
  ]) {
    it(`refuses ${value} at its <param>`, () => {
      const r = compile(ha(value));
      const e = errors(r);
      assert.equal(e.length, 1, e.map(at).join('\n'));
      assert.equal(e[0].line, lineOf(r.lines, '<name>HTTP</name>'));
      assert.ok(e[0].message.startsWith('HaProvider param HTTP: '), e[0].message);
      assert.ok(e[0].message.includes(message), e[0].message);
      assert.equal(r.deployment, undefined);
    });
  }

  it('reads service-level overrides (haEnabled and Knox key names) and refuses bad ones at their line', () => {
    const off = compile(ha('enabled=true', { haEnabled: 'false' }));
    assert.deepEqual(errors(off), []);
    assert.equal(off.dispatch.get('/http/**'), 'configurable');

    const on = compile(ha('enabled=false', { haEnabled: 'true', maxFailoverAttempts: '1' }));
    assert.deepEqual(errors(on), []);
    assert.equal(on.dispatch.get('/http/**'), 'ha');

    const bad = compile(ha('enabled=true', { failoverSleep: 'later' }));
    assert.deepEqual(errors(bad).map(at), [
      `${lineOf(bad.lines, '<name>failoverSleep</name>')}: service HTTP param failoverSleep: failoverSleep: expected milliseconds (or a duration such as 5s), found "later"`,
    ]);
  });

  it('refuses a replayBufferSize that is not a size in KB', () => {
    const r = compile(ha('enabled=true', { replayBufferSize: 'lots' }));
    assert.deepEqual(errors(r).map(at), [
      `${lineOf(r.lines, '<name>replayBufferSize</name>')}: service HTTP param replayBufferSize: expected a size in KB, found "lots"`,
    ]);
  });

  it('enabled=auto is on only for a service with more than one URL', () => {
    assert.equal(compile(ha('enabled=auto')).dispatch.get('/http/**'), 'ha');
    assert.equal(compile(ha('enabled=auto', {}, [URLS[0]])).dispatch.get('/http/**'), 'configurable');
  });

  it('without an HaProvider, service HA params do nothing', () => {
    const r = compile(
      topologyXml({ services: [{ role: 'HTTP', urls: URLS, params: { haEnabled: 'true' } }] }),
    );
    assert.deepEqual(errors(r), []);
    assert.equal(r.dispatch.get('/http/**'), 'configurable');
  });

  it('warns about a role the topology has no service of, and about ZooKeeper keys', () => {
    const r = compile(ha('enabled=true', {}, URLS, 'WEBHDFS'));
    assert.deepEqual(errors(r), []);
    assert.ok(
      r.diagnostics.some(
        (d) => d.message === 'HaProvider param WEBHDFS: the topology has no service of that role',
      ),
    );
    const zk = compile(ha('enabled=true;zookeeperEnsemble=zk1:2181'));
    assert.deepEqual(errors(zk), []);
    assert.ok(
      zk.diagnostics.some((d) => d.severity === 'warning' && /zookeeperEnsemble is ignored/.test(d.message)),
    );
    assert.equal(zk.dispatch.get('/http/**'), 'ha');
  });

  it("maps Knox's ha-classnames; a plain ha-classname means no failover on that route", () => {
    const webhdfs = compile(
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'ha', name: 'HaProvider', params: { WEBHDFS: 'enabled=true' } },
        ],
        services: [{ role: 'WEBHDFS', version: '3.0.0', urls: URLS.map((u) => `${u}/webhdfs`) }],
      }),
    );
    assert.deepEqual(errors(webhdfs), []);
    // postern's WEBHDFS: WebHdfsHaDispatch on the namenode routes, DefaultDispatch on the datanode route.
    assert.equal(webhdfs.dispatch.get('/webhdfs/v1/**?**'), 'webhdfs-ha');
    assert.equal(webhdfs.dispatch.get('/webhdfs/data/v1/**?**'), 'default');

    const ranger = compile(
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'ha', name: 'HaProvider', params: { RANGER: 'enabled=true' } },
        ],
        services: [{ role: 'RANGER', version: '2.3.0', urls: URLS }],
      }),
    );
    assert.deepEqual(errors(ranger), []);
    // Knox's ConfigurableHADispatch.
    assert.ok(
      [...ranger.dispatch.values()].every((d) => d === 'ha'),
      [...ranger.dispatch.values()].join(),
    );

    // Knox's NiFiHaDispatch (dispatch/knox/nifi); the definition's use-two-way-ssl needs the gateway's
    // certificate, which this home may lack: that is the only error allowed.
    const nifi = compile(
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'ha', name: 'HaProvider', params: { NIFI: 'enabled=true' } },
        ],
        services: [{ role: 'NIFI', version: '1.4.0', urls: URLS }],
      }),
    );
    assert.deepEqual(
      errors(nifi).filter((d) => !/use-two-way-ssl/.test(d.message)),
      [],
    );
    if (errors(nifi).length === 0) assert.ok([...nifi.dispatch.values()].every((d) => d === 'nifi-ha'));
  });
});
