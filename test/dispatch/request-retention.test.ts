/**
 * A finished proxied request is garbage for the next scavenge: nothing old keeps its request, response or exchange,
 * so they are not promoted. When something did (a function the old generation held, its context holding the
 * exchange: test/source-closures.test.ts), every request left 7.7–8.6 KB in the old generation until a mark-compact
 * (docs/performance.md, "Closures assigned to properties").
 *
 * Measured in a child Node with `postern start`'s V8 flags (test/dispatch/retention-probe.ts): the old generation's
 * growth over GETs one at a time, after a warm-up and a full collection. Bytes, not time: the machine's load does not
 * move it. Weak references cannot tell this: a scavenge keeps their targets. Per request, with the fix and without:
 * small GETs ~380 and 7,719 bytes; 256 KiB answers ~1,200 and ~8,600; small GETs through the HA dispatch ~380, and
 * ~8,600 with only the HA exchange's closure put back.
 *
 * A short WebSocket connection (open, one echo, close) is measured the same way, with a looser bound: Node's own
 * `WritableState` holds every closed socket through scavenges (its `onwrite` is a property-assigned arrow), the
 * probe's client and echo backend are in the same process, and so their sockets and `ws` objects count too. What
 * the gateway must not add is its relay, reachable from its closed sockets through the relay's listeners and read
 * callbacks until frame-relay let go of them (`FrameRelay` `#release`): ~8,000 bytes per connection with that,
 * ~12,100 without.
 *
 * An upload (64 KiB PUTs), looser too: undici keeps the `Request` of every streamed body the same way (its
 * `errorHandler` arrow), and with it the body; it must not keep the exchange, which dispatch/detachable-handler
 * lets go of: ~6,600 bytes per request with it, ~10,900 without.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_NODE_FLAGS } from '../../src/cli/node-flags.ts';

const PROBE = join(dirname(fileURLToPath(import.meta.url)), 'retention-probe.ts');

interface Probe {
  bytesPerRequest: number;
  markCompacts: number;
}

type Case = 'small' | 'large' | 'ha' | 'ws' | 'upload';

async function probe(which: Case): Promise<Probe> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...DEFAULT_NODE_FLAGS, '--expose-gc', PROBE, which],
    { encoding: 'utf8', timeout: 120_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Probe;
}

/** Asserts the old generation grew less than `limit` bytes per request (one more try if a mark-compact voided it). */
async function assertDiesYoung(which: Case, limit: number): Promise<void> {
  let result = await probe(which);
  // A mark-compact during the measured requests would hide the growth; V8 runs none there (the heap may grow 4×
  // first), but one more try covers it.
  if (result.markCompacts > 0) result = await probe(which);
  assert.equal(result.markCompacts, 0, 'a mark-compact ran during both measurements');
  assert.ok(
    result.bytesPerRequest < limit,
    `${which}: the old generation grew ${Math.round(result.bytesPerRequest)} bytes per request`,
  );
}

describe('a finished proxied request leaves the old generation as it was', { concurrency: true }, () => {
  it('a small GET', () => assertDiesYoung('small', 2000));
  it('a 256 KiB answer (many reads and writes)', () => assertDiesYoung('large', 4000));
  it('a small GET through the HA dispatch', () => assertDiesYoung('ha', 2000));
  it('a short WebSocket connection: its relay (see the bound above)', () => assertDiesYoung('ws', 10_000));
  it('an upload: its exchange (see the bound above)', () => assertDiesYoung('upload', 8_500));
});
