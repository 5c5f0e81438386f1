/**
 * `postern start` with several workers: the primary reads gateway-site before any worker (a broken one fails the
 * start with today's `file:line:column` diagnostic, printed once); what the workers load (plugins, service
 * definitions, topologies) fails the start with the first worker's message, printed once by the primary.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { makeHome, type TestHome } from '../helpers/home.ts';
import { startPostern } from '../helpers/postern-process.ts';

describe('postern start with workers: a broken configuration fails the start, said once', () => {
  const homes: TestHome[] = [];
  after(() => {
    for (const h of homes) h.remove();
  });

  const failedStart = async (site: Record<string, string | number | boolean>) => {
    const home = makeHome(site);
    homes.push(home);
    const err = (await startPostern(home.dir).then(
      (p) => {
        void p.stop();
        return undefined;
      },
      (e: Error) => e,
    )) as Error | undefined;
    assert.ok(err, 'the start fails');
    return err.message;
  };

  it('fails on a broken gateway-site with its diagnostic, once', async () => {
    const out = await failedStart({ 'postern.workers': 2, 'gateway.idle.timeout': 'soon' });
    assert.match(out, /exited with 1 before listening/);
    const lines = out
      .split('\n')
      .filter((l) => /gateway-site\.xml:\d+:\d+: .*gateway\.idle\.timeout/.test(l));
    assert.equal(lines.length, 1, `one diagnostic, from the primary alone:\n${out}`);
  });

  it('fails on a postern.workers that is neither auto nor a whole number', async () => {
    const out = await failedStart({ 'postern.workers': 'lots' });
    assert.match(out, /gateway-site\.xml:\d+:\d+: .*postern\.workers/);
  });

  it('fails on a plugin the workers cannot load with the message of one worker, printed once', async () => {
    const out = await failedStart({ 'postern.workers': 2, 'postern.plugins': './no-such-plugin.ts' });
    assert.match(out, /exited with 1 before listening/);
    const lines = out
      .split('\n')
      .filter((l) => /plugin "\.\/no-such-plugin\.ts" could not be loaded/.test(l));
    assert.equal(lines.length, 1, `one message, though both workers failed:\n${out}`);
    assert.doesNotMatch(out, /^postern: worker \d exited/m, 'no second line once the reason was said');
  });
});
