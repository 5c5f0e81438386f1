/**
 * How many workers `postern start` runs: `auto` (the default) is one per available core, except with the
 * `backplane` channel layer (one process per node); a number is taken as it is.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { workerCount } from '../../src/cluster/supervisor.ts';
import { loadGatewaySite } from '../../src/config/gateway-site.ts';

describe('postern.workers', () => {
  it('defaults to auto: one worker per available core', () => {
    const settings = loadGatewaySite(undefined);
    assert.equal(settings.workers, 'auto');
    assert.equal(workerCount(settings), availableParallelism());
  });

  it('auto is one process with the backplane channel layer', () => {
    const settings = loadGatewaySite(undefined);
    assert.equal(workerCount({ ...settings, channels: { ...settings.channels, layer: 'backplane' } }), 1);
    assert.equal(
      workerCount({ ...settings, channels: { ...settings.channels, layer: 'redis' } }),
      availableParallelism(),
    );
  });

  it('takes a number as it is', () => {
    const settings = loadGatewaySite(undefined);
    assert.equal(workerCount({ ...settings, workers: 1 }), 1);
    assert.equal(workerCount({ ...settings, workers: 3 }), 3);
    assert.equal(
      workerCount({ ...settings, workers: 3, channels: { ...settings.channels, layer: 'backplane' } }),
      3,
    );
  });
});
