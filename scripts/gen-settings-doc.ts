/**
 * Writes docs/settings.md, the gateway-site reference, from the settings table (src/config/settings-table.ts), and
 * docs/knox-settings.md, Knox's properties with postern's status for each (src/config/knox-properties.ts).
 * Run it after changing the table: `node scripts/gen-settings-doc.ts` (test/config/settings-doc.test.ts fails
 * while the file is out of date).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  KNOX_SETTINGS_DOC,
  renderKnoxSettings,
  renderSettingsReference,
  SETTINGS_DOC,
} from '../src/config/settings-doc.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
for (const [doc, render] of [
  [SETTINGS_DOC, renderSettingsReference],
  [KNOX_SETTINGS_DOC, renderKnoxSettings],
] as const) {
  const file = join(root, doc);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, render());
  console.log(`wrote ${doc}`);
}
