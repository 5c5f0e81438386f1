import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../src/config/diagnostics.ts';
import { sameTopologyContent } from '../../src/topology/compare.ts';
import { readDescriptorFile, readTopologyFile } from '../../src/topology/load.ts';
import { SANDBOX_XML, SANDBOX_YAML } from './fixtures.ts';

function write(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'postern-load-')), name);
  writeFileSync(file, text);
  return file;
}

describe('readTopologyFile', () => {
  it('chooses the reader by extension', () => {
    const xml = readTopologyFile(write('sandbox.xml', SANDBOX_XML));
    const yaml = readTopologyFile(write('sandbox.yml', SANDBOX_YAML));
    assert.deepEqual(xml.diagnostics, []);
    assert.deepEqual(yaml.diagnostics, []);
    assert.ok(xml.topology && yaml.topology);
    assert.ok(sameTopologyContent(xml.topology, yaml.topology));
  });

  it('returns malformed XML as a diagnostic instead of throwing', () => {
    const file = write('bad.xml', '<topology>\n  <service>\n</topology>');
    const r = readTopologyFile(file);
    assert.equal(r.topology, undefined);
    assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
      `${file}:3:11: malformed XML: unexpected close tag.`,
    ]);
  });

  it('gives no topology when there is an error, but keeps warnings alongside a topology', () => {
    const bad = readTopologyFile(
      write('t.xml', '<topology><service><url>http://h/</url></service></topology>'),
    );
    assert.equal(bad.topology, undefined);
    assert.equal(bad.diagnostics[0].severity, 'error');
    const misspelt = readTopologyFile(write('t.xml', '<topology><servise/></topology>'));
    assert.equal(misspelt.topology, undefined);
    assert.equal(misspelt.diagnostics[0].severity, 'error');
    const warned = readTopologyFile(write('t.xml', '<topology><name>other</name></topology>'));
    assert.ok(warned.topology);
    assert.equal(warned.diagnostics[0].severity, 'warning');
  });

  it('reports a missing file and an unsupported extension', () => {
    const missing = join(tmpdir(), 'postern-no-such-dir', 'gone.xml');
    const r = readTopologyFile(missing);
    assert.equal(r.topology, undefined);
    assert.match(formatDiagnostic(r.diagnostics[0]), new RegExp(`^${missing}:1:1: cannot read file: ENOENT`));
    const conf = write('sandbox.conf', '');
    assert.deepEqual(readTopologyFile(conf).diagnostics.map(formatDiagnostic), [
      `${conf}:1:1: not a topology file: expected .xml, .yaml, .yml`,
    ]);
  });
});

describe('readDescriptorFile', () => {
  it('reports an unsupported extension and a missing file', () => {
    const xml = write('sandbox.xml', '');
    assert.deepEqual(readDescriptorFile(xml, tmpdir()).diagnostics.map(formatDiagnostic), [
      `${xml}:1:1: not a descriptor: expected .json, .yml, .yaml`,
    ]);
    const missing = join(tmpdir(), 'postern-no-such-dir', 'gone.json');
    assert.equal(readDescriptorFile(missing, tmpdir()).diagnostics[0].severity, 'error');
  });
});
