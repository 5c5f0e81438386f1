/**
 * Writes the generated tables of docs/ui-leaks.md: the leak survey (test/rewrite/leak-survey.ts) of Knox's
 * definitions (shared/knox-services, or KNOX_SERVICES_DIR) and of postern's bundled ones, each deployed in a real
 * gateway in front of a generic fake backend. Run it after changing the guard or a bundled definition:
 * `npm run docs:ui-leaks` (test/rewrite/leak-survey.test.ts fails while the file is out of date).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KNOX_SERVICES } from '../test/helpers/knox.ts';
import {
  BUNDLED_SERVICES,
  renderSurvey,
  survey,
  UI_LEAKS_DOC,
  UI_LEAKS_TABLES,
} from '../test/rewrite/leak-survey.ts';

const file = join(fileURLToPath(new URL('../', import.meta.url)), UI_LEAKS_DOC);
const knox = await survey(KNOX_SERVICES);
const bundled = await survey(BUNDLED_SERVICES, { servicesDirs: '' });
const text = readFileSync(file, 'utf8');
const begin = text.indexOf(UI_LEAKS_TABLES.begin);
const end = text.indexOf(UI_LEAKS_TABLES.end);
if (begin < 0 || end < begin)
  throw new Error(`${UI_LEAKS_DOC} has no ${UI_LEAKS_TABLES.begin} … ${UI_LEAKS_TABLES.end}`);
writeFileSync(
  file,
  text.slice(0, begin) + renderSurvey(knox, bundled) + text.slice(end + UI_LEAKS_TABLES.end.length),
);
console.log(`wrote ${UI_LEAKS_DOC}`);
