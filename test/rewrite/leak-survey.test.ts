/**
 * The leak survey (test/rewrite/leak-survey.ts) over Knox's 94 definitions and postern's bundled ones, each in a
 * real gateway in front of a generic fake backend: docs/ui-leaks.md holds its current result (regenerate with
 * `npm run docs:ui-leaks`), the guard in `report` mode agrees with a plain text search on every answer (no false
 * report, no miss), and in `rewrite` mode no redirect leaves the gateway.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { REPO_ROOT } from '../../src/gateway/gateway.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';
import {
  BUNDLED_SERVICES,
  renderSurvey,
  type SurveyRow,
  survey,
  UI_LEAKS_DOC,
  UI_LEAKS_TABLES,
} from './leak-survey.ts';

describe('leak survey', { timeout: 600_000 }, () => {
  let knox: SurveyRow[];
  let bundled: SurveyRow[];

  before(async () => {
    knox = await survey(KNOX_SERVICES);
    bundled = await survey(BUNDLED_SERVICES, { servicesDirs: '' });
  });

  it('covers all 94 of Knox definitions, each deployed', () => {
    assert.equal(knox.length, 94);
    assert.deepEqual(
      knox.filter((r) => r.failed).map((r) => `${r.definition}: ${r.failed}`),
      [],
    );
    // The cases are among the leaks: OOZIEUI's redirect, YARNUI's proxied applications.
    assert.ok(knox.find((r) => r.definition === 'oozieui/4.2.0')?.leaks.redirect.includes('/oozie'));
    assert.ok(knox.find((r) => r.definition === 'yarnui/2.7.0')?.leaks.redirect.includes('/yarn/proxy/leak'));
  });

  it('reports exactly the answers that leak: no false report, no miss', () => {
    for (const r of [...knox, ...bundled]) {
      assert.equal(r.falseReports, 0, `${r.definition}: false reports`);
      assert.equal(r.missed, 0, `${r.definition}: missed leaks`);
    }
  });

  it('keeps every redirect in the gateway in rewrite mode', () => {
    for (const r of [...knox, ...bundled]) assert.deepEqual(r.left.redirect, [], r.definition);
  });

  it("finds no redirect leak in the bundled RESOURCEMANAGER's API routes", () => {
    assert.deepEqual(bundled.find((r) => r.definition === 'yarn-rm/3.0.0')?.leaks.redirect, []);
  });

  it(`${UI_LEAKS_DOC} is current (run \`npm run docs:ui-leaks\`)`, () => {
    const text = readFileSync(join(REPO_ROOT, UI_LEAKS_DOC), 'utf8');
    const begin = text.indexOf(UI_LEAKS_TABLES.begin);
    const end = text.indexOf(UI_LEAKS_TABLES.end) + UI_LEAKS_TABLES.end.length;
    assert.ok(begin >= 0 && end > begin, `${UI_LEAKS_DOC} has no generated section`);
    assert.equal(text.slice(begin, end), renderSurvey(knox, bundled), `${UI_LEAKS_DOC} is out of date`);
  });
});
