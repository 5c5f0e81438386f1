/**
 * @module bench/log-writers
 * The CPU time of the per-request log writers alone, without a gateway around them: one access line (assembled
 * as gateway/server.ts assembles it) and one dispatch audit event (observability/audit.ts) per "request", into
 * the batched `access.log` and `audit.log` of a temporary directory, in slices of 100 with the event loop
 * running between them (the batches' writes happen there, as in a gateway). Prints the process's CPU time (user +
 * system, all threads) per pair. Load moves it less than the gateway's, but alternate two builds all the same.
 *
 *   node bench/log-writers.ts [--pairs 200000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAuditLog } from '../src/observability/audit.ts';
import { field, jsonLines, stringField } from '../src/observability/json-line.ts';
import { createAccessLog } from '../src/observability/logger.ts';
import type { Exchange } from '../src/spi/exchange.ts';

const { values: args } = parseArgs({ options: { pairs: { type: 'string', default: '200000' } } });
const pairs = Number(args.pairs);

const dir = mkdtempSync(join(tmpdir(), 'postern-log-writers-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const access = jsonLines(createAccessLog({ logDir: dir, level: 'info' }));
const audit = createAuditLog({ logDir: dir, level: 'info' }).forRoute({
  topology: 'bench',
  service: 'HTTP',
  action: 'dispatch',
  provider: 'http',
});
const ex = {
  req: { url: '/gateway/bench/http/small', method: 'GET' },
  path: '/http/small',
  target: 'http://127.0.0.1:9999/small',
  clientAddress: '127.0.0.1',
  id: 'e1c3a3a2-4f6b-4c1e-9d7a-3f1f5b2c9d10',
  traceId: undefined,
  user: { name: 'anonymous', groups: [] },
} as unknown as Exchange;

function pair(i: number): void {
  // The fields gateway/server.ts #accessLine writes, in its order.
  if (access.enabled()) {
    access.info(
      ',"type":"access"' +
        stringField(',"reqId":', ex.id) +
        stringField(',"traceId":', undefined) +
        stringField(',"method":', 'GET') +
        ',"protocol":"HTTP/1.1"' +
        stringField(',"path":', '/gateway/bench/http/small') +
        stringField(',"topology":', 'bench') +
        stringField(',"role":', 'HTTP') +
        stringField(',"user":', 'anonymous') +
        field(',"status":', 200) +
        field(',"aborted":', false) +
        field(',"ms":', Math.round((1.23 + (i % 7) / 3) * 100) / 100) +
        stringField(',"remote":', '127.0.0.1'),
      'access',
    );
  }
  audit(ex, 'success', { status: 200, effectiveUser: 'anonymous' });
}

async function run(n: number): Promise<void> {
  let k = 0;
  await new Promise<void>((done) => {
    const slice = () => {
      for (let j = 0; j < 100 && k < n; j++, k++) pair(k);
      if (k < n) setImmediate(slice);
      else done();
    };
    slice();
  });
}

// Let the files open, then warm up.
await new Promise((r) => setTimeout(r, 200));
await run(50_000);
await new Promise((r) => setTimeout(r, 300));
const before = process.cpuUsage();
await run(pairs);
// The last batches go out on the 100 ms timer.
await new Promise((r) => setTimeout(r, 250));
const cpu = process.cpuUsage(before);
process.stdout.write(
  `access line + audit event × ${pairs}: ${(cpu.user / pairs).toFixed(2)} + ${(cpu.system / pairs).toFixed(2)} µs CPU per pair (user + system)\n`,
);
process.exit(0);
