/**
 * The settings table and what comes from it: docs/settings.md is the table's rendering (regenerate it with
 * `node scripts/gen-settings-doc.ts`), every property is declared once, every shown default is a value the
 * property accepts, and the settings object holds each default at the table's field.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultSettings, parseGatewaySite } from '../../src/config/gateway-site.ts';
import { type Setting, walkTable } from '../../src/config/setting.ts';
import { renderSettingsReference, SETTINGS_DOC, shownDefault } from '../../src/config/settings-doc.ts';
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
        // An empty list or map: nothing to write, and the default is empty.
        assert.equal(
          (setting.default as { length?: number; size?: number }).length ??
            (setting.default as Map<string, string>).size,
          0,
          setting.key,
        );
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
