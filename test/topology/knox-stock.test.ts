/**
 * Knox's own files stay clean under the strict readers: every unknown element, attribute or key is an error
 * (config/xml.ts `checkShape`, config/yaml.ts), so the shapes must cover everything Knox writes. Its 94 service
 * definitions, its stock topologies and its default shared provider configuration load without a single error
 * (the only warning allowed: a topology's `<name>` that differs from its file name, which Knox ignores too).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DiagnosticSink, formatDiagnostic } from '../../src/config/diagnostics.ts';
import { loadServiceDefinitions } from '../../src/servicedef/catalog.ts';
import { parseDescriptor, parseSharedProviders } from '../../src/topology/descriptor.ts';
import { readTopologyFile } from '../../src/topology/load.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

const KNOX_CONF = join(dirname(KNOX_SERVICES), 'knox-conf');

describe("Knox's own files under the strict readers", () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-knox-stock-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads all 94 service definitions without an error, and their service.xml without a warning', () => {
    const { catalog, diagnostics } = loadServiceDefinitions([{ dir: KNOX_SERVICES, source: 'other' }]);
    assert.deepEqual(
      diagnostics
        .filter((d) => d.severity === 'error' || d.file.endsWith('service.xml'))
        .map(formatDiagnostic),
      [],
    );
    assert.equal(catalog.all().length, 94);
  });

  // sandbox.xml's NAMENODE (hdfs://) and JOBTRACKER (rpc://) URLs are refused by the URL check, which is not the
  // readers' business here: what is checked is that no element or attribute Knox writes is unknown.
  it('reads every stock topology without an unknown element or attribute', () => {
    const files = readdirSync(join(KNOX_CONF, 'topologies')).filter((f) => f.endsWith('.xml'));
    assert.ok(files.length >= 6);
    for (const f of files) {
      const r = readTopologyFile(join(KNOX_CONF, 'topologies', f));
      assert.deepEqual(
        r.diagnostics.filter((d) => /unknown|did you mean/.test(d.message)).map(formatDiagnostic),
        [],
        f,
      );
    }
  });

  it('reads the stock shared provider configuration, and refuses a misspelt key in it and in a descriptor', () => {
    const file = join(KNOX_CONF, 'shared-providers', 'default-providers.json');
    const sink = new DiagnosticSink();
    assert.ok(parseSharedProviders(readFileSync(file, 'utf8'), file, sink));
    assert.deepEqual(sink.items.map(formatDiagnostic), []);

    const providers = join(dir, 'p.json');
    writeFileSync(
      providers,
      '{"providers": [{"role": "authentication", "name": "Anonymous", "enabeld": true}]}',
    );
    const bad = new DiagnosticSink();
    assert.equal(parseSharedProviders(readFileSync(providers, 'utf8'), providers, bad), undefined);
    assert.deepEqual(bad.items.map(formatDiagnostic), [
      `${providers}:1:64: unknown key "enabeld"; did you mean "enabled"?`,
    ]);

    writeFileSync(join(dir, 'good.json'), '{"providers": []}');
    const descriptor = join(dir, 'd.json');
    const text = '{"provider-config-ref": "good", "services": [{"name": "WEBHDFS", "url": ["http://h:1"]}]}';
    const d = new DiagnosticSink();
    assert.equal(parseDescriptor(text, descriptor, dir, d).topology, undefined);
    assert.deepEqual(
      d.items.filter((x) => x.severity === 'error').map(formatDiagnostic)[0],
      `${descriptor}:1:66: unknown key "url"; did you mean "urls"?`,
    );
  });
});
