/**
 * Dispatch params read through the param reader, as `postern check` compiles a home: a bad value is reported at
 * the `<param>` that holds it — in the service, in the topology's `<dispatch>` override or in the service
 * definition's dispatch — as an error where Knox fails (WebSocket limits, actor headers, replayBufferSize) and as
 * a warning with the gateway-wide value where Knox ignores it (the `httpclient.*` params, `useTwoWaySsl`).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { checkHome } from '../../src/cli/check.ts';
import { type Diagnostic, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';

const URL = 'http://127.0.0.1:1';

describe('dispatch params', () => {
  const homes: TestHome[] = [];
  after(() => {
    for (const h of homes) h.remove();
  });

  /** Checks a home with these topologies (name → XML); returns its diagnostics as `file:line: severity message`. */
  async function check(topologies: Record<string, string>, setup?: (home: TestHome) => void) {
    const home = makeHome();
    homes.push(home);
    const files = new Map<string, string>();
    for (const [name, xml] of Object.entries(topologies)) {
      files.set(name, home.write(`conf/topologies/${name}.xml`, xml));
    }
    setup?.(home);
    const diagnostics = await checkHome(home.dir);
    return { home, files, diagnostics };
  }

  /** The 1-based line of `file` holding `text`. */
  const lineOf = (file: string, text: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .findIndex((l) => l.includes(text)) + 1;

  const shown = (d: Diagnostic) => `${d.file}:${d.line}: ${d.severity} ${d.message}`;

  it('warns at the service <param> about an httpclient value Knox would ignore, and keeps the gateway-wide one', async () => {
    const { files, diagnostics } = await check({
      t: topologyXml({
        services: [
          {
            role: 'HTTP',
            urls: [URL],
            params: {
              'httpclient.maxConnections': 'lots',
              'httpclient.socketTimeout': 'soon',
              'httpclient.connectionTimeout': '5s',
              useTwoWaySsl: 'yes',
            },
          },
        ],
      }),
    });
    const file = files.get('t')!;
    assert.deepEqual(diagnostics.map(shown).sort(), [
      `${file}:${lineOf(file, 'lots')}: warning service HTTP param httpclient.maxConnections: expected an integer of at least 1, found "lots"; using 32`,
      `${file}:${lineOf(file, 'soon')}: warning service HTTP param httpclient.socketTimeout: expected a duration (milliseconds, or with an m/s suffix such as 20s), found "soon"; using 20000`,
      `${file}:${lineOf(file, '>yes<')}: warning service HTTP param useTwoWaySsl: expected true or false, found "yes"; using false`,
    ]);
  });

  it('refuses a WebSocket limit or actor-header param it cannot read, at the <param>', async () => {
    const { files, diagnostics } = await check({
      ws: topologyXml({
        services: [
          {
            role: 'HTTP',
            urls: [URL],
            params: {
              'gateway.websocket.max.text.size': 'big',
              'postern.websocket.permessage-deflate': 'nope',
              'postern.websocket.handshake.timeout': '0',
              'gateway.websocket.idle.timeout': '60000',
            },
          },
        ],
      }),
      actor: topologyXml({ services: [{ role: 'HTTP', urls: [URL] }] }).replace(
        '</service>',
        `  <dispatch>
      <classname>org.apache.knox.gateway.dispatch.ConfigurableDispatch</classname>
      <param><name>shouldIncludePrincipalAndGroups</name><value>yes please</value></param>
      <param><name>actorIdHeaderName</name><value>X Actor</value></param>
    </dispatch>
  </service>`,
      ),
    });
    const ws = files.get('ws')!;
    const actor = files.get('actor')!;
    assert.deepEqual(diagnostics.map(shown), [
      `${actor}:${lineOf(actor, 'yes please')}: error service HTTP param shouldIncludePrincipalAndGroups: expected true or false, found "yes please"`,
      `${actor}:${lineOf(actor, 'X Actor')}: error service HTTP param actorIdHeaderName: "X Actor" is not a header name`,
      `${ws}:${lineOf(ws, 'big')}: error service HTTP param gateway.websocket.max.text.size: expected an integer from 1 to 2147483647, found "big"`,
      `${ws}:${lineOf(ws, 'nope')}: error service HTTP param postern.websocket.permessage-deflate: expected true or false, found "nope"`,
      `${ws}:${lineOf(ws, 'handshake.timeout')}: error service HTTP param postern.websocket.handshake.timeout: expected a duration above 0 (milliseconds, or with an m/s suffix such as 20s), found "0"`,
    ]);
  });

  it("reports a param of the service definition's dispatch in service.xml", async () => {
    const { home, diagnostics } = await check(
      { mine: topologyXml({ services: [{ role: 'MINE', urls: [URL] }] }) },
      (h) => {
        h.write(
          'data/services/mine/1.0.0/service.xml',
          `<service role="MINE" name="mine" version="1.0.0">
  <routes>
    <route path="/mine/**"/>
  </routes>
  <dispatch classname="org.apache.knox.gateway.dispatch.ConfigurableDispatch">
    <param><name>httpclient.connectionTimeout</name><value>a while</value></param>
  </dispatch>
</service>
`,
        );
      },
    );
    const file = `${home.dir}/data/services/mine/1.0.0/service.xml`;
    assert.deepEqual(diagnostics.map(formatDiagnostic), [
      `${file}:6:5: warning: service MINE param httpclient.connectionTimeout: expected a duration (milliseconds, or with an m/s suffix such as 20s), found "a while"; using 20000`,
    ]);
  });

  it('refuses a replayBufferSize that is not a size in KB on an HA service', async () => {
    const { files, diagnostics } = await check({
      ha: topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'ha', name: 'HaProvider', params: { HTTP: 'enabled=true' } },
        ],
        services: [{ role: 'HTTP', urls: [URL, 'http://127.0.0.1:2'], params: { replayBufferSize: '8k' } }],
      }),
    });
    const file = files.get('ha')!;
    assert.deepEqual(diagnostics.map(shown), [
      `${file}:${lineOf(file, 'replayBufferSize')}: error service HTTP param replayBufferSize: expected a size in KB, found "8k"`,
    ]);
  });
});
