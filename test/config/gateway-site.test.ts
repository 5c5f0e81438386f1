import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { loadGatewaySite, parseGatewaySite } from '../../src/config/gateway-site.ts';

function site(properties: Record<string, string>): string {
  const body = Object.entries(properties)
    .map(
      ([name, value]) => `  <property>\n    <name>${name}</name>\n    <value>${value}</value>\n  </property>`,
    )
    .join('\n');
  return `<?xml version="1.0"?>\n<configuration>\n${body}\n</configuration>\n`;
}

function errorsOf(text: string): string[] {
  try {
    parseGatewaySite(text, 'gateway-site.xml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message.split('\n');
  }
  assert.fail('expected a ConfigError');
}

describe('loadGatewaySite', () => {
  it('gives Knox defaults without a file', () => {
    const s = loadGatewaySite(undefined);
    assert.equal(s.file, undefined);
    assert.equal(s.host, '0.0.0.0');
    assert.equal(s.port, 8888);
    assert.equal(s.path, 'gateway');
    assert.equal(s.ssl.enabled, true);
    assert.deepEqual(s.ssl.excludeProtocols, ['SSLv3']);
    assert.equal(s.ssl.keystoreType, 'JKS');
    assert.equal(s.ssl.keyAlias, 'gateway-identity');
    assert.equal(s.ssl.clientAuthNeeded, false);
    assert.deepEqual(s.httpclient, {
      maxConnections: 32,
      connectionTimeoutMs: 20000,
      socketTimeoutMs: 20000,
      truststorePath: undefined,
      truststoreType: 'JKS',
      truststorePasswordAlias: 'gateway-httpclient-truststore-password',
    });
    assert.equal(s.xforwardedEnabled, true);
    assert.equal(s.frontendUrl, undefined);
    assert.equal(s.remoteIpHeaderName, 'X-Forwarded-For');
    assert.equal(s.requestHeaderBufferBytes, 8192);
    assert.equal(s.requestBufferBytes, 16384);
    assert.equal(s.idleTimeoutMs, 300000);
    assert.equal(s.serverHeaderEnabled, false);
    assert.deepEqual(s.strictTransport, { enabled: false, option: 'max-age=31536000; includeSubDomains' });
    assert.equal(s.topologyRedeployRequiresChanges, false);
    assert.equal(s.websocketFeatureEnabled, false);
    assert.equal(s.websocket.maxTextMessageSize, 2147483647);
    assert.equal(s.websocket.maxWaitBufferCount, 100);
    assert.deepEqual(s.plugins, []);
    assert.equal(s.demoBackends, false);
    assert.deepEqual(s.serviceDefinitionDirs, []);
    assert.equal(s.raw.size, 0);
    assert.deepEqual(s.warnings, []);
  });

  it('gives defaults for a file that does not exist', () => {
    assert.equal(loadGatewaySite(join(tmpdir(), 'no-such-dir-postern', 'gateway-site.xml')).port, 8888);
  });

  it('reads a site file from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-site-'));
    const file = join(dir, 'gateway-site.xml');
    writeFileSync(file, site({ 'gateway.port': '8443', 'gateway.path': '/knox/' }));
    const s = loadGatewaySite(file);
    assert.equal(s.file, file);
    assert.equal(s.port, 8443);
    assert.equal(s.path, 'knox');
  });

  it('reads typed values, lists, durations and postern settings', () => {
    const s = parseGatewaySite(
      site({
        'gateway.port': '8443',
        'ssl.enabled': 'FALSE',
        'gateway.tls.certificate.path': 'conf/cert.pem',
        'gateway.tls.key.path': 'conf/key.pem',
        'ssl.include.protocols': 'TLSv1.2|TLSv1.3',
        'gateway.httpclient.connectionTimeout': '5m',
        'gateway.httpclient.socketTimeout': '1m30s',
        'gateway.httpclient.maxConnections': '64',
        'gateway.frontend.url': 'https://knox.example.com/gw',
        'gateway.port.mapping.sandbox': '9443',
        'postern.plugins': 'postern-plugin-a, ./plugins/b.ts',
        'postern.demo.backends.enabled': 'true',
        'postern.services.dirs': 'data/more-services',
        'gateway.websocket.feature.enabled': 'true',
        'gateway.deployment.dir': 'data/deployments',
      }),
      'gateway-site.xml',
    );
    assert.equal(s.port, 8443);
    assert.equal(s.ssl.enabled, false);
    assert.equal(s.ssl.certificatePath, 'conf/cert.pem');
    assert.equal(s.ssl.keyPath, 'conf/key.pem');
    assert.deepEqual(s.ssl.includeProtocols, ['TLSv1.2', 'TLSv1.3']);
    assert.equal(s.httpclient.connectionTimeoutMs, 300000);
    assert.equal(s.httpclient.socketTimeoutMs, 90000);
    assert.equal(s.httpclient.maxConnections, 64);
    assert.equal(s.frontendUrl, 'https://knox.example.com/gw');
    assert.deepEqual([...s.portMapping.ports], [['sandbox', 9443]]);
    assert.deepEqual(s.plugins, ['postern-plugin-a', './plugins/b.ts']);
    assert.equal(s.demoBackends, true);
    assert.deepEqual(s.serviceDefinitionDirs, ['data/more-services']);
    assert.equal(s.websocketFeatureEnabled, true);
    assert.deepEqual(s.raw.get('gateway.deployment.dir'), {
      value: 'data/deployments',
      pos: { file: 'gateway-site.xml', line: 61, column: 5 }, // the 15th property's <value>
    });
  });

  it('is frozen', () => {
    const s = parseGatewaySite(site({}), 'gateway-site.xml');
    assert.ok(Object.isFrozen(s));
    assert.ok(Object.isFrozen(s.ssl));
    assert.ok(Object.isFrozen(s.ssl.excludeProtocols));
    assert.throws(() => {
      (s as { port: number }).port = 1;
    }, TypeError);
  });

  it('reports a bad value at its <value> element', () => {
    const text = [
      '<configuration>',
      '  <property>',
      '    <name>gateway.port</name>',
      '      <value>abc</value>',
      '    <description>The HTTP port for the Gateway.</description>',
      '  </property>',
      '</configuration>',
    ].join('\n');
    assert.deepEqual(errorsOf(text), [
      'gateway-site.xml:4:7: gateway.port: expected an integer from 0 to 65535, found "abc"',
    ]);
  });

  it('refuses a shared TLS ticket key without the Redis to share it through, or without a rotation', () => {
    assert.deepEqual(errorsOf(site({ 'postern.tls.ticket.key.shared': 'true' })), [
      'gateway-site.xml:5:5: postern.tls.ticket.key.shared needs postern.state.redis.url: the nodes share the key through that Redis',
    ]);
    assert.deepEqual(
      errorsOf(
        site({
          'postern.state.redis.url': 'redis://127.0.0.1:6379',
          'postern.tls.ticket.key.rotation': '0',
          'postern.tls.ticket.key.shared': 'true',
        }),
      ),
      [
        'gateway-site.xml:13:5: postern.tls.ticket.key.shared needs postern.tls.ticket.key.rotation above 0: a shared key that never changed would stay in Redis for good',
      ],
    );
    const ok = parseGatewaySite(
      site({ 'postern.state.redis.url': 'redis://127.0.0.1:6379', 'postern.tls.ticket.key.shared': 'true' }),
      'gateway-site.xml',
    );
    assert.equal(ok.ssl.ticketKeyShared, true);
    assert.equal(parseGatewaySite(site({}), 'gateway-site.xml').ssl.ticketKeyShared, false);
  });

  it('reports every bad value at once', () => {
    assert.deepEqual(
      errorsOf(
        site({
          'ssl.enabled': 'yes',
          'gateway.httpclient.socketTimeout': '20 parsecs',
          'gateway.port.mapping.sandbox': '70000',
        }),
      ),
      [
        'gateway-site.xml:13:5: gateway.port.mapping.sandbox: expected an integer from 1 to 65535, found "70000"',
        'gateway-site.xml:5:5: ssl.enabled: expected true or false, found "yes"',
        'gateway-site.xml:9:5: gateway.httpclient.socketTimeout: expected a duration (milliseconds, or with an m/s suffix such as 20s), found "20 parsecs"',
      ],
    );
  });

  it('reads the resource limits with their defaults, and reports a bad one at its <value>', () => {
    const d = loadGatewaySite(undefined);
    assert.deepEqual(d.limits, {
      connectionsMax: 8192,
      connectionsPerAddress: 256,
      tlsHandshakeTimeoutMs: 10_000,
      requestBodyIdleTimeoutMs: 60_000,
      requestBodyMinRate: 256,
      inflateMaxBytes: 64 * 1024 * 1024,
      inflateMaxRatio: 100,
      authFailuresPerAddress: 10,
      authFailuresPerUser: 20,
      authFailureWindowMs: 60_000,
      authVerifyRatePerAddress: 10,
    });
    assert.equal(d.ssl.renegotiation, false);
    const s = parseGatewaySite(
      site({ 'postern.connections.max.per.address': '0', 'postern.request.body.idle.timeout': '30s' }),
      'gateway-site.xml',
    );
    assert.equal(s.limits.connectionsPerAddress, 0);
    assert.equal(s.limits.requestBodyIdleTimeoutMs, 30_000);
    assert.deepEqual(
      errorsOf(
        site({
          'postern.connections.max': '-1',
          'postern.rewrite.body.inflate.maxRatio': 'lots',
          'postern.auth.failures.window': 'a while',
        }),
      ),
      [
        'gateway-site.xml:5:5: postern.connections.max: expected an integer from 0 to 2147483647, found "-1"',
        'gateway-site.xml:9:5: postern.rewrite.body.inflate.maxRatio: expected an integer from 0 to 2147483647, found "lots"',
        'gateway-site.xml:13:5: postern.auth.failures.window: expected a duration (milliseconds, or with an m/s suffix such as 20s), found "a while"',
      ],
    );
  });

  it('reports a wrong root element and a property without a name', () => {
    assert.deepEqual(errorsOf('<config/>'), [
      'gateway-site.xml:1:1: root element must be <configuration>, found <config>',
    ]);
    assert.deepEqual(errorsOf('<configuration>\n  <property><value>1</value></property>\n</configuration>'), [
      'gateway-site.xml:2:3: property without a <name>',
    ]);
  });

  it('keeps warnings: unknown elements and a property without a value', () => {
    const s = parseGatewaySite(
      '<configuration>\n  <property><name>gateway.port</name></property>\n  <propertty/>\n</configuration>',
      'gateway-site.xml',
    );
    assert.equal(s.port, 8888);
    assert.deepEqual(s.warnings.map(formatDiagnostic), [
      'gateway-site.xml:3:3: warning: unknown element <propertty> in <configuration>',
      'gateway-site.xml:2:3: warning: property gateway.port has no <value>; ignored',
    ]);
  });

  it('reports malformed XML with its position', () => {
    assert.deepEqual(errorsOf('<configuration>\n<property></configuration>'), [
      'gateway-site.xml:2:26: malformed XML: unexpected close tag.',
    ]);
  });
});
