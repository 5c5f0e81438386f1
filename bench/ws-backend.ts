/**
 * @module bench/ws-backend
 * The WebSocket benchmark's backend: a `ws` WebSocketServer on its own Node `http` server that echoes every
 * message back as it came (text as text, binary as binary), perMessageDeflate off. Every WebSocket target
 * (direct, postern, nginx) talks to this one process; it is started once per `npm run bench`.
 *
 *   node bench/ws-backend.ts [--port N] [--host 127.0.0.1]
 *
 * Any path is accepted (postern's ECHOWS rewrite sends `/`, with Knox's `user.name` query appended). `GET /health`
 * over plain HTTP answers 200, for readiness checks. Prints `listening <port>` on stdout once bound.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

export function createWsBackend(): { server: http.Server; wss: WebSocketServer } {
  const server = http.createServer({ requestTimeout: 0 }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
    res.end('ok\n');
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => ws.terminate());
  });
  return { server, wss };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  const { server, wss } = createWsBackend();
  server.listen(Number(values.port), values.host, () => {
    process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
  });
  const stop = () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
