/**
 * Waiting for a byte count to stop moving: the backpressure tests stall one side of a transfer and then read how
 * far the other side got once the pipeline is full and stopped.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Waits until `read()` has not changed for `quietMs` (the pipeline is full and stopped), at most `maxMs`; its last value. */
export async function settle(read: () => number, quietMs: number, maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = read();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(50);
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) break;
  }
  return last;
}
