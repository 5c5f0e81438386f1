/**
 * Run by request-retention.test.ts in a child Node with `postern start`'s V8 flags and `--expose-gc`: a gateway in
 * this process proxies GETs, one at a time, to a backend in this process; prints how far the old generation grew
 * per request meanwhile (JSON on stdout), and how many mark-compacts ran (which would void the figure).
 *
 *   node … retention-probe.ts [small|large|ha|ws|upload]
 *
 * `small`: 2-byte answers; `large`: 256 KiB answers (several reads and writes each); `ha`: small ones
 * through the HA dispatch (HaProvider, two backend URLs); `ws`: instead of a GET, a WebSocket through the gateway
 * to the demo echo backend, opened, one 64-byte echo, closed (the frame relay); `upload`: PUTs of 64 KiB (a body
 * the gateway streams to the backend).
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { Agent, request } from 'undici';
import { startWsEcho } from '../../src/demo/index.ts';
import { startBackend } from '../helpers/backend.ts';
import { makeHome, startGateway, topologyXml } from '../helpers/home.ts';
import { echoOnce } from '../helpers/ws-echo-once.ts';

const CASE = process.argv[2] ?? 'small';
const REQUESTS = CASE === 'large' ? 400 : CASE === 'ws' ? 1000 : 2000;
const LARGE = Buffer.alloc(256 * 1024, 120);
const UPLOAD = Buffer.alloc(64 * 1024, 121);
const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;

const backend = await startBackend((req, res) => {
  req.resume();
  req.once('end', () =>
    res.writeHead(200, { 'content-type': 'text/plain' }).end(CASE === 'large' ? LARGE : 'ok'),
  );
});
const other = await startBackend((_req, res) =>
  res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'),
);
const echo = await startWsEcho({ port: 0 });
const home = makeHome({ 'gateway.websocket.feature.enabled': true });
home.write(
  'conf/topologies/r.xml',
  topologyXml({
    providers: [
      { role: 'authentication', name: 'Anonymous' },
      { role: 'identity-assertion', name: 'Default' },
      ...(CASE === 'ha' ? [{ role: 'ha', name: 'HaProvider', params: { HTTP: 'enabled=true' } }] : []),
    ],
    services: [
      { role: 'HTTP', urls: CASE === 'ha' ? [backend.url, other.url] : [backend.url] },
      { role: 'ECHOWS', urls: [echo.url] },
    ],
  }),
);
const gateway = await startGateway(home);
const agent = new Agent({ connections: 1 });
const wsUrl = `${gateway.url.replace('http', 'ws')}/r/echo/ws`;
const get = async (i: number) => {
  if (CASE === 'ws') return echoOnce(wsUrl);
  const res = await request(
    `${gateway.url}/r/http/item/${i}`,
    CASE === 'upload' ? { dispatcher: agent, method: 'PUT', body: UPLOAD } : { dispatcher: agent },
  );
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  await res.body.text();
};
// Warm-up: code compiled, pools and caches made.
for (let i = 0; i < (CASE === 'large' ? 300 : 1000); i++) await get(i);
backend.requests.length = 0;
// Twice: the second collection finishes the first one's sweeping before it starts, and has next to nothing of its
// own to sweep, so the old generation's size is read with no freeing still under way (which would hide growth).
(globalThis as unknown as { gc: () => void }).gc();
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
  other.requests.length = 0;
}
const grown = oldSpace() - before;
await new Promise((resolve) => setImmediate(resolve));
observer.disconnect();
process.stdout.write(`${JSON.stringify({ bytesPerRequest: grown / REQUESTS, markCompacts })}\n`);
await agent.close();
await gateway.close();
await backend.close();
await other.close();
await echo.close();
home.remove();
