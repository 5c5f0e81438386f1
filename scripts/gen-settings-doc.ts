/**
 * Writes docs/settings.md, the gateway-site reference, from the settings table (src/config/settings-table.ts).
 * Run it after changing the table: `node scripts/gen-settings-doc.ts` (test/config/settings-doc.test.ts fails
 * while the file is out of date).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSettingsReference, SETTINGS_DOC } from '../src/config/settings-doc.ts';

const file = join(fileURLToPath(new URL('../', import.meta.url)), SETTINGS_DOC);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, renderSettingsReference());
console.log(`wrote ${SETTINGS_DOC}`);
