/**
 * @module test/conf/sample-home
 * The repository's own sample GATEWAY_HOME (`conf/`): gateway-site.xml carries the documented keys and values,
 * the sandbox topology names only bundled roles and points at the demo backends' default ports, and the
 * descriptor example refers to a shared provider configuration that exists.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { SaxesParser } from 'saxes';
import { DEMO_REST_PORT, DEMO_WS_PORT } from '../../src/demo/index.ts';

const home = join(import.meta.dirname, '..', '..');
const conf = join(home, 'conf');
const parser = new XMLParser({
  isArray: (name) => ['property', 'provider', 'service', 'param', 'url'].includes(name),
  parseTagValue: false,
});

// biome-ignore lint/suspicious/noExplicitAny: parsed XML and JSON are untyped.
type Node = Record<string, any>;

function bundledRoles(): Set<string> {
  const roles = new Set<string>();
  const dir = join(home, 'services');
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.md')) continue;
    for (const version of readdirSync(join(dir, name))) {
      const text = readFileSync(join(dir, name, version, 'service.xml'), 'utf8');
      roles.add(/<service\s[^>]*role="([^"]+)"/.exec(text)![1]);
    }
  }
  return roles;
}

function assertWellFormed(file: string): void {
  const sax = new SaxesParser();
  sax.on('error', (err) => {
    throw new Error(`${file}: ${err.message}`);
  });
  sax.write(readFileSync(file, 'utf8')).close();
}

it('the XML files of the sample home are well-formed', () => {
  assertWellFormed(join(conf, 'gateway-site.xml'));
  assertWellFormed(join(conf, 'topologies', 'sandbox.xml'));
});

describe('sample home: conf/gateway-site.xml', () => {
  const text = readFileSync(join(conf, 'gateway-site.xml'), 'utf8');
  const props = new Map<string, string>(
    (parser.parse(text).configuration.property as Node[]).map((p) => [p.name, p.value ?? '']),
  );

  it('sets the listener, TLS and demo properties', () => {
    assert.equal(props.get('gateway.port'), '8443');
    // The demo users' passwords are documented: the sample home stays on this machine.
    assert.equal(props.get('gateway.host'), '127.0.0.1');
    assert.equal(props.get('gateway.path'), 'gateway');
    assert.equal(props.get('ssl.enabled'), 'true');
    assert.equal(props.get('gateway.tls.certificate.path'), 'data/security/gateway.crt');
    assert.equal(props.get('gateway.tls.key.path'), 'data/security/gateway.key');
    assert.equal(props.get('postern.demo.backends.enabled'), 'true');
    assert.equal(props.get('gateway.websocket.feature.enabled'), 'true');
  });

  it("uses Knox's HTTP client defaults", () => {
    assert.equal(props.get('gateway.httpclient.maxConnections'), '32');
    assert.equal(props.get('gateway.httpclient.connectionTimeout'), '20s');
    assert.equal(props.get('gateway.httpclient.socketTimeout'), '20s');
  });

  it('describes every property', () => {
    for (const p of parser.parse(text).configuration.property as Node[]) {
      assert.ok(typeof p.description === 'string' && p.description.length > 10, p.name);
    }
  });

  it('keeps commented-out examples that are themselves well-formed properties', () => {
    const commented = [...text.matchAll(/<!--([\s\S]*?)-->/g)]
      .map((m) => m[1])
      .filter((c) => c.includes('<property>'));
    assert.ok(commented.length >= 2);
    for (const c of commented) {
      const inner = parser.parse(`<configuration>${c}</configuration>`).configuration.property as Node[];
      for (const p of inner) assert.ok(p.name && p.description, p.name);
    }
  });

  it('keeps the generated key material where .gitignore expects it', () => {
    assert.match(readFileSync(join(home, '.gitignore'), 'utf8'), /^data\/security\/$/m);
  });
});

describe('sample home: conf/topologies/sandbox.xml', () => {
  const topology = parser.parse(readFileSync(join(conf, 'topologies', 'sandbox.xml'), 'utf8'))
    .topology as Node;
  const providers = topology.gateway.provider as Node[];
  const services = topology.service as Node[];

  it('logs in against the sample users file, asserts identity by default, and shows a disabled static hostmap', () => {
    const byRole = new Map<string, Node>(providers.map((p) => [p.role, p]));
    const auth = byRole.get('authentication')!;
    assert.equal(auth.name, 'ShiroProvider');
    assert.equal(auth.enabled, 'true');
    const params = new Map((auth.param as Node[]).map((p) => [p.name, String(p.value)]));
    assert.equal(params.get('main.fileRealm'), 'postern.FileRealm');
    assert.equal(params.get('main.fileRealm.usersFile'), 'conf/users.yaml');
    assert.equal(params.get('urls./**'), 'authcBasic');
    assert.equal(byRole.get('identity-assertion')!.name, 'Default');
    assert.equal(byRole.get('authorization')!.name, 'AclsAuthz');
    assert.equal(byRole.get('hostmap')!.name, 'static');
    assert.equal(byRole.get('hostmap')!.enabled, 'false');
    assert.ok(byRole.get('hostmap')!.param.length > 0);
  });

  it('ships only hashed passwords in the users file', () => {
    const text = readFileSync(join(conf, 'users.yaml'), 'utf8');
    const passwords = [...text.matchAll(/^\s+password:\s*"?([^"\n]+)"?$/gm)].map((m) => m[1]);
    assert.equal(passwords.length, 2);
    for (const p of passwords) assert.match(p, /^scrypt\$ln=\d+,r=\d+,p=\d+\$/);
  });

  it('proxies the demo backends on their default ports', () => {
    const urls = new Map(services.map((s) => [s.role, s.url]));
    assert.deepEqual(urls.get('HTTP'), [`http://127.0.0.1:${DEMO_REST_PORT}`]);
    assert.deepEqual(urls.get('ECHOWS'), [`ws://127.0.0.1:${DEMO_WS_PORT}`]);
  });

  it('names only roles postern bundles', () => {
    const roles = bundledRoles();
    for (const s of services) assert.ok(roles.has(s.role), s.role);
  });
});

describe('sample home: descriptors and shared providers', () => {
  it('has one shared provider configuration in Knox JSON form', () => {
    const cfg = JSON.parse(readFileSync(join(conf, 'shared-providers', 'default-providers.json'), 'utf8'));
    const roles = (cfg.providers as Node[]).map((p) => p.role);
    assert.deepEqual(roles, ['authentication', 'identity-assertion', 'hostmap']);
    for (const p of cfg.providers as Node[]) {
      assert.ok(p.name);
      assert.ok(p.enabled === 'true' || p.enabled === 'false');
    }
  });

  it('ships the descriptor as an .example, so nothing is deployed from it by default', () => {
    const files = readdirSync(join(conf, 'descriptors'));
    assert.deepEqual(
      files.filter((f) => /\.(json|ya?ml)$/.test(f)),
      [],
    );
    assert.ok(files.includes('sandbox-descriptor.json.example'));
  });

  it('the example descriptor references an existing provider configuration and bundled roles', () => {
    const desc = JSON.parse(
      readFileSync(join(conf, 'descriptors', 'sandbox-descriptor.json.example'), 'utf8'),
    );
    assert.ok(existsSync(join(conf, 'shared-providers', `${desc['provider-config-ref']}.json`)));
    const roles = bundledRoles();
    for (const s of desc.services as Node[]) {
      assert.ok(roles.has(s.name), s.name);
      assert.ok(Array.isArray(s.urls) && s.urls.length > 0);
    }
  });
});
