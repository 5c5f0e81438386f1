/**
 * SIGHUP's verdict on each gateway-site property agrees with what it does (gateway/site-reload): a property the
 * reload names as needing a restart feeds a settings field that keeps its running value, and a property that feeds
 * such a field is named as needing a restart (else the reload would report a change it did not make). The whole
 * SIGHUP path runs in test/cli/lifecycle.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Setting, walkTable } from '../../src/config/setting.ts';
import { SETTINGS } from '../../src/config/settings-table.ts';
import { needsRestart, RESTART_FIELDS } from '../../src/gateway/site-reload.ts';

const settings = [...walkTable(SETTINGS)].flatMap(({ path, entry }) =>
  entry.kind === 'setting' ? [{ path, key: (entry as Setting<unknown>).key }] : [],
);
const restartOnly = new Set<string>(RESTART_FIELDS);

describe('what a reload says of each property', () => {
  it('names every property of a field kept until a restart as needing one', () => {
    const missed = settings.filter(({ path, key }) => restartOnly.has(path[0]) && !needsRestart(key));
    assert.deepEqual(
      missed.map(({ path, key }) => `${key} (${path.join('.')})`),
      [],
    );
  });

  it('names no property as needing a restart whose field a reload applies', () => {
    const wrong = settings.filter(({ path, key }) => !restartOnly.has(path[0]) && needsRestart(key));
    assert.deepEqual(
      wrong.map(({ path, key }) => `${key} (${path.join('.')})`),
      [],
    );
  });
});
