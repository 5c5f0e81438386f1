/**
 * The settings table and what comes from it: docs/settings.md is the table's rendering (regenerate it with
 * `node scripts/gen-settings-doc.ts`), every property is declared once, every shown default is a value the
 * property accepts, and the settings object holds each default at the table's field.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic } from '../../src/config/diagnostics.ts';
import { defaultSettings, parseGatewaySite } from '../../src/config/gateway-site.ts';
import { KNOX_PROPERTIES } from '../../src/config/knox-properties.ts';
import { type Setting, walkTable } from '../../src/config/setting.ts';
import {
  KNOX_SETTINGS_DOC,
  knoxStatus,
  renderKnoxSettings,
  renderSettingsReference,
  SETTINGS_DOC,
  shownDefault,
} from '../../src/config/settings-doc.ts';
import { SETTINGS } from '../../src/config/settings-table.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const entries = [...walkTable(SETTINGS)];
const settings = entries.flatMap(({ path, entry }) =>
  entry.kind === 'setting' ? [{ path, setting: entry as Setting<unknown> }] : [],
);

/** The value at `path` of an object. */
const valueAt = (object: unknown, path: readonly string[]) =>
  path.reduce<unknown>((o, field) => (o as Record<string, unknown>)[field], object);

describe('settings table', () => {
  it('docs/settings.md is up to date with the table (run `node scripts/gen-settings-doc.ts`)', () => {
    const written = readFileSync(`${REPO}${SETTINGS_DOC}`, 'utf8');
    assert.equal(written, renderSettingsReference(), `${SETTINGS_DOC} is out of date`);
  });

  it('lists every property once, in the reference too', () => {
    const keys = settings.map(({ setting }) => setting.key);
    assert.deepEqual(
      keys.filter((k, i) => keys.indexOf(k) !== i),
      [],
    );
    const doc = renderSettingsReference();
    for (const key of keys) {
      assert.equal(doc.split(`\n| \`${key}\` |`).length, 2, key);
    }
    assert.ok(doc.includes('| `gateway.port.mapping.{topology}` |'));
  });

  it('shows defaults that the property accepts and reads back to the default', () => {
    for (const { setting } of settings) {
      if (setting.default === undefined) continue;
      const shown = shownDefault(setting);
      const text = shown === 'none' || shown === 'empty' ? '' : shown.replaceAll('`', '');
      if (text === '') {
        // An empty list, map or IP list: nothing to write, and the default is empty.
        const empty = setting.default as { length?: number; size?: number; entries?: readonly string[] };
        assert.equal(empty.length ?? empty.size ?? empty.entries?.length, 0, setting.key);
        continue;
      }
      assert.deepEqual(setting.parse(text), setting.default, `${setting.key}: ${shown}`);
    }
  });

  it('gives every default at its field, and a written value in its place', () => {
    const defaults = defaultSettings();
    for (const { path, setting } of settings) {
      assert.deepEqual(valueAt(defaults, path), setting.default, setting.key);
    }
    const written = parseGatewaySite(
      '<configuration><property><name>postern.websocket.handshake.timeout</name><value>5s</value></property></configuration>',
      'gateway-site.xml',
    );
    assert.equal(written.websocket.handshakeTimeoutMs, 5000);
    assert.equal(written.raw.size, 0);
  });
});

describe("Knox's gateway-site properties", () => {
  it('docs/knox-settings.md is up to date (run `node scripts/gen-settings-doc.ts`)', () => {
    const written = readFileSync(`${REPO}${KNOX_SETTINGS_DOC}`, 'utf8');
    assert.equal(written, renderKnoxSettings(), `${KNOX_SETTINGS_DOC} is out of date`);
  });

  it('classifies every property Knox defines, and lists every Knox property the table has', () => {
    assert.deepEqual(
      KNOX_PROPERTIES.filter((k) => knoxStatus(k) === undefined),
      [],
    );
    for (const { entry } of entries) {
      const key = entry.kind === 'setting' ? entry.key : entry.prefix;
      if (
        key.startsWith('postern.') ||
        key.startsWith('gateway.channels.') ||
        key.startsWith('gateway.tls.certificate') ||
        key === 'gateway.tls.key.path' ||
        // postern's own, named by its issue in Knox's namespace (Knox has no HTTP/2 setting).
        key === 'gateway.http2.enabled'
      )
        continue;
      assert.ok(KNOX_PROPERTIES.includes(key), `${key} is not in KNOX_PROPERTIES`);
    }
  });

  it('warns at each Knox property postern does not implement or act on, naming it and what postern does instead', () => {
    const names = KNOX_PROPERTIES.filter((k) => knoxStatus(k)?.status !== 'implemented').map((k) =>
      k.endsWith('.') ? `${k}x` : k,
    );
    assert.ok(names.length > 100, String(names.length));
    // Values each table setting accepts: its default as written (or a word for a text one).
    const value = (k: string) => {
      const s = settings.find(({ setting }) => setting.key === k)?.setting;
      if (!s) return 'x';
      const shown = shownDefault(s).replaceAll('`', '');
      return shown === 'none' || shown === 'empty' || shown === 'unset' ? 'x' : shown;
    };
    const xml = `<configuration>\n${names.map((n) => `<property><name>${n}</name><value>${value(n)}</value></property>`).join('\n')}\n</configuration>`;
    const site = parseGatewaySite(xml, 'gateway-site.xml');
    const warned = site.warnings.map(formatDiagnostic);
    for (const [i, n] of names.entries()) {
      const line = warned.find((w) => w.startsWith(`gateway-site.xml:${i + 2}:`));
      assert.ok(line, `no warning for ${n}`);
      assert.match(
        line,
        new RegExp(
          `warning: ${n.replaceAll('.', '\\.')} is (Knox's and postern does not implement it|accepted but postern does not act on it): .{10,}`,
        ),
      );
    }
    assert.equal(warned.length, names.length);
  });

  it('warns about a property neither Knox nor postern has, with the nearest name', () => {
    const site = parseGatewaySite(
      '<configuration><property><name>gateway.servr.header.enabled</name><value>true</value></property></configuration>',
      'gateway-site.xml',
    );
    assert.deepEqual(site.warnings.map(formatDiagnostic), [
      'gateway-site.xml:1:67: warning: unknown property gateway.servr.header.enabled, ignored; did you mean "gateway.server.header.enabled"?',
    ]);
  });
});
