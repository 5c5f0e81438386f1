/**
 * Run by request-retention.test.ts in a child Node with `postern start`'s V8 flags and `--expose-gc`: a gateway in
 * this process proxies small GETs, one at a time, to a backend in this process; prints how far the old generation
 * grew per request meanwhile (JSON on stdout), and how many mark-compacts ran (which would void the figure).
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { Agent, request } from 'undici';
import { startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, topologyXml } from '../helpers/home.ts';

const REQUESTS = 2000;
const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;

const backend = await startBackend((_req, res) =>
  res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'),
);
const home = makeHome();
home.write(
  'conf/topologies/r.xml',
  topologyXml({
    providers: [
      { role: 'authentication', name: 'Anonymous' },
      { role: 'identity-assertion', name: 'Default' },
    ],
    services: [{ role: 'HTTP', urls: [backend.url] }],
  }),
);
const gateway = await startGateway(home);
const agent = new Agent({ connections: 1 });
const get = async (i: number) => {
  const res = await request(`${gateway.url}/r/http/item/${i}`, { dispatcher: agent });
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  await res.body.text();
};
// Warm-up: code compiled, pools and caches made.
for (let i = 0; i < 1000; i++) await get(i);
backend.requests.length = 0;
(globalThis as unknown as { gc: () => void }).gc();
let markCompacts = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const detail = (e as PerformanceEntry & { detail?: { kind?: number } }).detail;
    if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) markCompacts++;
  }
});
observer.observe({ entryTypes: ['gc'] });
const before = oldSpace();
for (let i = 0; i < REQUESTS; i++) {
  await get(i);
  backend.requests.length = 0;
}
const grown = oldSpace() - before;
await new Promise((resolve) => setImmediate(resolve));
observer.disconnect();
process.stdout.write(`${JSON.stringify({ bytesPerRequest: grown / REQUESTS, markCompacts })}\n`);
await agent.close();
await gateway.close();
await backend.close();
home.remove();
