/**
 * V8's `gc` for a test, without `--expose-gc` on the test runner's command line: the flag is on only while one new
 * context is made (as websocket/heap-settle gets it), so the process gets no global `gc`.
 *
 * ```ts
 * const gc = v8Gc();
 * gc();                                          // a full collection
 * gc({ type: 'major', execution: 'sync' });      // the same, said
 * ```
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export type Gc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

export function v8Gc(): Gc {
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as Gc;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
