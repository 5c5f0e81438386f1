/**
 * Heap retained per idle proxied WebSocket, measured in one process: an echo backend, a gateway and N client
 * connections; `--expose-gc` heap and RSS before and after opening them (after two full collections).
 *
 *   npx node --expose-gc bench/ws-heap.ts [N] [--direct]
 *
 * `--direct` connects the clients straight to the backend: the difference is what the gateway holds.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { Gateway } from '../src/gateway/gateway.ts';
import { createLogger } from '../src/observability/logger.ts';

const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const backend = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
await new Promise((r) => backend.once('listening', r));
const port = (backend.address() as { port: number }).port;
const home = mkdtempSync(join(tmpdir(), 'postern-wsheap-'));
mkdirSync(join(home, 'conf', 'topologies'), { recursive: true });
writeFileSync(
  join(home, 'conf', 'gateway-site.xml'),
  `<configuration><property><name>ssl.enabled</name><value>false</value></property><property><name>gateway.websocket.feature.enabled</name><value>true</value></property><property><name>postern.connections.max.per.address</name><value>0</value></property><property><name>postern.connections.max</name><value>0</value></property></configuration>`,
);
writeFileSync(
  join(home, 'conf', 'topologies', 'b.xml'),
  `<topology><gateway><provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider></gateway><service><role>ECHOWS</role><url>ws://127.0.0.1:${port}</url></service></topology>`,
);
const log = createLogger({ level: 'silent', stdout: false });
const gateway = await Gateway.start({ home, port: 0, host: '127.0.0.1', log, watch: false });
const direct = process.argv.includes('--direct');
const url = direct ? `ws://127.0.0.1:${port}/` : `${gateway.url.replace('http', 'ws')}/b/echo/ws`;

async function openAll(n: number): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.all(
      Array.from(
        { length: Math.min(100, n - i) },
        () =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(url, { perMessageDeflate: false });
            ws.once('open', () => resolve(ws));
            ws.once('error', reject);
          }),
      ),
    );
    out.push(...batch);
  }
  return out;
}

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
  }
};
// Warm-up: the first connections compile code and fill pools.
for (const ws of await openAll(200)) ws.terminate();
await settle();
const before = process.memoryUsage();
const sockets = await openAll(N);
await settle();
const after = process.memoryUsage();
if (process.env.HEAPSNAP) (await import('node:v8')).writeHeapSnapshot(process.env.HEAPSNAP);
const kib = (b: number) => (b / 1024 / N).toFixed(2);
console.log(
  `${direct ? 'direct' : 'through postern'}: ${N} idle proxied WebSockets (client, gateway and backend in this process): heap ${kib(after.heapUsed - before.heapUsed)} KiB/conn, ` +
    `external ${kib(after.external - before.external)} KiB/conn, RSS ${kib(after.rss - before.rss)} KiB/conn`,
);
for (const ws of sockets) ws.terminate();
await gateway.close();
backend.close();
process.exit(0);
