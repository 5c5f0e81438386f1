/**
 * Plugins import the contract as `postern/spi` (package.json `exports`): the name resolves to src/spi, and what it
 * exports at runtime is the contract's own small helpers.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';

it('postern/spi resolves to the contract', async () => {
  assert.ok(import.meta.resolve('postern/spi').endsWith('/src/spi/index.ts'));
  const spi = await import('postern/spi');
  assert.equal(spi.HA_CONTRIBUTION, 'ha');
  assert.deepEqual(
    [...spi.DefaultPolicyOrder],
    ['webappsec', 'authentication', 'federation', 'rewrite', 'identity-assertion', 'authorization'],
  );
  assert.equal(typeof spi.auditFor, 'function');
  assert.equal(typeof spi.addTo, 'function');
});
